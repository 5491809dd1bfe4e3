"""Golden tests (no root): link-emulation YAML → plan for each backend, bad values → exact messages.

Regenerate after an intended change with `UPDATE_GOLDEN=1 pytest tests/linkemu`, then review the diff.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from netemu.errors import TopologyError
from netemu.linkemu import feature
from netemu.parse import topology_from_text
from netemu.plan import build

HERE = Path(__file__).resolve().parent / "golden"


def _check(path: Path, got: str) -> None:
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(got)
    assert got == path.read_text()


def rendered(text: str, filename: str) -> str:
    """The feature's part of `netemu plan`, command inputs in full, machine paths replaced."""
    topo = topology_from_text(text, filename)
    out = [f"# {w}" for w in topo.warnings]
    for op in feature.plan(topo, topo.feature("linkemu")):
        line = op.text().replace(sys.executable, "PYTHON").replace(feature.DELAYLINE, "DELAYLINE")
        out.append(line)
        stdin = getattr(op, "stdin", None)
        if stdin:
            out += ["    " + x for x in stdin.splitlines()]
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("backend", ["fallback", "netem"])
def test_plan_golden(backend, monkeypatch):
    monkeypatch.setenv("NETEMU_LINKEMU_BACKEND", backend)
    monkeypatch.setenv("NETEMU_LINKEMU_TIMER_US", "1000")  # the machine's measured timer would vary
    src = HERE / "chain.yaml"
    _check(HERE / f"chain.{backend}.txt", rendered(src.read_text(), "chain.yaml"))


def test_errors_golden():
    src = HERE / "errors.yaml"
    with pytest.raises(TopologyError) as exc:
        topology_from_text(src.read_text(), "errors.yaml")
    got = "\n".join(i.render("errors.yaml") for i in exc.value.issues) + "\n"
    _check(HERE / "errors.txt", got)


def test_unimpaired_lab_plans_nothing():
    text = 'name: plain\nnodes: {a: {}, b: {}}\nlinks: [{endpoints: ["a 10.0.0.1/24", "b 10.0.0.2/24"]}]\n'
    topo = topology_from_text(text)
    assert topo.feature("linkemu") is None  # not used: not parsed, nothing attached
    ops = build(topo).ops
    assert not [op for op in ops if "tc" in op.text().split() or "NETEMU" in op.text()]
    impaired = text.replace("links: [{", "links: [{delay: 5ms, ")
    topo = topology_from_text(impaired)
    assert topo.feature("linkemu") is not None and feature.plan(topo, topo.feature("linkemu"))
