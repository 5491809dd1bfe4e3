"""Dry-run every router's FRR configuration in one `vtysh -C`, and name the part a bad line is in.

FRR 8.4's `DAEMON -C -f FILE` exits 0 even when a line is unknown (measured: it only logs "No such
command on config line N"), so it cannot stop `up`. `vtysh -C` parses with the commands of every
daemon and exits non-zero on a line it cannot place; its start-up (loading that command tree) costs
more CPU than parsing a few thousand lines, so all parts go through one process.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..kernel import procs
from .ops import CheckConfigs

if TYPE_CHECKING:
    from ..apply import Runner

SHOWN = 10  # errors quoted in the message
_LINE = re.compile(r"^line (\d+): (.*)$")


def document(parts: list[tuple[str, str, str]]) -> tuple[str, list[tuple[int, str, int]]]:
    """The text vtysh reads, and (first line, label, lines of the reset) of each part in it."""
    lines: list[str] = []
    where: list[tuple[int, str, int]] = []
    for label, reset, text in parts:
        head = [reset] if reset else []
        where.append((len(lines) + 1, label, len(head)))
        lines += head + text.splitlines()
    return "".join(f"{line}\n" for line in lines), where


def locate(n: int, where: list[tuple[int, str, int]]) -> str:
    """`LABEL, line K` for line n of the document (K counted in the part's own file)."""
    label, first, skip = "?", 1, 0
    for start, name, head in where:
        if start > n:
            break
        label, first, skip = name, start, head
    return f"{label}, line {n - first - skip + 1}"


def explain(output: str, where: list[tuple[int, str, int]]) -> str:
    """vtysh's messages with each document line number replaced by its part and line."""
    out = []
    for line in output.splitlines():
        m = _LINE.match(line.strip())
        if m:
            out.append(f"{locate(int(m.group(1)), where)}: {m.group(2).strip()}")
        elif line.strip():
            out.append(line.strip())
    shown = out[:SHOWN] + ([f"… and {len(out) - SHOWN} more"] if len(out) > SHOWN else [])
    return "\n".join(shown)


def check(runner: Runner, op: CheckConfigs) -> None:
    """Run the dry run; RuntimeError with vtysh's messages (part and line each) when it fails."""
    texts = []
    for label, reset, path in op.parts:
        with open(path, encoding="utf-8") as f:
            texts.append((label, reset, f.read()))
    doc, where = document(texts)
    res = procs.run(op.ns, op.argv, doc)
    if res.returncode != 0:
        why = explain(res.stderr + res.stdout, where) or f"vtysh -C exited with status {res.returncode}"
        raise RuntimeError(f"FRR configuration rejected by vtysh -C:\n{why}")


