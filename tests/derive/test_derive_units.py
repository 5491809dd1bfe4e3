"""The derive stage's rules, one test each: numbering, precedence, costs, errors, one validation pass."""

from __future__ import annotations

import ipaddress
import re

import pytest

from netemu.errors import TopologyError
from netemu.forwarding.check import analyse
from netemu.forwarding.lookup import lookup
from netemu.parse import topology_from_text

CAMPUS = """
name: c
routing: static
nodes:
  h1: {}
  h2: {}
  r1: {kind: router}
  r2: {kind: router}
  sw: {kind: switch}
links:
  - endpoints: [h1, sw]
  - endpoints: [r1, sw]
  - endpoints: [r1, r2]
  - endpoints: [r2, h2]
"""


def addresses(topo) -> dict:
    return {(n.name, i.name): [str(a) for a in i.addresses] for n in topo.nodes for i in n.interfaces}


def routes(topo, node) -> list[str]:
    return [r.text for r in topo.node(node).routes]


def test_dual_stack_by_default_and_loopbacks_for_routers():
    topo = topology_from_text(CAMPUS)
    for (node, _), addrs in addresses(topo).items():
        if node != "sw":
            assert sorted(ipaddress.ip_interface(a).version for a in addrs) == [4, 6], (node, addrs)
    assert [a.version for a in topo.node("r1").loopbacks] == [4, 6]
    assert topo.node("h1").loopbacks == ()


def test_numbering_is_stable_when_nodes_and_links_are_added():
    def per_node(text):
        topo = topology_from_text(text)
        return {n.name: {str(a) for a in n.addresses()} | {str(a) for a in n.loopbacks} for n in topo.nodes}

    before = per_node(CAMPUS)
    grown = CAMPUS.replace("  sw: {kind: switch}\n", "  sw: {kind: switch}\n  h9: {}\n  r9: {kind: router}\n")
    # a link inserted first shifts r1's interface names: its addresses must follow the segments
    grown = grown.replace("links:\n", "links:\n  - endpoints: [r9, r1]\n") + "  - endpoints: [h9, r9]\n"
    after = per_node(grown)
    for node, addrs in before.items():
        assert addrs <= after[node], node
    assert len(after["r1"] - before["r1"]) == 2  # one new link, both families


def test_explicit_addresses_win_and_pools_never_hand_them_out():
    text = CAMPUS.replace("[r1, r2]", '["r1 10.254.0.1/30", "r2 10.254.0.2/30"]')
    taken = "10.128.0.0/9"  # the whole LAN pool written on one interface: the pool must skip it
    text = text.replace("[r2, h2]", f'["r2 10.200.0.1/24", h2]')
    topo = topology_from_text(text)
    assert addresses(topo)[("r1", "eth1")] == ["10.254.0.1/30"]  # exactly what is written, no IPv6 added
    assert addresses(topo)[("h2", "eth0")] == ["10.200.0.2/24"]  # in the written subnet, IPv4 only
    written = {"10.254.0.1", "10.254.0.2", "10.200.0.1"}
    auto = [a for n in topo.nodes for i in n.interfaces for a in i.auto]
    assert auto and not {str(a.ip) for a in auto} & written
    assert all(not a.network.overlaps(ipaddress.ip_network("10.254.0.0/30")) for a in auto if a.version == 4)
    assert taken  # (documentation of intent)


def test_handwritten_routes_take_precedence():
    topo = topology_from_text(CAMPUS)
    lan = next(a.network for a in topo.node("h2").addresses() if a.version == 4)
    gw = next(a.ip for a in topo.node("r1").addresses() if a.version == 4 and not a.network.prefixlen == 24)
    text = CAMPUS.replace("r1: {kind: router}", f'r1: {{kind: router, routes: ["{lan} dev eth1"]}}')
    mine = topology_from_text(text).node("r1").routes
    assert [r.origin for r in mine if r.dst == lan] == ["written"]
    assert gw is not None


def test_cost_steers_the_shortest_path():
    text = """
name: k
routing: static
nodes: {a: {}, b: {}, r1: {kind: router}, r2: {kind: router}, r3: {kind: router}}
links:
  - endpoints: [a, r1]
  - endpoints: [r1, r2]
    cost: COST
  - endpoints: [r1, r3]
  - endpoints: [r3, r2]
  - endpoints: [r2, b]
"""
    def first_hop(cost: int) -> str:
        topo = topology_from_text(text.replace("COST", str(cost)))
        dst = next(a.ip for a in topo.node("b").addresses() if a.version == 6)
        hop = lookup(topo.node("r1"), dst)
        return next(n.name for n in topo.nodes if any(a.ip == hop.gateway for a in n.addresses()))

    assert first_hop(1) == "r2"
    assert first_hop(3) == "r3"


def test_single_stack_and_custom_pools():
    text = CAMPUS.replace("routing: static\n", "routing: static\naddressing: {ipv6: false, lan: {ipv4: 172.20.0.0/16}}\n")
    topo = topology_from_text(text)
    h1 = topo.node("h1").addresses()
    assert [a.version for a in h1] == [4] and h1[0] in ipaddress.ip_network("172.20.0.0/16")


def test_no_routing_means_only_what_is_written():
    topo = topology_from_text(CAMPUS.replace("routing: static\n", ""))
    assert all(not n.routes and not n.loopbacks for n in topo.nodes)


@pytest.mark.parametrize("snippet, message", [
    ("routing: rip\n", "unknown routing protocol 'rip'"),
    ("addressing: {lan: {ipv4: 10.0.0.0/33}}\n", "addressing.lan.ipv4"),
    ("addressing: {lan: {prefix: 8, ipv4: 10.0.0.0/16}}\n", "addressing.lan.prefix"),
    ("addressing: {wan: {}}\n", "addressing.wan: unknown key"),
    ("defaults: {kind: router}\n", "defaults.kind: unknown key"),
])
def test_bad_settings_are_reported_with_their_line(snippet, message):
    text = CAMPUS.replace("routing: static\n", snippet)
    with pytest.raises(TopologyError) as exc:
        topology_from_text(text, "t.yaml")
    assert message in str(exc.value)
    assert re.search(r"t\.yaml:3: ", str(exc.value)), str(exc.value)


def test_bad_cost():
    with pytest.raises(TopologyError) as exc:
        topology_from_text(CAMPUS.replace("  - endpoints: [r1, r2]\n", "  - endpoints: [r1, r2]\n    cost: 0\n"), "t.yaml")
    assert "links[2].cost: must be a whole number 1..65535, got 0" in str(exc.value)


def test_every_layer_is_validated_in_one_pass():
    """Issue 15.4: a core error (bad gateway, bad sysctl) no longer hides NAT, DNS and link errors."""
    text = """
name: onepass
nodes:
  h1: {routes: ["default via 10.9.9.9"], sysctls: {kernel.panic: 1}, resolver: nobody}
  r1: {kind: router, nat: {masquerade: eth7}}
links:
  - endpoints: ["h1 10.0.0.2/24", "r1 10.0.0.1/24"]
    delay: 10 parsecs
"""
    with pytest.raises(TopologyError) as exc:
        topology_from_text(text, "o.yaml")
    msg = str(exc.value)
    assert "gateway 10.9.9.9 is not on any subnet" in msg  # core, after derive
    assert "nodes.h1.sysctls" in msg  # core
    assert "nodes.r1.nat" in msg  # netfilter
    assert "nodes.h1.resolver" in msg  # dns
    assert "links[0].delay" in msg  # link emulation


def test_forwarding_check_names_the_router_and_prefix_of_a_missing_return_route():
    text = """
name: t
nodes:
  h1: {routes: ["default via 2001:db8:1::1"]}
  r1: {kind: router, routes: ["2001:db8:2::/64 via 2001:db8:12::2"]}
  r2: {kind: router}
  h2: {routes: ["default via 2001:db8:2::1"]}
links:
  - endpoints: ["h1 2001:db8:1::2/64", "r1 2001:db8:1::1/64"]
  - endpoints: ["r1 2001:db8:12::1/64", "r2 2001:db8:12::2/64"]
  - endpoints: ["r2 2001:db8:2::1/64", "h2 2001:db8:2::2/64"]
"""
    topo = topology_from_text(text, "t.yaml")
    assert len(topo.warnings) == 1
    w = topo.warnings[0]
    assert w.startswith("t.yaml:6: warning: nodes.r2: no IPv6 route to 2001:db8:1::/64 at r2")
    assert "missing return path: h1 reaches h2" in w


def test_forwarding_check_is_quiet_on_a_static_lab_and_walks_both_families():
    topo = topology_from_text(CAMPUS)
    assert topo.warnings == ()
    assert not analyse(topo).findings


def test_scenario_paths_use_the_core_lookup():
    from netemu.scenarios import paths

    assert not hasattr(paths, "_route")
    assert paths.lookup is lookup


def test_forwarding_check_in_a_nat_lab_follows_nat_and_names_the_node():
    from pathlib import Path

    # the internet lab with static routes (with routing: bgp the check leaves the routers' routes to FRR)
    text = (Path(__file__).parents[1] / "scenarios" / "internet-static.yaml").read_text()
    assert topology_from_text(text, "internet.yaml").warnings == ()  # NAT hiding hosts is not a fault
    broken = text.replace('''  web:
    kind: host
    routes: ["default via 10.20.0.1"]''', '''  web:
    kind: host
    routes: ["10.20.0.0/24 dev eth0"]''')
    assert broken != text
    warnings = topology_from_text(broken, "internet.yaml").warnings
    assert warnings and all(": warning: nodes.web: IPv4: web has no route to " in w for w in warnings)
