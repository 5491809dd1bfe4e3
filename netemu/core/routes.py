"""Written routes: `PREFIX|default via GW [dev IF] [metric N]`, read into Route (syntax and names only).

Whether a gateway is on a connected subnet is checked after derive, once every address is final
(netemu.core.checks).
"""

from __future__ import annotations

import ipaddress

from ..model import Route
from ..source import PathKey
from .reader import Reader

FORMS = ("forms: 'default via GW', 'PREFIX via GW', 'PREFIX dev IF', optionally followed by 'dev IF' and "
         "'metric N'")


def read_routes(r: Reader, path: PathKey, raw, kind: str | None, ifnames: set[str]) -> list[Route]:
    """The routes of one node (`raw` is its `routes:` value)."""
    if raw is None:
        return []
    path = path + ("routes",)
    if not isinstance(raw, list):
        r.err(path, "must be a list of strings such as 'default via 10.0.1.1'")
        return []
    if kind == "switch" and raw:
        r.err(path, "a switch is a bridge and has no IP routes")
        return []
    out = []
    for i, text in enumerate(raw):
        route = read_route(r, path + (i,), text, ifnames)
        if route is not None:
            out.append(route)
    seen: dict = {}
    for i, rt in enumerate(out):
        key = (rt.family, rt.dst, rt.metric)
        if key in seen:
            r.err(path + (i,), f"route to {rt.dst_text} given twice (also {seen[key]!r})")
        seen[key] = rt.text
    return out


def read_route(r: Reader, path: PathKey, text, ifnames: set[str]) -> Route | None:
    """One route string, or None (and an error) when it cannot be read."""
    if not isinstance(text, str):
        r.err(path, "must be a string such as '10.0.2.0/24 via 10.0.12.2'")
        return None
    words = text.split()
    if not words:
        r.err(path, "empty route")
        return None
    dst_word, rest = words[0], words[1:]
    opts: dict[str, str] = {}
    while rest:
        if len(rest) < 2 or rest[0] not in ("via", "dev", "metric"):
            r.err(path, f"cannot read {text!r}", FORMS)
            return None
        if rest[0] in opts:
            r.err(path, f"{rest[0]!r} given twice in {text!r}")
            return None
        opts[rest[0]] = rest[1]
        rest = rest[2:]
    via = None
    if "via" in opts:
        try:
            via = ipaddress.ip_address(opts["via"])
        except ValueError:
            r.err(path, f"gateway {opts['via']!r} is not an IP address")
            return None
    dst = None
    if dst_word not in ("default", "default4", "default6"):
        try:
            dst = ipaddress.ip_network(dst_word, strict=True)
        except ValueError as e:
            r.err(path, f"destination {dst_word!r} is not a prefix: {e}")
            return None
    if dst is not None:
        family = dst.version
    elif via is not None:
        family = via.version
    else:
        family = 6 if dst_word == "default6" else 4
    if via is not None and via.version != family:
        r.err(path, f"gateway {via} is IPv{via.version} but the destination is IPv{family}")
        return None
    if via is None and "dev" not in opts:
        r.err(path, f"route {text!r} needs 'via GATEWAY' or 'dev INTERFACE'")
        return None
    metric = None
    if "metric" in opts:
        try:
            metric = int(opts["metric"])
            if not 0 <= metric <= 2**32 - 1:
                raise ValueError
        except ValueError:
            r.err(path, f"metric {opts['metric']!r} must be a whole number 0..4294967295")
            return None
    dev = opts.get("dev")
    if dev is not None and dev not in ifnames:
        r.err(path, f"interface {dev!r} is not on this node", f"it has: {', '.join(sorted(ifnames)) or 'none'}")
        return None
    return Route(family, dst, via, dev, metric, text, line=r.src.line(path))
