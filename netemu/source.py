"""Load a YAML topology file keeping the line of every value, for error messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import Issue, TopologyError

PathKey = tuple[Any, ...]


def fmt_path(path: PathKey) -> str:
    """Render ('links', 1, 'mtu') as 'links[1].mtu'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not str(part).replace("_", "a").replace("-", "a").isalnum():
            out += f"[{str(part)!r}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class Source:
    """A parsed topology document: plain data plus the line of each path."""

    filename: str | None
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line(self, path: PathKey) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def issue(self, path: PathKey, message: str, hint: str | None = None, warning: bool = False) -> Issue:
        """An Issue at `path` with its line filled in."""
        return Issue(fmt_path(path), message, self.line(path), hint, warning)


# libyaml's C loader when present (several times faster), else the pure-Python one; both give marks.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _convert(node: yaml.Node, path: PathKey, lines: dict, issues: list, loader) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict = {}
        for knode, vnode in node.value:
            key = loader.construct_object(knode, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                issues.append(Issue(fmt_path(path), f"key {key!r} must be a plain string", knode.start_mark.line + 1))
                continue
            if isinstance(key, bool) or not isinstance(key, str):
                key = str(key)
            if key in out:
                issues.append(Issue(fmt_path(path + (key,)), "duplicate key", knode.start_mark.line + 1))
                continue
            out[key] = _convert(vnode, path + (key,), lines, issues, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(v, path + (i,), lines, issues, loader) for i, v in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def parse_text(text: str, filename: str | None = None) -> Source:
    """Parse YAML text into a Source; YAML syntax errors become a TopologyError."""
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            issues: list[Issue] = []
            lines: dict[PathKey, int] = {}
            data = _convert(root, (), lines, issues, loader) if root is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(e, "problem", None) or str(e)
        context, cmark = getattr(e, "context", None), getattr(e, "context_mark", None)
        if context and cmark is not None:
            problem += f" ({context} that starts at line {cmark.line + 1})"
        hint = None
        if line is not None and "\t" in "".join(text.splitlines()[max(0, line - 2):line]):
            hint = "YAML indents with spaces only: replace the tab characters"
        raise TopologyError(filename, [Issue("", f"YAML syntax error: {problem}", line, hint)]) from None
    if issues:
        raise TopologyError(filename, issues)
    if not isinstance(data, dict):
        raise TopologyError(filename, [Issue("", "a topology must be a mapping with 'name', 'nodes' and 'links'", 1)])
    return Source(filename, data, lines)


def load(path: str | Path) -> Source:
    """Read and parse a topology file."""
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise TopologyError(str(path), [Issue("", "file not found")]) from None
    except OSError as e:
        raise TopologyError(str(path), [Issue("", f"cannot read: {e.strerror}")]) from None
    return parse_text(text, str(path))
