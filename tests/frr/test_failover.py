"""The failover scenario: routing variants of one topology, and a real run against the timers."""

from __future__ import annotations

import json

import yaml
from conftest import leftovers, needs_root, netemu, unique_name
from frr_labs import BGP, lab_processes, needs_frr

from netemu.parse import topology_from_text
from netemu.scenarios.builtin.failover import MODES, Mode, variant


def test_variants_route_the_same_topology_each_way():
    for mode in MODES:
        text = variant(BGP, mode, "fo-x")
        data = yaml.safe_load(text)
        topo = topology_from_text(text, "v.yaml")
        assert topo.routing.protocol == mode.protocol
        assert any("as" in n for n in data["nodes"].values()) == (mode.protocol == "bgp")
        frr = topo.feature("frr")
        assert (frr is None) == (mode.protocol == "static")
        if frr is not None:
            assert frr.options.bfd == mode.bfd


def test_bounds_come_from_the_timers():
    timers = {"hello": 2, "dead": 8, "keepalive": 5, "hold": 15}
    assert Mode("static", "static").silent_bounds(timers) is None
    assert Mode("ospf", "ospf").silent_bounds(timers) == (6, 9.5)
    assert Mode("bgp", "bgp").silent_bounds(timers) == (10, 16.5)


def test_failover_run_matches_the_timers(tmp_path):
    needs_root()
    needs_frr()
    name = unique_name("frr-fo")
    res = netemu("run", "failover", "--quick", "--json", "--lab-name", name, "--report-dir", str(tmp_path / "r"),
                 timeout=600)
    out = json.loads(res.stdout)
    checks = {c["name"]: c["passed"] for c in out["checks"]}
    assert res.returncode == 0 and all(checks.values()), res.stdout[-3000:] + res.stderr[-2000:]
    assert {"static: never recovers", "ospf: silent failure recovers after dead interval 4 s",
            "bgp: silent failure recovers after hold time 9 s"} <= set(checks)
    assert (tmp_path / "r" / "timeline.svg").exists()
    for lab in (name, f"{name}-static", f"{name}-ospf", f"{name}-bgpbfd"):
        assert leftovers(lab) == [] and lab_processes(lab) == []
