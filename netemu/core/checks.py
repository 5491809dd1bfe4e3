"""Core checks that need the final addresses (run after derive): duplicates, gateways, shared subnets."""

from __future__ import annotations

from ..features import Step
from ..model import Topology


def duplicate_addresses(ctx) -> None:
    """An address on two interfaces: the kernel allows it, the lab would not work."""
    seen: dict = {}
    for n in ctx.topo.nodes:
        for iface in n.interfaces:
            for a in iface.addresses:
                if a.ip in seen:
                    ctx.err(("links", iface.link), f"address {a.ip} of {n.name}:{iface.name} is also on {seen[a.ip]}")
                else:
                    seen[a.ip] = f"{n.name}:{iface.name}"


def gateways(ctx) -> None:
    """A gateway must be on a subnet connected to the node (through `dev` when given), and not its own."""
    for node in ctx.topo.nodes:
        for k, route in enumerate(node.routes):
            if route.via is None or route.origin != "written":
                continue
            path = ("nodes", node.name, "routes", k)
            via, dev = route.via, route.dev
            candidates = [i for i in node.interfaces if dev is None or i.name == dev]
            if any(a.ip == via for a in node.addresses()):
                ctx.err(path, f"gateway {via} is this node's own address")
                continue
            on_subnet = [i for i in candidates for a in i.addresses if a.version == via.version and via in a.network]
            if not on_subnet and not (via.version == 6 and via.is_link_local and dev is not None):
                subnets = sorted({str(a.network) for i in candidates for a in i.addresses})
                ctx.err(path, f"gateway {via} is not on any subnet connected to this node"
                        + (f" via {dev}" if dev else ""), f"connected: {', '.join(subnets) or 'none'}")


def unreachable_ends(ctx) -> None:
    """Warn about point-to-point links whose two ends share no subnet: they cannot talk directly."""
    for link in ctx.topo.links:
        a, b = link.a, link.b
        for version in (4, 6):
            mine = [x for x in a.addresses if x.version == version and not x.ip.is_link_local]
            theirs = [x for x in b.addresses if x.version == version and not x.ip.is_link_local]
            if mine and theirs and not any(x.ip in y.network or y.ip in x.network for x in mine for y in theirs):
                ctx.warn(("links", link.index, "endpoints"),
                         f"{a.node} {', '.join(map(str, mine))} and {b.node} {', '.join(map(str, theirs))} "
                         f"share no subnet: they cannot reach each other over this link",
                         "give both ends addresses in one prefix")


def unanswered_gateways(ctx) -> None:
    """Warn about gateways no node of the lab owns: the next hop's ARP/ND will go unanswered."""
    topo: Topology = ctx.topo
    owned = {a.ip for n in topo.nodes for i in n.interfaces for a in i.addresses}
    for node in topo.nodes:
        for k, route in enumerate(node.routes):
            if route.origin == "written" and route.via is not None and route.via not in owned \
                    and not route.via.is_link_local:
                ctx.warn(("nodes", node.name, "routes", k),
                         f"no node of this lab has the gateway address {route.via}: "
                         f"packets on this route will not get past the first hop")


STEPS = (
    Step("duplicate-addresses", "check", 100, duplicate_addresses, needs_core=False),
    Step("gateways", "check", 110, gateways, needs_core=False),
    Step("shared-subnets", "check", 120, unreachable_ends),
    Step("gateway-owners", "check", 130, unanswered_gateways),
)
