"""Scenario paths through routers that learn their routes from BGP: read from their live FIBs (root, FRR)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from conftest import TOPOLOGIES, leftovers, needs_root, netemu, renamed, unique_name

from netemu.parse import topology_from_text
from netemu.scenarios import paths

sys.path.insert(0, str(Path(__file__).parents[1] / "frr"))
from frr_labs import needs_frr  # noqa: E402


def test_the_path_follows_bgp_when_the_direct_link_is_cut(tmp_path):
    """bgp.yaml: h1 reaches h2 directly (AS65001-AS65003); with that link cut, BGP's backup through AS65002
    is what the kernels forward by, and the walk finds it without anything in the model changing."""
    needs_root()
    needs_frr()
    name = unique_name("ia-live")
    text = renamed((TOPOLOGIES / "bgp.yaml").read_text(), name)
    path = tmp_path / "bgp.yaml"
    path.write_text(text)
    topo = topology_from_text(text, str(path))
    with pytest.raises(paths.PathError, match=r"r1 has no route to 203.0.113.2 \(its routes come from BGP"):
        paths.between(topo, "h1", "h2", 4)  # not up yet: nothing is known of r1's routes
    res = netemu("up", str(path), timeout=180)
    try:
        assert res.returncode == 0, res.stdout + res.stderr
        assert paths.between(topo, "h1", "h2", 4).nodes() == ["h1", "r1", "r5", "h2"]
        assert paths.round_trip(topo, "h1", "h2", 6)[1].nodes() == ["h2", "r5", "r1", "h1"]
        res = netemu("link", name, "r1:eth1", "down")
        assert res.returncode == 0, res.stdout + res.stderr
        deadline = time.monotonic() + 30  # carrier loss ends the eBGP session at once; hold time 9 s at most
        backup = ["h1", "r1", "r2", "r3", "r4", "r5", "h2"]
        while time.monotonic() < deadline:
            try:
                if paths.between(topo, "h1", "h2", 4).nodes() == backup:
                    break
            except paths.PathError:
                pass  # withdrawn, not yet replaced
            time.sleep(0.2)
        there, back = paths.round_trip(topo, "h1", "h2", 4)
        assert there.nodes() == backup and back.nodes() == list(reversed(backup))
    finally:
        netemu("down", name)
    assert leftovers(name) == []
