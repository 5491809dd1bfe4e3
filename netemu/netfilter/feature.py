"""The netfilter feature: node keys `nat:` and `firewall:`, top-level `netfilter:`; iptables-restore ops.

Its modules (rule building, jinja2 templates) are imported only when a topology uses NAT or a
firewall, so labs without them start fast.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from ..features import Feature
from ..ops import Op, RunCommand

if TYPE_CHECKING:
    from ..errors import Issue
    from ..model import Topology
    from ..source import Source
    from .model import NetfilterModel
    from .rules import Table


def parse(src: Source, topo: Topology) -> tuple[NetfilterModel | None, list[Issue]]:
    """Every node's `nat:`/`firewall:` and the lab's `netfilter:` settings."""
    from .parse import parse as nf_parse

    return nf_parse(src, topo)


def rule_tables(topo: Topology, model: NetfilterModel) -> list[tuple[str, int, list[Table]]]:
    """(node, family, tables) for every node and family that has rules (pure data, nothing rendered)."""
    from .rules import build, families_of

    out = []
    for nf in model.nodes:
        node = topo.node(nf.node)
        for family in families_of(node, nf):
            tables = build(node, nf, family)
            if tables:
                out.append((nf.node, family, tables))
    return out


def rule_files(topo: Topology, model: NetfilterModel) -> list[tuple[str, int, str, str]]:
    """(node, family, restore tool, rendered rules) for every node and family that has rules."""
    from .backend import restore_tool
    from .render import render

    out = []
    for node, family, tables in rule_tables(topo, model):
        tool = restore_tool(model.backend, family)
        out.append((node, family, tool, render(topo.name, node, family, tool, tables)))
    return out


def pool_routes(topo: Topology, model: NetfilterModel) -> list[tuple[str, str]]:
    """(node, prefix) blackhole routes for SNAT pools that are not on any of the lab's subnets.

    Replies to translated connections are matched by conntrack before routing, so the blackhole only
    catches packets to pool addresses nobody maps: they are dropped instead of bouncing back upstream.
    """
    from .model import overlaps

    subnets = [a.network for n in topo.nodes for i in n.interfaces for a in i.addresses]
    out = []
    for nf in model.nodes:
        for s in nf.nat.snat if nf.nat else ():
            if any(overlaps(net, s.first, s.last) for net in subnets):
                continue
            for prefix in ipaddress.summarize_address_range(s.first, s.last):
                out.append((nf.node, str(prefix)))
    return list(dict.fromkeys(out))


def plan(topo: Topology, model: NetfilterModel) -> list[Op]:
    """One atomic `iptables-restore` (and `ip6tables-restore`) per node, run inside its namespace."""
    ops: list[Op] = [
        RunCommand(topo.namespace(node), ("ip", "route", "replace", "blackhole", prefix))
        for node, prefix in pool_routes(topo, model)
    ]
    # -w: the legacy back end takes a lock file shared by every namespace; wait for it rather than fail.
    ops += [RunCommand(topo.namespace(node), (tool, "-w", "5"), text)
            for node, _family, tool, text in rule_files(topo, model)]
    return ops


def preflight(topo: Topology, model: NetfilterModel) -> list[str]:
    """Problems with this machine: restore programs that are missing."""
    from .backend import missing_tools

    families = {family for _node, family, _tables in rule_tables(topo, model)}
    missing = missing_tools(model.backend, families)
    if not missing:
        return []
    return [f"NAT/firewall rules need {', '.join(missing)}, which is not installed (Debian: apt-get install iptables)"]


def node_status(namespace: str) -> tuple[dict, list[str]]:
    """Rules with counters and live translations of one node, for `netemu status LAB NODE`."""
    from .status import node_report, render_text

    report = node_report(namespace)
    if not report["tables"] and not report["translations"]:
        return report, []  # nothing to say about a node without NAT or filtering
    return report, ["NAT and firewall:"] + ["  " + line for line in render_text(report).splitlines()]


FEATURE = Feature(
    name="netfilter",
    top_keys=frozenset({"netfilter"}),
    node_keys=frozenset({"nat", "firewall"}),
    parse=parse,
    plan=plan,
    preflight=preflight,
    node_status=node_status,
)
