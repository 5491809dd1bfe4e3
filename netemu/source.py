"""Load a YAML topology file keeping the line of every value, for error messages."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import Issue, TopologyError, clip

MAX_BYTES = 16 * 1024 * 1024  # a topology is text written by people; 16 MiB is far beyond any real one
# YAML aliases may repeat a subtree; a document may expand to at most this many values beyond its own
# size ("billion laughs": 600 bytes that would expand to 10^9 values).
MAX_ALIAS_EXPANSION = 100_000
MAX_DEPTH = 100  # nesting deeper than this is no topology (and would exhaust Python's recursion limit)

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


class _Budget:
    """Counts values converted a second time through an alias, and the nodes on the current path."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.expanded = 0
        self.open: set[int] = set()


class _Refused(Exception):
    def __init__(self, issue: Issue):
        self.issue = issue


def _convert(node: yaml.Node, path: PathKey, lines: dict, issues: list, loader, budget: _Budget) -> Any:
    line = node.start_mark.line + 1
    lines[path] = line
    if len(path) > MAX_DEPTH:
        raise _Refused(Issue(_shown_path(path[:3]) + " …", f"values nest more than {MAX_DEPTH} levels deep", line))
    key_id = id(node)
    if key_id in budget.open:
        raise _Refused(Issue(_shown_path(path), "an alias refers to a value that contains it (a cycle)", line))
    if key_id in budget.seen and isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        budget.expanded += len(node.value)
        if budget.expanded > MAX_ALIAS_EXPANSION:
            raise _Refused(Issue(_shown_path(path), f"aliases expand to more than {MAX_ALIAS_EXPANSION} values "
                                 "(a 'billion laughs' document?); netemu refuses it", line))
    budget.seen.add(key_id)
    if isinstance(node, yaml.MappingNode):
        budget.open.add(key_id)
        out: dict = {}
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode):
                issues.append(Issue(_shown_path(path), "keys must be plain strings", knode.start_mark.line + 1))
                continue
            key = loader.construct_object(knode, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                issues.append(Issue(fmt_path(path), f"key {key!r} must be a plain string", knode.start_mark.line + 1))
                continue
            if isinstance(key, bool) or not isinstance(key, str):
                key = str(key)
            if key in out:
                issues.append(Issue(fmt_path(path + (key,)), "duplicate key", knode.start_mark.line + 1))
                continue
            out[key] = _convert(vnode, path + (key,), lines, issues, loader, budget)
        budget.open.discard(key_id)
        return out
    if isinstance(node, yaml.SequenceNode):
        budget.open.add(key_id)
        items = [_convert(v, path + (i,), lines, issues, loader, budget) for i, v in enumerate(node.value)]
        budget.open.discard(key_id)
        return items
    return loader.construct_object(node, deep=True)


def _shown_path(path: PathKey) -> str:
    return clip(fmt_path(path), 120)


def parse_text(text: str, filename: str | None = None) -> Source:
    """Parse YAML text into a Source; YAML syntax errors become a TopologyError."""
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            issues: list[Issue] = []
            lines: dict[PathKey, int] = {}
            data = _convert(root, (), lines, issues, loader, _Budget()) if root is not None else None
        finally:
            loader.dispose()
    except _Refused as e:
        raise TopologyError(filename, [e.issue]) from None
    except yaml.reader.ReaderError as e:
        # libyaml gives a character position, not a mark: count the lines up to it
        where = e.position if isinstance(e.position, int) else 0
        line = text.count("\n", 0, where) + 1
        code = ord(e.character) if isinstance(e.character, str) else e.character
        what = f"character U+{code:04X}" if isinstance(code, int) else "a character"
        raise TopologyError(filename, [Issue("", f"YAML cannot hold {what} (control characters, NUL and "
                                             "U+FFFE/U+FFFF are not allowed)", line)]) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = clip(getattr(e, "problem", None) or str(e))
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


_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))


def _not_regular(mode: int) -> str:
    return next((what for test, what in _KINDS if test(mode)), "not a regular file")


def read_text(path: str | Path) -> str:
    """A topology file's text: only a regular file (checked before it is opened, so a FIFO or a
    device is never read), at most MAX_BYTES, UTF-8 (TopologyError naming line and byte if not)."""
    name = str(path)

    def refuse(message: str, line: int | None = None) -> TopologyError:
        return TopologyError(name, [Issue("", message, line)])

    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise refuse(f"is {_not_regular(st.st_mode)}; netemu reads topologies only from regular files")
        if st.st_size > MAX_BYTES:
            raise refuse(f"is {st.st_size} bytes; a topology may be at most {MAX_BYTES // 2**20} MiB")
        # O_NONBLOCK: if a FIFO replaced the file since the stat, open returns at once instead of blocking
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise refuse("file not found") from None
    except OSError as e:
        raise refuse(f"cannot read: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise refuse(f"is {_not_regular(st.st_mode)}; netemu reads topologies only from regular files")
        with open(fd, "rb", closefd=False) as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise refuse(f"cannot read: {e.strerror or e}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_BYTES:
        raise refuse(f"is more than {MAX_BYTES // 2**20} MiB; a topology may be at most that")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise refuse(f"is not UTF-8 text: byte 0x{data[e.start]:02x} at column {column} "
                     f"(offset {e.start}) cannot be decoded", line) from None


def load(path: str | Path) -> Source:
    """Read and parse a topology file."""
    return parse_text(read_text(path), str(path))
