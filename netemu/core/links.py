"""Links and their endpoints: `node[:interface] [address/len …]` or a mapping; interface naming."""

from __future__ import annotations

import dataclasses
import ipaddress

from .. import names
from ..model import Interface
from ..source import fmt_path
from .reader import Reader, closest

LINK_KEYS = {"endpoints", "mtu", "cost"}
ENDPOINT_KEYS = {"node", "interface", "addresses"}
DEFAULT_MTU = 1500


@dataclasses.dataclass
class Endpoint:
    """One end of a link as written."""

    node: str
    ifname: str | None
    addresses: list
    path: tuple


@dataclasses.dataclass
class RawLink:
    """A link as written, once both ends could be read."""

    a: Endpoint
    b: Endpoint
    mtu: int
    cost: int | None
    extra: tuple


class LinkReader(Reader):
    """Reads the `links:` list; remembers named ends of invalid links so their names still count."""

    def __init__(self, src, issues, kinds: dict, allowed: set):
        super().__init__(src, issues)
        self.kinds = kinds
        self.allowed = allowed
        self.claimed: list[Endpoint] = []

    def link(self, i: int, raw) -> RawLink | None:
        """Link `i`, or None when it cannot be used."""
        path = ("links", i)
        if not isinstance(raw, dict):
            self.err(path, "must be a mapping with 'endpoints'")
            return None
        self.unknown_keys(path, raw, self.allowed)
        eps = raw.get("endpoints")
        if not isinstance(eps, list) or len(eps) != 2:
            self.err(path + ("endpoints",), "must list exactly two endpoints",
                     "e.g. endpoints: [\"h1:eth0 10.0.1.2/24\", \"r1:eth0 10.0.1.1/24\"]")
            return None
        parsed = [self.endpoint(path + ("endpoints", j), e) for j, e in enumerate(eps)]
        mtu = raw.get("mtu", DEFAULT_MTU)
        mtu_ok = not isinstance(mtu, bool) and isinstance(mtu, int) and 68 <= mtu <= 65535
        if not mtu_ok:
            self.err(path + ("mtu",), f"must be a whole number 68..65535, got {mtu!r}")
        elif any(a.version == 6 for p in parsed if p for a in p.addresses) and mtu < 1280:
            self.err(path + ("mtu",), f"{mtu} is below 1280, the IPv6 minimum, and this link carries IPv6")
        cost = raw.get("cost")
        if cost is not None and (isinstance(cost, bool) or not isinstance(cost, int) or not 1 <= cost <= 65535):
            self.err(path + ("cost",), f"must be a whole number 1..65535, got {cost!r}",
                     "the routing cost of sending over this link (routing: static sums them; default 1)")
            cost = None
        if any(p is None for p in parsed):
            for p in parsed:
                if p is not None and p.ifname:
                    self.claimed.append(p)
            return None
        if parsed[0].node == parsed[1].node:
            self.err(path + ("endpoints",), f"both ends are on node {parsed[0].node!r}")
            return None
        extra = tuple((k, v) for k, v in raw.items() if k not in LINK_KEYS)
        return RawLink(parsed[0], parsed[1], mtu if mtu_ok else DEFAULT_MTU, cost, extra)

    def endpoint(self, path, raw) -> Endpoint | None:
        """One endpoint, string or mapping form."""
        if isinstance(raw, str):
            words = raw.split()
            if not words:
                self.err(path, "empty endpoint")
                return None
            node, colon, ifname = words[0].partition(":")
            addr_words = words[1:]
            if colon and not ifname:
                self.err(path, f"{words[0]!r} has an empty interface name")
                return None
            ifname = ifname or None
        elif isinstance(raw, dict):
            self.unknown_keys(path, raw, ENDPOINT_KEYS)
            node = raw.get("node")
            ifname = raw.get("interface")
            addr_words = raw.get("addresses", [])
            if isinstance(addr_words, str):
                addr_words = addr_words.split()
            if not isinstance(addr_words, list):
                self.err(path + ("addresses",), "must be a list of addresses with prefix length")
                return None
        else:
            self.err(path, "must be a string 'node[:interface] [address/len …]' or a mapping")
            return None
        kinds = self.kinds
        if node not in kinds:
            known = ", ".join(sorted(map(str, kinds)))
            close = closest(str(node), set(map(str, kinds)))
            self.err(path, f"unknown node {node!r}", f"did you mean '{close}'?" if close else f"nodes: {known}")
            return None
        if kinds[node] == "switch":
            if ifname or addr_words:
                self.err(path, f"{node!r} is a switch: its endpoint is just its name (it has no addresses)")
                return None
        elif ifname is not None and (p := names.ifname_problem(str(ifname))) is not None:
            self.err(path, p)
            return None
        return Endpoint(node, ifname, self.addresses(path, addr_words), path)

    def addresses(self, path, words) -> list:
        """Written addresses of an endpoint; each bad one is reported and left out."""
        out = []
        for w in words:
            try:
                iface = ipaddress.ip_interface(str(w))
            except ValueError:
                self.err(path, f"{w!r} is not an address with a prefix length (e.g. 10.0.1.2/24 or 2001:db8::2/64)")
                continue
            if "/" not in str(w):
                self.err(path, f"{w!r} needs a prefix length (e.g. {w}/{24 if iface.version == 4 else 64})")
                continue
            net = iface.network
            if iface.version == 4 and net.prefixlen < 31 and iface.ip in (net.network_address, net.broadcast_address):
                self.err(path, f"{w} is the {'network' if iface.ip == net.network_address else 'broadcast'} "
                               f"address of {net}")
                continue
            if iface.ip.is_loopback or iface.ip.is_multicast or iface.ip.is_unspecified:
                self.err(path, f"{w} cannot be assigned to an interface")
                continue
            out.append(iface)
        return out

    def interfaces(self, links: list[RawLink | None], lab: str) -> tuple[dict[str, list[Interface]], dict]:
        """Name interfaces (eth0, eth1… in link order where omitted) and check names are unique.

        Returns the interfaces of each node and the interface at each (link index, end).
        """
        out: dict[str, list[Interface]] = {}
        by_link: dict[tuple[int, int], Interface] = {}
        used: dict[str, dict[str, tuple]] = {}
        # explicit names first, so an omitted name never takes one written later
        ends = [ep for link in links if link is not None for ep in (link.a, link.b)] + self.claimed
        for ep in sorted(ends, key=lambda e: e.path):
            if ep.ifname:
                seen = used.setdefault(ep.node, {})
                if ep.ifname in seen:
                    self.err(ep.path, f"interface {ep.ifname!r} of {ep.node!r} is already used",
                             f"at {fmt_path(seen[ep.ifname])}")
                seen[ep.ifname] = ep.path
        counters: dict[str, int] = {}
        for i, link in enumerate(links):
            if link is None:
                continue
            for j, (ep, other) in enumerate(((link.a, link.b), (link.b, link.a))):
                if self.kinds.get(ep.node) == "switch":
                    name = _port_name(used.setdefault(ep.node, {}), other, i)
                else:
                    name = ep.ifname
                    if name is None:
                        seen = used.setdefault(ep.node, {})
                        n = counters.get(ep.node, 0)
                        while f"eth{n}" in seen:
                            n += 1
                        name = f"eth{n}"
                        counters[ep.node] = n + 1
                        seen[name] = ep.path
                iface = Interface(ep.node, name, tuple(ep.addresses), link.mtu, names.mac_for(lab, ep.node, name), i)
                out.setdefault(ep.node, []).append(iface)
                by_link[(i, j)] = iface
        return out, by_link


def _port_name(seen: dict, other: Endpoint, link_index: int) -> str:
    name = f"{other.node}-{other.ifname or 'l' + str(link_index)}"
    if len(name) > names.IFNAMSIZ or name in seen or names.ifname_problem(name):
        name = f"p{link_index}"
    seen[name] = ()
    return name
