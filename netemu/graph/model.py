"""The lab as a graph: what each node is and does (badges), what each link carries (labels)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..model import Interface, Link, Node, Topology


@dataclass(frozen=True)
class Port:
    """One interface of a node as drawn: its name, addresses, and live state when known."""

    name: str
    addresses: tuple[str, ...]
    state: str | None = None  # UP, NO-CARRIER or DOWN for a running lab; None from the model alone


@dataclass(frozen=True)
class GraphNode:
    """A node as drawn: name, kind, interfaces, badges (NAT, firewall, DNS, services) and AS group."""

    name: str
    kind: str
    ports: tuple[Port, ...] = ()
    badges: tuple[tuple[str, str], ...] = ()  # (category, text): category is nat, firewall, dns, services
    group: str | None = None  # "AS 65001" when the node has an `as:` key


@dataclass(frozen=True)
class GraphEdge:
    """A link as drawn: both ends (node, interface), its MTU and impairments, live state when known."""

    index: int
    a: tuple[str, str]
    b: tuple[str, str]
    mtu: int
    impairment: str = ""  # "10ms" or "h1→r1 10ms; r1→h1 none"; empty for a plain wire
    state: str = "up"  # up | down (cut with `netemu link … down`, or an end not UP) | impaired at runtime
    switch_ends: tuple[bool, bool] = (False, False)  # whether each end is a switch (a bridge port)


@dataclass(frozen=True)
class Graph:
    """A whole lab as drawn."""

    name: str
    description: str
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    live: bool = False
    notes: tuple[str, ...] = field(default=())


def build(topo: Topology, live: dict | None = None) -> Graph:
    """The graph of a topology; with `live` (see netemu.graph.live) the running lab's state is added."""
    live = live or {}
    states: dict[tuple[str, str], str] = live.get("interfaces", {})
    runtime: dict[int, dict] = live.get("links", {})
    dns = _dns_roles(topo)
    nodes = tuple(GraphNode(n.name, n.kind, _ports(n, states), _badges(n, dns.get(n.name, [])), _group(n))
                  for n in topo.nodes)
    edges = tuple(_edge(topo, link, states, runtime.get(link.index)) for link in topo.links)
    return Graph(topo.name, topo.description, nodes, edges, live=bool(live))


def cut_to(graph: Graph, hops: list[tuple[str, str, str, str]]) -> Graph:
    """The part of a graph a path crosses: hops are (node, out interface, next node, its interface).

    Switches between two hops are kept, with the links that join them.
    """
    ends = {(h[0], h[1]) for h in hops} | {(h[2], h[3]) for h in hops}
    switches = {n.name for n in graph.nodes if n.kind == "switch"}
    keep_edges = [e for e in graph.edges if e.a in ends or e.b in ends]
    # a switch is on the path only when it joins two of the path's interfaces
    touching: dict[str, int] = {}
    for e in keep_edges:
        for end, other in ((e.a, e.b), (e.b, e.a)):
            if end[0] in switches and other in ends:
                touching[end[0]] = touching.get(end[0], 0) + 1
    on_path = {s for s, count in touching.items() if count >= 2}
    keep_edges = [e for e in keep_edges if (e.a in ends and e.b in ends)
                  or (e.a[0] in on_path and e.b in ends) or (e.b[0] in on_path and e.a in ends)]
    names = {h[0] for h in hops} | {h[2] for h in hops} | on_path
    nodes = []
    for n in graph.nodes:
        if n.name in names:
            ports = tuple(p for p in n.ports if (n.name, p.name) in ends) if n.kind != "switch" else n.ports
            nodes.append(replace(n, ports=ports))
    return replace(graph, nodes=tuple(nodes), edges=tuple(keep_edges))


def _ports(node: Node, states: dict[tuple[str, str], str]) -> tuple[Port, ...]:
    return tuple(Port(i.name, tuple(str(a) for a in i.addresses), states.get((node.name, i.name)))
                 for i in node.interfaces)


def _edge(topo: Topology, link: Link, states: dict, runtime: dict | None) -> GraphEdge:
    impairment = _impairment(topo, link)
    state = "up"
    if runtime is not None:
        impairment = runtime.get("impairment", impairment)
        state = "down" if runtime.get("admin") == "down" else ("impaired" if impairment else "up")
    ends = (link.a, link.b)
    if any(states.get((i.node, i.name)) not in (None, "UP") for i in ends if not _is_switch(topo, i)):
        state = "down"
    return GraphEdge(link.index, (link.a.node, link.a.name), (link.b.node, link.b.name), link.mtu, impairment,
                     state, (_is_switch(topo, link.a), _is_switch(topo, link.b)))


def _is_switch(topo: Topology, iface: Interface) -> bool:
    return topo.node(iface.node).is_switch


def _impairment(topo: Topology, link: Link) -> str:
    """The link's impairments as written by link emulation ('' for a plain wire)."""
    emu = topo.feature("linkemu")
    li = emu.of(link.index) if emu is not None else None
    if li is None:
        return ""
    ab, ba = li.ab.describe(), li.ba.describe()
    if ab == ba:
        return f"{ab} each way"
    return f"{link.a.node}→{link.b.node} {ab}; {link.b.node}→{link.a.node} {ba}"


def _group(node: Node) -> str | None:
    asn = dict(node.extra).get("as")
    return None if asn is None else f"AS {asn}"


def _dns_roles(topo: Topology) -> dict[str, list[str]]:
    """node -> its DNS roles ('authoritative for com.', 'resolver'), from the dns feature's model."""
    spec = topo.feature("dns")
    out: dict[str, list[str]] = {}
    if spec is None:
        return out
    for zone in getattr(spec, "zones", ()):
        for server in zone.servers:
            out.setdefault(server.node, []).append(f"DNS: authoritative for {zone.origin}")
    for resolver in getattr(spec, "resolvers", ()):
        out.setdefault(resolver.node, []).append("DNS: resolver")
    return out


def _badges(node: Node, dns: list[str]) -> tuple[tuple[str, str], ...]:
    extra = dict(node.extra)
    out: list[tuple[str, str]] = []
    nat = extra.get("nat")
    if isinstance(nat, dict):
        kinds = [("masquerade", "masquerade"), ("snat", "SNAT pool"), ("port_forwards", "port forward"),
                 ("one_to_one", "1:1")]
        out.append(("nat", "NAT: " + ", ".join(text for key, text in kinds if nat.get(key))))
    fw = extra.get("firewall")
    if isinstance(fw, dict):
        policies = [f"{chain} {fw[chain]}" for chain in ("input", "forward", "output") if fw.get(chain) == "drop"]
        icmp = fw.get("icmp", "allow")
        parts = [str(fw.get("mode", "stateful"))] + policies + ([f"icmp {icmp}"] if icmp != "allow" else [])
        parts += ["clamp MSS"] if fw.get("clamp_mss") else []
        out.append(("firewall", "firewall: " + ", ".join(parts)))
    out += [("dns", role) for role in dns]
    services = _service_names(extra.get("services"))
    if services:
        out.append(("services", "services: " + ", ".join(services)))
    return tuple(out)


def _service_names(value: Any) -> list[str]:
    """Names of a node's services, whatever form the `services:` key takes (mapping, list, strings)."""
    if isinstance(value, dict):
        return [str(k) for k in value]
    if isinstance(value, list):
        names = []
        for item in value:
            if isinstance(item, dict):
                names.append(str(item.get("name") or item.get("builtin") or item.get("service")
                                 or str(item.get("command", "?")).split()[0]))
            else:
                names.append(str(item).split()[0] if str(item).split() else "?")
        return names
    return [str(value).split()[0]] if value else []
