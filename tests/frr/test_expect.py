"""The OSPF routes netemu predicts for each router (pure): shortest paths by OSPF cost, every equal-cost next hop."""

from __future__ import annotations

from netemu.parse import topology_from_text

from frr_labs import BGP, RING

EVEN = RING.replace("    cost: 5\n", "")  # every link at FRR's veth cost: r1 reaches r3 both ways round

# Three routers on one switch (a shared segment: a network LSA, no point-to-point), a host LAN behind r3.
SHARED = """\
name: shared
routing: ospf
nodes:
  s1: {kind: switch}
  r1: {kind: router}
  r2: {kind: router}
  r3: {kind: router}
  h1: {kind: host}
links:
  - endpoints: ["r1:eth0 10.5.0.1/24", s1]
  - endpoints: ["r2:eth0 10.5.0.2/24", s1]
  - endpoints: ["r3:eth0 10.5.0.3/24", s1]
  - endpoints: ["r3:eth1 10.6.0.1/24", "h1:eth0 10.6.0.2/24"]
"""


def routes(text: str, node: str) -> dict:
    return dict(topology_from_text(text, "t.yaml").feature("frr").router(node).expect)


def test_the_cheaper_way_round_and_no_route_to_a_connected_prefix():
    r1 = routes(RING, "r1")
    # r1-r4 costs 5: r1-r4-r3 (5 + 10) beats r1-r2-r3 (10 + 10); the LAN adds r3's interface cost
    assert r1["10.0.2.0/24"] == (("10.1.41.1", "eth2"),)
    assert r1["fd00:2::/64"] == (("", "eth2"),)  # IPv6 next hops are link-local: told by interface
    # a point-to-point subnet is announced by both ends: through the nearer one
    assert r1["10.1.23.0/30"] == (("10.1.12.2", "eth1"),)  # r2 at 10 + 10, r3 at 15 + 10
    assert r1["10.1.34.0/30"] == (("10.1.41.1", "eth2"),)  # r4 at 5 + 10
    assert "10.0.1.0/24" not in r1 and "10.1.12.0/30" not in r1  # connected: the kernel's own routes
    assert len([p for p in r1 if ":" not in p]) == len([p for p in r1 if ":" in p])


def test_equal_cost_paths_give_every_next_hop():
    r1 = routes(EVEN, "r1")
    both = (("10.1.12.2", "eth1"), ("10.1.41.1", "eth2"))
    assert r1["10.0.2.0/24"] == both
    loopback = next(str(a.network) for a in topology_from_text(EVEN, "t.yaml").node("r3").loopbacks
                    if a.version == 4)
    assert r1[loopback] == both
    assert r1["10.1.23.0/30"] == (("10.1.12.2", "eth1"),)  # r2's end at 20 beats r3's at 30: no tie


def test_a_shared_segment_reaches_each_router_on_it_directly():
    r1 = routes(SHARED, "r1")
    assert r1["10.6.0.0/24"] == (("10.5.0.3", "eth0"),)
    assert "10.5.0.0/24" not in r1


def test_nothing_is_predicted_for_bgp_or_frr_lines():
    assert all(r.expect is None for r in topology_from_text(BGP, "t.yaml").feature("frr").routers)
    extra = RING.replace("  r2: {kind: router}", "  r2: {kind: router, frr: [\"ip route 192.0.2.0/24 blackhole\"]}")
    assert all(r.expect is None for r in topology_from_text(extra, "t.yaml").feature("frr").routers)
