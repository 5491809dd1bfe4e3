"""TCP congestion control per node (`tcp:`): parsing, the plan, what the kernel then uses, and refusals."""

from __future__ import annotations

import subprocess

import pytest
from conftest import needs_tool

from netemu import congestion
from netemu.errors import TopologyError
from netemu.parse import topology_from_text
from netemu.plan import build as build_plan

LAB = """
name: cc
tcp: {congestion: reno}
nodes:
  a: {}
  b: {tcp: {congestion: bbr}}
  sw: {kind: switch}
links:
  - endpoints: ["a 10.0.0.1/24 2001:db8::1/64", "b 10.0.0.2/24 2001:db8::2/64"]
"""


def test_lab_wide_default_and_per_node_override():
    topo = topology_from_text(LAB, "<cc>")
    model = topo.feature("tcp")
    assert model.of("a") == "reno" and model.of("b") == "bbr" and model.of("sw") is None
    text = build_plan(topo).text()
    assert "ip netns exec cc-a sysctl -w net.ipv4.tcp_congestion_control=reno" in text
    assert "ip netns exec cc-b sysctl -w net.ipv4.tcp_congestion_control=bbr" in text
    assert "cc-sw sysctl -w net.ipv4.tcp_congestion" not in text


def test_errors_have_lines_and_hints():
    bad = LAB.replace("{congestion: bbr}", "{congestion: bbrr, speed: 3}").replace("sw: {kind: switch}",
                                                                                  "sw: {kind: switch, tcp: {congestion: reno}}")
    with pytest.raises(TopologyError) as e:
        topology_from_text(bad, "cc.yaml")
    text = str(e.value) + "\n".join(i.render("cc.yaml") for i in e.value.issues)
    assert "cc.yaml:6: nodes.b.tcp.congestion: unknown congestion control 'bbrr'" in text
    assert "nodes.b.tcp.speed: unknown key" in text
    assert "nodes.sw.tcp: a switch has no TCP stack of its own" in text


def test_via_routes_puts_congctl_on_every_route_the_node_has():
    text = LAB.replace("b: {tcp: {congestion: bbr}}", 'b: {tcp: {congestion: cubic, via: routes}, '
                                                      'routes: ["default via 10.0.0.1", "default via 2001:db8::1"]}')
    plan = build_plan(topology_from_text(text, "<cc>")).text()
    assert "ip -4 route replace 10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.2 congctl cubic" in plan
    assert "ip -6 route replace 2001:db8::/64 dev eth0 proto kernel metric 256 congctl cubic" in plan
    assert "ip -4 route replace default via 10.0.0.1 congctl cubic" in plan
    assert "ip -6 route replace default via 2001:db8::1 congctl cubic" in plan
    assert "cc-b sysctl -w net.ipv4.tcp_congestion" not in plan


def test_refusal_names_what_works(monkeypatch):
    monkeypatch.setattr(congestion, "host_lists", lambda: (["reno", "bbr", "cubic"], ["reno", "bbr"]))
    topo = topology_from_text(LAB.replace("bbr}", "cubic}"), "<cc>")
    (why,) = congestion.preflight(topo, topo.feature("tcp"))
    assert "'cubic' is loaded, but lab namespaces may only use reno bbr" in why
    assert "via: routes" in why and "(asked by b)" in why
    topo = topology_from_text(LAB.replace("bbr}", "cubic, via: routes}"), "<cc>")
    assert congestion.preflight(topo, topo.feature("tcp")) == []
    topo = topology_from_text(LAB.replace("bbr}", "vegas}"), "<cc>")
    assert "'vegas' is not loaded on this machine" in congestion.preflight(topo, topo.feature("tcp"))[0]


def _algorithm_of_a_connection(lab: str, client: str, server_addr: str) -> str:
    """The algorithm `ss -ti` reports for a live TCP connection from `client` (iperf3 to the server)."""
    script = (f"iperf3 -c {server_addr} -t 2 >/dev/null 2>&1 & sleep 0.8; ss -tin dst {server_addr}; wait")
    out = subprocess.run(["ip", "netns", "exec", f"{lab}-{client}", "bash", "-c", script], capture_output=True,
                         text=True, timeout=30).stdout
    return " ".join(w for w in out.split() if w in congestion.KNOWN)


@pytest.mark.root
def test_the_kernel_uses_what_the_topology_says(lab_text):
    needs_tool("iperf3", "ss")
    available, allowed = congestion.host_lists()
    choice = next((a for a in ("reno", "bbr", "cubic") if a in allowed and a != congestion.default_algorithm()), None)
    if choice is None:
        pytest.skip(f"this host allows no algorithm besides its default ({allowed})")
    lab = lab_text(LAB.replace("{congestion: reno}", f"{{congestion: {choice}}}"))
    subprocess.run(["ip", "netns", "exec", f"{lab}-b", "iperf3", "-s", "-1", "-D"], check=True)
    assert subprocess.run(["ip", "netns", "exec", f"{lab}-a", "sysctl", "-n", "net.ipv4.tcp_congestion_control"],
                          capture_output=True, text=True).stdout.strip() == choice
    assert choice in _algorithm_of_a_connection(lab, "a", "10.0.0.2").split()


@pytest.mark.root
def test_an_algorithm_the_host_does_not_allow_works_per_route(lab_text):
    needs_tool("iperf3", "ss")
    available, allowed = congestion.host_lists()
    other = next((a for a in available if a not in allowed), None)
    if other is None:
        pytest.skip(f"every loaded algorithm is allowed in namespaces here ({available}): nothing to refuse")
    lab = lab_text(LAB.replace("b: {tcp: {congestion: bbr}}", "b: {}").replace(
        "a: {}", f"a: {{tcp: {{congestion: {other}, via: routes}}}}"))
    subprocess.run(["ip", "netns", "exec", f"{lab}-b", "iperf3", "-s", "-1", "-D"], check=True)
    assert other in _algorithm_of_a_connection(lab, "a", "10.0.0.2").split()
