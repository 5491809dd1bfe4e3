"""`routing: static`: routes computed along shortest paths, written into the model before checks.

- Every router gets a route to every prefix of the lab it is not connected to (subnets of links
  and switches, other routers' loopbacks), via the neighbour on the shortest path. A path's cost
  is the sum of the `cost:` of the links it leaves routers by (1 when not written), like OSPF's
  outgoing-interface cost. Among equal-cost paths one is chosen by a fixed tie-breaker (a hash of
  each pair of neighbours), the same in both directions: the way back is the way there.
- Every host gets a default route per family to a router on its link (the one whose name sorts
  first), when it has one and no default route of that family is written. This part also applies
  with `routing: ospf|bgp` (FRR only runs on routers).
- Written routes always win: no route is computed for a destination a node already has one for.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
from collections import defaultdict

from ..features import Step
from ..model import Interface, IPAddress, IPNetwork, Node, Route, Topology
from .addressing import segments


@dataclasses.dataclass(frozen=True)
class Edge:
    """From a router out of `iface` to neighbour `to`, whose address `gateway` is on that subnet."""

    to: str
    iface: Interface
    gateway: IPAddress
    cost: int
    weight: int  # cost scaled, plus a small tie-breaker that is the same in both directions


# Equal-cost paths are broken by a tiny weight per (unordered) pair of neighbours: shortest paths
# become unique, so every router agrees on the same path towards a destination (hop-by-hop routes
# stay consistent) and the way back is the way there (no asymmetric paths from arbitrary ties).
_TIE_BITS = 20


def _tie(a: str, b: str, key: str) -> int:
    digest = hashlib.sha256(f"{min(a, b)} {max(a, b)} {key}".encode()).digest()
    return 1 + int.from_bytes(digest[:4], "big") % ((1 << _TIE_BITS) - 1)


def _gateway(mine: Interface, theirs: Interface, family: int) -> IPAddress | None:
    nets = [a.network for a in mine.addresses if a.version == family and not a.ip.is_link_local]
    return next((a.ip for a in theirs.addresses if a.version == family and any(a.ip in n for n in nets)), None)


def graph(topo: Topology, family: int, default_cost: int = 1) -> dict[str, list[Edge]]:
    """Router adjacency of one family: who can send to whom, over which interface, at what cost (a link's
    `cost:`, else `default_cost`)."""
    routers = {n.name for n in topo.nodes if n.kind == "router"}
    edges: dict[str, list[Edge]] = defaultdict(list)
    for seg in segments(topo):
        ends = [i for i in seg.ifaces if i.node in routers]
        for mine in ends:
            cost = topo.links[mine.link].cost or default_cost
            for theirs in ends:
                if theirs.node == mine.node:
                    continue
                gw = _gateway(mine, theirs, family)
                if gw is not None:
                    weight = (cost << (2 * _TIE_BITS)) + _tie(mine.node, theirs.node, seg.key)
                    edges[mine.node].append(Edge(theirs.node, mine, gw, cost, weight))
    for node in edges:
        edges[node].sort(key=lambda e: (e.to, e.iface.name))
    return edges


def first_hops(edges: dict[str, list[Edge]], source: str) -> dict[str, tuple[int, Edge | None]]:
    """Dijkstra from `source` by tie-broken weight: (distance, first edge of the one shortest path) of every
    router it reaches (None for the source itself)."""
    return {node: (dist, min(hops, key=lambda e: (e.to, e.iface.name), default=None))
            for node, (dist, hops) in equal_cost_hops(edges, source, by_weight=True).items()}


def equal_cost_hops(edges: dict[str, list[Edge]], source: str,
                    by_weight: bool = False) -> dict[str, tuple[int, frozenset[Edge]]]:
    """Dijkstra from `source` by cost alone, as a link-state protocol computes it (or by the tie-broken
    weight, where one path wins): (distance, every first edge of a shortest path) of every router it
    reaches (the source's own set is empty)."""
    done: dict[str, tuple[int, frozenset[Edge]]] = {}
    best: dict[str, tuple[int, set[Edge]]] = {source: (0, set())}
    heap: list = [(0, source)]
    while heap:
        dist, node = heapq.heappop(heap)
        if node in done or dist > best[node][0]:
            continue
        done[node] = (dist, frozenset(best[node][1]))
        for e in edges.get(node, ()):
            if e.to in done:
                continue
            hops = {e} if node == source else best[node][1]
            length = dist + (e.weight if by_weight else e.cost)
            cur = best.get(e.to)
            if cur is None or length < cur[0]:
                best[e.to] = (length, set(hops))
                heapq.heappush(heap, (length, e.to))
            elif length == cur[0]:
                cur[1].update(hops)
    return done


def prefixes(topo: Topology, family: int) -> dict[IPNetwork, list[str]]:
    """Every prefix of the lab of one family, with the routers attached to it."""
    out: dict[IPNetwork, list[str]] = {}
    for node in topo.nodes:
        for a in node.addresses():
            if a.version == family and not a.ip.is_link_local:
                attached = out.setdefault(a.network, [])
                if node.kind == "router" and node.name not in attached:
                    attached.append(node.name)
        for a in node.loopbacks:
            if a.version == family:
                out.setdefault(a.network, []).append(node.name)
    return out


def router_routes(topo: Topology, node: Node, family: int, edges, prefix_map) -> list[Route]:
    """The computed routes of one router for one family."""
    hops = first_hops(edges, node.name)
    connected = {a.network for a in node.addresses()} | {a.network for a in node.loopbacks}
    written = {r.dst for r in node.routes if r.family == family}
    out = []
    for prefix in sorted(prefix_map, key=lambda p: (int(p.network_address), p.prefixlen)):
        if prefix in connected or prefix in written:
            continue
        reachable = [(hops[t][0], t) for t in prefix_map[prefix] if t in hops and hops[t][1] is not None]
        if not reachable:
            continue
        edge = hops[min(reachable)[1]][1]
        out.append(Route(family, prefix, edge.gateway, None, None, f"{prefix} via {edge.gateway}", origin="static"))
    return out


def host_defaults(node: Node, routers: set[str], by_iface: dict) -> list[Route]:
    """A default route per family to a router on the host's link (none where one is written)."""
    out = []
    for family in (4, 6):
        if any(r.family == family and r.dst is None for r in node.routes):
            continue
        for mine in node.interfaces:
            seg = by_iface.get((mine.node, mine.name))
            if seg is None:
                continue
            gws = sorted((i.node, gw) for i in seg.ifaces if i.node in routers
                         if (gw := _gateway(mine, i, family)) is not None)
            if gws:
                gw = gws[0][1]
                out.append(Route(family, None, gw, None, None, f"default via {gw}", origin="static"))
                break
    return out


def compute(ctx) -> None:
    """Add the computed routes to every node (routers: `routing: static` only)."""
    topo: Topology = ctx.topo
    protocol = topo.routing.protocol
    if protocol == "none":
        return
    extra: dict[str, list[Route]] = defaultdict(list)
    if protocol == "static":
        for family in (4, 6):
            edges = graph(topo, family)
            prefix_map = prefixes(topo, family)
            for node in topo.nodes:
                if node.kind == "router":
                    extra[node.name] += router_routes(topo, node, family, edges, prefix_map)
    routers = {n.name for n in topo.nodes if n.kind == "router"}
    by_iface = {(i.node, i.name): seg for seg in segments(topo) for i in seg.ifaces}
    for node in topo.nodes:
        if node.kind == "host":
            extra[node.name] += host_defaults(node, routers, by_iface)
    nodes = tuple(dataclasses.replace(n, routes=n.routes + tuple(extra[n.name])) if extra.get(n.name) else n
                  for n in topo.nodes)
    ctx.topo = dataclasses.replace(topo, nodes=nodes)


STEPS = (Step("static-routes", "derive", 300, compute),)
