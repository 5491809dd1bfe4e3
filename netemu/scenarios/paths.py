"""The IP path between two nodes, derived from the topology model alone (no kernel needed).

Each node's forwarding decision is made as the kernel would: the longest matching prefix among
its connected subnets and static routes; the next hop is the node that owns the gateway (or the
destination) on the outgoing interface's layer-2 segment. The path tells which hop is the
narrowest and which router sits in front of it (the one that sends ICMP "too big").
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..errors import UsageError
from ..model import Interface, IPAddress, Node, Topology

MAX_HOPS = 64


class PathError(UsageError):
    """No usable path between two nodes in the topology model."""


@dataclass(frozen=True)
class Hop:
    """One hop: `node` sends out of `ifname` (MTU `mtu`) to `next_node`'s `next_ifname`."""

    node: str
    ifname: str
    mtu: int
    next_node: str
    next_ifname: str
    gateway: str | None  # the next-hop address used, None when the destination is on-link

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {"node": self.node, "interface": self.ifname, "mtu": self.mtu, "next_node": self.next_node,
                "next_interface": self.next_ifname, "gateway": self.gateway}


@dataclass(frozen=True)
class Path:
    """The forward path from `src` to the address `dst_address` owned by `dst`."""

    src: str
    dst: str
    dst_address: IPAddress
    hops: tuple[Hop, ...]

    @property
    def family(self) -> int:
        """4 or 6."""
        return self.dst_address.version

    @property
    def mtu(self) -> int:
        """The smallest MTU on the path: what path MTU discovery should find."""
        return min(h.mtu for h in self.hops)

    def narrowest(self) -> Hop | None:
        """The first hop narrower than the sender's own link, or None if there is none.

        The sender knows its own interface's MTU, so only a narrower hop *further on* makes a
        router send ICMP "fragmentation needed" / "packet too big".
        """
        if self.mtu >= self.hops[0].mtu:
            return None
        return next(h for h in self.hops if h.mtu == self.mtu)

    def nodes(self) -> list[str]:
        """Every node on the path, in order, ends included."""
        return [self.hops[0].node] + [h.next_node for h in self.hops]

    def describe(self) -> str:
        """One line such as `sender -eth0/1500-> r1 -eth1/1400-> r2 -eth1/1500-> receiver`."""
        out = self.src
        for h in self.hops:
            out += f" -{h.ifname}/{h.mtu}-> {h.next_node}"
        return out

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {"src": self.src, "dst": self.dst, "dst_address": str(self.dst_address), "mtu": self.mtu,
                "hops": [h.to_json() for h in self.hops], "text": self.describe()}


def link_local(mac: str) -> ipaddress.IPv6Address:
    """The EUI-64 link-local address the kernel derives from a MAC."""
    b = [int(x, 16) for x in mac.split(":")]
    b[0] ^= 0x02
    eui = b[:3] + [0xFF, 0xFE] + b[3:]
    return ipaddress.IPv6Address(bytes([0xFE, 0x80] + [0] * 6 + eui))


def owns(node: Node, address: IPAddress) -> bool:
    """Whether `address` is configured on one of the node's interfaces."""
    return any(a.ip == address for a in node.addresses())


def owner(topo: Topology, address: IPAddress) -> Node | None:
    """The node that owns `address`, if any."""
    return next((n for n in topo.nodes if owns(n, address)), None)


def address_of(topo: Topology, node: str, family: int) -> IPAddress | None:
    """The node's first global address of `family` (4 or 6), or None."""
    for a in topo.node(node).addresses():
        if a.version == family and not a.ip.is_link_local:
            return a.ip
    return None


def forwards(node: Node, family: int) -> bool:
    """Whether the node forwards packets of `family` (routers do; a host only if its sysctls say so)."""
    if node.kind == "router":
        return True
    keys = {"net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding"} if family == 4 else {"net.ipv6.conf.all.forwarding"}
    return any(k in keys and v.strip() == "1" for k, v in node.sysctls)


def _segment_of(topo: Topology, iface: Interface) -> list[Interface]:
    for seg in topo.segments():
        if any(i.node == iface.node and i.name == iface.name for i in seg):
            return seg
    return [iface]


def _route(node: Node, dst: IPAddress) -> tuple[Interface, IPAddress | None] | None:
    """The node's choice for `dst`: (outgoing interface, gateway or None), longest prefix first."""
    best: tuple[tuple, Interface, IPAddress | None] | None = None
    for iface in node.interfaces:
        for a in iface.addresses:
            if a.version == dst.version and dst in a.network:
                key = (a.network.prefixlen, 1, 0)  # connected beats static at equal length
                if best is None or key > best[0]:
                    best = (key, iface, None)
    for r in node.routes:
        if r.family != dst.version:
            continue
        prefixlen = 0 if r.dst is None else r.dst.prefixlen
        if r.dst is not None and dst not in r.dst:
            continue
        iface = node.interface(r.dev) if r.dev else None
        if iface is None and r.via is not None:
            iface = next((i for i in node.interfaces for a in i.addresses
                          if a.version == r.via.version and r.via in a.network), None)
        if iface is None:
            continue
        key = (prefixlen, 0, -(r.metric or 0))
        if best is None or key > best[0]:
            best = (key, iface, r.via)
    return None if best is None else (best[1], best[2])


def _receiver(topo: Topology, out: Interface, target: IPAddress) -> Interface | None:
    for i in _segment_of(topo, out):
        if i.node == out.node and i.name == out.name:
            continue
        if any(a.ip == target for a in i.addresses):
            return i
        if target.version == 6 and target.is_link_local and link_local(i.mac) == target:
            return i
    return None


def derive(topo: Topology, src: str, dst_address: IPAddress) -> Path:
    """The forward path from node `src` to `dst_address`, or PathError saying where it breaks."""
    dst_node = owner(topo, dst_address)
    if dst_node is None:
        raise PathError(f"no node owns {dst_address}")
    if dst_node.name == src:
        raise PathError(f"{src} owns {dst_address} itself: there is no path to measure")
    hops: list[Hop] = []
    here = topo.node(src)
    seen = {src}
    while not owns(here, dst_address):
        if len(hops) >= MAX_HOPS:
            raise PathError(f"path {src} -> {dst_address} is longer than {MAX_HOPS} hops")
        if hops and not forwards(here, dst_address.version):
            raise PathError(f"{here.name} is a {here.kind} without IPv{dst_address.version} forwarding: "
                            f"the path {src} -> {dst_address} stops there")
        choice = _route(here, dst_address)
        if choice is None:
            raise PathError(f"{here.name} has no route to {dst_address}",)
        out, gw = choice
        nxt = _receiver(topo, out, gw or dst_address)
        if nxt is None:
            what = f"gateway {gw}" if gw else f"{dst_address}"
            raise PathError(f"{here.name}: {what} is not on any node reachable through {out.name}")
        hops.append(Hop(here.name, out.name, out.mtu, nxt.node, nxt.name, None if gw is None else str(gw)))
        if nxt.node in seen:
            raise PathError(f"routing loop towards {dst_address}: " + " -> ".join([h.node for h in hops] + [nxt.node]))
        seen.add(nxt.node)
        here = topo.node(nxt.node)
    return Path(src, here.name, dst_address, tuple(hops))


def between(topo: Topology, src: str, dst: str, family: int) -> Path:
    """The path from node `src` to node `dst`'s first address of `family` (PathError if none)."""
    address = address_of(topo, dst, family)
    if address is None:
        raise PathError(f"{dst} has no IPv{family} address")
    return derive(topo, src, address)


def source_address(topo: Topology, path: Path) -> IPAddress | None:
    """The address the sender uses on its first hop's interface (the kernel's preferred source)."""
    iface = topo.node(path.src).interface(path.hops[0].ifname)
    if iface is None:
        return None
    return next((a.ip for a in iface.addresses if a.version == path.family and not a.ip.is_link_local), None)


def added_delay_us(topo: Topology, path: Path) -> int:
    """One-way delay that link emulation adds along `path` (0 without the feature or any delay)."""
    model = topo.feature("linkemu")
    if model is None or not hasattr(model, "of"):
        return 0
    total = 0
    for hop in path.hops:
        iface = topo.node(hop.node).interface(hop.ifname)
        li = model.of(iface.link) if iface is not None else None
        if li is None:
            continue
        link = topo.links[iface.link]
        sender_is_a = link.a.node == hop.node and link.a.name == hop.ifname
        total += getattr(li.direction(sender_is_a), "delay_us", 0) or 0
    return total
