"""Path derivation from the topology model alone (no root): hops, MTUs, the narrowest hop."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
import yaml
from conftest import TOPOLOGIES

from netemu.parse import load_topology, topology_from_text
from netemu.scenarios import paths
from netemu.scenarios.paths import PathError


def topo(text: str):
    return topology_from_text(text, "<test>")


PMTUD = load_topology(str(TOPOLOGIES / "pmtud.yaml"))


@pytest.mark.parametrize("family", [4, 6])
def test_pmtud_path_and_narrowest_hop(family):
    p = paths.between(PMTUD, "sender", "receiver", family)
    assert p.nodes() == ["sender", "r1", "r2", "receiver"]
    assert [h.mtu for h in p.hops] == [1500, 1400, 1500]
    assert p.mtu == 1400
    hop = p.narrowest()
    assert (hop.node, hop.ifname, hop.next_node) == ("r1", "eth1", "r2")
    assert p.describe() == "sender -eth0/1500-> r1 -eth1/1400-> r2 -eth1/1500-> receiver"
    back = paths.between(PMTUD, "receiver", "sender", family)
    assert back.nodes() == ["receiver", "r2", "r1", "sender"]
    assert back.narrowest().node == "r2"


def test_no_narrower_hop_is_reported_as_none():
    t = load_topology(str(TOPOLOGIES / "nagle.yaml"))
    p = paths.between(t, "client", "server", 4)
    assert p.mtu == 1500 and p.narrowest() is None and len(p.hops) == 1


def test_sender_link_narrowest_is_not_a_discovery():
    t = topo("""
name: x
nodes:
  a: {routes: [default via 10.0.1.1]}
  r: {kind: router}
  b: {routes: [default via 10.0.2.1]}
links:
  - {endpoints: ["a 10.0.1.2/24", "r 10.0.1.1/24"], mtu: 1300}
  - {endpoints: ["r 10.0.2.1/24", "b 10.0.2.2/24"]}
""")
    p = paths.between(t, "a", "b", 4)
    assert p.mtu == 1300 and p.narrowest() is None  # a knows its own MTU: nothing to discover
    assert paths.between(t, "b", "a", 4).narrowest().node == "r"


def test_path_through_a_switch_and_longest_prefix():
    t = topo("""
name: x
nodes:
  h1: {routes: [default via 10.0.0.1, 10.9.0.0/16 via 10.0.0.3]}
  sw: {kind: switch}
  r1: {kind: router, routes: [default via 10.0.5.2]}
  r2: {kind: router}
  far: {routes: [default via 10.0.5.1]}
links:
  - {endpoints: ["h1 10.0.0.2/24", sw], mtu: 1500}
  - {endpoints: ["r1:eth0 10.0.0.1/24", sw]}
  - {endpoints: ["r2:eth0 10.0.0.3/24", sw]}
  - {endpoints: ["r1:eth1 10.0.5.1/24", "far 10.0.5.2/24 10.9.1.1/16"], mtu: 1450}
""")
    via_r1 = paths.derive(t, "h1", ipaddress.ip_address("10.0.5.2"))
    assert via_r1.nodes() == ["h1", "r1", "far"] and via_r1.mtu == 1450
    # the /16 route (longer than default) goes to r2, which has no route onwards
    with pytest.raises(PathError, match="r2 has no route"):
        paths.derive(t, "h1", ipaddress.ip_address("10.9.1.1"))


def test_ipv6_link_local_gateway_is_found_by_its_mac():
    base = topo("""
name: x
nodes:
  a: {}
  r: {kind: router}
  b: {routes: [default via 2001:db8:2::1]}
links:
  - {endpoints: ["a:eth0 2001:db8:1::2/64", "r:eth0 2001:db8:1::1/64"]}
  - {endpoints: ["r:eth1 2001:db8:2::1/64", "b:eth0 2001:db8:2::2/64"]}
""")
    ll = paths.link_local(base.node("r").interface("eth0").mac)
    assert ll.is_link_local
    t = topo(f"""
name: x
nodes:
  a: {{routes: ["default via {ll} dev eth0"]}}
  r: {{kind: router}}
  b: {{routes: [default via 2001:db8:2::1]}}
links:
  - {{endpoints: ["a:eth0 2001:db8:1::2/64", "r:eth0 2001:db8:1::1/64"]}}
  - {{endpoints: ["r:eth1 2001:db8:2::1/64", "b:eth0 2001:db8:2::2/64"]}}
""")
    assert paths.between(t, "a", "b", 6).nodes() == ["a", "r", "b"]


def test_link_local_of_a_mac():
    assert str(paths.link_local("02:00:00:00:00:01")) == "fe80::ff:fe00:1"


def test_a_host_does_not_forward():
    t = topo("""
name: x
nodes:
  a: {routes: [default via 10.0.1.1]}
  h: {}
  b: {routes: [default via 10.0.2.1]}
links:
  - {endpoints: ["a 10.0.1.2/24", "h 10.0.1.1/24"]}
  - {endpoints: ["h 10.0.2.1/24", "b 10.0.2.2/24"]}
""")
    with pytest.raises(PathError, match="h is a host without IPv4 forwarding"):
        paths.between(t, "a", "b", 4)
    forwarding = topo("""
name: x
nodes:
  a: {routes: [default via 10.0.1.1]}
  h: {sysctls: {net.ipv4.ip_forward: 1}}
  b: {routes: [default via 10.0.2.1]}
links:
  - {endpoints: ["a 10.0.1.2/24", "h 10.0.1.1/24"]}
  - {endpoints: ["h 10.0.2.1/24", "b 10.0.2.2/24"]}
""")
    assert paths.between(forwarding, "a", "b", 4).nodes() == ["a", "h", "b"]


def test_missing_owner_route_and_family():
    t = topo("""
name: x
nodes:
  a: {routes: [default via 10.0.1.1]}
  r1: {kind: router, routes: [default via 10.0.2.2]}
  r2: {kind: router, routes: [default via 10.0.2.1]}
  b: {}
links:
  - {endpoints: ["a 10.0.1.2/24", "r1 10.0.1.1/24"]}
  - {endpoints: ["r1 10.0.2.1/24", "r2 10.0.2.2/24"]}
  - {endpoints: ["r2 10.0.3.1/24", "b 10.0.3.2/24"]}
""")
    with pytest.raises(PathError, match="no node owns"):
        paths.derive(t, "a", ipaddress.ip_address("10.0.4.9"))
    with pytest.raises(PathError, match="has no IPv6 address"):
        paths.between(t, "a", "b", 6)
    with pytest.raises(PathError, match="no route to 10.0.1.2"):
        paths.between(t, "b", "a", 4)


def test_real_routing_loop():
    t = topo("""
name: x
nodes:
  a: {routes: [default via 10.0.1.1]}
  r1: {kind: router, routes: [10.0.9.0/24 via 10.0.2.2]}
  r2: {kind: router, routes: [10.0.9.0/24 via 10.0.2.1]}
  b: {}
links:
  - {endpoints: ["a 10.0.1.2/24", "r1 10.0.1.1/24"]}
  - {endpoints: ["r1 10.0.2.1/24", "r2 10.0.2.2/24"]}
  - {endpoints: ["b 10.0.9.2/24", "a 10.0.8.1/24"]}
""")
    with pytest.raises(PathError, match="routing loop"):
        paths.derive(t, "r1", ipaddress.ip_address("10.0.9.2"))  # r1 -> r2 -> r1 ...


def test_to_json_and_source_address():
    p = paths.between(PMTUD, "sender", "receiver", 4)
    j = p.to_json()
    assert j["mtu"] == 1400 and j["hops"][1]["interface"] == "eth1" and j["dst_address"] == "10.0.3.2"
    assert str(paths.source_address(PMTUD, p)) == "10.0.1.2"


# --- source NAT on the way out (the internet lab, static routes) -----------------------------
# the internet lab with its BGP routes written as static routes (the model-only walk needs them there;
# tests/test_internet.py walks the shipped BGP lab's live FIBs)
INTERNET = load_topology(str(Path(__file__).with_name("internet-static.yaml")))


def test_the_static_fixture_is_the_shipped_internet_but_for_the_routers_routes():
    """Kept in step: the same nodes, links, NAT, firewalls, DNS and tests; only how routers learn routes differs."""
    def without_routing(path: Path) -> dict:
        data = yaml.safe_load(path.read_text())
        for key in ("name", "description", "routing", "addressing"):
            data.pop(key, None)
        for node in data["nodes"].values():
            if node.get("kind") == "router":
                for key in ("routes", "as", "frr"):
                    node.pop(key, None)
        for test in data["tests"].values():
            test.pop("description", None)  # core2's route test tells where its routes come from
        return data

    static = Path(__file__).with_name("internet-static.yaml")
    assert without_routing(TOPOLOGIES / "internet.yaml") == without_routing(static)
    assert yaml.safe_load((TOPOLOGIES / "internet.yaml").read_text())["routing"]["protocol"] == "bgp"
    assert all(n.routes for n in INTERNET.nodes if n.kind == "router")


def test_a_bgp_router_has_no_route_in_the_model_until_the_lab_is_up():
    shipped = topology_from_text((TOPOLOGIES / "internet.yaml").read_text().replace("name: internet\n",
                                                                                  "name: not-up-here\n"), "<t>")
    with pytest.raises(PathError, match=r"^home has no route to 198.51.100.130 \(its routes come from BGP at run "
                                        r"time: they are known once lab not-up-here is up and has converged\)$"):
        paths.derive(shipped, "alice", ipaddress.ip_address("198.51.100.130"))


def test_client_behind_two_nats_reaches_a_public_server():
    there, back = paths.round_trip(INTERNET, "alice", "root", 4)
    assert there.nodes() == ["alice", "home", "isp", "core1", "core2", "root"]
    assert [(t.node, t.kind, str(t.before), t.after_text()) for t in there.nat] == [
        ("home", "masquerade", "192.168.1.10", "100.64.1.2"),
        ("isp", "snat", "100.64.1.2", "203.0.113.16-203.0.113.23")]
    assert [str(n) for n in there.seen_source] == ["203.0.113.16/29"]
    assert str(there.src_address) == "192.168.1.10"
    # replies go to the CGNAT pool; isp and then home turn the address back (conntrack), in that order
    assert back.nodes() == ["root", "core2", "core1", "isp", "home", "alice"]
    assert [(t.node, t.kind, t.after_text()) for t in back.nat] == [("isp", "un-NAT", "100.64.1.2"),
                                                                    ("home", "un-NAT", "192.168.1.10")]
    assert "(NAT: home masquerade 192.168.1.10 -> 100.64.1.2" in there.describe()
    assert there.to_json()["nat"][1]["after"] == "203.0.113.16-203.0.113.23"


def test_one_to_one_nat_as_source_and_a_routed_pair_without_nat():
    there, back = paths.round_trip(INTERNET, "web", "root", 4)
    assert [(t.kind, t.after_text()) for t in there.nat] == [("1:1 NAT", "192.0.2.80")]
    assert back.nodes()[-1] == "web" and back.nat[0].after_text() == "10.20.0.80"
    plain, plain_back = paths.round_trip(INTERNET, "isp-resolver", "root", 4)
    assert plain.nat == () and plain_back.nat == () and plain.seen_source == [ipaddress.ip_network("203.0.113.53/32")]


def test_server_behind_destination_nat_is_refused_with_the_reason_and_pairs_that_work():
    with pytest.raises(PathError) as e:
        paths.between(INTERNET, "alice", "web", 4)
    msg = str(e.value)
    assert msg.startswith("alice cannot reach web (10.20.0.80) by a routed path: it is behind NAT "
                          "(cloud maps 192.0.2.80 to it, 1:1)")
    assert "core2 has no route to 10.20.0.80" in msg
    assert "e.g. alice and isp-resolver, root or tld-com" in msg
    assert "\n" not in msg


def test_client_behind_nat_as_the_destination_suggests_swapping():
    with pytest.raises(PathError) as e:
        paths.between(INTERNET, "root", "alice", 4)
    msg = str(e.value)
    assert "home masquerades 192.168.1.0/24 out of eth1" in msg
    assert "swap the roles, e.g. --client alice --server root" in msg
    with pytest.raises(PathError) as e:  # both behind NAT: no swap to offer
        paths.between(INTERNET, "web", "alice", 4)
    assert "swap" not in str(e.value) and "e.g. web and isp-resolver" in str(e.value)


NATTED = """
name: x
nodes:
  a: {routes: [default via 192.168.0.1]}
  gw:
    kind: router
    routes: [default via 198.51.100.2]
    nat: {%s}
  far: {}
links:
  - {endpoints: ["a 192.168.0.2/24", "gw:eth0 192.168.0.1/24"]}
  - {endpoints: ["gw:eth1 198.51.100.1/30", "far 198.51.100.2/30"]}
"""


def test_masquerade_of_everything_and_replies_that_cannot_come_back():
    t = topo(NATTED % "masquerade: {out: eth1}")  # far has no route to the LAN, only to gw's own address
    there, back = paths.round_trip(t, "a", "far", 4)
    assert [str(n) for n in there.seen_source] == ["198.51.100.1/32"] and back.nodes() == ["far", "gw", "a"]
    with pytest.raises(PathError, match=r"behind NAT \(gw masquerades 192.168.0.0/24 out of eth1\)"):
        paths.between(t, "far", "a", 4)
    pool = topo(NATTED % "snat: [{from: 192.168.0.0/24, to: 203.0.113.8/29, out: eth1}]")
    with pytest.raises(PathError, match=r"replies from far to a \(seen as 203.0.113.8 after NAT\) get lost: "
                                        r"far has no route to 203.0.113.8"):
        paths.round_trip(pool, "a", "far", 4)


def test_checking_a_topology_never_looks_for_a_running_lab(monkeypatch):
    """The NAT check walks paths by the model's routes only: asking whether the lab runs across machines would
    parse that lab's topology again, whose check would ask again (endless recursion on a lab up with --hosts)."""
    from netemu.multi.nodes import RemoteLab

    def asked(name):
        raise AssertionError(f"the check looked for a running lab {name!r}")

    monkeypatch.setattr(RemoteLab, "known", staticmethod(asked))
    topo = load_topology(str(Path(__file__).parent / "internet-static.yaml"))  # static routes, NAT
    assert topo.feature("frr") is None and any(n.kind == "router" for n in topo.nodes)
