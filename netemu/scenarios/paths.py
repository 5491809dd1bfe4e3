"""The IP path between two nodes, derived from the topology model (no kernel needed for static routes).

Each node's forwarding decision is made as the kernel would: the longest matching prefix among
its connected subnets and static routes (the one lookup of netemu.forwarding.lookup). A router
whose routes FRR installs has none in the model: in a running lab its kernel FIB is read and
given to the same lookup (see routesource); before `up` the walk stops there. On a lab up across machines
each node is the lab's own (see routesource), so a hop over a link cut between machines has the MTU VXLAN
carries. The next hop is the node that owns the gateway (or the
destination) on the outgoing interface's layer-2 segment. The path tells which hop is the
narrowest and which router sits in front of it (the one that sends ICMP "too big").

Source NAT on the way out (masquerade, snat, the outbound half of a 1:1 NAT) is followed as
netfilter applies it in POSTROUTING: the path records every rewrite, and `reply()` derives the
way back to the translated address, undoing each rewrite where conntrack does (on arrival at
the NAT node, before routing). Destination NAT is not followed: a scenario connects to the
server's own address, so a server reachable only through a port forward or a 1:1 NAT is
reported as such (with nodes that would work).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import UsageError
from ..forwarding.lookup import forwards, lookup, owns
from ..model import Interface, IPAddress, IPInterface, IPNetwork, Node, Topology
from ..netfilter.model import OneToOne, Snat
from .routesource import Routes

MAX_HOPS = 64


class PathError(UsageError):
    """No usable path between two nodes in the topology model; `at` names the node where it stops."""

    def __init__(self, message: str, at: str | None = None):
        super().__init__(message)
        self.at = at


@dataclass(frozen=True)
class Hop:
    """One hop: `node` sends out of `ifname` (MTU `mtu`) to `next_node`'s `next_ifname`."""

    node: str
    ifname: str
    mtu: int
    next_node: str
    next_ifname: str
    gateway: str | None  # the next-hop address used, None when the destination is on-link

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {"node": self.node, "interface": self.ifname, "mtu": self.mtu, "next_node": self.next_node,
                "next_interface": self.next_ifname, "gateway": self.gateway}


@dataclass(frozen=True)
class Translation:
    """An address rewritten on the way: the source by NAT going out, or the destination back on a reply."""

    node: str
    kind: str  # "masquerade", "snat", "1:1 NAT" (source, going out) or "un-NAT" (destination of a reply)
    before: IPAddress
    first: IPAddress  # the new address; for a pool first..last (conntrack picks one per client)
    last: IPAddress
    where: str  # the YAML path of the rule

    def after_text(self) -> str:
        """The new address, or the pool as `first-last`."""
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"

    def contains(self, address: IPAddress) -> bool:
        """Whether `address` is one this rewrite may produce."""
        return address.version == self.first.version and self.first <= address <= self.last

    def networks(self) -> list[IPNetwork]:
        """The new address(es) as prefixes (a pool summarised)."""
        return list(ipaddress.summarize_address_range(self.first, self.last))

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {"node": self.node, "kind": self.kind, "before": str(self.before), "after": self.after_text(),
                "rule": self.where}


@dataclass(frozen=True)
class Path:
    """The forward path from `src` to the address `dst_address` owned by `dst`."""

    src: str
    dst: str
    dst_address: IPAddress
    hops: tuple[Hop, ...]
    src_address: IPAddress | None = None  # what the sender puts in the source field
    nat: tuple[Translation, ...] = ()  # rewrites on the way, in order

    @property
    def seen_source(self) -> list[IPNetwork]:
        """The source address(es) the destination sees: after source NAT, possibly a pool."""
        snat = [t for t in self.nat if t.kind != "un-NAT"]
        if snat:
            return snat[-1].networks()
        if self.src_address is None:
            return []
        return [ipaddress.ip_network(self.src_address)]

    @property
    def family(self) -> int:
        """4 or 6."""
        return self.dst_address.version

    @property
    def mtu(self) -> int:
        """The smallest MTU on the path: what path MTU discovery should find."""
        return min(h.mtu for h in self.hops)

    def narrowest(self) -> Hop | None:
        """The first hop narrower than the sender's own link, or None if there is none.

        The sender knows its own interface's MTU, so only a narrower hop *further on* makes a
        router send ICMP "fragmentation needed" / "packet too big".
        """
        if self.mtu >= self.hops[0].mtu:
            return None
        return next(h for h in self.hops if h.mtu == self.mtu)

    def nodes(self) -> list[str]:
        """Every node on the path, in order, ends included."""
        return [self.hops[0].node] + [h.next_node for h in self.hops]

    def describe(self) -> str:
        """One line such as `sender -eth0/1500-> r1 -eth1/1400-> r2 -eth1/1500-> receiver`."""
        out = self.src
        for h in self.hops:
            out += f" -{h.ifname}/{h.mtu}-> {h.next_node}"
        if self.nat:
            out += " (NAT: " + ", ".join(f"{t.node} {t.kind} {t.before} -> {t.after_text()}" for t in self.nat) + ")"
        return out

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {"src": self.src, "dst": self.dst, "dst_address": str(self.dst_address), "mtu": self.mtu,
                "src_address": None if self.src_address is None else str(self.src_address),
                "hops": [h.to_json() for h in self.hops], "nat": [t.to_json() for t in self.nat],
                "text": self.describe()}


def link_local(mac: str) -> ipaddress.IPv6Address:
    """The EUI-64 link-local address the kernel derives from a MAC."""
    b = [int(x, 16) for x in mac.split(":")]
    b[0] ^= 0x02
    eui = b[:3] + [0xFF, 0xFE] + b[3:]
    return ipaddress.IPv6Address(bytes([0xFE, 0x80] + [0] * 6 + eui))


def owner(topo: Topology, address: IPAddress) -> Node | None:
    """The node that owns `address`, if any."""
    return next((n for n in topo.nodes if owns(n, address)), None)


def global_address(addresses: Iterable[IPInterface], family: int) -> IPAddress | None:
    """The first address of `family` (4 or 6) among `addresses` that is not link-local, or None."""
    return next((a.ip for a in addresses if a.version == family and not a.ip.is_link_local), None)


def address_of(topo: Topology, node: str, family: int) -> IPAddress | None:
    """The node's first global address of `family` (4 or 6), or None."""
    return global_address(topo.node(node).addresses(), family)


def _segment_of(topo: Topology, iface: Interface) -> list[Interface]:
    for seg in topo.segments():
        if any(i.node == iface.node and i.name == iface.name for i in seg):
            return seg
    return [iface]


def _receiver(topo: Topology, out: Interface, target: IPAddress) -> Interface | None:
    for i in _segment_of(topo, out):
        if i.node == out.node and i.name == out.name:
            continue
        if any(a.ip == target for a in i.addresses):
            return i
        if target.version == 6 and target.is_link_local and link_local(i.mac) == target:
            return i
    return None


def _nat_of(topo: Topology, node: str):
    """The node's parsed `nat:` settings, or None (no netfilter feature, or no NAT on it)."""
    model = topo.feature("netfilter")
    nf = model.node(node) if model is not None and hasattr(model, "node") else None
    return getattr(nf, "nat", None)


def _source_nat(topo: Topology, node: Node, out: Interface, src: IPAddress) -> Translation | None:
    """The rewrite `node`'s POSTROUTING applies to a new connection from `src` leaving by `out`, if any.

    Same order as the rendered rules (Nat.postrouting: first match wins).
    """
    nat = _nat_of(topo, node.name)
    if nat is None:
        return None
    fam = src.version
    for x in nat.postrouting(fam):
        if isinstance(x, OneToOne):
            if x.iface in (None, out.name) and x.private == src:
                return Translation(node.name, "1:1 NAT", src, x.public, x.public, x.where)
        elif isinstance(x, Snat):  # to an address or a pool
            if x.out in (None, out.name) and any(src in n for n in x.sources):
                return Translation(node.name, "snat", src, x.first, x.last, x.where)
        elif x.out == out.name and (not x.sources or any(src in n for n in x.sources)):  # masquerade
            new = global_address(out.addresses, fam)
            if new is None:
                raise PathError(f"{node.name} masquerades out of {out.name}, which has no IPv{fam} address")
            return Translation(node.name, "masquerade", src, new, new, x.where)
    return None


def _walk(topo: Topology, src: str, src_address: IPAddress | None, dst_address: IPAddress,
          undo: tuple[Translation, ...] | None = None,
          routes: Routes | None = None) -> tuple[list[Hop], list[Translation], IPAddress, Node]:
    """Follow the routes from `src` to `dst_address`.

    Going out (`undo` None) source NAT rewrites `src_address`; on a reply (`undo` given) each node
    whose rewrite produced the destination turns it back, as conntrack does on arrival. A router
    whose routes FRR installs forwards by its live FIB (see routesource).
    """
    routes = routes or Routes(topo)
    hops: list[Hop] = []
    nat: list[Translation] = []
    here = routes.node(src)
    seen = {src}
    target = dst_address
    while True:
        for t in undo or ():
            if t.node == here.name and hops and t.contains(target):
                nat.append(Translation(here.name, "un-NAT", target, t.before, t.before, t.where))
                target = t.before
        if owns(here, target):
            return hops, nat, target, here
        if len(hops) >= MAX_HOPS:
            raise PathError(f"path {src} -> {dst_address} is longer than {MAX_HOPS} hops")
        if hops and not forwards(here, target.version):
            raise PathError(f"{here.name} is a {here.kind} without IPv{target.version} forwarding: "
                            f"the path {src} -> {target} stops there", at=here.name)
        choice = lookup(here, target)
        if choice is None:
            raise PathError(f"{here.name} has no route to {target}{routes.unknown(here.name)}", at=here.name)
        out, gw = choice.iface, choice.gateway
        nxt = _receiver(topo, out, gw or target)
        if nxt is None:
            what = f"gateway {gw}" if gw else f"{target}"
            raise PathError(f"{here.name}: {what} is not on any node reachable through {out.name}", at=here.name)
        if not hops and src_address is None:
            src_address = global_address(out.addresses, target.version)
        if undo is None and src_address is not None:
            t = _source_nat(topo, here, out, src_address)
            if t is not None:
                nat.append(t)
                src_address = t.first
        hops.append(Hop(here.name, out.name, out.mtu, nxt.node, nxt.name, None if gw is None else str(gw)))
        if nxt.node in seen:
            raise PathError(f"routing loop towards {target}: " + " -> ".join([h.node for h in hops] + [nxt.node]),
                            at=nxt.node)
        seen.add(nxt.node)
        here = routes.node(nxt.node)


def derive(topo: Topology, src: str, dst_address: IPAddress, routes: Routes | None = None) -> Path:
    """The forward path from node `src` to `dst_address`, or PathError saying where it breaks."""
    dst_node = owner(topo, dst_address)
    if dst_node is None:
        raise PathError(f"no node owns {dst_address}")
    if dst_node.name == src:
        raise PathError(f"{src} owns {dst_address} itself: there is no path to measure")
    hops, nat, _, here = _walk(topo, src, None, dst_address, routes=routes)
    first = topo.node(src).interface(hops[0].ifname)
    return Path(src, here.name, dst_address, tuple(hops), global_address(first.addresses, dst_address.version),
                tuple(nat))


def reply(topo: Topology, forward: Path, routes: Routes | None = None) -> Path:
    """The path the destination's replies take back to the sender of `forward`.

    Without NAT that is simply the routed path back; with source NAT the replies go to the
    translated address and each NAT node turns it back. For a pool every address conntrack
    may pick is checked; the path returned is the one to the pool's first address.
    """
    back = forward.src_address or address_of(topo, forward.src, forward.family)
    if back is None:
        raise PathError(f"{forward.src} has no IPv{forward.family} address")
    snat = tuple(t for t in forward.nat if t.kind != "un-NAT")
    routes = routes or Routes(topo)  # one read of each live FIB for every address of a pool
    if not snat:
        return derive(topo, forward.dst, back, routes)
    last = snat[-1]
    targets = list(_pool(last.first, last.last))
    found: Path | None = None
    for target in targets:
        try:
            hops, nat, final, here = _walk(topo, forward.dst, forward.dst_address, target, undo=snat, routes=routes)
        except PathError as e:
            raise PathError(f"replies from {forward.dst} to {forward.src} (seen as {target} after NAT) get lost: "
                            f"{e}", at=e.at) from None
        if here.name != forward.src or final != back:
            raise PathError(f"replies from {forward.dst} to {forward.src} (seen as {target} after NAT) end at "
                            f"{here.name} ({final}), not at {forward.src}")
        found = found or Path(forward.dst, forward.src, back, tuple(hops), forward.dst_address, tuple(nat))
    return found


def _pool(first: IPAddress, last: IPAddress, limit: int = 256):
    """Every address of a pool (at most `limit`, then just both ends)."""
    if int(last) - int(first) >= limit:
        yield from (first, last)
        return
    a = first
    while a <= last:
        yield a
        a += 1


def between(topo: Topology, src: str, dst: str, family: int, routes: Routes | None = None) -> Path:
    """The path from node `src` to node `dst`'s first address of `family` (PathError if none)."""
    address = address_of(topo, dst, family)
    if address is None:
        raise PathError(f"{dst} has no IPv{family} address")
    routes = routes or Routes(topo)
    try:
        return derive(topo, src, address, routes)
    except PathError as e:
        hidden = behind_nat(topo, address)
        if not hidden:
            raise
        raise PathError(_nat_message(topo, src, dst, address, hidden, str(e), routes)) from None


def round_trip(topo: Topology, src: str, dst: str, family: int) -> tuple[Path, Path]:
    """The path from `src` to `dst` and the one `dst`'s replies take back (through the same NATs)."""
    routes = Routes(topo)  # each live FIB read once for both ways
    there = between(topo, src, dst, family, routes)
    return there, reply(topo, there, routes)


def behind_nat(topo: Topology, address: IPAddress) -> list[tuple[str, bool]]:
    """Why `address` is hidden behind NAT: (description, reachable from outside by DNAT) per rule."""
    out: list[tuple[str, bool]] = []
    for node in topo.nodes:
        nat = _nat_of(topo, node.name)
        if nat is None:
            continue
        for o in nat.one_to_one:
            if o.private == address:
                out.append((f"{node.name} maps {o.public} to it, 1:1", True))
        for f in nat.port_forwards:
            if f.inside == address:
                public = f.public or f"{node.name}'s address"
                out.append((f"{node.name} forwards {'/'.join(f.protos)} {public}:{f.port} to it", True))
        for r in nat.snat:
            hit = [n for n in r.sources if address in n]
            if hit:
                out.append((f"{node.name} translates {', '.join(map(str, hit))} to {r.to_text}", False))
        for m in nat.masquerade:
            if m.family != address.version:
                continue
            hit = [n for n in m.sources if address in n]
            if not m.sources:  # everything leaving by `out`: the subnets on the node's other interfaces
                hit = [a.network for i in node.interfaces if i.name != m.out for a in i.addresses if address in a.network]
            if hit:
                out.append((f"{node.name} masquerades {', '.join(map(str, hit))} out of {m.out}", False))
    return out


def reachable(topo: Topology, src: str, family: int) -> list[str]:
    """Nodes `src` reaches by a routed path whose replies come back (hosts first)."""
    found = []
    routes = Routes(topo)
    for node in sorted((n for n in topo.nodes if not n.is_switch and n.name != src), key=lambda n: n.kind != "host"):
        address = address_of(topo, node.name, family)
        if address is None:
            continue
        try:
            reply(topo, derive(topo, src, address, routes), routes)
        except PathError:
            continue
        found.append(node.name)
    return found


def _nat_message(topo: Topology, src: str, dst: str, address: IPAddress, hidden: list[tuple[str, bool]],
                 why: str, routes: Routes) -> str:
    family = address.version
    rules = "; ".join(text for text, _ in hidden)
    back = address_of(topo, src, family)
    try:
        if back is None:
            raise PathError(f"{src} has no IPv{family} address")
        reply(topo, derive(topo, dst, back, routes), routes)  # not between(): its NAT message would ask again
        swap = f"{dst} can open connections to {src} through the NAT instead (swap the roles, e.g. --client {dst} --server {src}), or "
    except PathError:
        swap = ""
    examples = reachable(topo, src, family)[:3]
    if examples:
        others = examples[0] if len(examples) == 1 else f"{', '.join(examples[:-1])} or {examples[-1]}"
        pick = f"pick another pair, e.g. {src} and {others} (routed; source NAT on the way out is fine)"
    else:
        pick = f"no node has a routed path from {src}"
    return (f"{src} cannot reach {dst} ({address}) by a routed path: it is behind NAT ({rules}) and scenarios "
            f"connect to the server's own address ({why}); {swap}{pick}")


def nat_note(path: Path) -> str:
    """One sentence on the source NAT a path goes through (for a scenario's notes)."""
    seen = ", ".join(map(str, path.seen_source))
    steps = ", ".join(f"{t.node} ({t.kind} {t.before} -> {t.after_text()})" for t in path.nat)
    return (f"Measured through NAT: {path.src}'s packets are rewritten by {steps}, so {path.dst} sees "
            f"{path.src} as {seen}; conntrack turns the replies back on the way.")


def source_address(topo: Topology, path: Path) -> IPAddress | None:
    """The address the sender uses on its first hop's interface (the kernel's preferred source)."""
    iface = topo.node(path.src).interface(path.hops[0].ifname)
    return None if iface is None else global_address(iface.addresses, path.family)


def link_delays_us(topo: Topology, node: str, ifname: str) -> tuple[int, int]:
    """Delay (µs) link emulation gives the link at node:ifname now: (traffic it sends, traffic it receives).

    A lab that is up is asked first: `netemu link … set` changes delays at run time, and a scenario must
    measure against what the kernel does now (what `netemu status` shows), not what the file once said.
    """
    live = _live_delays_us(topo.name, node, ifname)
    if live is not None:
        return live
    model = topo.feature("linkemu")
    iface = topo.node(node).interface(ifname)
    li = model.of(iface.link) if hasattr(model, "of") and iface is not None else None
    if li is None:
        return (0, 0)
    link = topo.links[iface.link]
    sender_is_a = link.a.node == node and link.a.name == ifname
    return (li.direction(sender_is_a).delay_us or 0, li.direction(not sender_is_a).delay_us or 0)


def _live_state(lab: str) -> dict | None:
    """A running lab's link-emulation state (delays, cut links), or None when it has none."""
    try:
        from ..linkemu import state as lstate
    except ImportError:
        return None
    try:
        with open(lstate.state_path(lab)) as f:
            return json.load(f)
    except (OSError, ValueError):
        pass
    from ..multi.nodes import RemoteLab

    # a lab across machines, brought up from here: each machine keeps its own links' state
    return RemoteLab.attach(lab).live_state() if RemoteLab.known(lab) else None


def live_link(lab: str, node: str, ifname: str) -> tuple[dict, int] | None:
    """The live state's link with an end at node:ifname, and that end's index."""
    current = _live_state(lab)
    for link in (current or {}).get("links", []):
        for i, end in enumerate(link.get("ends", [])):
            if end.get("node") == node and end.get("ifname") == ifname:
                return link, i
    return None


def _live_delays_us(lab: str, node: str, ifname: str) -> tuple[int, int] | None:
    """The delays in a running lab's link-emulation state file, or None when it has none."""
    found = live_link(lab, node, ifname)
    if found is None:
        return None
    link, i = found
    dirs = link["dirs"]
    return (int(dirs[i].get("delay_us") or 0), int(dirs[1 - i].get("delay_us") or 0))


def require_links_up(lab: str, path: Path) -> Path:
    """`path`, or PathError when the running lab has a link on it cut (`netemu link … down`).

    The path is derived from the model's routes; a cut link makes the kernel drop the routes through
    it, so a measurement along the model's path would measure something else, or nothing.
    """
    for hop in path.hops:
        found = live_link(lab, hop.node, hop.ifname)
        if found is not None and found[0].get("admin", "up") != "up":
            raise PathError(f"the path {path.src} -> {path.dst} crosses {hop.node}:{hop.ifname} -- {hop.next_node}:"
                            f"{hop.next_ifname}, which is cut in lab {lab} (netemu link {lab} {hop.node}:{hop.ifname} "
                            f"up)", at=hop.node)
    return path


def added_delay_us(topo: Topology, path: Path) -> int:
    """One-way delay that link emulation adds along `path` (0 without the feature or any delay)."""
    return sum(link_delays_us(topo, hop.node, hop.ifname)[0] for hop in path.hops)
