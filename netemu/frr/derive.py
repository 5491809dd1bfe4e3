"""Derive each router's FRR configuration from the topology: OSPF interfaces, BGP sessions, prefixes.

Pure: the result is frozen data stored in the model, so `plan --full` shows the configs and golden
tests pin them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..model import Interface, IPNetwork, Node, Topology
from .spec import Options

DAEMON_ORDER = ("zebra", "bfdd", "staticd", "ospfd", "ospf6d", "bgpd")


@dataclass(frozen=True)
class OspfInterface:
    """An interface of a router in its OSPF domain (v2 or v3)."""

    name: str
    p2p: bool  # two routers on the wire: no DR election (it would wait a whole dead interval)
    # No router of the domain beyond it (hosts, another AS, the loopback). Passive interfaces are
    # point-to-point too: a broadcast one would sit in state Waiting for a dead interval before its
    # prefix is announced.
    passive: bool
    cost: int | None
    peers: int  # routers of the domain on this wire, whose adjacency convergence waits for


@dataclass(frozen=True)
class BgpNeighbour:
    """One BGP session of a router."""

    address: str
    family: int
    remote_as: int
    node: str
    update_source: str | None = None
    next_hop_self: bool = False
    rr_client: bool = False
    bfd: bool = False

    @property
    def description(self) -> str:
        return f"{self.node} AS{self.remote_as}"

    @property
    def internal(self) -> bool:
        return self.update_source is not None or self.next_hop_self


@dataclass(frozen=True)
class Router:
    """Everything FRR needs for one router: what it runs and each daemon's configuration."""

    node: str
    router_id: str
    asn: int | None
    ospf: tuple[OspfInterface, ...] = ()
    ospf6: tuple[OspfInterface, ...] = ()
    bgp: tuple[BgpNeighbour, ...] = ()
    networks: tuple[IPNetwork, ...] = ()
    configs: tuple[tuple[str, str], ...] = ()  # daemon -> configuration text, in start order
    extra: str = ""  # the node's `frr:` lines, applied through vtysh once the daemons run
    reach: tuple[IPNetwork, ...] = ()  # prefixes its FIB holds once routing has converged
    # its OSPF routes once converged, every next hop (see expect.py); None where netemu cannot tell them
    # (BGP, or `frr:` lines in the lab)
    expect: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] | None = None

    @property
    def daemons(self) -> tuple[str, ...]:
        return tuple(d for d, _ in self.configs)

    def config(self, daemon: str) -> str:
        return dict(self.configs)[daemon]

    @property
    def ospf_peers(self) -> int:
        """OSPFv2 adjacencies this router has once converged."""
        return sum(i.peers for i in self.ospf if not i.passive)

    @property
    def ospf6_peers(self) -> int:
        return sum(i.peers for i in self.ospf6 if not i.passive)


@dataclass(frozen=True)
class FrrLab:
    """The FRR side of a lab: its options and every router's derived configuration."""

    options: Options
    routers: tuple[Router, ...]

    def router(self, node: str) -> Router | None:
        return next((r for r in self.routers if r.node == node), None)


def _first(addresses, version: int):
    return next((a for a in addresses if a.version == version), None)


def _loopbacks(node: Node) -> tuple:
    return tuple(getattr(node, "loopbacks", ()))


def _router_address(node: Node, version: int):
    """The address iBGP peers with: the loopback's, else the first interface address of the family."""
    a = _first(_loopbacks(node), version) or _first(node.addresses(), version)
    return a.ip if a is not None else None


def _router_id(node: Node, index: int) -> str:
    a = _router_address(node, 4)
    return str(a) if a is not None else str(ipaddress.IPv4Address(index + 1))


class _Deriver:
    def __init__(self, topo: Topology, opts: Options, costs: dict[int, int]):
        self.topo = topo
        self.opts = opts
        self.costs = costs
        self.segment: dict[tuple[str, str], list[Interface]] = {}
        self._parts: dict[int, dict[str, str]] = {}
        for seg in topo.segments():
            for i in seg:
                self.segment[(i.node, i.name)] = seg

    def is_router(self, name: str) -> bool:
        return self.topo.node(name).kind == "router"

    def asn(self, name: str) -> int | None:
        return self.opts.as_of(name) if self.opts.protocol == "bgp" else None

    def same_igp(self, a: str, b: str) -> bool:
        """Whether routers a and b share an OSPF domain."""
        if self.opts.protocol == "ospf":
            return True
        return self.asn(a) == self.asn(b) and self.opts.igp_of(self.asn(a)) == "ospf"

    def ospf_interfaces(self, node: Node, version: int) -> list[OspfInterface]:
        out = []
        for iface in node.interfaces:
            if not any(a.version == version for a in iface.addresses):
                continue
            seg = self.segment.get((node.name, iface.name), [iface])
            peers = [o for o in seg if o.node != node.name and self.is_router(o.node)
                     and self.same_igp(node.name, o.node) and any(a.version == version for a in o.addresses)]
            p2p = len(seg) == 2 and len(peers) == 1
            out.append(OspfInterface(iface.name, p2p, not peers, self.costs.get(iface.link), len(peers)))
        if any(a.version == version for a in _loopbacks(node)):
            out.append(OspfInterface("lo", False, True, None, 0))
        return out

    def igp_connects(self, a: str, b: str, version: int) -> bool:
        """Whether the IGP of a's AS can carry IPv`version` from router a to router b: a chain of links
        between routers of the AS with addresses of that family at both ends. Without one, an iBGP
        session between their loopbacks could never open (a loopback is reached through the IGP), and
        `up` would wait for it in vain — e.g. IPv4-only links with dual-stack loopbacks."""
        return a == b or self._igp_parts(version).get(a, a) == self._igp_parts(version).get(b, b)

    def _igp_parts(self, version: int) -> dict[str, str]:
        """Each router's IGP domain for the family, named by one of its routers (found once per family:
        asking per pair of routers walked the graph n² times, seconds for 50 routers)."""
        if version in self._parts:
            return self._parts[version]
        part: dict[str, str] = {}
        for first in (n.name for n in self.topo.nodes if n.kind == "router"):
            if first in part:
                continue
            part[first] = first
            todo = [first]
            while todo:
                here = self.topo.node(todo.pop())
                for iface in here.interfaces:
                    if not _first(iface.addresses, version):
                        continue
                    for o in self.segment.get((here.name, iface.name), []):
                        if (o.node not in part and self.is_router(o.node) and self.same_igp(here.name, o.node)
                                and _first(o.addresses, version)):
                            part[o.node] = first
                            todo.append(o.node)
        self._parts[version] = part
        return part

    def bgp_neighbours(self, node: Node) -> list[BgpNeighbour]:
        me = self.asn(node.name)
        out: list[BgpNeighbour] = []
        for iface in node.interfaces:  # eBGP (and iBGP without an IGP) on the shared wire
            for o in self.segment.get((node.name, iface.name), []):
                if o.node == node.name or not self.is_router(o.node):
                    continue
                theirs = self.asn(o.node)
                internal = theirs == me
                if internal and self.opts.igp_of(me) == "ospf":
                    continue
                for version in (4, 6):
                    if _first(iface.addresses, version) and (peer := _first(o.addresses, version)):
                        out.append(BgpNeighbour(str(peer.ip), version, theirs, o.node, next_hop_self=internal,
                                                bfd=self.opts.bfd))
        if self.opts.igp_of(me) != "ospf":
            return out
        members = [n for n in self.topo.nodes if n.kind == "router" and self.asn(n.name) == me]
        rrs = [n.name for n in members if n.name in self.opts.route_reflectors]
        for other in members:
            if other.name == node.name or (rrs and node.name not in rrs and other.name not in rrs):
                continue
            for version in (4, 6):
                mine, theirs = _router_address(node, version), _router_address(other, version)
                if mine is not None and theirs is not None and self.igp_connects(node.name, other.name, version):
                    out.append(BgpNeighbour(str(theirs), version, me, other.name, update_source=str(mine),
                                            next_hop_self=True,
                                            rr_client=node.name in rrs and other.name not in rrs))
        return out

    @staticmethod
    def connected(node: Node) -> set[IPNetwork]:
        """The prefixes of a router's interfaces and loopbacks."""
        return {a.network for a in list(node.addresses()) + list(_loopbacks(node)) if not a.ip.is_link_local}

    def networks(self, node: Node) -> tuple[IPNetwork, ...]:
        """What the router announces in BGP: every prefix of its AS, unless the topology says otherwise.

        Every router of an AS with OSPF announces all of the AS's prefixes (it has them from OSPF), so
        any border router passes them on. Only the owner announcing them would not work for loopbacks:
        a peer's /32 learned over iBGP has the loopback itself as next hop, which FRR refuses to resolve
        through the route to that same prefix, so the border router would never pass it on.
        """
        announced = dict(self.opts.announce)
        if node.name in announced:
            return announced[node.name]
        me = self.asn(node.name)
        members = [node]
        if self.opts.igp_of(me) == "ospf":
            members = [n for n in self.topo.nodes if n.kind == "router" and self.asn(n.name) == me]
        nets = set().union(*(self.connected(n) for n in members))
        return tuple(sorted(nets, key=lambda n: (n.version, n)))

    def router(self, node: Node, index: int) -> Router:
        ospf = self.ospf_interfaces(node, 4) if self.opts.igp_of(self.asn(node.name)) == "ospf" else []
        ospf6 = self.ospf_interfaces(node, 6) if self.opts.igp_of(self.asn(node.name)) == "ospf" else []
        # OSPF in an AS of one router has nobody to talk to: not worth a daemon.
        if self.opts.protocol == "bgp" and not any(not i.passive for i in ospf + ospf6):
            ospf, ospf6 = [], []
        bgp = self.bgp_neighbours(node) if self.opts.protocol == "bgp" else []
        networks = self.networks(node) if self.opts.protocol == "bgp" else ()
        return Router(node.name, _router_id(node, index), self.asn(node.name), tuple(ospf), tuple(ospf6),
                      tuple(bgp), networks, extra=dict(self.opts.extra).get(node.name, ""))


def daemons_of(r: Router, opts: Options) -> list[str]:
    """The daemons a router runs, in start order (zebra first: the others connect to it)."""
    # netemu installs static routes itself; staticd only serves `ip route` lines a router's `frr:` may add
    want = {"zebra", "staticd"} if r.extra else {"zebra"}
    if r.ospf:
        want.add("ospfd")
    if r.ospf6:
        want.add("ospf6d")
    if r.bgp or r.networks:
        want.add("bgpd")
    if opts.bfd:
        want.add("bfdd")
    return [d for d in DAEMON_ORDER if d in want]


def derive(topo: Topology, opts: Options, costs: dict[int, int] | None = None) -> FrrLab:
    """Every router's FRR configuration, rendered."""
    from dataclasses import replace

    from .render import render

    d = _Deriver(topo, opts, costs or {})
    routers = [d.router(node, index) for index, node in enumerate(n for n in topo.nodes if n.kind == "router")]
    reach = _reach(d, routers)
    expect: dict = {}
    if opts.protocol == "ospf" and not any(r.extra for r in routers):
        from .expect import ospf_routes

        expect = ospf_routes(topo, [r.node for r in routers])
    out = []
    for r in routers:
        configs = tuple((daemon, render(topo.name, daemon, r, opts)) for daemon in daemons_of(r, opts))
        out.append(replace(r, configs=configs, reach=tuple(sorted(reach[r.node], key=lambda n: (n.version, n))),
                           expect=expect.get(r.node)))
    return FrrLab(opts, tuple(out))


def _reach(d: _Deriver, routers: list[Router]) -> dict[str, set[IPNetwork]]:
    """The prefixes each router's FIB holds once converged, per address family: what its IGP carries to it,
    plus what BGP's path vector brings (the convergence wait looks for every one of them)."""
    out: dict[str, set[IPNetwork]] = {r.node: set() for r in routers}
    for version in (4, 6):
        igp = {r.node: _igp_reach(d, routers, r, version) for r in routers}
        bgp = _bgp_reach(d, routers, version, igp)
        for r in routers:
            out[r.node] |= igp[r.node] | bgp.get(r.node, set())
    return out


def _igp_reach(d: _Deriver, routers: list[Router], r: Router, version: int) -> set[IPNetwork]:
    """r's own prefixes of the family, and those OSPF(v3) floods to it from its domain's routers."""
    def runs(x: Router) -> bool:
        return bool(x.ospf if version == 4 else x.ospf6)

    owners = [r] + [o for o in routers if o is not r and runs(r) and runs(o) and d.same_igp(r.node, o.node)
                    and d.igp_connects(r.node, o.node, version)]
    return {p for o in owners for p in d.connected(d.topo.node(o.node)) if p.version == version}


def _bgp_reach(d: _Deriver, routers: list[Router], version: int,
               igp: dict[str, set[IPNetwork]]) -> dict[str, set[IPNetwork]]:
    """Where BGP carries each announced prefix of the family: the path vector run to its fixed point.

    A router originates a `network` only when its RIB has the prefix (FRR's import check); a route
    crosses eBGP with the sender's AS prepended and is refused by a router whose AS is on its path;
    an iBGP-learned route goes on to iBGP peers only through a route reflector (to its clients, or
    from a client to everyone). Each router passes on its best route: shortest AS path, eBGP first.
    """
    by_node = {r.node: r for r in routers}
    explicit = {node for node, _ in d.opts.announce}  # the topology's own list: its `frr:` lines may make the routes
    # (router, prefix) -> (AS path, learned over iBGP, learned from a route-reflector client)
    best: dict[tuple[str, IPNetwork], tuple[tuple[int, ...], bool, bool]] = {}
    for r in routers:
        for p in r.networks:
            if p.version == version and (p in igp[r.node] or r.node in explicit):
                best[(r.node, p)] = ((), False, False)
    changed = True
    while changed:
        changed = False
        for r in routers:
            mine = [(p, route) for (node, p), route in best.items() if node == r.node]
            reflector = any(n.rr_client for n in r.bgp)
            for n in r.bgp:
                peer = by_node.get(n.node)
                if n.family != version or peer is None:
                    continue
                external = peer.asn != r.asn
                for p, (path, via_ibgp, from_client) in mine:
                    if not external and via_ibgp and not (reflector and (n.rr_client or from_client)):
                        continue
                    new_path = (r.asn, *path) if external else path
                    if external and peer.asn in new_path:
                        continue  # AS-path loop detection
                    back = next((x for x in peer.bgp if x.node == r.node and x.family == version), None)
                    cand = (new_path, not external, bool(back and back.rr_client))
                    cur = best.get((peer.node, p))
                    if cur is None or (len(cand[0]), cand[1]) < (len(cur[0]), cur[1]):
                        best[(peer.node, p)] = cand
                        changed = True
    reach: dict[str, set[IPNetwork]] = {}
    for node, p in best:
        reach.setdefault(node, set()).add(p)
    return reach

