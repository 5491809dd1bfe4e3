"""Read the link-emulation keys of each link, collecting every problem with its file line.

```yaml
links:
  - endpoints: ["h1:eth0 10.0.1.1/24", "r1:eth0 10.0.1.2/24"]
    delay: 20ms          # every key here applies to both directions
    jitter: 2ms
    loss: 0.5%
    bandwidth: 10mbit
    queue: 100           # packets, or a size: 64kb
  - endpoints: [h2, sw1]
    from:                # per direction, by sending node; overrides the keys above
      h2: {bandwidth: 1mbit}
      sw1: {bandwidth: 20mbit, delay: 5ms}
```
"""

from __future__ import annotations

import difflib
from typing import Any

from ..errors import Issue
from ..model import Link, Topology
from ..source import Source
from . import units, validate
from .keys import LINK_KEYS
from .model import FIELDS, Impairment, LinkEmu, LinkImpairment


def parse(src: Source, topo: Topology) -> tuple[LinkEmu, list[Issue]]:
    """The impairments of every link of `topo`, and the problems found."""
    issues: list[Issue] = []
    raw_links = src.data.get("links") or []
    out: list[LinkImpairment] = []
    for link in topo.links:
        raw = raw_links[link.index] if link.index < len(raw_links) else {}
        if not isinstance(raw, dict) or not (LINK_KEYS & raw.keys()):
            continue
        li = _link(src, link, raw, issues)
        if li is not None and not (li.ab.empty and li.ba.empty):
            out.append(li)
    return LinkEmu(tuple(out)), issues


def _link(src: Source, link: Link, raw: dict, issues: list[Issue]) -> LinkImpairment | None:
    path = ("links", link.index)
    both, both_paths = _fields(src, path, raw, issues)
    per = _per_direction(src, link, path, raw.get("from"), issues)
    dirs = [_check(src, link, {**both, **values}, {**both_paths, **paths}, issues)
            for values, paths in (per[True], per[False])]
    if dirs[0] is None or dirs[1] is None:
        return None
    return LinkImpairment(link.index, dirs[0], dirs[1])


def _per_direction(src: Source, link: Link, path: tuple, raw_from: Any,
                   issues: list[Issue]) -> dict[bool, tuple[dict, dict]]:
    """The `from:` overrides of each direction (True: sent by end a), as _fields() gives them."""
    per: dict[bool, tuple[dict, dict]] = {True: ({}, {}), False: ({}, {})}
    if raw_from is None:
        return per
    if not isinstance(raw_from, dict):
        issues.append(src.issue(path + ("from",), "must map a sending node to its impairments",
                                f"e.g. from: {{{link.a.node}: {{bandwidth: 10mbit}}}}"))
        return per
    for key, spec in raw_from.items():
        side = _side(link, str(key))
        kpath = path + ("from", key)
        if side is None:
            issues.append(src.issue(kpath, f"{key!r} is not an end of this link",
                                    f"use {link.a.node!r} or {link.b.node!r}"))
            continue
        if per[side][0]:
            issues.append(src.issue(kpath, f"direction from {key!r} given twice"))
            continue
        if not isinstance(spec, dict):
            issues.append(src.issue(kpath, "must be a mapping such as {bandwidth: 10mbit, delay: 5ms}"))
            continue
        for k in spec:
            if k not in FIELDS:
                close = difflib.get_close_matches(str(k), FIELDS, n=1, cutoff=0.6)
                issues.append(src.issue(kpath + (k,), "unknown key",
                                        f"did you mean '{close[0]}'?" if close else
                                        f"allowed here: {', '.join(FIELDS)}"))
        per[side] = _fields(src, kpath, spec, issues)
    return per


def _side(link: Link, key: str) -> bool | None:
    for is_a, end in ((True, link.a), (False, link.b)):
        if key in (end.node, f"{end.node}:{end.name}"):
            return is_a
    return None


def _fields(src: Source, path: tuple, raw: dict, issues: list[Issue]) -> tuple[dict[str, Any], dict[str, tuple]]:
    """Parse the FIELDS present in `raw`: (values, path of each value)."""
    values: dict[str, Any] = {}
    paths: dict[str, tuple] = {}
    for key in FIELDS:
        if key not in raw:
            continue
        value, problem, hint = units.PARSERS[key](raw[key])
        if problem is not None:
            issues.append(src.issue(path + (key,), problem, hint))
            continue
        values[key] = value
        paths[key] = path + (key,)
    return values, paths


def _check(src: Source, link: Link, v: dict, paths: dict, issues: list[Issue]) -> Impairment | None:
    """Cross-field rules of one direction; None if any is broken."""
    imp = Impairment.from_fields(v)
    found = validate.problems(imp, link.mtu)
    for p in found:
        issue = src.issue(paths[p.field], p.message, p.hint, warning=p.warning)
        if issue not in issues:  # a link-wide value breaks a rule once, not once per direction
            issues.append(issue)
    return None if any(not p.warning for p in found) else imp
