"""`netemu plan` shows what was derived; `validate` shows the forwarding check's warnings (no root)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from netemu.cli import main
from netemu.derive.show import derived_lines
from netemu.parse import load_topology

ROOT = Path(__file__).parents[2]
CAMPUS = str(ROOT / "topologies" / "campus.yaml")


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_plan_prints_the_derived_addresses_and_routes_before_the_operations():
    res = run("plan", CAMPUS)
    assert res.exit_code == 0
    lines = derived_lines(load_topology(CAMPUS))
    assert res.output.splitlines()[: len(lines)] == [f"# {line}" for line in lines]
    assert any(" route  default via " in line for line in lines) and any(" lo " in line for line in lines)
    data = json.loads(run("plan", "--json", CAMPUS).output)
    assert data["derived"]["edge1"]["loopbacks"] and data["derived"]["staff1"]["routes"]


def test_plan_of_a_written_lab_has_no_derived_section():
    res = run("plan", str(ROOT / "topologies" / "two-routers.yaml"))
    assert res.output.startswith("# lab two-routers:")
    assert "derived" not in json.loads(run("plan", "--json", str(ROOT / "topologies" / "two-routers.yaml")).output)


def test_validate_shows_the_missing_return_route_and_exits_0():
    path = ROOT / "tests" / "derive" / "golden" / "broken-v6-return.yaml"
    res = run("validate", str(path))
    assert res.exit_code == 0  # a warning: the lab is valid, only its forwarding is broken
    assert "nodes.r2: no IPv6 route to 2001:db8:1::/64 at r2" in res.output
