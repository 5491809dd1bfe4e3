"""Nodes: kind, sysctls and written routes (interfaces come from the links)."""

from __future__ import annotations

from .. import names, sysctls
from ..model import KINDS, Interface, Node
from .reader import Reader
from .routes import read_routes

NODE_KEYS = {"kind", "routes", "sysctls"}


def read_kind(r: Reader, name, spec) -> str | None:
    """The node's kind, or None (and an error) when the node cannot be read."""
    path = ("nodes", name)
    if (p := names.node_name_problem(name)) is not None:
        r.err(path, p)
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        r.err(path, "must be a mapping such as {kind: host}")
        return None
    kind = spec.get("kind", "host")
    if kind not in KINDS:
        r.err(path + ("kind",), f"unknown kind {kind!r}", f"use one of {', '.join(KINDS)}")
        return None
    return kind


def read_node(r: Reader, name, spec, kind: str | None, ifaces: list[Interface], allowed: set) -> Node | None:
    """One node with its interfaces; None when its kind is unknown."""
    path = ("nodes", name)
    if not isinstance(spec, dict):
        spec = {}
    r.unknown_keys(path, spec, allowed)
    routes = read_routes(r, path, spec.get("routes"), kind, {i.name for i in ifaces})
    sysctl_items = read_sysctls(r, path, spec.get("sysctls"))
    if kind is None:
        return None
    extra = tuple((k, v) for k, v in spec.items() if k not in NODE_KEYS)
    return Node(name, kind, tuple(routes), tuple(sysctl_items), tuple(ifaces), extra, line=r.src.line(path))


def read_sysctls(r: Reader, path, raw) -> list[tuple[str, str]]:
    """A node's `sysctls:` mapping, keys normalised, values as text."""
    if raw is None:
        return []
    path = path + ("sysctls",)
    if not isinstance(raw, dict):
        r.err(path, "must be a mapping such as {net.ipv4.tcp_fastopen: 3}")
        return []
    out = []
    for key, value in raw.items():
        if (p := sysctls.problem(key)) is not None:
            r.err(path + (key,), p)
            continue
        if isinstance(value, (dict,)) or value is None:
            r.err(path + (key,), "value must be a number, string or list of numbers")
            continue
        out.append((sysctls.normalise(key), sysctls.value_text(value)))
    return out
