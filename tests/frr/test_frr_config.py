"""FRR configs derived from topologies (golden files) and the validation of the routing options."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from netemu.errors import TopologyError
from netemu.parse import topology_from_text

from frr_labs import BGP, RING

GOLDEN = Path(__file__).parent / "golden"


def configs(text: str) -> str:
    """Every router's every daemon config, as `plan --full` would show them, in one text."""
    topo = topology_from_text(text, "t.yaml")
    frr = topo.feature("frr")
    out = []
    for r in frr.routers:
        for daemon, conf in r.configs:
            out.append(f"==== {r.node} {daemon}\n{conf}")
    return "".join(out)


@pytest.mark.parametrize("name, text", [("ring", RING), ("bgp", BGP)])
def test_configs_match_golden_files(name, text):
    path = GOLDEN / f"{name}.txt"
    got = configs(text)
    if os.environ.get("NETEMU_REGOLD"):
        path.write_text(got)
    want = path.read_text()
    assert got == want, "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True), "golden", "got"))


def test_ring_config_facts():
    frr = topology_from_text(RING, "t.yaml").feature("frr")
    r1 = frr.router("r1")
    ospfd = r1.config("ospfd")
    # two routers on a wire: point-to-point (no DR election); the hosts' LAN is passive
    assert "interface eth1\n ip ospf area 0\n ip ospf network point-to-point\n" in ospfd
    assert "interface eth0\n ip ospf area 0\n ip ospf network point-to-point\n ip ospf passive\n" in ospfd
    assert " ip ospf cost 5\n" in ospfd.split("interface eth2")[1]
    assert " ip ospf hello-interval 1\n ip ospf dead-interval 4\n" in ospfd
    assert r1.daemons == ("zebra", "ospfd", "ospf6d")
    assert r1.ospf_peers == 2 and r1.ospf6_peers == 2
    assert "bgpd" not in r1.daemons


def test_bgp_config_facts():
    frr = topology_from_text(BGP, "t.yaml").feature("frr")
    r1, r3, r5 = frr.router("r1"), frr.router("r3"), frr.router("r5")
    bgpd = r1.config("bgpd")
    assert "router bgp 65001\n" in bgpd and "no bgp ebgp-requires-policy" in bgpd
    assert {(n.address, n.remote_as) for n in r1.bgp} == {("192.0.2.2", 65003), ("2001:db8:15::2", 65003),
                                                          ("192.0.2.6", 65002), ("2001:db8:12::2", 65002)}
    # an AS of one router runs no OSPF; the transit AS runs OSPF inside and iBGP between all its routers
    assert "ospfd" not in r1.daemons and "ospfd" not in r5.daemons
    assert "ospfd" in r3.daemons
    ibgp = [n for n in r3.bgp if n.remote_as == 65002]
    assert {n.node for n in ibgp} == {"r2", "r4"} and all(n.update_source and n.next_hop_self for n in ibgp)
    # r3's OSPF is active towards r2 and r4 only
    assert [i.name for i in r3.ospf if not i.passive] == ["eth1", "eth2"]
    assert "network 198.51.100.0/24" in bgpd


def test_ibgp_only_in_a_family_the_igp_carries():
    """IPv4-only links inside an AS with dual-stack loopbacks: no IPv6 iBGP session (it could never open)."""
    v4_inside = BGP.replace(" fd00:2:34::1/64", "").replace(" fd00:2:34::2/64", "")
    frr = topology_from_text(v4_inside, "t.yaml").feature("frr")
    ibgp = {(n.node, n.family) for n in frr.router("r2").bgp if n.remote_as == 65002}
    # r2-r3 still carries both families; r3-r4 only IPv4, so r4 is out of r2's IPv6 reach
    assert ibgp == {("r3", 4), ("r3", 6), ("r4", 4)}
    assert {(n.node, n.family) for n in frr.router("r4").bgp if n.remote_as == 65002} == {("r2", 4), ("r3", 4)}


def test_convergence_waits_only_for_routes_each_family_can_bring():
    """IPv4-only r3-r4 in AS65002: r4's IPv6 loopback leaves the AS only over eBGP, and AS65002's r2
    and r3 refuse it back (their AS is on its path); r4 has no IPv6 way to r2 and r3 at all."""
    v4_inside = BGP.replace(" fd00:2:34::1/64", "").replace(" fd00:2:34::2/64", "")
    frr = topology_from_text(v4_inside, "t.yaml").feature("frr")
    reach = {r.node: {str(p) for p in r.reach} for r in frr.routers}
    r2_lo6, r4_lo6 = "fd00:255::3/128", "fd00:255::5/128"
    assert r4_lo6 not in reach["r2"] | reach["r3"] and {r2_lo6, "fd00:2:23::/64"}.isdisjoint(reach["r4"])
    assert r4_lo6 in reach["r1"] and r4_lo6 in reach["r5"]  # outside AS65002 it is known, through r5
    assert "10.255.0.5/32" in reach["r2"]  # IPv4 still carried everywhere
    full = {r.node: {str(p) for p in r.reach} for r in topology_from_text(BGP, "t.yaml").feature("frr").routers}
    assert r4_lo6 in full["r2"] and r2_lo6 in full["r4"]


def test_route_reflectors_and_timers_and_extra_lines():
    text = BGP.replace("  protocol: bgp\n", "  protocol: bgp\n  route_reflectors: [r3]\n  bfd: true\n"
                       "  timers: {hello: 2, dead: 8, keepalive: 5, hold: 15}\n")
    text = text.replace("r5: {kind: router, as: 65003}", 'r5: {kind: router, as: 65003, frr: ["router bgp 65003", '
                        '" bgp log-neighbor-changes"]}')
    frr = topology_from_text(text, "t.yaml").feature("frr")
    r2, r3 = frr.router("r2"), frr.router("r3")
    assert {n.node for n in r2.bgp if n.remote_as == 65002} == {"r3"}  # a client peers with the reflector only
    assert all(n.rr_client for n in r3.bgp if n.remote_as == 65002)
    assert "route-reflector-client" in r3.config("bgpd")
    assert " timers bgp 5 15\n" in r2.config("bgpd") and " ip ospf dead-interval 8\n" in r2.config("ospfd")
    assert "bfdd" in r2.daemons and " neighbor 192.0.2.5 bfd\n" in r2.config("bgpd")
    assert frr.router("r5").extra == "router bgp 65003\n bgp log-neighbor-changes"
    assert "staticd" in frr.router("r5").daemons and "staticd" not in r2.daemons


BAD = [
    ("bgp-without-as", BGP.replace("r4: {kind: router, as: 65002}", "r4: {kind: router}"),
     ["routing: bgp needs 'as: NUMBER' on every router; missing on r4"]),
    ("bad-timers", RING.replace("routing: ospf", "routing: {protocol: ospf, timers: {hello: 5, dead: 5, wait: 1}}"),
     ["routing.timers.wait: unknown timer", "routing.timers: dead (5 s) must be longer than hello (5 s)"]),
    ("as-on-host", BGP.replace("h1: {kind: host}", "h1: {kind: host, as: 1}"), ["nodes.h1.as: only routers take"]),
    ("bad-as", BGP.replace("as: 65001", "as: 0"), ["nodes.r1.as: must be an AS number"]),
    ("unknown-option", RING.replace("routing: ospf", "routing: {protocol: ospf, bdf: true}"),
     ["routing.bdf: unknown routing option"]),
    ("bad-cost", RING.replace("cost: 5", "cost: 0"), ["links[4].cost: must be a whole number 1..65535"]),
]


@pytest.mark.parametrize("name, text, messages", BAD, ids=[b[0] for b in BAD])
def test_bad_routing_options_are_reported_with_their_line(name, text, messages):
    assert text not in (RING, BGP), "the test's edit did not apply"
    with pytest.raises(TopologyError) as e:
        topology_from_text(text, "t.yaml")
    shown = str(e.value)
    for m in messages:
        assert m in shown, shown
    assert "t.yaml:" in shown


def test_announce_and_an_as_without_igp():
    text = BGP.replace("  protocol: bgp\n", "  protocol: bgp\n  announce: {r1: [198.51.100.0/24]}\n"
                       "  igp: {65002: none}\n")
    frr = topology_from_text(text, "t.yaml").feature("frr")
    r1, r3 = frr.router("r1"), frr.router("r3")
    assert [str(n) for n in r1.networks] == ["198.51.100.0/24"]
    assert "network 192.0.2.0/30" not in r1.config("bgpd")
    # no OSPF in AS65002: iBGP only between neighbours on a shared link, with next-hop-self
    assert "ospfd" not in r3.daemons
    ibgp = [n for n in r3.bgp if n.remote_as == 65002]
    assert {(n.node, n.address) for n in ibgp if n.family == 4} == {("r2", "10.2.0.1"), ("r4", "10.2.0.6")}
    assert all(n.next_hop_self and n.update_source is None for n in ibgp)
