"""The registry of optional features (NAT, DNS, link emulation…) that extend the core.

A feature owns some topology keys, parses them once the core has read the document (even when
the core found errors, so every problem is reported in one pass), may register ordered derive and
check steps (netemu.derive.pipeline runs them), contributes kernel operations to the plan, and may
bring its own kinds of operation with their handlers. The core knows nothing else about it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .apply import Runner
    from .derive.context import Context
    from .errors import Issue
    from .model import Topology
    from .ops import Op
    from .source import Source

# Modules that define a FEATURE; imported lazily so the core never depends on them.
# Captures come first (they see every packet from the start); services last (they need the whole lab).
_MODULES: tuple[str, ...] = ("netemu.capture.feature", "netemu.netfilter.feature", "netemu.linkemu.feature",
                             "netemu.dns.feature", "netemu.frr.feature", "netemu.labtest.feature", "netemu.congestion",
                             "netemu.services.feature", "netemu.multi.feature")


STAGES = ("derive", "check")


@dataclass(frozen=True)
class Step:
    """One ordered step of the pipeline: derive data into the model, or check the derived model.

    Steps of all stages run lowest `order` first (core before features on a tie). A derive step
    replaces `ctx.topo` (or a feature's model through `ctx.set_feature`); a check step only reports.
    With `needs_core` a step is skipped when the core found errors (its input would be incomplete).
    """

    name: str
    stage: str  # "derive" | "check"
    order: int
    run: Callable[[Context], None]
    needs_core: bool = True


@dataclass(frozen=True)
class Feature:
    """One optional capability: the keys it owns and the functions that give them meaning."""

    name: str
    top_keys: frozenset[str] = frozenset()
    node_keys: frozenset[str] = frozenset()
    link_keys: frozenset[str] = frozenset()
    # (source, core topology) -> (parsed model or None, issues)
    parse: Callable[[Source, Topology], tuple[Any, list[Issue]]] | None = None
    # (topology, parsed model) -> operations appended after the core's
    plan: Callable[[Topology, Any], list[Op]] | None = None
    # (topology, parsed model) -> problems with this machine, checked before `up` creates anything
    preflight: Callable[[Topology, Any], list[str]] | None = None
    # lab name -> (JSON-ready dict, text lines) for `netemu status LAB`; empty lines = nothing to say
    lab_status: Callable[[str], tuple[dict, list[str]]] | None = None
    # namespace -> (JSON-ready dict, text lines) for `netemu status LAB NODE`
    node_status: Callable[[str], tuple[dict, list[str]]] | None = None
    # ordered derive and check steps (run only when the file uses the feature)
    steps: tuple[Step, ...] = ()
    # () -> {Op subclass: handler(runner, op)} for the feature's own kinds of operation (imported lazily)
    handlers: Callable[[], dict[type[Op], Callable[[Runner, Op], None]]] | None = None
    # (topology, parsed model, timeout s) -> result with `.seconds`, once `up` has built the lab: blocks
    # until the feature's processes have settled (routing converged); raises a NetemuError on timeout
    converge: Callable[[Topology, Any, float], Any] | None = None

    def used_by(self, data: Any) -> bool:
        """Whether a raw topology document sets any key this feature owns (only then is it parsed)."""
        if not isinstance(data, dict):
            return False
        if self.top_keys & data.keys():
            return True
        nodes = data.get("nodes")
        if self.node_keys and isinstance(nodes, dict):
            if any(isinstance(n, dict) and self.node_keys & n.keys() for n in nodes.values()):
                return True
        links = data.get("links")
        if self.link_keys and isinstance(links, list):
            return any(isinstance(li, dict) and self.link_keys & li.keys() for li in links)
        return False


def registered() -> list[Feature]:
    """Every feature, in the order their operations are planned."""
    return [importlib.import_module(m).FEATURE for m in _MODULES]


def owned_keys(where: str) -> set[str]:
    """Keys owned by features at `where` ('top', 'node' or 'link')."""
    out: set[str] = set()
    for f in registered():
        out |= getattr(f, f"{where}_keys")
    return out
