"""The core's reading of a whole document: top-level keys, nodes, links (no derived data yet)."""

from __future__ import annotations

import dataclasses

from .. import features, names
from ..errors import Issue
from ..model import Link, Routing, Topology
from ..source import Source
from .links import LINK_KEYS, LinkReader, RawLink
from .nodes import NODE_KEYS, read_kind, read_node
from .reader import Reader

TOP_KEYS = {"name", "description", "neighbours", "nodes", "links", "routing", "addressing", "defaults"}
NEIGHBOUR_MODES = ("auto", "static", "dynamic")
ROUTING_PROTOCOLS = ("none", "static", "ospf", "bgp")


def read_topology(src: Source, issues: list[Issue]) -> Topology:
    """The core topology as written. Parts with errors are left out, so features and checks still run."""
    r = Reader(src, issues)
    data = src.data
    r.unknown_keys((), data, TOP_KEYS | features.owned_keys("top"))
    name = data.get("name")
    if name is None:
        r.err(("name",), "missing: every lab needs a name (it prefixes its namespaces)")
    elif (p := names.lab_name_problem(name)) is not None:
        r.err(("name",), p)
    lab = name if isinstance(name, str) else "lab"
    description = data.get("description", "")
    if not isinstance(description, str):
        r.err(("description",), "must be a string")
        description = ""
    neighbours = data.get("neighbours", "auto")
    if neighbours not in NEIGHBOUR_MODES:
        r.err(("neighbours",), f"must be one of {', '.join(NEIGHBOUR_MODES)}, got {neighbours!r}",
              "static installs permanent ARP/ND entries (needed by big labs: the kernel's neighbour "
              "table limit is shared by all namespaces)")
        neighbours = "auto"
    routing = read_routing(r, data.get("routing"))
    raw_nodes = data.get("nodes")
    if not isinstance(raw_nodes, dict) or not raw_nodes:
        r.err(("nodes",), "must be a non-empty mapping of node name to settings")
        raw_nodes = {}
    raw_links = data.get("links", [])
    if raw_links is None:
        raw_links = []
    if not isinstance(raw_links, list):
        r.err(("links",), "must be a list of links")
        raw_links = []

    kinds = {n: read_kind(r, n, spec) for n, spec in raw_nodes.items()}
    lr = LinkReader(src, issues, kinds, LINK_KEYS | features.owned_keys("link"))
    links = [lr.link(i, raw) for i, raw in enumerate(raw_links)]
    ifaces, by_link = lr.interfaces(links, lab)
    allowed = NODE_KEYS | features.owned_keys("node")
    nodes = [read_node(r, n, raw_nodes[n], kinds[n], ifaces.get(n, []), allowed) for n in raw_nodes]
    segment_mtus(r, kinds, links)
    kept = {n.name for n in nodes if n is not None}
    topo_links = tuple(
        Link(i, by_link[(i, 0)], by_link[(i, 1)], raw.mtu, raw.extra, raw.cost, src.line(("links", i)))
        for i, raw in enumerate(links)
        if raw is not None and raw.a.node in kept and raw.b.node in kept
    )
    linked = {link.index for link in topo_links}
    nodes = [n if n is None or all(i.link in linked for i in n.interfaces)
             else dataclasses.replace(n, interfaces=tuple(i for i in n.interfaces if i.link in linked))
             for n in nodes]  # an interface whose link was left out (its other end is invalid) goes too
    return Topology(
        name=lab,
        nodes=tuple(n for n in nodes if n is not None),
        links=topo_links,
        source=src.filename,
        description=description,
        neighbours=neighbours,
        routing=routing,
    )


def read_routing(r: Reader, raw) -> Routing:
    """`routing: static` or `routing: {protocol: ospf, …options for the FRR feature}`."""
    line = r.src.line(("routing",)) if raw is not None else None
    if raw is None:
        return Routing()
    if isinstance(raw, str):
        protocol, options = raw, ()
        where: tuple = ("routing",)
    elif isinstance(raw, dict):
        protocol = raw.get("protocol")
        options = tuple((k, v) for k, v in raw.items() if k != "protocol")
        where = ("routing", "protocol")
    else:
        r.err(("routing",), "must be a protocol name or a mapping with 'protocol'",
              f"one of {', '.join(ROUTING_PROTOCOLS)}")
        return Routing()
    if protocol not in ROUTING_PROTOCOLS:
        r.err(where, f"unknown routing protocol {protocol!r}", f"use one of {', '.join(ROUTING_PROTOCOLS)}")
        return Routing(line=line)
    return Routing(protocol, options, line)


def segment_mtus(r: Reader, kinds: dict, links: list[RawLink | None]) -> None:
    """Ports of one switch must agree on MTU: a mismatch drops big frames silently, with no ICMP."""
    per_switch: dict[str, dict[int, int]] = {}
    for i, link in enumerate(links):
        if link is None:
            continue
        for ep in (link.a, link.b):
            if kinds.get(ep.node) == "switch":
                per_switch.setdefault(ep.node, {}).setdefault(link.mtu, i)
    for sw, mtus in per_switch.items():
        if len(mtus) > 1:
            first = sorted(mtus.items(), key=lambda kv: kv[1])
            desc = ", ".join(f"{m} at links[{i}]" for m, i in first)
            r.err(("links", first[1][1], "mtu"), f"links into switch {sw!r} have different MTUs ({desc})",
                  "a bridge drops frames larger than a port's MTU without any ICMP error; use one MTU per switch")
