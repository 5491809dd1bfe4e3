"""The multi-machine feature: the `host:` node key, and the handler of CreateVxlan on each machine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import Issue
from ..features import Feature


@dataclass(frozen=True)
class Multi:
    """`host:` keys of the topology (node -> machine), and, on a machine building its part, which part."""

    pins: tuple[tuple[str, str], ...] = ()
    machine: str | None = None  # set only by `netemu part up` on the machine itself
    port: int | None = None


def _parse(src, topo) -> tuple[Any, list[Issue]]:
    issues: list[Issue] = []
    pins = []
    for name, raw in (src.data.get("nodes") or {}).items():
        if isinstance(raw, dict) and "host" in raw:
            value = raw["host"]
            if not isinstance(value, str) or not value:
                issues.append(src.issue(("nodes", name, "host"), "must be a machine name of the inventory"))
            else:
                pins.append((name, value))
    return Multi(tuple(pins)), issues


def _handlers():
    from .apply import HANDLERS

    return HANDLERS


FEATURE = Feature(name="multi", node_keys=frozenset({"host"}), parse=_parse, handlers=_handlers)
