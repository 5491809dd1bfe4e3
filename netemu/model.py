"""The validated topology: frozen dataclasses, every name and address resolved."""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, field
from typing import Any, Union

IPInterface = Union[ipaddress.IPv4Interface, ipaddress.IPv6Interface]
IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

KINDS = ("host", "router", "switch")


@dataclass(frozen=True)
class Route:
    """A static route of a node: `dst` (None = default) via a gateway and/or out of a device."""

    family: int  # 4 or 6
    dst: IPNetwork | None
    via: IPAddress | None = None
    dev: str | None = None
    metric: int | None = None
    text: str = ""
    origin: str = "written"  # "written", "static" (computed by `routing: static`) or a feature's name
    line: int | None = None  # line of the written route in the topology file

    @property
    def dst_text(self) -> str:
        """The destination as written in `ip route` output."""
        return "default" if self.dst is None else str(self.dst)


@dataclass(frozen=True)
class Interface:
    """One end of a link inside a node (for a switch: one bridge port)."""

    node: str
    name: str
    addresses: tuple[IPInterface, ...]
    mtu: int
    mac: str
    link: int  # index in Topology.links
    auto: tuple[IPInterface, ...] = ()  # the subset of `addresses` numbered from pools


@dataclass(frozen=True)
class Node:
    """A node: one network namespace."""

    name: str
    kind: str
    routes: tuple[Route, ...] = ()
    sysctls: tuple[tuple[str, str], ...] = ()
    interfaces: tuple[Interface, ...] = ()
    extra: tuple[tuple[str, Any], ...] = ()  # raw values of feature-owned keys, with their path
    loopbacks: tuple[IPInterface, ...] = ()  # derived /32 and /128 of a router, configured on `lo`
    etc: tuple[tuple[str, str], ...] = ()  # /etc/netns files of the node (name -> content), derived
    line: int | None = None  # line of the node in the topology file

    @property
    def is_switch(self) -> bool:
        """Whether this node is a Linux bridge rather than an IP node."""
        return self.kind == "switch"

    def interface(self, name: str) -> Interface | None:
        """The interface called `name`, if any."""
        return next((i for i in self.interfaces if i.name == name), None)

    def addresses(self) -> list[IPInterface]:
        """Every address on every interface of this node."""
        return [a for i in self.interfaces for a in i.addresses]


@dataclass(frozen=True)
class Link:
    """A link between two endpoints (veth pair), possibly a switch port."""

    index: int
    a: Interface
    b: Interface
    mtu: int
    extra: tuple[tuple[str, Any], ...] = ()
    cost: int | None = None  # routing cost (`cost:`); None counts as 1
    line: int | None = None  # line of the link in the topology file


@dataclass(frozen=True)
class Routing:
    """How routes are made: only what is written ("none"), computed ("static"), or by FRR ("ospf", "bgp")."""

    protocol: str = "none"
    options: tuple[tuple[str, Any], ...] = ()  # the other keys of a `routing:` mapping, raw (for FRR)
    line: int | None = None


@dataclass(frozen=True)
class Topology:
    """A whole validated lab."""

    name: str
    nodes: tuple[Node, ...]
    links: tuple[Link, ...]
    source: str | None = None
    description: str = ""
    neighbours: str = "auto"  # auto | static | dynamic: permanent neighbour entries (see plan.py)
    features: tuple[tuple[str, Any], ...] = field(default=())  # feature name → its parsed model
    warnings: tuple[str, ...] = ()  # valid, but worth telling the user
    routing: Routing = field(default=Routing())

    @functools.cached_property
    def _by_name(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes}

    def node(self, name: str) -> Node:
        """The node called `name` (KeyError if absent)."""
        return self._by_name[name]

    def feature(self, name: str) -> Any:
        """The parsed model a feature attached, or None."""
        return dict(self.features).get(name)

    def namespace(self, node: str) -> str:
        """The network namespace name of `node`."""
        return namespace_name(self.name, node)

    def segments(self) -> list[list[Interface]]:
        """Layer-2 segments: the IP interfaces that share a wire or a (chain of) switches."""
        return [ifaces for _, ifaces in self.segments_with_switches()]

    def segments_with_switches(self) -> list[tuple[tuple[str, ...], list[Interface]]]:
        """Each layer-2 segment with the names of the switches it crosses (sorted; empty for a wire)."""
        return self._segments

    @functools.cached_property
    def _segments(self) -> list[tuple[tuple[str, ...], list[Interface]]]:
        parent: dict[tuple[str, str], tuple[str, str]] = {}

        def find(x):
            while parent.setdefault(x, x) != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        def key(i: Interface):
            return ("", i.node) if self.node(i.node).is_switch else (i.node, i.name)  # "" is no node's name

        for link in self.links:
            parent[find(key(link.a))] = find(key(link.b))
        groups: dict = {}
        for n in self.nodes:
            if n.is_switch:
                continue
            for i in n.interfaces:
                groups.setdefault(find(key(i)), []).append(i)
        switches: dict = {}
        for x in list(parent):
            if x[0] == "":
                switches.setdefault(find(x), []).append(x[1])
        return [(tuple(sorted(switches.get(root, ()))), ifaces) for root, ifaces in groups.items()]


def namespace_name(lab: str, node: str) -> str:
    """Namespace of a node: the lab's name and the node's, so labs never clash."""
    return f"{lab}-{node}"
