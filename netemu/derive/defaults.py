"""`defaults:` — node settings written once for the whole lab, merged into each node before reading.

    defaults:
      resolver: isp-resolver          # every host
      sysctls: {net.ipv4.tcp_ecn: 1}  # every host
      router: {sysctls: {...}}        # every router
      host: {...}                     # every host (same as the keys above; wins over them)

A node's own value wins; `sysctls` are merged key by key (the node's own keys win). Errors about a
merged value point at the line in `defaults:`.
"""

from __future__ import annotations

import copy

from .. import features
from ..core.reader import Reader
from ..errors import Issue
from ..source import Source

KIND_KEYS = ("host", "router")
NOT_DEFAULTABLE = {"kind", "routes"}
MERGED_BY_KEY = {"sysctls"}


def merged(src: Source, issues: list[Issue]) -> Source:
    """The document with `defaults:` merged into every node (the same Source when there are none)."""
    data = src.data
    raw = data.get("defaults") if isinstance(data, dict) else None
    if raw is None:
        return src
    r = Reader(src, issues)
    if not isinstance(raw, dict):
        r.err(("defaults",), "must be a mapping of node settings, e.g. {resolver: NODE, sysctls: {...}}")
        return src
    allowed = ({"sysctls"} | features.owned_keys("node")) - NOT_DEFAULTABLE
    per_kind: dict[str, dict[str, tuple]] = {k: {} for k in KIND_KEYS}
    for key, value in raw.items():
        if key in KIND_KEYS:
            if not isinstance(value, dict):
                r.err(("defaults", key), f"must be a mapping of settings for every {key}")
                continue
            r.unknown_keys(("defaults", key), value, allowed)
            for k, v in value.items():
                if k in allowed:
                    per_kind[key][k] = (v, ("defaults", key, k))
        elif key in allowed:
            per_kind["host"].setdefault(key, (value, ("defaults", key)))
        else:
            r.unknown_keys(("defaults",), {key: value}, allowed | set(KIND_KEYS))
    nodes = data.get("nodes")
    if not isinstance(nodes, dict):
        return src
    data = copy.copy(data)
    data["nodes"] = dict(nodes)
    lines = dict(src.lines)
    under: dict = {}
    for name, spec in nodes.items():
        if spec is None:
            spec = {}
        if not isinstance(spec, dict):
            continue
        kind = spec.get("kind", "host")
        if kind not in per_kind or not per_kind[kind]:
            continue
        spec = dict(spec)
        for key, (value, where) in per_kind[kind].items():
            here = ("nodes", name, key)
            if key in MERGED_BY_KEY and isinstance(value, dict) and isinstance(spec.get(key), dict):
                own = spec[key]
                spec[key] = {**value, **own}
                for k in value:
                    if k not in own:
                        _copy_lines(lines, where + (k,), here + (k,), under)
            elif key not in spec:
                spec[key] = copy.deepcopy(value)
                _copy_lines(lines, where, here, under)
        data["nodes"][name] = spec
    return Source(src.filename, data, lines)


def _copy_lines(lines: dict, old: tuple, new: tuple, under: dict) -> None:
    """Point every path under `new` at the line of the same value under `old` (`under` caches lookups)."""
    if old not in under:
        n = len(old)
        under[old] = [(path[n:], line) for path, line in lines.items() if path[:n] == old]
    for rest, line in under[old]:
        lines[new + rest] = line
