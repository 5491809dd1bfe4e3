"""Registration of the FRR feature: `routing: ospf|bgp`, node keys `as:` and `frr:`.

Its modules (jinja2 templates, vtysh queries) are imported only when a topology runs FRR.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..features import Feature, Step
from . import ops as _ops  # also registers the FRR ops for from_json: plans sent to other machines

if TYPE_CHECKING:
    from ..errors import Issue
    from ..model import Topology
    from ..ops import Op
    from ..source import Source
    from ..derive.context import Context
    from .converge import Converged
    from .derive import FrrLab
    from .spec import Options


def parse(src: Source, topo: Topology) -> tuple[Options | None, list[Issue]]:
    """Validate the routing options and the node keys `as:` and `frr:` (None: the lab runs no FRR)."""
    from . import spec

    return spec.parse(src, topo)


def _derive(ctx: Context) -> None:
    """Every router's FRR configuration, from the final addresses and loopbacks (replaces the options)."""
    from .derive import derive

    opts = ctx.feature("frr")
    if opts is not None:
        costs = {link.index: link.cost for link in ctx.topo.links if link.cost is not None}
        ctx.set_feature("frr", derive(ctx.topo, opts, costs))


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


def _handlers() -> dict:
    from . import dirs, dryrun

    return {_ops.CheckConfigs: dryrun.check, _ops.OwnedDirs: dirs.make}


FEATURE = Feature(
    name="frr",
    # `routing:` is read by the core; the feature gives `ospf` and `bgp` (and their options) meaning
    top_keys=frozenset({"routing"}),
    node_keys=frozenset({"as", "frr"}),
    parse=parse,
    steps=(Step("frr-config", "derive", 350, _derive),),
    plan=plan,
    preflight=preflight,
    node_status=node_status,
    converge=converge,
    handlers=_handlers,
)
