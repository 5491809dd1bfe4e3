"""FRR in real namespaces: OSPF converges and reroutes, BGP takes the backup AS path, nothing is left."""

from __future__ import annotations

import ipaddress
import json
import os
import re

import pytest
from conftest import leftovers, needs_root, netemu, unique_name
from netemu.parse import topology_from_text

from frr_labs import BGP, RING, lab_processes, needs_frr, poll, route_via, vtysh_json, write

TIMEOUT = 30.0  # seconds for routing to react to a cut link: the dead interval (4 s) with a wide margin


@pytest.fixture
def frr_lab(tmp_path):
    """Bring labs up through the CLI (which waits for convergence); remove and leak-check them after."""
    needs_root()
    needs_frr()
    names: list[str] = []

    def up(text: str, prefix: str) -> tuple[str, str]:
        name = unique_name(prefix)
        names.append(name)
        res = netemu("up", write(tmp_path, text, name), timeout=180)
        assert res.returncode == 0, res.stdout + res.stderr
        return name, res.stdout

    yield up
    for name in names:
        netemu("down", name)
        assert leftovers(name) == [], f"lab {name} left {leftovers(name)}"
        assert lab_processes(name) == [], f"lab {name} left processes {lab_processes(name)}"


def ping(lab: str, node: str, dst: str) -> bool:
    return netemu("exec", lab, node, "--", "ping", "-c", "1", "-W", "1", dst).returncode == 0


def kernel_ospf_routes(lab: str, node: str) -> dict[str, tuple[tuple[str, str], ...]]:
    """The routes zebra put in the node's kernel for OSPF, as `ip -j route` shows them: prefix -> sorted
    (next hop, device) pairs, IPv6 next hops (link-local) as ""."""
    out = {}
    for family in ("-4", "-6"):
        res = netemu("exec", lab, node, "--", "ip", "-j", family, "route", "show", "proto", "ospf", check=True)
        for route in json.loads(res.stdout):
            hops = route.get("nexthops") or [route]
            prefix = str(ipaddress.ip_network(route["dst"]))
            out[prefix] = tuple(sorted(("" if family == "-6" else h.get("gateway", ""), h["dev"]) for h in hops))
    return out


def test_ospf_ring_converges_and_reroutes_when_a_link_is_cut(frr_lab):
    lab, out = frr_lab(RING, "frr-ring")
    m = re.search(r"routing converged (\d+\.\d) s after the daemons started: (\d+) OSPF adjacencies", out)
    assert m, out
    assert int(m.group(2)) == 16  # 4 routers × 2 neighbours × (OSPFv2 + OSPFv3)
    assert "every OSPF route on a shortest path, as the topology predicts" in out, out
    frr = topology_from_text(RING, "t.yaml").feature("frr")
    for r in frr.routers:  # what the kernels hold, read with ip(8): the prediction, next hop for next hop
        assert kernel_ospf_routes(lab, r.node) == dict(r.expect), r.node
    assert ping(lab, "h1", "10.0.2.2") and ping(lab, "h1", "fd00:2::2")
    # cost 5 on r1-r4 makes r1-r4-r3 (15) shorter than r1-r2-r3 (20)
    assert route_via(lab, "r1", "10.0.2.2") == "10.1.41.1"
    ids = {n: frr.router(n).router_id for n in ("r2", "r4")}
    nbrs = vtysh_json(lab, "r1", "show ip ospf neighbor json")["neighbors"]
    assert set(nbrs) == {ids["r2"], ids["r4"]}  # seen by r1's own vtysh, not another node's
    res = netemu("link", lab, "r1:eth2", "down")
    assert res.returncode == 0, res.stderr
    assert poll(lambda: route_via(lab, "r1", "10.0.2.2") == "10.1.12.2", TIMEOUT), "r1 never rerouted via r2"
    assert poll(lambda: ping(lab, "h1", "10.0.2.2"), TIMEOUT)
    assert poll(lambda: ping(lab, "h1", "fd00:2::2"), TIMEOUT)
    assert "OSPF neighbours: 2" in netemu("status", lab, "r1", check=True).stdout
    status = json.loads(netemu("status", "--json", lab, "r1", check=True).stdout)["features"]["frr"]
    # once the cut is noticed, r4 is gone from r1's neighbours (both OSPF versions), r2 is Full
    assert poll(lambda: {(n["version"], n["neighbour"], n["state"].split("/")[0])
                         for n in json.loads(netemu("status", "--json", lab, "r1", check=True).stdout)
                         ["features"]["frr"]["ospf_neighbours"]} == {("ospfv2", ids["r2"], "Full"),
                                                                     ("ospfv3", ids["r2"], "Full")}, TIMEOUT), status


def test_bgp_backup_path_is_visible_and_used_after_the_cut(frr_lab):
    lab, out = frr_lab(BGP, "frr-bgp")
    assert "BGP sessions" in out, out
    assert ping(lab, "h1", "203.0.113.2") and ping(lab, "h1", "2001:db8:3::2")
    paths = vtysh_json(lab, "r1", "show ip bgp 203.0.113.0/24 json")["paths"]
    by_path = {p["aspath"]["string"]: p for p in paths}
    assert set(by_path) == {"65003", "65002 65003"}, by_path.keys()  # direct, and the backup through AS65002
    assert by_path["65003"].get("bestpath", {}).get("overall")
    assert route_via(lab, "r1", "203.0.113.2") == "192.0.2.2"
    assert netemu("link", lab, "r1:eth1", "down").returncode == 0
    def best_is_backup():
        ps = vtysh_json(lab, "r1", "show ip bgp 203.0.113.0/24 json").get("paths", [])
        return [p["aspath"]["string"] for p in ps if p.get("bestpath", {}).get("overall")] == ["65002 65003"]
    assert poll(best_is_backup, TIMEOUT), "the backup AS path never became best"
    assert poll(lambda: route_via(lab, "r1", "203.0.113.2") == "192.0.2.6", TIMEOUT)
    assert poll(lambda: ping(lab, "h1", "203.0.113.2"), TIMEOUT)
    assert poll(lambda: ping(lab, "h1", "2001:db8:3::2"), TIMEOUT)
    status = netemu("status", "--json", lab, "r1", check=True).stdout
    sessions = json.loads(status)["features"]["frr"]["bgp_sessions"]
    states = {s["peer"]: s["state"] for s in sessions}
    assert states["192.0.2.6"] == "Established" and states["192.0.2.2"] != "Established"


def test_vtysh_in_exec_talks_to_its_own_node_only(frr_lab):
    lab, _ = frr_lab(BGP, "frr-vty")
    ids = {n: vtysh_json(lab, n, "show bgp summary json")["ipv4Unicast"]["as"] for n in ("r1", "r3", "r5")}
    assert ids == {"r1": 65001, "r3": 65002, "r5": 65003}
    # plain vtysh, interactive form fed on stdin, works too
    res = netemu("exec", lab, "r5", "--", "vtysh", "-c", "show running-config", check=True)
    assert "hostname r5" in res.stdout and "router bgp 65003" in res.stdout


def test_missing_frr_is_reported_before_anything_is_created(tmp_path):
    needs_root()
    name = unique_name("frr-miss")
    env = dict(os.environ, NETEMU_FRR_DIR=str(tmp_path / "no-frr-here"))
    res = netemu("up", write(tmp_path, RING, name), env=env)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "FRR is not installed" in res.stderr and "apt-get install -y frr" in res.stderr, res.stderr
    assert leftovers(name) == []


def test_a_bad_extra_line_stops_up_with_frrs_message_and_rolls_back(tmp_path):
    needs_root()
    needs_frr()
    name = unique_name("frr-bad")
    text = RING.replace("r2: {kind: router}", 'r2: {kind: router, frr: ["router ospf", " no-such-command 1"]}')
    res = netemu("up", write(tmp_path, text, name), timeout=120)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "Unknown command" in res.stderr and "everything created was removed" in res.stderr, res.stderr
    assert leftovers(name) == [] and lab_processes(name) == []


def test_up_gives_up_with_a_clear_message_when_routing_cannot_converge(tmp_path):
    needs_root()
    needs_frr()
    name = unique_name("frr-stuck")
    # r2 keeps quiet on its link to r1: that OSPFv2 adjacency never forms
    text = RING.replace("r2: {kind: router}", 'r2: {kind: router, frr: ["interface eth1", " ip ospf passive"]}')
    try:
        res = netemu("up", "--wait-timeout", "8", write(tmp_path, text, name), timeout=180)
        assert res.returncode == 1, res.stdout + res.stderr
        assert f"routing of lab {name} did not converge within 8 s" in res.stderr, res.stderr
        assert "r1: 3/4 OSPF adjacencies full" in res.stderr and "r2: 3/4 OSPF adjacencies full" in res.stderr
        assert f"netemu down {name}" in res.stderr
        assert netemu("status", name).returncode == 0  # the lab stays up for a look
    finally:
        netemu("down", name)
    assert leftovers(name) == [] and lab_processes(name) == []


def test_no_wait_returns_before_convergence(tmp_path):
    needs_root()
    needs_frr()
    name = unique_name("frr-nowait")
    try:
        res = netemu("up", "--no-wait", write(tmp_path, RING, name), timeout=180)
        assert res.returncode == 0 and "converged" not in res.stdout + res.stderr, res.stdout + res.stderr
    finally:
        netemu("down", name)
    assert leftovers(name) == [] and lab_processes(name) == []
