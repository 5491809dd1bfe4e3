"""The routing options a topology may give (`routing:` mapping, node keys `as:` and `frr:`), validated.

The core parses `routing: PROTOCOL` (or `routing: {protocol: …}`) and keeps the other keys raw; this
module gives them meaning and reports every problem with its file and line.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from ..errors import Issue
from ..model import IPNetwork, Topology
from ..source import Source

PROTOCOLS = ("ospf", "bgp")  # the protocols FRR runs; "static" and "none" need no daemon
IGPS = ("ospf", "none")
OPTION_KEYS = {"protocol", "timers", "bfd", "igp", "route_reflectors", "announce"}
TIMER_KEYS = ("hello", "dead", "keepalive", "hold")
ASN_MAX = 4294967295


@dataclass(frozen=True)
class Timers:
    """Protocol timers in seconds. Defaults are fast, for labs: a cut link is noticed within seconds."""

    hello: int = 1  # OSPF hello interval
    dead: int = 4  # OSPF dead interval
    keepalive: int = 3  # BGP keepalive
    hold: int = 9  # BGP hold time


@dataclass(frozen=True)
class Options:
    """Everything a topology says about its dynamic routing."""

    protocol: str
    timers: Timers = Timers()
    bfd: bool = False
    igp: tuple[tuple[int, str], ...] = ()  # AS number -> "ospf" | "none" (default ospf)
    route_reflectors: tuple[str, ...] = ()
    announce: tuple[tuple[str, tuple[IPNetwork, ...]], ...] = ()  # node -> prefixes it announces
    asn: tuple[tuple[str, int], ...] = ()  # router -> AS number
    extra: tuple[tuple[str, str], ...] = ()  # router -> FRR lines appended to its configuration
    line: int | None = None

    def as_of(self, node: str) -> int | None:
        """The AS number of a router (BGP labs), or None."""
        return dict(self.asn).get(node)

    def igp_of(self, asn: int | None) -> str:
        """The IGP inside an AS: OSPF unless the topology says `none`."""
        return dict(self.igp).get(asn, "ospf") if asn is not None else "ospf"


def parse(src: Source, topo: Topology) -> tuple[Options | None, list[Issue]]:
    """Validate the routing options and the per-node `as:`/`frr:` keys; None when the lab runs no FRR."""
    protocol, raw, line = topo.routing.protocol, dict(topo.routing.options), topo.routing.line
    issues: list[Issue] = []
    nodes = src.data.get("nodes") if isinstance(src.data.get("nodes"), dict) else {}
    routers = [n.name for n in topo.nodes if n.kind == "router"]
    asn: list[tuple[str, int]] = []
    extra: list[tuple[str, str]] = []
    for name, spec in nodes.items():
        if not isinstance(spec, dict):
            continue
        kind = topo.node(name).kind if name in {n.name for n in topo.nodes} else None
        for key in ("as", "frr"):
            if key in spec and kind != "router":
                issues.append(src.issue(("nodes", name, key), f"only routers take '{key}:' (this is a {kind})"))
        if "as" in spec and kind == "router":
            value = spec["as"]
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= ASN_MAX:
                issues.append(src.issue(("nodes", name, "as"), f"must be an AS number 1..{ASN_MAX}, got {value!r}"))
            else:
                asn.append((name, value))
        if "frr" in spec and kind == "router":
            value = spec["frr"]
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                value = "\n".join(value)
            if not isinstance(value, str):
                issues.append(src.issue(("nodes", name, "frr"), "must be FRR configuration lines (a string or a "
                                        "list of strings)"))
            else:
                extra.append((name, value.strip("\n")))
    if protocol not in PROTOCOLS:
        if asn:
            issues.append(src.issue(("nodes", asn[0][0], "as"), "'as:' needs 'routing: bgp'", warning=True))
        if extra:
            issues.append(src.issue(("nodes", extra[0][0], "frr"), "'frr:' needs 'routing: ospf' or 'routing: bgp'"))
        return None, issues
    opts = _options(src, raw, protocol, line, routers, issues)
    if protocol == "bgp":
        missing = [r for r in routers if r not in dict(asn)]
        if missing:
            issues.append(src.issue(("routing",), f"routing: bgp needs 'as: NUMBER' on every router; missing on "
                                    f"{', '.join(missing)}"))
    if any(not i.warning for i in issues) or opts is None:
        return None, issues
    return replace(opts, asn=tuple(asn), extra=tuple(extra)), issues


def _options(src: Source, raw: dict, protocol: str, line: int | None, routers: list[str],
             issues: list[Issue]) -> Options | None:
    at = ("routing",)
    for key in raw:
        if key not in OPTION_KEYS:
            issues.append(src.issue(at + (key,), f"unknown routing option; known: {', '.join(sorted(OPTION_KEYS))}"))
    timers = Timers()
    t = raw.get("timers", {})
    if not isinstance(t, dict):
        issues.append(src.issue(at + ("timers",), f"must be a mapping of {', '.join(TIMER_KEYS)} (seconds)"))
        t = {}
    values = {}
    for key, value in t.items():
        if key not in TIMER_KEYS:
            issues.append(src.issue(at + ("timers", key), f"unknown timer; known: {', '.join(TIMER_KEYS)}"))
        elif isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            issues.append(src.issue(at + ("timers", key), f"must be whole seconds 1..65535, got {value!r}"))
        else:
            values[key] = value
    timers = Timers(**values)
    if timers.dead <= timers.hello:
        issues.append(src.issue(at + ("timers",), f"dead ({timers.dead} s) must be longer than hello "
                                f"({timers.hello} s)"))
    if timers.hold < 3 * timers.keepalive:
        issues.append(src.issue(at + ("timers",), f"hold ({timers.hold} s) must be at least 3 × keepalive "
                                f"({timers.keepalive} s)"))
    bfd = raw.get("bfd", False)
    if not isinstance(bfd, bool):
        issues.append(src.issue(at + ("bfd",), f"must be true or false, got {bfd!r}"))
        bfd = False
    igp: list[tuple[int, str]] = []
    raw_igp = raw.get("igp", {})
    if protocol != "bgp" and "igp" in raw:
        issues.append(src.issue(at + ("igp",), "a per-AS IGP needs 'protocol: bgp'"))
    elif not isinstance(raw_igp, dict):
        issues.append(src.issue(at + ("igp",), "must map AS numbers to ospf or none"))
    else:
        for key, value in raw_igp.items():
            if not str(key).isdigit() or value not in IGPS:
                issues.append(src.issue(at + ("igp", key), f"must map an AS number to one of {', '.join(IGPS)}"))
            else:
                igp.append((int(key), value))
    rrs = raw.get("route_reflectors", [])
    if not isinstance(rrs, list) or any(r not in routers for r in rrs):
        issues.append(src.issue(at + ("route_reflectors",), f"must be a list of routers ({', '.join(routers)})"))
        rrs = []
    elif rrs and protocol != "bgp":
        issues.append(src.issue(at + ("route_reflectors",), "route reflectors need 'protocol: bgp'"))
    announce: list[tuple[str, tuple[IPNetwork, ...]]] = []
    raw_ann = raw.get("announce", {})
    if not isinstance(raw_ann, dict):
        issues.append(src.issue(at + ("announce",), "must map routers to lists of prefixes"))
    else:
        for node, prefixes in raw_ann.items():
            if node not in routers:
                issues.append(src.issue(at + ("announce", node), f"not a router of this lab ({', '.join(routers)})"))
                continue
            if not isinstance(prefixes, list):
                issues.append(src.issue(at + ("announce", node), "must be a list of prefixes"))
                continue
            nets = []
            for i, p in enumerate(prefixes):
                try:
                    nets.append(ipaddress.ip_network(str(p)))
                except ValueError as e:
                    issues.append(src.issue(at + ("announce", node, i), f"not a prefix: {e}"))
            announce.append((node, tuple(nets)))
    return Options(protocol, timers, bfd, tuple(igp), tuple(rrs), tuple(announce), line=line)
