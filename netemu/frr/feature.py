"""Registration of the FRR feature: `routing: ospf|bgp`, node keys `as:` and `frr:`.

Its modules (jinja2 templates, vtysh queries) are imported only when a topology runs FRR.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..features import Feature

if TYPE_CHECKING:
    from ..errors import Issue
    from ..model import Topology
    from ..ops import Op
    from ..source import Source
    from .converge import Converged
    from .derive import FrrLab


def _costs(src: Source, topo: Topology) -> dict[int, int]:
    """Per-link OSPF cost: the core's `Link.cost` when it has one, else the link's raw `cost:` key."""
    out: dict[int, int] = {}
    links = src.data.get("links") if isinstance(src.data.get("links"), list) else []
    for link in topo.links:
        cost = getattr(link, "cost", None)
        if cost is None and link.index < len(links) and isinstance(links[link.index], dict):
            cost = links[link.index].get("cost")
        if cost is not None:
            out[link.index] = cost
    return out


def _cost_issues(src: Source) -> list[Issue]:
    links = src.data.get("links") if isinstance(src.data.get("links"), list) else []
    return [src.issue(("links", i, "cost"), f"must be a whole number 1..65535, got {li['cost']!r}")
            for i, li in enumerate(links) if isinstance(li, dict) and "cost" in li
            and (isinstance(li["cost"], bool) or not isinstance(li["cost"], int) or not 1 <= li["cost"] <= 65535)]


def parse(src: Source, topo: Topology) -> tuple[FrrLab | None, list[Issue]]:
    """Validate the routing options, then derive every router's FRR configuration."""
    from . import spec
    from .derive import derive

    opts, issues = spec.parse(src, topo)
    if getattr(topo, "routing", None) is None:  # until the core parses `cost:` itself
        issues += _cost_issues(src)
    if opts is None or any(not i.warning for i in issues):
        return None, issues
    return derive(topo, opts, _costs(src, topo)), issues


def plan(topo: Topology, frr: FrrLab) -> list[Op]:
    """Configs, their dry runs, the daemons."""
    from . import plan as frr_plan

    return frr_plan.plan(topo, frr)


def preflight(topo: Topology, frr: FrrLab) -> list[str]:
    """What this machine lacks to run the lab's FRR daemons."""
    from . import install
    from .plan import routers_needing

    return install.problems(routers_needing(frr))


def converge(topo: Topology, frr: FrrLab, timeout: float) -> Converged:
    """Block until the lab's routing has converged (raises NotConvergedError after `timeout` s)."""
    from .converge import wait

    return wait(topo, frr, timeout)


def node_status(ns: str) -> tuple[dict, list[str]]:
    """OSPF neighbours, BGP sessions and protocol routes of a router."""
    from .status import node_status as status

    return status(ns)


FEATURE = Feature(
    name="frr",
    top_keys=frozenset({"routing"}),
    node_keys=frozenset({"as", "frr"}),
    link_keys=frozenset({"cost"}),
    parse=parse,
    plan=plan,
    preflight=preflight,
    node_status=node_status,
    converge=converge,
)
