"""The forwarding check at validate time: every host-to-host path, both families, both directions.

From the model alone (written and computed routes, connected subnets; source NAT followed where
the lab has NAT), nothing built and no root needed. Reported as warnings with the file:line of the
node (or route) concerned: no route at a hop for a destination prefix, a forwarding loop, a missing
return path, and (informational) asymmetric paths. Findings are grouped by where a path breaks, so
a missing route is one warning however many host pairs it breaks.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ..features import Step
from ..model import IPAddress, IPNetwork, Node, Topology
from ..source import fmt_path
from .walk import Outcome, Walker

MAX_ASYMMETRIC = 5  # informational lines shown; the rest are counted


@dataclass
class Finding:
    """One place where paths break, with an example of each direction it breaks."""

    at: str
    why: str
    family: int
    net: IPNetwork | None
    route_index: int | None
    detail: str
    link: int | None = None
    forward: tuple | None = None  # (src, dst, nodes) of a path that stops here
    back: tuple | None = None  # (src, dst, nodes) of a path whose replies stop here
    pairs: set = field(default_factory=set)


@dataclass
class Report:
    """Everything the check found, in a stable order."""

    findings: dict = field(default_factory=dict)
    asymmetric: dict = field(default_factory=dict)  # (fwd routers, back routers) -> (src, dst, count)

    def stop(self, out: Outcome, family: int, net, src: str, dst: str, back: bool, members: int) -> None:
        """Record a walk that did not arrive."""
        key = (out.at, out.why, family, net)
        f = self.findings.get(key)
        if f is None:
            f = self.findings[key] = Finding(out.at, out.why, family, net, out.route_index, out.detail, out.link)
        example = (src, dst, out.nodes)
        if back and f.back is None:
            f.back = example
        if not back and f.forward is None:
            f.forward = example
        f.pairs.add((min(src, dst), max(src, dst), members))


def _class_key(node: Node, family: int) -> tuple:
    """Hosts with the same routes and subnets forward alike: one walk serves them all."""
    return (tuple((r.family, r.dst, r.via, r.dev, r.metric) for r in node.routes if r.family == family),
            tuple((i.name, tuple(a.network for a in i.addresses if a.version == family)) for i in node.interfaces))


def _source_address(node: Node, dst: IPAddress) -> IPAddress | None:
    """The address the kernel would pick as source: a global one on the first hop's interface."""
    from .lookup import lookup

    hop = lookup(node, dst)
    ifaces = [hop.iface] if hop is not None else list(node.interfaces)
    for i in ifaces:
        for a in i.addresses:
            if a.version == dst.version and not a.ip.is_link_local:
                return a.ip
    return None


def _all_targets(node: Node, family: int) -> list[tuple[IPAddress, IPNetwork]]:
    return [(a.ip, a.network) for a in node.addresses() if a.version == family and not a.ip.is_link_local]


def _targets(node: Node, family: int) -> list[tuple[IPAddress, IPNetwork]]:
    """The address a host is known by in `family` (its first global one, as in /etc/hosts)."""
    return _all_targets(node, family)[:1]


def _checked_hosts(topo: Topology, family: int) -> list[Node]:
    """Hosts with an address of `family` that are meant to leave their link: they have a route of
    that family or a router next to them (a host on a router-less LAN without routes is left out)."""
    routers = {n.name for n in topo.nodes if n.kind == "router"}
    near_router = {i.node for seg in topo.segments() if any(j.node in routers for j in seg) for i in seg}
    return [n for n in topo.nodes if n.kind == "host" and _targets(n, family)
            and (n.name in near_router or any(r.family == family for r in n.routes))]


def analyse(topo: Topology) -> Report:
    """Walk every host pair of both families (grouped by forwarding class) and collect what breaks."""
    report = Report()
    if _has_nat(topo):
        _analyse_nat(topo, report)
        return report
    walker = Walker(topo)
    for family in (4, 6):
        classes: dict[tuple, list[Node]] = defaultdict(list)
        for h in _checked_hosts(topo, family):
            classes[_class_key(h, family)].append(h)
        groups = list(classes.values())
        # Hosts of one class (same subnets, same routes) take the same paths: one walk per pair of
        # classes stands for every pair of their members (only the last ARP/ND differs).
        for members in groups:
            for others in groups:
                if others is members:
                    if len(members) < 2:
                        continue
                    a, b, count = members[0], members[1], len(members) * (len(members) - 1)
                else:
                    a, b, count = members[0], others[0], len(members) * len(others)
                _pair(walker, report, family, a, b, count)
    return report


def _pair(walker: Walker, report: Report, family: int, a: Node, b: Node, count: int) -> None:
    """Walk a -> b and b's replies back to a; record what breaks and asymmetry."""
    dst, net = _targets(b, family)[0]
    fwd = walker.walk(a.name, dst, net)
    if not fwd.ok:
        report.stop(fwd, family, net, a.name, b.name, False, count)
        return
    src = _source_address(a, dst)
    if src is None:
        return
    src_net = next((n for ip, n in _all_targets(a, family) if ip == src), None)
    if src_net is None:
        return
    back = walker.walk(b.name, src, src_net)
    if not back.ok:
        report.stop(back, family, src_net, a.name, b.name, True, count)
        return
    there, again = fwd.nodes[1:-1], tuple(reversed(back.nodes[1:-1]))
    if there != again and (family, tuple(reversed(again)), tuple(reversed(there))) not in report.asymmetric:
        k = (family, there, again)  # (the same pair seen from its other end is not counted twice)
        prev = report.asymmetric.get(k)
        report.asymmetric[k] = (a.name, b.name, (prev[2] if prev else 0) + count)


def _has_nat(topo: Topology) -> bool:
    model = topo.feature("netfilter")
    return model is not None and any(getattr(n, "nat", None) for n in getattr(model, "nodes", ()))


def _nat_named(topo: Topology) -> set:
    """Addresses a NAT rule names one by one (1:1, port forwards, /32 or /128 sources): their hosts
    cannot stand for others."""
    model = topo.feature("netfilter")
    out: set = set()
    for nf in getattr(model, "nodes", ()):
        nat = getattr(nf, "nat", None)
        if nat is None:
            continue
        out |= {o.private for o in nat.one_to_one} | {f.inside for f in nat.port_forwards}
        for rule in (*nat.snat, *nat.masquerade):
            out |= {n.network_address for n in rule.sources if n.prefixlen == n.max_prefixlen}
    return out


def _analyse_nat(topo: Topology, report: Report) -> None:
    """Labs with NAT: pairs walked by the scenarios' NAT-aware path derivation (same lookup), one per
    pair of host classes as without NAT, hosts that NAT rules name individually in classes of their own."""
    from ..scenarios import paths

    # the model's routes, never a running lab's (parsing a lab up across machines parses its topology again)
    routes = paths.Routes(topo, live=False)
    named = _nat_named(topo)
    for family in (4, 6):
        classes: dict[tuple, list[Node]] = defaultdict(list)
        for h in _checked_hosts(topo, family):
            own = any(a.ip in named for a in h.addresses())
            classes[_class_key(h, family) + ((h.name,) if own else ())].append(h)
        groups = list(classes.values())
        for members in groups:
            for others in groups:
                if others is members and len(members) < 2:
                    continue
                a, b = members[0], (members[1] if others is members else others[0])
                count = len(members) * (len(others) - (1 if others is members else 0))
                dst, net = _targets(b, family)[0]
                try:
                    fwd = paths.derive(topo, a.name, dst, routes)
                except paths.PathError as e:
                    if paths.behind_nat(topo, dst) or e.at is None:
                        continue  # NAT hides it from outside: that is NAT working, not a fault
                    report.stop(Outcome(False, (a.name, e.at), "nat", str(e)), family, net, a.name, b.name,
                                False, count)
                    continue
                try:
                    paths.reply(topo, fwd, routes)
                except paths.PathError as e:
                    if e.at is not None:
                        report.stop(Outcome(False, (b.name, e.at), "nat", str(e)), family, None, a.name, b.name,
                                    True, count)


def _hops(nodes: tuple) -> str:
    return " → ".join(nodes)


def messages(report: Report, known: set[str] = frozenset()) -> list[tuple[tuple, str]]:
    """(document path, message) of every finding, in a stable order.

    A finding at a route or over a link that already has a warning (`known` paths, e.g. an unowned
    gateway, ends that share no subnet) is the same problem seen again: it is left out.
    """
    out = []
    for f in sorted(report.findings.values(), key=lambda f: (f.family, f.at, str(f.net))):
        if (f.route_index is not None and fmt_path(("nodes", f.at, "routes", f.route_index)) in known) or \
                (f.link is not None and fmt_path(("links", f.link, "endpoints")) in known):
            continue
        fam = f"IPv{f.family}"
        pairs = sum(c for _, _, c in f.pairs)
        if f.why == "no-route":
            head = f"no {fam} route to {f.net} at {f.at}"
        elif f.why == "loop":
            head = f"forwarding loop towards {f.net} at {f.at}"
        elif f.why == "nat":
            head = f"{fam}: {f.detail}"
        else:
            head = f"{fam} towards {f.net}: {f.detail}"
        parts = []
        if f.why == "nat":  # the NAT-aware walker says where, in its own words
            if f.back:
                parts.append(f"missing return path: {f.back[0]} reaches {f.back[1]}, but the replies are lost")
        elif f.forward:
            s, d, nodes = f.forward
            parts.append(f"packets from {s} to {d} stop there (hop {len(nodes) - 1}: {_hops(nodes)})"
                         if f.why != "loop" else f"packets from {s} to {d} go round: {_hops(nodes)}")
        if f.back and f.why != "nat":
            s, d, nodes = f.back
            parts.append(f"missing return path: {s} reaches {d}, but {d}'s replies "
                         + (f"go round: {_hops(nodes)}" if f.why == "loop" else
                            f"stop there (hop {len(nodes) - 1}: {_hops(nodes)})"))
        more = f" ({pairs} host pairs affected)" if pairs > 1 else ""
        path = ("nodes", f.at) if f.route_index is None else ("nodes", f.at, "routes", f.route_index)
        out.append((path, f"{head}{': ' if parts else ''}{'; '.join(parts)}{more}"))
    asym = sorted(report.asymmetric.items(), key=lambda kv: (kv[0][0], kv[1][0], kv[1][1]))
    for (family, there, again), (s, d, count) in asym[:MAX_ASYMMETRIC]:
        more = f" ({count} host pairs like this)" if count > 1 else ""
        out.append((("nodes", s), f"asymmetric IPv{family} path (informational): {s} → {d} goes through "
                    f"{', '.join(there) or 'no router'}, the replies through {', '.join(reversed(again)) or 'no router'}"
                    f"{more}"))
    if len(asym) > MAX_ASYMMETRIC:
        out.append((("nodes",), f"{len(asym) - MAX_ASYMMETRIC} more asymmetric path groups (informational)"))
    return out


def check(ctx) -> None:
    """Warn about every place where host-to-host forwarding breaks."""
    if ctx.topo.routing.protocol in ("ospf", "bgp"):
        return  # the routers' routes come from OSPF/BGP at run time; `up` waits until they have converged
    known = {i.path for i in ctx.issues if i.warning}
    for path, message in messages(analyse(ctx.topo), known):
        ctx.warn(path, message)


STEPS = (Step("forwarding", "check", 900, check),)
