"""The OSPF routes each router's FIB holds once an OSPF-only lab has converged, every equal-cost next hop.

Pure, from the model: the convergence wait compares zebra's installed routes with these, and a lab whose
FIBs all match is converged at once (no quiet spell to wait out). OSPF's rules as FRR applies them: an
interface costs the link's `cost:`, else FRR's automatic cost for a veth (reference bandwidth 100 Gbit/s
over the veth's 10 Gbit/s); a router's distance to a prefix is its distance to a router attached to it
plus that router's interface cost (a point-to-point subnet is announced by both ends, a shared segment
through its network LSA); every next hop of an equal-cost shortest path is installed; a prefix the
router is attached to stays the kernel's connected route. IPv6 next hops are the neighbours' link-local
addresses, so those are told apart by interface only.
"""

from __future__ import annotations

from ..derive.static_routes import equal_cost_hops, graph, prefixes
from ..model import Topology

VETH_COST = 10  # FRR 8.4: auto-cost reference-bandwidth 100000 Mbit/s / a veth's 10000 Mbit/s

Hop = tuple[str, str]  # (next hop address, or "" for IPv6; outgoing interface)
Routes = tuple[tuple[str, tuple[Hop, ...]], ...]  # (prefix, its next hops sorted), sorted by prefix


def ospf_routes(topo: Topology, routers: list[str]) -> dict[str, Routes]:
    """Every router's OSPF routes (IPv4 and IPv6) in a lab where all routers share one OSPF domain."""
    out: dict[str, list[tuple[str, tuple[Hop, ...]]]] = {r: [] for r in routers}
    for family in (4, 6):
        edges = graph(topo, family, VETH_COST)
        attached = prefixes(topo, family)
        cost = _attachment_costs(topo, family)
        for r in routers:
            paths = equal_cost_hops(edges, r)
            for prefix, owners in attached.items():
                if r in owners:
                    continue
                reach = [(paths[o][0] + cost[(o, prefix)], o) for o in owners if o in paths and o != r]
                if not reach:
                    continue
                best = min(d for d, _ in reach)
                hops = {(str(e.gateway) if family == 4 else "", e.iface.name)
                        for d, o in reach if d == best for e in paths[o][1]}
                out[r].append((str(prefix), tuple(sorted(hops))))
    return {r: tuple(sorted(routes)) for r, routes in out.items()}


def _attachment_costs(topo: Topology, family: int) -> dict[tuple[str, object], int]:
    """What each router adds to its distance for a prefix it is attached to: the interface's cost (a
    loopback's is 0)."""
    out: dict[tuple[str, object], int] = {}
    for node in topo.nodes:
        if node.kind != "router":
            continue
        for iface in node.interfaces:
            for a in iface.addresses:
                if a.version == family and not a.ip.is_link_local:
                    out[(node.name, a.network)] = topo.links[iface.link].cost or VETH_COST
        for a in node.loopbacks:
            if a.version == family:
                out[(node.name, a.network)] = 0
    return out
