"""load → read (core) → derive (core) → parse (features) → derive (features) → check: one pass.

Every problem of every layer is collected before anything is raised: when the core finds errors,
the parts it could read still go through addressing, every used feature still parses, and checks
that do not need a complete core still run (issue 15: one validation pass).
"""

from __future__ import annotations

import dataclasses

from .. import features
from ..core import checks
from ..core.top import read_topology
from ..errors import Issue, TopologyError
from ..features import Step
from ..model import Topology
from ..source import Source
from . import addressing, defaults, etc, static_routes
from .context import Context

CORE_DERIVE = addressing.STEPS + static_routes.STEPS + etc.STEPS
CORE_CHECKS = checks.STEPS


def _forwarding_steps() -> tuple[Step, ...]:
    from ..forwarding import check

    return check.STEPS


def run(src: Source) -> Topology:
    """Validate and derive a loaded document; raise TopologyError listing every problem."""
    issues: list[Issue] = []
    src = defaults.merged(src, issues)
    topo = read_topology(src, issues)
    ctx = Context(src, topo, issues, core_ok=not _errors(issues))
    _run_steps(ctx, sorted(CORE_DERIVE, key=lambda s: s.order))
    used = [f for f in features.registered() if f.used_by(src.data)]
    for feature in used:
        if feature.parse is None:
            continue
        try:
            model, found = feature.parse(src, ctx.topo)
        except Exception:
            if ctx.core_ok:
                raise
            continue  # it could not cope with the incomplete core: the core's errors are reported
        issues += found
        if model is not None:
            ctx.set_feature(feature.name, model)
    steps = [s for f in used for s in f.steps]
    _run_steps(ctx, sorted((s for s in steps if s.stage == "derive"), key=lambda s: s.order))
    ctx.core_ok = ctx.core_ok and not _errors(issues)
    check_steps = list(CORE_CHECKS) + [s for s in steps if s.stage == "check"] + list(_forwarding_steps())
    _run_steps(ctx, sorted(check_steps, key=lambda s: s.order))
    issues.sort(key=lambda i: (i.line or 0))  # stable: same-line issues keep their order
    if _errors(issues):
        raise TopologyError(src.filename, issues)
    return dataclasses.replace(ctx.topo, warnings=tuple(i.render(src.filename) for i in issues if i.warning))


def _run_steps(ctx: Context, steps: list[Step]) -> None:
    for step in steps:
        if step.needs_core and not ctx.core_ok:
            continue
        step.run(ctx)


def _errors(issues: list[Issue]) -> bool:
    return any(not i.warning for i in issues)
