"""Cut one lab's plan into per-machine plans: a link between machines becomes a VXLAN pair. Pure."""

from __future__ import annotations

import ipaddress
import zlib
from dataclasses import dataclass, replace

from ..labdir import ETC_NETNS
from ..model import Topology
from ..linkemu.process import PROCESS as DELAY_LINE
from ..ops import CreateBridge, CreateVeth, LinkDir, Op, StartProcess, WriteFile
from ..plan import Plan
from .ops import CreateVxlan
from .placement import Placement

PORT_BASE, PORT_SPAN = 42000, 1000  # each lab's VXLAN UDP port: PORT_BASE + crc32(name) % PORT_SPAN
OVERHEAD = {4: 50, 6: 70}  # outer IP + UDP + VXLAN + inner Ethernet header, bytes


def vxlan_port(lab: str) -> int:
    """The UDP port of a lab's VXLAN tunnels (stable, different for most lab names)."""
    return PORT_BASE + zlib.crc32(lab.encode()) % PORT_SPAN


def carried_mtu(underlay_mtu: int, addresses: dict[str, str]) -> int:
    """The largest MTU a VXLAN link carries over an underlay of `underlay_mtu` (IPv6 if any underlay is)."""
    version = max(ipaddress.ip_address(a).version for a in addresses.values())
    return underlay_mtu - OVERHEAD[version]


@dataclass(frozen=True)
class Split:
    """Each machine's plan, and the MTU of each link that lost bytes to encapsulation."""

    plans: tuple[tuple[str, Plan], ...]
    lowered: tuple[tuple[int, int, int], ...]  # (link index, mtu written, mtu used)

    def plan(self, machine: str) -> Plan:
        """The plan of `machine`."""
        return dict(self.plans)[machine]


def _domains(topo: Topology) -> dict[int, int]:
    """Link index -> layer-2 domain (links joined through switches share one)."""
    parent = list(range(len(topo.links)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    by_switch: dict[str, int] = {}
    for link in topo.links:
        for end in (link.a, link.b):
            if topo.node(end.node).is_switch:
                first = by_switch.setdefault(end.node, link.index)
                parent[find(link.index)] = find(first)
    return {link.index: find(link.index) for link in topo.links}


def lowered_links(topo: Topology, cut: tuple[int, ...] | list[int], cap: int) -> tuple[tuple[int, int, int], ...]:
    """(link index, mtu written, mtu used) of every link in a layer-2 domain that crosses machines and whose
    written MTU is more than VXLAN carries (`cap`)."""
    domains = _domains(topo)
    capped = {domains[i] for i in cut}
    return tuple((link.index, link.mtu, cap) for link in topo.links if domains[link.index] in capped and link.mtu > cap)


def _delay_lines(plan: Plan, node_of_ns: dict[str, str], machine_of: dict[str, str]) -> dict[str, str]:
    """Machine -> a namespace of it with a delay-line queue (link emulation's fallback), from the state file."""
    import json

    from ..linkemu.state import delay_queues, state_path

    state = next((json.loads(op.content) for op in plan.ops
                  if isinstance(op, WriteFile) and op.path == state_path(plan.lab)), None)
    out: dict[str, str] = {}
    for q in delay_queues(state) if state else []:
        out.setdefault(machine_of[node_of_ns[q["ns"]]], q["ns"])
    return out


def split(topo: Topology, plan: Plan, placement: Placement, addresses: dict[str, str], underlay_mtu: int,
          port: int | None = None) -> Split:
    """Per-machine plans: ops of a node's namespace go to its machine, shared files everywhere.

    Every link of a layer-2 domain that crosses machines gets at most the MTU VXLAN can carry,
    so hosts on a LAN spanning machines agree on one MTU (a smaller one would black-hole).
    """
    port = port or vxlan_port(topo.name)
    machine_of = dict(placement.machine_of)
    node_of_ns = {topo.namespace(n.name): n.name for n in topo.nodes}
    link_of = {}
    for link in topo.links:
        link_of[(topo.namespace(link.a.node), link.a.name)] = link
        link_of[(topo.namespace(link.b.node), link.b.name)] = link
    domains = _domains(topo)
    capped = {domains[i] for i in placement.cut}
    cap = carried_mtu(underlay_mtu, addresses)
    lowered = lowered_links(topo, placement.cut, cap)
    machines = list(dict.fromkeys(m for _, m in placement.machine_of))
    out: dict[str, list[Op]] = {m: [] for m in machines}

    def owner(op: Op) -> str | None:
        ns = getattr(op, "ns", None)
        if ns is None and isinstance(op, (WriteFile, LinkDir)) and op.path.startswith(str(ETC_NETNS) + "/"):
            ns = op.path[len(str(ETC_NETNS)) + 1:].split("/")[0]
        node = node_of_ns.get(ns) if ns else None
        return machine_of[node] if node else None

    delay_lines = _delay_lines(plan, node_of_ns, machine_of)
    for op in plan.ops:
        if isinstance(op, StartProcess) and op.name == DELAY_LINE:
            for m, ns in delay_lines.items():  # one per machine with delayed links, each serving its own
                out[m].append(replace(op, ns=ns))
            continue
        if isinstance(op, CreateVeth):
            link = link_of[(op.ns, op.ifname)]
            mtu = min(op.mtu, cap) if domains[link.index] in capped else op.mtu
            ma, mb = machine_of[node_of_ns[op.ns]], machine_of[node_of_ns[op.peer_ns]]
            if ma == mb:
                out[ma].append(replace(op, mtu=mtu))
                continue
            vni = link.index + 1
            out[ma].append(CreateVxlan(op.ns, op.ifname, op.mac, mtu, vni, addresses[ma], addresses[mb], port,
                                       op.master))
            out[mb].append(CreateVxlan(op.peer_ns, op.peer_ifname, op.peer_mac, mtu, vni, addresses[mb],
                                       addresses[ma], port, op.peer_master))
            continue
        if isinstance(op, CreateBridge) and any(domains[i.link] in capped
                                                for i in topo.node(node_of_ns[op.ns]).interfaces):
            op = replace(op, mtu=min(op.mtu, cap))
        m = owner(op)
        for target in ([m] if m else machines):
            out[target].append(op)
    return Split(tuple((m, Plan(topo.name, tuple(out[m]))) for m in machines), lowered)
