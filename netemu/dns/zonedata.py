"""Derive each zone's full contents: default SOA, apex NS, server addresses, delegations and glue, user records."""

from __future__ import annotations

import ipaddress

from dnslib import RR

from .spec import NEGATIVE_TTL, DnsSpec, ZoneSpec
from .zone import Key, Zone, deepest, key, under


def _addr_line(name: str, ttl: int, addr: str) -> str:
    rtype = "AAAA" if ipaddress.ip_address(addr).version == 6 else "A"
    return f"{name} {ttl} IN {rtype} {addr}"


def default_soa(zone: ZoneSpec) -> str:
    """SOA naming the first server, hostmaster@zone, and a NEGATIVE_TTL minimum (how long NXDOMAIN is cached)."""
    mbox = "hostmaster." + ("" if zone.origin == "." else zone.origin)
    return f"{zone.origin} {zone.ttl} IN SOA {zone.servers[0].name} {mbox} 1 3600 600 86400 {NEGATIVE_TTL}"


def build(spec: DnsSpec) -> dict[str, list[str]]:
    """Zone origin → zone-file lines with absolute names, ready for `Authority.from_text`."""
    zones = {key(z.origin): z for z in spec.zones}
    out: dict[str, list[str]] = {z.origin: [] for z in spec.zones}

    def owner(name: Key) -> ZoneSpec | None:  # the deepest zone holding `name`
        found = deepest(name, zones)
        return None if found is None else zones[found]

    for z in spec.zones:
        if not z.servers:
            continue
        lines = out[z.origin]
        lines.append(z.soa or default_soa(z))
        lines += [f"{z.origin} {z.ttl} IN NS {s.name}" for s in z.servers]
        for s in z.servers:  # each server's name gets its addresses in the zone that owns the name
            home = owner(key(s.name))
            if home is not None:
                out[home.origin] += [_addr_line(s.name, home.ttl, a) for a in s.addresses]
        parent = owner(key(z.origin)[1:]) if z.origin != "." else None
        if parent is not None:  # the delegation: NS at the cut, glue only for names under it
            cut = key(z.origin)
            out[parent.origin] += [f"{z.origin} {z.ttl} IN NS {s.name}" for s in z.servers]
            out[parent.origin] += [_addr_line(s.name, z.ttl, a) for s in z.servers if under(key(s.name), cut)
                                   for a in s.addresses]
        lines += z.records
    return {origin: list(dict.fromkeys(lines)) for origin, lines in out.items()}


def root_hints(spec: DnsSpec) -> list[tuple[str, str]]:
    """(NS name, address) of every root server."""
    root = spec.zone(".")
    return [(s.name, a) for s in root.servers for a in s.addresses] if root else []


def hints_file(spec: DnsSpec) -> str:
    """The root hints in zone-file form, as Unbound's `root-hints:` and BIND's hint zone read them."""
    hints = root_hints(spec)
    lines = [f". 3600000 IN NS {name}" for name in dict.fromkeys(n for n, _ in hints)]
    lines += [_addr_line(name, 3600000, a) for name, a in hints]
    return "\n".join(lines) + "\n"


def check(spec: DnsSpec) -> dict[str, str]:
    """Zone origin → why its derived contents cannot be served (empty when all are fine)."""
    problems = {}
    for origin, lines in build(spec).items():
        try:
            Zone(origin, RR.fromZone("\n".join(lines)))
        except Exception as e:  # noqa: BLE001 - any failure here is a topology problem to report
            problems[origin] = str(e)
    return problems
