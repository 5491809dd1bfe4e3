"""Automatic addressing: every endpoint written without addresses is numbered from the pools.

Rules (README "Automatic addressing"):
- A segment is what one wire or one switch (chain) joins. Two routers on a wire: a point-to-point
  segment (p2p pool); anything else (a switch, or a host on the wire): a LAN (lan pool).
- An endpoint with written addresses keeps exactly those. Endpoints without any are numbered:
  on a segment where something is written, inside the written subnet(s) of each written family;
  on a segment where nothing is written, from the pools, both families unless a pool is off.
- Subnet of a segment: number hash(segment key) modulo the pool's size, the next free one on a
  collision (segments handled in order of that number, then key). The key is the switch's name
  (the first name of a chain of switches) or the two node names of the wire (with a number for
  parallel links), so adding or removing other nodes and links never moves a segment.
- Host part on a LAN: the node's position in `nodes:` (1 for the first node), the next free one if
  taken; on a point-to-point subnet: 1 for the end whose node name sorts first, 2 for the other.
- Router loopbacks (when `routing:` is set): loopback pool + the node's position.
- A subnet that overlaps any written address, and a written address, are never handed out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress

from ..core.reader import Reader
from ..features import Step
from ..model import Interface, IPInterface, IPNetwork, Topology
from . import pools as poolmod


@dataclasses.dataclass
class Segment:
    """The IP interfaces one wire or switch (chain) joins, and its stable key."""

    key: str
    kind: str  # "lan" | "p2p"
    ifaces: list[Interface]


def segments(topo: Topology) -> list[Segment]:
    """Every segment with at least one IP interface, keyed stably."""
    kinds = {n.name: n.kind for n in topo.nodes}
    # a wire is named by its two nodes (and which of their parallel links it is), never by interface
    # names, which shift when a link is inserted earlier in the file
    wire_name: dict[tuple[str, str], str] = {}
    parallel: dict[tuple[str, str], int] = {}
    for link in topo.links:
        pair = tuple(sorted((link.a.node, link.b.node)))
        k = parallel[pair] = parallel.get(pair, -1) + 1
        name = f"wire {pair[0]} {pair[1]}" + (f" #{k + 1}" if k else "")
        wire_name[(link.a.node, link.a.name)] = wire_name[(link.b.node, link.b.name)] = name
    out = []
    for switches, ifaces in topo.segments_with_switches():
        if switches:
            out.append(Segment(f"switch {switches[0]}", "lan", ifaces))
        else:
            p2p = len(ifaces) == 2 and all(kinds[i.node] == "router" for i in ifaces)
            first = ifaces[0]
            name = wire_name.get((first.node, first.name), f"wire {first.node}:{first.name}")
            out.append(Segment(name, "p2p" if p2p else "lan", ifaces))
    return out


def _hash(key: str, count: int) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % count


def _host(net: IPNetwork, n: int) -> IPInterface:
    return ipaddress.ip_interface((int(net.network_address) + n, net.prefixlen))


def _host_range(net: IPNetwork) -> tuple[int, int]:
    """Usable host numbers: no network or broadcast address in IPv4 below /31; no ::0 in IPv6."""
    size = net.num_addresses
    if net.version == 4 and net.prefixlen < 31:
        return 1, size - 2
    return (1, size - 1) if net.version == 6 else (0, size - 1)


class Numberer:
    """Hands out subnets and addresses, never one that is written or already handed out."""

    def __init__(self, topo: Topology):
        self.used_ips = {a.ip for n in topo.nodes for a in n.addresses()} | {a.ip for n in topo.nodes
                                                                             for a in n.loopbacks}
        self.written_nets = [a.network for n in topo.nodes for a in n.addresses()]
        self.taken: dict[tuple, set[int]] = {}

    def subnet(self, pool: poolmod.Pool, key: str, kind: str, modulus: int) -> IPNetwork | None:
        """The segment's subnet from `pool` (None when the pool is full).

        The first candidate is hash(key) % `modulus`, the same in both families where both pools
        are big enough, so a segment's IPv4 and IPv6 subnets carry the same number.
        """
        taken = self.taken.setdefault((kind, pool.network), set())
        start = _hash(key, min(modulus, pool.count))
        for k in range(min(pool.count, 1 << 20)):
            index = (start + k) % pool.count
            if index in taken:
                continue
            net = pool.subnet(index)
            if any(net.overlaps(w) for w in self.written_nets if w.version == net.version):
                taken.add(index)
                continue
            taken.add(index)
            return net
        return None

    def address(self, net: IPNetwork, wanted: int) -> IPInterface | None:
        """Host number `wanted` of `net`, or the next free one (None when the subnet is full)."""
        low, high = _host_range(net)
        span = high - low + 1
        if span <= 0:
            return None
        first = low + (wanted - low) % span
        for k in range(min(span, 1 << 16)):
            n = low + (first - low + k) % span
            cand = _host(net, n)
            if cand.ip not in self.used_ips:
                self.used_ips.add(cand.ip)
                return cand
        return None


def number(ctx) -> None:
    """Give every endpoint written without addresses its addresses; give routers loopbacks."""
    r = Reader(ctx.src, ctx.issues)
    pools = poolmod.read(r, ctx.src.data.get("addressing"))
    if pools is None:
        return
    topo: Topology = ctx.topo
    ids = {name: k + 1 for k, name in enumerate(ctx.src.data.get("nodes") or {})}
    numberer = Numberer(topo)
    new: dict[tuple[str, str], list[IPInterface]] = {}
    segs = segments(topo)
    for seg in sorted(segs, key=lambda s: (_hash(s.key, 1 << 30), s.key)):
        auto = [i for i in seg.ifaces if not i.addresses]
        if not auto:
            continue
        written = [a for i in seg.ifaces for a in i.addresses if not a.ip.is_link_local]
        if written:
            nets = {}
            for a in written:
                nets.setdefault(a.version, a.network)
            where = {f: nets[f] for f in sorted(nets)}
        else:
            where = {}
            modulus = min([p.count for p in pools[seg.kind].values()] + [1 << 16])
            for family, pool in sorted(pools[seg.kind].items()):
                net = numberer.subnet(pool, seg.key, seg.kind, modulus)
                if net is None:
                    ctx.err(("addressing",), f"the {seg.kind} pool {pool.network} is full: no /{pool.prefixlen} "
                            f"left for {seg.key}", "give the pool a bigger range under addressing:")
                    continue
                where[family] = net
        order = sorted(auto, key=lambda i: i.node)
        for family, net in where.items():
            for k, iface in enumerate(order):
                wanted = k + 1 if seg.kind == "p2p" else ids.get(iface.node, 1)
                addr = numberer.address(net, wanted)
                if addr is None:
                    ctx.err(("links", iface.link), f"subnet {net} has no free address left for {iface.node}:{iface.name}")
                    continue
                new.setdefault((iface.node, iface.name), []).append(addr)
    loopbacks: dict[str, list[IPInterface]] = {}
    if topo.routing.protocol != "none":
        for node in topo.nodes:
            if node.kind != "router" or node.loopbacks:
                continue
            for family, pool in sorted(pools["loopback"].items()):
                addr = numberer.address(pool.network, ids.get(node.name, 1))
                if addr is not None:
                    loopbacks.setdefault(node.name, []).append(ipaddress.ip_interface((addr.ip, addr.max_prefixlen)))
    if not new and not loopbacks:
        return
    ctx.topo = with_addresses(topo, new, loopbacks)


def with_addresses(topo: Topology, new: dict, loopbacks: dict) -> Topology:
    """`topo` with automatic addresses added to interfaces (and links) and loopbacks to routers."""
    def iface(i: Interface) -> Interface:
        extra = tuple(new.get((i.node, i.name), ()))
        if not extra:
            return i
        return dataclasses.replace(i, addresses=i.addresses + extra, auto=i.auto + extra)

    nodes = tuple(dataclasses.replace(n, interfaces=tuple(iface(i) for i in n.interfaces),
                                      loopbacks=n.loopbacks + tuple(loopbacks.get(n.name, ())))
                  for n in topo.nodes)
    links = tuple(dataclasses.replace(li, a=iface(li.a), b=iface(li.b)) for li in topo.links)
    return dataclasses.replace(topo, nodes=nodes, links=links)


STEPS = (Step("addressing", "derive", 200, number, needs_core=False),)
