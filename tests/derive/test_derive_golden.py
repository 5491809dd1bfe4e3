"""Golden tests of the derive stage: input YAML -> derived addresses, routes, sysctls and warnings.

Regenerate after an intended change with `UPDATE_GOLDEN=1 pytest tests/derive`, then review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from netemu.derive.show import derived_lines
from netemu.parse import topology_from_text

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name for p in GOLDEN.glob("*.yaml"))


def render(name: str) -> str:
    topo = topology_from_text((GOLDEN / name).read_text(), name)
    lines = derived_lines(topo)
    for node in topo.nodes:
        if node.sysctls:
            lines.append(f"sysctls {node.name}: " + ", ".join(f"{k}={v}" for k, v in node.sysctls))
    lines += list(topo.warnings)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name", CASES)
def test_derived_golden(name):
    got = render(name)
    expected = (GOLDEN / name).with_suffix(".txt")
    if os.environ.get("UPDATE_GOLDEN"):
        expected.write_text(got)
    assert got == expected.read_text()


def test_shipped_campus_is_the_golden_input():
    """The campus golden pins the shipped file, not a stale copy."""
    shipped = Path(__file__).parents[2] / "topologies" / "campus.yaml"
    assert (GOLDEN / "campus.yaml").read_text() == shipped.read_text()
