"""Plan: the ordered kernel operations that build a topology. Pure: no I/O, golden-testable."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from . import features
from .labdir import ETC_NETNS, RUN_DIR
from .model import Node, Topology
from .ops import (
    AddAddress,
    AddNeighbour,
    AddRoute,
    CreateBridge,
    CreateNamespace,
    CreateVeth,
    LinkDir,
    Op,
    Sysctl,
    WriteFile,
)

BRIDGE = "br0"
# The neighbour table limit (gc_thresh3, 1024 on the reference machines) counts dynamic entries of
# all namespaces together. `neighbours: auto` installs permanent entries once a lab could need more
# than this many dynamic ones, so ordinary small labs still show real ARP/ND in captures.
AUTO_STATIC_ABOVE = 256
# In static mode, segments up to this size get a full mesh of permanent entries; bigger ones get
# entries only towards and from routers (hosts talking to each other there still use ARP).
FULL_MESH_MAX = 16
_IF_SYSCTL = re.compile(r"^net\.ipv[46]\.(conf|neigh)\.([^.]+)\.")


@dataclass(frozen=True)
class Plan:
    """The operations of one lab, in order."""

    lab: str
    ops: tuple[Op, ...]

    def text(self, full: bool = False) -> str:
        """One numbered line per operation; with `full`, followed by the text it feeds in (rules, files)."""
        width = len(str(len(self.ops)))
        out = []
        for i, op in enumerate(self.ops, 1):
            out.append(f"{i:>{width}}  {op.text()}")
            body = op.body() if full else None
            if body:
                out += [f"{'':>{width}}  | {line}" for line in body.rstrip("\n").splitlines()]
        return "\n".join(out)

    def netns_file(self, path: str) -> str | None:
        """The content `up` gives /etc/netns/NS/NAME (following the node's link to its shared set), or None."""
        links = {op.path: op.target for op in self.ops if isinstance(op, LinkDir)}
        directory, name = os.path.split(path)
        real = os.path.join(links.get(directory, directory), name)
        return next((op.content for op in self.ops if isinstance(op, WriteFile) and op.path == real), None)


def _default_sysctls(node: Node) -> list[tuple[str, str]]:
    if node.is_switch:
        # A bridge namespace needs no IP: keep it silent (no IPv6 link-local, no MLD/RS noise).
        return [("net.ipv6.conf.all.disable_ipv6", "1"), ("net.ipv6.conf.default.disable_ipv6", "1")]
    out = [
        # New interfaces inherit `default`: no duplicate address detection, so IPv6 works at once.
        ("net.ipv6.conf.all.accept_dad", "0"),
        ("net.ipv6.conf.default.accept_dad", "0"),
    ]
    if node.kind == "router":
        out += [("net.ipv4.ip_forward", "1"), ("net.ipv6.conf.all.forwarding", "1")]
    return out


def _interface_sysctl(key: str) -> bool:
    m = _IF_SYSCTL.match(key)
    return bool(m) and m.group(2) not in ("all", "default", "lo")


def potential_neighbours(topo: Topology) -> int:
    """How many dynamic neighbour entries the lab could create if every pair on a segment talked."""
    return sum(len(seg) * (len(seg) - 1) * 2 for seg in topo.segments())


def _neighbour_ops(topo: Topology) -> list[Op]:
    ops: list[Op] = []
    mode = topo.neighbours
    if mode == "dynamic" or (mode == "auto" and potential_neighbours(topo) <= AUTO_STATIC_ABOVE):
        return ops
    for segment in topo.segments():
        full = len(segment) <= FULL_MESH_MAX
        routers = {i.node for i in segment if topo.node(i.node).kind == "router"}
        for me in segment:
            for other in segment:
                if other is me or other.node == me.node:
                    continue
                if not full and me.node not in routers and other.node not in routers:
                    continue
                for addr in other.addresses:
                    if any(a.version == addr.version for a in me.addresses) or addr.version == 6:
                        ops.append(AddNeighbour(topo.namespace(me.node), me.name, str(addr.ip), other.mac))
    return ops


def build(topo: Topology) -> Plan:
    """Every operation `up` performs for `topo`, in order."""
    ns = topo.namespace
    ops: list[Op] = []
    late_sysctls: list[Op] = []
    for node in topo.nodes:
        ops.append(CreateNamespace(ns(node.name), node.name))
        for key, value in _default_sysctls(node) + list(node.sysctls):
            op = Sysctl(ns(node.name), key, value)
            (late_sysctls if _interface_sysctl(key) else ops).append(op)
    for node in topo.nodes:
        if node.is_switch:
            mtu = min((i.mtu for i in node.interfaces), default=1500)
            ops.append(CreateBridge(ns(node.name), BRIDGE, mtu))
    for link in topo.links:
        a, b = link.a, link.b
        # Create from the switch side when there is one, so the port is enslaved in the same request.
        if topo.node(b.node).is_switch and not topo.node(a.node).is_switch:
            a, b = b, a
        a_sw, b_sw = topo.node(a.node).is_switch, topo.node(b.node).is_switch
        ops.append(CreateVeth(ns(a.node), a.name, a.mac, ns(b.node), b.name, b.mac, link.mtu,
                              BRIDGE if a_sw else None, BRIDGE if b_sw else None))
    for node in topo.nodes:
        for iface in node.interfaces:
            ops += [AddAddress(ns(node.name), iface.name, str(addr)) for addr in iface.addresses]
        if node.loopbacks:
            ops += [AddAddress(ns(node.name), "lo", str(addr)) for addr in node.loopbacks]
    ops += late_sysctls
    for node in topo.nodes:
        for r in node.routes:
            ops.append(AddRoute(ns(node.name), r.family, r.dst_text, str(r.via) if r.via else None, r.dev, r.metric))
    ops += _neighbour_ops(topo)
    for node in topo.nodes:
        ops += [WriteFile(str(ETC_NETNS / ns(node.name) / name), content) for name, content in node.etc]
    for feature in features.registered():
        model = topo.feature(feature.name)
        if feature.plan is not None and model is not None:
            ops += feature.plan(topo, model)
    return Plan(topo.name, tuple(_share_netns_files(topo, ops)))


def _share_netns_files(topo: Topology, ops: list[Op]) -> list[Op]:
    """Write each distinct set of /etc/netns/NS/ files once and link every node's directory to it.

    `ip netns exec` bind-mounts /etc/netns/NS/* over /etc/*. Nodes with identical files (every node
    of a plain lab: the lab-wide hosts and resolv.conf) share one directory in the lab's run dir,
    and /etc/netns/NS is a symlink to it: one new inode per node instead of three, which matters on
    hosts where creating files is slow. The shared set takes the place of the first such write.
    """
    per_ns: dict[str, dict[str, str]] = {}
    rest: list[Op] = []
    at = None
    for op in ops:
        if (isinstance(op, WriteFile) and op.mode == 0o644
                and os.path.dirname(os.path.dirname(op.path)) == str(ETC_NETNS)):
            at = len(rest) if at is None else at
            ns, name = op.path.split("/")[-2:]
            per_ns.setdefault(ns, {})[name] = op.content
        else:
            rest.append(op)
    if at is None:
        return ops
    groups: dict[tuple, str] = {}
    shared: list[Op] = []
    links: list[Op] = []
    for ns, files in per_ns.items():
        key = tuple(sorted(files.items()))
        if key not in groups:
            groups[key] = str(RUN_DIR / topo.name / "etc" / f"files-{len(groups) + 1}")
            shared += [WriteFile(f"{groups[key]}/{name}", content) for name, content in files.items()]
        links.append(LinkDir(str(ETC_NETNS / ns), groups[key]))
    return rest[:at] + shared + links + rest[at:]
