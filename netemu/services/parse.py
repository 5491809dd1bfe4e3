"""Parse and validate the `services:` key of nodes."""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
from typing import Any

from ..errors import Issue
from ..model import Topology
from ..source import PathKey, Source
from .model import BUILTINS, DEFAULT_READY_TIMEOUT, Service, Services

KEYS = ("name", "command", "builtin", "port", "proto", "ready", "ready_timeout", "after", "env", "cwd")
NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,30}[a-z0-9])?$")
ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PROBES = ("tcp", "udp", "file", "unix", "command")
EXAMPLE = "e.g. {name: api, command: 'python3 -m http.server 8000', ready: {tcp: 8000}}"


def parse(src: Source, topo: Topology) -> tuple[Services | None, list[Issue]]:
    """Every node's services in start order, and every problem found."""
    issues: list[Issue] = []
    found: list[tuple[Service, PathKey, list[tuple[str, PathKey]]]] = []
    raw_nodes = src.data.get("nodes") or {}
    for node in topo.nodes:
        raw = raw_nodes.get(node.name, {}).get("services") if isinstance(raw_nodes.get(node.name), dict) else None
        if raw is None:
            continue
        path: PathKey = ("nodes", node.name, "services")
        if node.is_switch:
            issues.append(src.issue(path, "a switch runs no services (it has no IP address); give them to a host"))
            continue
        if not isinstance(raw, list):
            issues.append(src.issue(path, f"must be a list of services, {EXAMPLE}, or a built-in: "
                                          f"{', '.join(BUILTINS)}"))
            continue
        names: set[str] = set()
        for i, entry in enumerate(raw):
            got = _service(src, node.name, entry, path + (i,), issues)
            if got is None:
                continue
            if got[0].name in names:
                issues.append(src.issue(path + (i,), f"service {got[0].name!r} given twice in node {node.name!r}",
                                        "give one of them another `name:`"))
                continue
            names.add(got[0].name)
            found.append((got[0], path + (i,), got[1]))
    if not found:
        return None, issues
    resolved = _resolve_after(src, found, issues)
    if any(not i.warning for i in issues):
        return None, issues
    ordered = _start_order(src, resolved, issues)
    return (Services(tuple(ordered)) if ordered is not None else None), issues


def _service(src: Source, node: str, entry: Any, path: PathKey,
             issues: list[Issue]) -> tuple[Service, list[tuple[str, PathKey]]] | None:
    if isinstance(entry, str):
        entry = {"builtin": entry}
        if entry["builtin"] not in BUILTINS:
            issues.append(src.issue(path, f"{entry['builtin']!r} is not a built-in service "
                                          f"({', '.join(BUILTINS)})", f"to run your own program write {EXAMPLE}"))
            return None
    if not isinstance(entry, dict):
        issues.append(src.issue(path, f"must be a built-in's name ({', '.join(BUILTINS)}) or a mapping, {EXAMPLE}"))
        return None
    before = len(issues)
    for key in entry:
        if key not in KEYS:
            issues.append(src.issue(path + (key,), "unknown key", f"a service takes {', '.join(KEYS)}"))
    builtin, command = entry.get("builtin"), entry.get("command")
    argv: tuple[str, ...] = ()
    ready: tuple[str, ...] | None = None
    if (builtin is None) == (command is None):
        issues.append(src.issue(path, "give either `command:` (your program) or `builtin:` "
                                      f"({', '.join(BUILTINS)}), not both or neither"))
    elif builtin is not None:
        b = BUILTINS.get(builtin) if isinstance(builtin, str) else None
        if b is None:
            issues.append(src.issue(path + ("builtin",), f"{builtin!r} is not a built-in service "
                                                         f"({', '.join(BUILTINS)})"))
        else:
            port = _port(src, entry.get("port", b.port), path + ("port",), issues)
            proto = entry.get("proto", "both" if "both" in b.protos else b.protos[0])
            if proto not in b.protos:
                issues.append(src.issue(path + ("proto",), f"{b.name} serves {' or '.join(b.protos)}, not {proto!r}"))
            elif port is not None:
                argv, ready = b.argv(node, port, proto), b.ready(port, proto)
    else:
        for key in ("port", "proto"):
            if key in entry:
                issues.append(src.issue(path + (key,), f"`{key}:` is for built-ins; your command chooses its own"))
        argv = _argv(src, command, path + ("command",), issues)
    name = entry.get("name", builtin)
    if not isinstance(name, str) or not NAME_RE.match(name):
        issues.append(src.issue(path + ("name",), f"{name!r} is not a service name: 1-32 lowercase letters, digits, "
                                                  "'-' and '_'" if name is not None else "a command needs a `name:`"))
    if "ready" in entry:
        ready = _ready(src, entry["ready"], path + ("ready",), issues)
    timeout = entry.get("ready_timeout", DEFAULT_READY_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 600:
        issues.append(src.issue(path + ("ready_timeout",), f"must be seconds, more than 0 and at most 600, "
                                                           f"got {timeout!r}"))
    after = _after(src, node, entry.get("after", []), path + ("after",), issues)
    env = _env(src, entry.get("env", {}), path + ("env",), issues)
    cwd = entry.get("cwd")
    if cwd is not None and (not isinstance(cwd, str) or not os.path.isabs(cwd)):
        issues.append(src.issue(path + ("cwd",), f"must be an absolute directory path, got {cwd!r}"))
    if len(issues) > before and not isinstance(name, str):
        return None
    # Kept even when invalid (parse() then returns no model), so `after:` references to it are checked too.
    return Service(node, name, argv, ready, float(timeout) if isinstance(timeout, (int, float)) else 0.0, (), env,
                   cwd, builtin), after


def _port(src: Source, value: Any, path: PathKey, issues: list[Issue]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        issues.append(src.issue(path, f"must be a port number 1-65535, got {value!r}"))
        return None
    return value


def _argv(src: Source, value: Any, path: PathKey, issues: list[Issue]) -> tuple[str, ...]:
    if isinstance(value, list) and value and all(isinstance(a, (str, int, float)) for a in value):
        return tuple(str(a) for a in value)
    if isinstance(value, str):
        try:
            argv = shlex.split(value)
        except ValueError as e:
            issues.append(src.issue(path, f"cannot be split into words: {e}"))
            return ()
        if argv:
            return tuple(argv)
    issues.append(src.issue(path, "must be a command line (string, split like a shell does, without pipes or "
                                  "redirections) or a list of words", "for shell syntax write: sh -c '…'"))
    return ()


def _ready(src: Source, value: Any, path: PathKey, issues: list[Issue]) -> tuple[str, ...] | None:
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in PROBES:
        issues.append(src.issue(path, f"must be one probe: {{tcp: PORT}}, {{udp: PORT}}, {{file: PATH}}, "
                                      f"{{unix: PATH}} or {{command: CMD}}, got {value!r}"))
        return None
    kind, arg = next(iter(value.items()))
    if kind in ("tcp", "udp"):
        port = _port(src, arg, path + (kind,), issues)
        return (kind, str(port)) if port is not None else None
    if kind in ("file", "unix"):
        if not isinstance(arg, str) or not os.path.isabs(arg):
            issues.append(src.issue(path + (kind,), f"must be an absolute path, got {arg!r}"))
            return None
        return (kind, arg)
    argv = _argv(src, arg, path + (kind,), issues)
    return ("command", *argv) if argv else None


def _after(src: Source, node: str, value: Any, path: PathKey, issues: list[Issue]) -> list[tuple[str, PathKey]]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(a, str) for a in items):
        issues.append(src.issue(path, "must be a service (SERVICE of this node, or NODE:SERVICE) or a list of them"))
        return []
    return [(a if ":" in a else f"{node}:{a}", path + (i,) if isinstance(value, list) else path)
            for i, a in enumerate(items)]


def _env(src: Source, value: Any, path: PathKey, issues: list[Issue]) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        issues.append(src.issue(path, "must map variable names to values, e.g. {PORT: 8000}"))
        return ()
    out = []
    for k, v in value.items():
        if not ENV_RE.match(k):
            issues.append(src.issue(path + (k,), "is not an environment variable name"))
        elif v is None or isinstance(v, (dict, list)):
            issues.append(src.issue(path + (k,), f"must be a string or number, got {v!r}"))
        else:
            out.append((k, str(v).lower() if isinstance(v, bool) else str(v)))
    return tuple(out)


def _resolve_after(src: Source, found: list[tuple[Service, PathKey, list[tuple[str, PathKey]]]],
                   issues: list[Issue]) -> list[tuple[Service, PathKey]]:
    known = {f"{s.node}:{s.name}" for s, _, _ in found}
    out = []
    for s, path, after in found:
        deps = []
        for ref, rpath in after:
            if ref not in known:
                issues.append(src.issue(rpath, f"no service {ref!r} in this lab "
                                               f"(services: {', '.join(sorted(known))})"))
            elif ref == f"{s.node}:{s.name}":
                issues.append(src.issue(rpath, "a service cannot wait for itself"))
            else:
                deps.append(tuple(ref.split(":", 1)))
        out.append((dataclasses.replace(s, after=tuple(deps)), path))
    return out


def _start_order(src: Source, services: list[tuple[Service, PathKey]], issues: list[Issue]) -> list[Service] | None:
    """As written, except that each service comes after those it waits for (a cycle is an error)."""
    pending = list(services)
    done: set[tuple[str, str]] = set()
    ordered: list[Service] = []
    while pending:
        ready = next((p for p in pending if set(p[0].after) <= done), None)
        if ready is None:
            cycle = " -> ".join(f"{s.node}:{s.name}" for s, _ in pending)
            issues.append(src.issue(pending[0][1] + ("after",), f"these services wait for each other in a circle: "
                                                               f"{cycle}"))
            return None
        pending.remove(ready)
        done.add((ready[0].node, ready[0].name))
        ordered.append(ready[0])
    return ordered
