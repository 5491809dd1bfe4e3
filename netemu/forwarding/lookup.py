"""The one longest-prefix-match route lookup over the model (validation, scenarios, pictures use it).

It decides as the kernel's main table does for a node: the longest matching prefix among the
node's connected subnets and routes; at equal length a connected subnet beats a route and a
lower metric beats a higher one. A route whose gateway is on no connected subnet is unusable
(the kernel would refuse it), so it never matches.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import Interface, IPAddress, Node, Route


@dataclass(frozen=True)
class NextHop:
    """Where a node sends a packet: out of `iface`, to `gateway` (None: the destination is on-link)."""

    iface: Interface
    gateway: IPAddress | None
    route: Route | None  # None: a connected subnet


def route_interface(node: Node, route: Route) -> Interface | None:
    """The interface a route sends out of: its `dev`, else the one whose subnet holds the gateway."""
    if route.dev:
        return node.interface(route.dev)
    if route.via is None:
        return None
    return next((i for i in node.interfaces for a in i.addresses
                 if a.version == route.via.version and route.via in a.network), None)


def lookup(node: Node, dst: IPAddress) -> NextHop | None:
    """The node's choice for `dst`, or None when nothing matches."""
    best: tuple | None = None
    hop: NextHop | None = None
    for iface in node.interfaces:
        for a in iface.addresses:
            if a.version == dst.version and dst in a.network:
                key = (a.network.prefixlen, 1, 0)  # connected beats a route of the same length
                if best is None or key > best:
                    best, hop = key, NextHop(iface, None, None)
    for r in node.routes:
        if r.family != dst.version or (r.dst is not None and dst not in r.dst):
            continue
        iface = route_interface(node, r)
        if iface is None:
            continue
        key = (0 if r.dst is None else r.dst.prefixlen, 0, -(r.metric or 0))
        if best is None or key > best:
            best, hop = key, NextHop(iface, r.via, r)
    return hop


def owns(node: Node, address: IPAddress) -> bool:
    """Whether `address` is configured on the node (an interface or a loopback)."""
    return any(a.ip == address for a in node.addresses()) or any(a.ip == address for a in node.loopbacks)


def forwards(node: Node, family: int) -> bool:
    """Whether the node forwards packets of `family` (routers do; a host only if its sysctls say so)."""
    if node.kind == "router":
        return True
    keys = {"net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding"} if family == 4 else {"net.ipv6.conf.all.forwarding"}
    return any(k in keys and v.strip() == "1" for k, v in node.sysctls)
