"""Where packets go, decided hop by hop with the one lookup, memoised per (node, destination subnet).

A packet for address D in subnet S takes the same way through a node as any other address of S,
unless the node has a route or a connected subnet strictly inside S: only then is D itself the key.
That keeps all pairs of a 1,000-host lab to a few thousand decisions.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..model import Interface, IPAddress, IPNetwork, Node, Topology
from .lookup import forwards, lookup, owns

MAX_HOPS = 64


@dataclass(frozen=True)
class Outcome:
    """How a walk ends: delivered (`ok`) or stopped at node `at` for `why` ("no-route", "loop", …)."""

    ok: bool
    nodes: tuple[str, ...]  # every node the packet visits, the last one where it was delivered or stopped
    why: str = ""
    detail: str = ""
    route_index: int | None = None  # the route of `at` involved (a loop), when it is a written one
    link: int | None = None  # the link the packet was to leave `at` by, when that is where it failed

    @property
    def at(self) -> str:
        """The node where the walk ended."""
        return self.nodes[-1]


def link_local(mac: str) -> ipaddress.IPv6Address:
    """The EUI-64 link-local address the kernel derives from a MAC."""
    b = [int(x, 16) for x in mac.split(":")]
    b[0] ^= 0x02
    eui = b[:3] + [0xFF, 0xFE] + b[3:]
    return ipaddress.IPv6Address(bytes([0xFE, 0x80] + [0] * 6 + eui))


class Walker:
    """Follows packets of one family through a topology, sharing decisions between walks."""

    def __init__(self, topo: Topology):
        self.topo = topo
        self.nodes = {n.name: n for n in topo.nodes}
        seg_of: dict[tuple[str, str], int] = {}
        members: list[list[Interface]] = []
        for k, seg in enumerate(topo.segments()):
            members.append(seg)
            for i in seg:
                seg_of[(i.node, i.name)] = k
        self.seg_of = seg_of
        self.by_ip: dict[tuple[int, IPAddress], Interface] = {}
        for k, seg in enumerate(members):
            for i in seg:
                for a in i.addresses:
                    self.by_ip[(k, a.ip)] = i
        self.members = members
        self.prefixes = {n.name: [r.dst for r in n.routes if r.dst is not None]
                         + [a.network for a in n.addresses()] for n in topo.nodes}
        self.connected = {n.name: {a.network for a in n.addresses()} for n in topo.nodes}
        self.memo: dict[tuple, tuple] = {}
        self._specific: dict[tuple[str, IPNetwork], bool] = {}

    def receiver(self, out: Interface, target: IPAddress) -> Interface | None:
        """The interface on `out`'s segment that answers ARP/ND for `target`."""
        k = self.seg_of.get((out.node, out.name))
        if k is None:
            return None
        found = self.by_ip.get((k, target))
        if found is not None and found.node != out.node:
            return found
        if target.version == 6 and target.is_link_local:
            return next((i for i in self.members[k] if i.node != out.node and link_local(i.mac) == target), None)
        return None

    def _key(self, node: str, dst: IPAddress, net: IPNetwork):
        """Memo key: the subnet, unless this node decides per address inside it (on-link, or more specific)."""
        specific = self._specific.get((node, net))
        if specific is None:
            specific = net in self.connected[node] or any(
                p.version == net.version and p != net and p.subnet_of(net) for p in self.prefixes[node])
            self._specific[(node, net)] = specific
        return (node, dst) if specific else (node, net)

    def decide(self, node: Node, dst: IPAddress, first: bool) -> tuple:
        """One hop: ("deliver", segment) / ("next", node name) / ("fail", why, detail, route index)."""
        if owns(node, dst):
            return ("here",)
        if not first and not forwards(node, dst.version):
            return ("fail", "no-forwarding", f"{node.name} is a {node.kind} without IPv{dst.version} forwarding", None,
                    None)
        hop = lookup(node, dst)
        if hop is None:
            return ("fail", "no-route", "", None, None)
        index = node.routes.index(hop.route) if hop.route is not None and hop.route.origin == "written" else None
        target = hop.gateway or dst
        nxt = self.receiver(hop.iface, target)
        if nxt is None:
            if hop.gateway is None:
                return ("fail", "not-on-link", f"no node on {node.name}'s {hop.iface.name} has {dst}", index,
                        hop.iface.link)
            return ("fail", "no-gateway", f"gateway {hop.gateway} is on no node reachable through "
                    f"{node.name}'s {hop.iface.name}", index, hop.iface.link)
        return ("next", nxt.node, index)

    def walk(self, src: str, dst: IPAddress, net: IPNetwork) -> Outcome:
        """From node `src` to address `dst` (in subnet `net`): where the packet ends up."""
        d = self.decide(self.nodes[src], dst, True)
        if d[0] == "here":
            return Outcome(True, (src,))
        if d[0] == "fail":
            return Outcome(False, (src,), d[1], d[2], d[3], d[4])
        r = self._onward(d[1], dst, net)
        if r[0] == "ok":
            return Outcome(True, (src,) + r[1])
        if r[0] == "loop":
            return Outcome(False, (src,) + r[1], "loop", "", r[2])
        return Outcome(False, (src,) + r[1], r[2], r[3], r[4], r[5])

    def _onward(self, start: str, dst: IPAddress, net: IPNetwork) -> tuple:
        """What happens to a packet for `dst` arriving at `start`; memoises every node it visits.

        Results: ("ok", nodes) | ("fail", nodes, why, detail, route index, link) | ("loop", nodes, route index),
        `nodes` from the arriving node to the last one visited.
        """
        trail: list[tuple] = []
        on_trail: set[str] = set()
        here = start
        while True:
            key = self._key(here, dst, net)
            if key in self.memo:
                result = self.memo[key]
                break
            if here in on_trail or len(trail) > MAX_HOPS:
                result = ("loop", (here,), trail[-1][2][2] if trail else None)
                break
            d = self.decide(self.nodes[here], dst, False)
            if d[0] == "here":
                result = self.memo[key] = ("ok", (here,))
                break
            if d[0] == "fail":
                result = self.memo[key] = ("fail", (here,), d[1], d[2], d[3], d[4])
                break
            trail.append((key, here, d))
            on_trail.add(here)
            here = d[1]
        for key, node, _ in reversed(trail):
            result = (result[0], (node,) + result[1]) + result[2:]
            self.memo[key] = result
        return result
