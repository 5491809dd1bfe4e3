"""A node's kernel FIB (the main table), read over rtnetlink as the model's routes.

Routers whose routes a routing daemon installs (FRR: `routing: ospf|bgp`) have none in the model;
what they forward by is what zebra put in their kernel. Reading it back as `Route`s lets the one
route lookup (netemu.forwarding.lookup) decide for them as it does for static routes.
"""

from __future__ import annotations

import ipaddress

from ..model import Route
from . import netns

RTM_F_CLONED = 0x200  # a route cache exception (learned PMTU, redirect), not a route (linux/rtnetlink.h)
RTN_UNICAST = 1
RTPROT_KERNEL = 2  # the connected subnets: the model has them from the interfaces' addresses
FAMILIES = {2: 4, 10: 6}
PROTOCOLS = {3: "boot", 4: "static", 11: "zebra", 186: "bgp", 188: "ospf", 196: "static", 189: "rip", 187: "isis"}


def read(ns: str) -> tuple[Route, ...]:
    """The unicast routes of namespace `ns`'s main table, as `Route`s (origin: `fib`).

    Connected subnets (proto kernel), link-local and multicast prefixes, cached exceptions and routes
    that send nowhere (blackhole, unreachable) are left out: the lookup knows the connected subnets
    from the interfaces, and a route without an interface never matches in it. Of a multipath route
    the first next hop is kept (the model's route has one).
    """
    with netns.dump_socket(ns) as ipr:
        names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
        out = []
        for family in FAMILIES:
            out += [r for r in (_route(m, names) for m in ipr.get_routes(family=family, table=254)) if r]
        return tuple(out)


def _route(m, names: dict[int, str]) -> Route | None:
    """One rtnetlink route message as a Route, or None when it is one the lookup does not use."""
    if m["flags"] & RTM_F_CLONED or m["type"] != RTN_UNICAST or m["proto"] == RTPROT_KERNEL:
        return None
    family = FAMILIES[m["family"]]
    dst_text = m.get_attr("RTA_DST")
    dst = None if dst_text is None else ipaddress.ip_network(f"{dst_text}/{m['dst_len']}", strict=False)
    if dst is not None and (dst.is_link_local or dst.is_multicast):
        return None
    gateway, oif = m.get_attr("RTA_GATEWAY"), m.get_attr("RTA_OIF")
    hops = m.get_attr("RTA_MULTIPATH") or ()
    if gateway is None and oif is None and hops:
        gateway, oif = hops[0].get_attr("RTA_GATEWAY"), hops[0]["oif"]
    via = None if gateway is None else ipaddress.ip_address(gateway)
    if via is not None and via.version != family:
        return None  # an IPv4 route via an IPv6 next hop: the model's route cannot say it
    dev = names.get(oif)
    proto = PROTOCOLS.get(m["proto"], str(m["proto"]))
    text = " ".join(x for x in ("default" if dst is None else str(dst), via and f"via {via}", dev and f"dev {dev}",
                                f"proto {proto}") if x)
    return Route(family, dst, via, dev, m.get_attr("RTA_PRIORITY"), text, origin="fib")


def to_json(route: Route) -> dict:
    """A FIB route as JSON (how a machine of a lab across machines hands it to the coordinator)."""
    return {"family": route.family, "dst": None if route.dst is None else str(route.dst),
            "via": None if route.via is None else str(route.via), "dev": route.dev, "metric": route.metric,
            "text": route.text}


def from_json(data: dict) -> Route:
    """The Route of one `to_json` answer (origin `fib`); ValueError for one that is not a route."""
    family = int(data["family"])
    if family not in FAMILIES.values():
        raise ValueError(f"not an address family: {family}")
    dst = None if data.get("dst") is None else ipaddress.ip_network(data["dst"])
    via = None if data.get("via") is None else ipaddress.ip_address(data["via"])
    metric = data.get("metric")
    return Route(family, dst, via, None if data.get("dev") is None else str(data["dev"]),
                 None if metric is None else int(metric), str(data.get("text", "")), origin="fib")
