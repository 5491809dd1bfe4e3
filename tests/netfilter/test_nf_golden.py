"""Golden tests (no root): topology YAML → rendered rule sets, and bad settings → exact messages.

Regenerate after an intended change with `UPDATE_GOLDEN=1 pytest tests/netfilter`, then review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import TOPOLOGIES

from netemu.errors import TopologyError
from netemu.netfilter.feature import plan
from netemu.parse import topology_from_text

HERE = Path(__file__).resolve().parent / "golden"
RENDER = sorted(p.name for p in (HERE / "render").glob("*.yaml"))
ERRORS = sorted(p.name for p in (HERE / "errors").glob("*.yaml"))


def rendered_plan(text: str, filename: str) -> str:
    """What `netemu plan` would show of the netfilter feature, rule files in full."""
    topo = topology_from_text(text, filename)
    out = [f"# {w}" for w in topo.warnings]
    for op in plan(topo, topo.feature("netfilter")):
        out.append(f"$ {op.text()}")
        if op.stdin:
            out.append(op.stdin.rstrip("\n"))
    return "\n".join(out) + "\n"


def check(got: str, expected: Path) -> None:
    if os.environ.get("UPDATE_GOLDEN"):
        expected.write_text(got)
    assert got == expected.read_text()


@pytest.mark.parametrize("name", RENDER)
def test_render_golden(name):
    path = HERE / "render" / name
    check(rendered_plan(path.read_text(), name), path.with_suffix(".rules"))


def test_internet_topology_golden():
    path = TOPOLOGIES / "internet.yaml"
    check(rendered_plan(path.read_text(), "internet.yaml"), HERE / "render" / "internet.rules")


@pytest.mark.parametrize("name", ERRORS)
def test_error_golden(name):
    path = HERE / "errors" / name
    with pytest.raises(TopologyError) as exc:
        topology_from_text(path.read_text(), name)
    issues = sorted(exc.value.issues + exc.value.warnings, key=lambda i: (i.line or 0, i.path))
    check("\n".join(i.render(name) for i in issues) + "\n", path.with_suffix(".txt"))
