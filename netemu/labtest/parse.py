"""Validate the `tests:` section, collecting every problem with its file line.

    tests:
      web-answers:                       # the check's name (used on the command line)
        tcp: {from: alice, to: 192.0.2.80, port: 80}
        timeout: 15                      # keep trying until 15 s after the lab came up
      ssh-refused:
        tcp: {from: alice, to: 192.0.2.80, port: 22}
        expect: fail                     # an absence check: retried until it holds, like the others
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from ..errors import Issue
from ..model import IPAddress, Node, Topology
from ..netfilter.values import Reader
from ..source import PathKey, Source
from .spec import DEFAULT_RETRY, DEFAULT_TIMEOUT, KINDS, Check, TestsSpec

CHECK_KEYS = (*KINDS, "expect", "timeout", "retry", "description")
BODY_KEYS = {
    "ping": ("from", "to", "family"),
    "tcp": ("from", "to", "port", "family"),
    "resolve": ("from", "name", "address", "type"),
    "route": ("node", "to", "via", "dev"),
}
EXAMPLES = {
    "ping": "ping: {from: h1, to: h2}",
    "tcp": "tcp: {from: h1, to: 10.0.2.2, port: 80}",
    "resolve": "resolve: {from: h1, name: www.example.com, address: 192.0.2.80}",
    "route": "route: {node: r1, to: 10.0.2.0/24, via: 10.0.12.2}",
}
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
DNS_NAME_RE = re.compile(r"^(?=.{1,253}\.?$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*"
                         r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?$")
MAX_SECONDS = 3600.0


def parse(src: Source, topo: Topology) -> tuple[TestsSpec | None, list[Issue]]:
    """The declared checks, or None with every problem found."""
    r = _Reader(src, topo)
    raw = src.data.get("tests")
    if raw is None:
        return TestsSpec(()), []
    if not isinstance(raw, dict):
        r.err(("tests",), "must be a mapping of check names to checks",
              f"e.g. tests: {{h2-answers: {{{EXAMPLES['ping']}}}}}")
        return None, r.issues
    checks = [r.check(("tests", name), name, body) for name, body in raw.items()]
    if r.issues:
        return None, r.issues
    return TestsSpec(tuple(c for c in checks if c is not None)), []


class _Reader(Reader):
    """Reads one check at a time; shares netfilter's readers for addresses, prefixes, ports, interfaces."""

    def __init__(self, src: Source, topo: Topology):
        super().__init__(src)
        self.topo = topo
        self.nodes = {n.name: n for n in topo.nodes}

    def check(self, path: PathKey, name: str, raw: Any) -> Check | None:
        """One named check: its kind's fields plus expect, timeout, retry and description."""
        if not NAME_RE.match(name):
            self.err(path, f"check name {name!r} must be letters, digits, '-', '_' or '.'",
                     "it is used on the command line: netemu test LAB NAME")
        body = self.mapping(path, raw, CHECK_KEYS, f"{name}: {{{EXAMPLES['ping']}}}")
        if body is None:
            return None
        kinds = [k for k in KINDS if k in body]
        if len(kinds) != 1:
            what = "has none" if not kinds else f"has {', '.join(kinds)}"
            self.err(path, f"a check needs exactly one of {', '.join(KINDS)}; it {what}",
                     f"e.g. {EXAMPLES['ping']}")
            return None
        kind = kinds[0]
        common = {
            "name": name, "kind": kind, "line": self.src.line(path),
            "expect_pass": self.choice(path + ("expect",), body.get("expect"), ("pass", "fail"), "pass") == "pass",
            "timeout": self.seconds(path + ("timeout",), body.get("timeout"), DEFAULT_TIMEOUT),
            "retry": self.seconds(path + ("retry",), body.get("retry"), DEFAULT_RETRY),
            "description": self.text(path + ("description",), body.get("description")),
        }
        what = self.mapping(path + (kind,), body[kind], BODY_KEYS[kind], EXAMPLES[kind])
        if what is None:
            return None
        fields = getattr(self, kind)(path + (kind,), what)
        return None if fields is None else Check(**common, **fields)

    # --- one reader per kind: the Check fields it sets, or None --------------------------------
    def ping(self, path: PathKey, body: dict) -> dict | None:
        """from, to (a node or an address), family."""
        node = self.ip_node(path + ("from",), body.get("from"))
        family = self.family(path + ("family",), body.get("family"))
        targets = self.targets(path + ("to",), body.get("to"), family)
        if node is None or targets is None:
            return None
        return {"node": node.name, "targets": targets, "target_text": str(body["to"])}

    def tcp(self, path: PathKey, body: dict) -> dict | None:
        """As ping, plus the port."""
        fields = self.ping(path, body)
        port = self.port(path + ("port",), body["port"]) if "port" in body else None
        if "port" not in body:
            self.err(path, "a tcp check needs a port", f"e.g. {EXAMPLES['tcp']}")
        return None if fields is None or port is None else {**fields, "port": port}

    def resolve(self, path: PathKey, body: dict) -> dict | None:
        """from, name, the addresses the answer must hold, and the record type (from their family)."""
        node = self.ip_node(path + ("from",), body.get("from"))
        qname = body.get("name")
        if not isinstance(qname, str) or not DNS_NAME_RE.match(qname):
            self.err(path + ("name",), f"needs a domain name to look up, got {qname!r}", f"e.g. {EXAMPLES['resolve']}")
            qname = None
        raw = body.get("address")
        addresses = [self.address(p, v) for p, v in self.items(path + ("address",), raw)]
        if any(a is None for a in addresses):
            return None
        families = {a.version for a in addresses}
        qtype = body.get("type", {6: "AAAA"}.get(min(families, default=4), "A"))
        if qtype not in ("A", "AAAA"):
            self.err(path + ("type",), f"record type {qtype!r} is not A or AAAA")
            return None
        if families - {4 if qtype == "A" else 6}:
            article, family = ("an", 4) if qtype == "A" else ("a", 6)
            self.err(path + ("address",), f"{article} {qtype} lookup returns only IPv{family} addresses",
                     "one check per family")
            return None
        if node is None or qname is None:
            return None
        return {"node": node.name, "qname": qname, "qtype": qtype, "targets": tuple(addresses),
                "target_text": qname}

    def route(self, path: PathKey, body: dict) -> dict | None:
        """node, to (a prefix or default), via, dev."""
        node = self.ip_node(path + ("node",), body.get("node"))
        raw = body.get("to")
        via = self.address(path + ("via",), body["via"]) if "via" in body else None
        if raw is None:
            self.err(path, "a route check needs the destination prefix: to", f"e.g. {EXAMPLES['route']}")
            return None
        if raw == "default":  # the family follows the gateway, as in `ip route`
            raw = "::/0" if via is not None and via.version == 6 else "0.0.0.0/0"
        prefix = self.prefix(path + ("to",), raw)
        if prefix is not None and via is not None and via.version != prefix.version:
            self.err(path + ("via",), f"gateway {via} is IPv{via.version} but {prefix} is IPv{prefix.version}")
            return None
        dev = self.interface(path + ("dev",), node, body.get("dev")) if node is not None else None
        if node is None or prefix is None or ("via" in body and via is None) or ("dev" in body and dev is None):
            return None
        return {"node": node.name, "prefix": prefix, "via": via, "dev": dev, "target_text": str(prefix)}

    # --- small values -------------------------------------------------------------------------
    def ip_node(self, path: PathKey, raw: Any) -> Node | None:
        """A node that has an IP stack (not a switch)."""
        node = self.nodes.get(raw) if isinstance(raw, str) else None
        if node is None:
            hint = None
            if isinstance(raw, str):
                from difflib import get_close_matches

                close = get_close_matches(raw, sorted(self.nodes), n=1, cutoff=0.6)
                hint = f"did you mean '{close[0]}'?" if close else None
            self.err(path, "needs a node" if raw is None else f"unknown node {raw!r}", hint)
            return None
        if node.is_switch:
            self.err(path, f"{raw!r} is a switch: it has no addresses to test from or to")
            return None
        return node

    def targets(self, path: PathKey, raw: Any, family: int | None) -> tuple[IPAddress, ...] | None:
        """A node name (its addresses, of `family` when given) or a single address."""
        if raw is None:
            self.err(path[:-1], "needs a destination: to (a node or an address)")
            return None
        try:
            address = ipaddress.ip_address(str(raw))
        except ValueError:
            if isinstance(raw, str) and re.fullmatch(r"[0-9.]+|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*", raw):
                self.address(path, raw)  # meant as an address: say what is wrong with it
                return None
            node = self.ip_node(path, raw)
            if node is None:
                return None
            found = tuple(a.ip for a in node.addresses()
                          if not a.ip.is_link_local and (family is None or a.ip.version == family))
            if not found:
                self.err(path, f"node {raw!r} has no {'' if family is None else f'IPv{family} '}address to test")
                return None
            return found
        if family is not None and address.version != family:
            self.err(path, f"{address} is not an IPv{family} address")
            return None
        return (address,)

    def family(self, path: PathKey, raw: Any) -> int | None:
        """4, 6, or None when absent."""
        if raw is None:
            return None
        if raw not in (4, 6):
            self.err(path, f"family must be 4 or 6, got {raw!r}")
            return None
        return raw

    def seconds(self, path: PathKey, raw: Any, default: float) -> float:
        """A positive number of seconds (at most an hour)."""
        if raw is None:
            return default
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0 < raw <= MAX_SECONDS:
            self.err(path, f"must be a number of seconds above 0 and at most {MAX_SECONDS:.0f}, got {raw!r}")
            return default
        return float(raw)

    def text(self, path: PathKey, raw: Any) -> str:
        """A string, or '' when absent."""
        if raw is None:
            return ""
        if not isinstance(raw, str):
            self.err(path, "must be text")
            return ""
        return raw
