"""`netemu graph`: golden DOT and Mermaid of the shipped topologies, Graphviz draws them, the CLI (no root)."""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from netemu import graph
from netemu.parse import load_topology, topology_from_text

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
SHIPPED = sorted(p.name for p in (ROOT / "topologies").glob("*.yaml"))


def _graph(name: str) -> graph.Graph:
    return graph.build(load_topology(str(ROOT / "topologies" / name)))


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("fmt, ext", [("dot", "dot"), ("mermaid", "mmd")])
def test_graph_golden(name, fmt, ext):
    got = (graph.to_dot if fmt == "dot" else graph.to_mermaid)(_graph(name))
    expected = GOLDEN / name.replace(".yaml", f".{ext}")
    if os.environ.get("UPDATE_GOLDEN"):
        expected.write_text(got)
    assert expected.exists(), f"no golden {fmt} picture of {name}: write it with UPDATE_GOLDEN=1 and read it"
    assert got == expected.read_text()


@pytest.mark.parametrize("name", SHIPPED)
def test_dot_renders_every_shipped_topology(name):
    if shutil.which("dot") is None:
        pytest.skip("needs Graphviz's dot (apt-get install graphviz; installed by vagrant/provision.sh)")
    svg = graph.to_svg(_graph(name))
    root = ET.fromstring(svg[svg.find("<svg"):])
    text = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    topo = load_topology(str(ROOT / "topologies" / name))
    for node in topo.nodes:  # every node is drawn, and every address of an IP node
        assert node.name in text
        for a in node.addresses():
            assert str(a) in text


def test_internet_picture_shows_roles_and_the_narrow_hop():
    g = _graph("internet.yaml")
    badges = {n.name: [t for _, t in n.badges] for n in g.nodes}
    assert badges["home"] == ["NAT: masquerade, port forward", "firewall: stateful, input drop, forward drop"]
    assert badges["isp"] == ["NAT: SNAT pool, port forward"]
    assert badges["cloud"] == ["NAT: 1:1"]
    assert badges["root"] == ["DNS: authoritative for ."]
    assert badges["isp-resolver"] == ["DNS: resolver"]
    dot = graph.to_dot(g)
    assert '"core2":p_eth1 -- "core3":p_eth0 [color="#374151", label="MTU 1400", penwidth=3];' in dot
    assert '"alice":p_eth0 -- "home-lan"' in dot  # a switch end has no port


AS_AND_SERVICES = """
name: g
nodes:
  a: {kind: router}
  b: {kind: router}
  c: {}
links:
  - endpoints: ["a:eth0 10.0.0.1/30", "b:eth0 10.0.0.2/30"]
    delay: 5ms
  - endpoints: ["b:eth1 10.0.1.1/24", "c:eth0 10.0.1.2/24"]
    from: {b: {delay: 5ms}}
"""


def test_impairments_per_direction_and_each_way():
    g = graph.build(topology_from_text(AS_AND_SERVICES))
    assert [e.impairment for e in g.edges] == ["5ms each way", "b→c 5ms; c→b none"]
    assert 'label="5ms each way"' in graph.to_dot(g)


def test_groups_and_service_badges_from_node_keys():
    # `as:` (FRR) and `services:` (services) are other features' keys: the picture reads them raw
    topo = topology_from_text(AS_AND_SERVICES)
    nodes = tuple(n.__class__(**{**n.__dict__, "extra": extra}) for n, extra in zip(
        topo.nodes, [(("as", 65001),), (("as", 65002),), (("services", [{"name": "http"}, "iperf3 -s"]),)]))
    g = graph.build(topo.__class__(**{**{k: v for k, v in topo.__dict__.items() if not k.startswith("_")},
                                      "nodes": nodes}))
    assert [n.group for n in g.nodes] == ["AS 65001", "AS 65002", None]
    assert g.nodes[2].badges == (("services", "services: http, iperf3"),)
    dot, mmd = graph.to_dot(g), graph.to_mermaid(g)
    assert 'subgraph "cluster_AS 65001" {' in dot and 'label="AS 65002"' in dot
    assert 'subgraph n_AS_65001["AS 65001"]' in mmd and "services: http, iperf3" in mmd


def test_live_state_marks_cut_and_impaired_links():
    topo = load_topology(str(ROOT / "topologies" / "two-routers.yaml"))
    live = {"interfaces": {("r1", "eth1"): "DOWN", ("h1", "eth0"): "UP"},
            "links": {0: {"admin": "up", "impairment": "20ms each way"}}}
    g = graph.build(topo, live)
    assert [e.state for e in g.edges[:3]] == ["impaired", "down", "up"]
    dot = graph.to_dot(g)
    assert 'color="#d97706", label="20ms each way"' in dot
    assert 'label="MTU 1400\\nDOWN", style=dashed' in dot and "eth1 10.0.12.1/30" in dot and "<B>DOWN</B>" in dot
    assert "live state of the running lab" in dot
    mmd = graph.to_mermaid(g)
    assert 'n_r1 -.-|"eth1 – eth1 · MTU 1400 · DOWN"| n_r2' in mmd and "linkStyle 1 stroke:#dc2626" in mmd


def test_cut_to_a_path_keeps_the_switches_it_crosses():
    g = _graph("internet.yaml")
    hops = [("alice", "eth0", "home", "eth0"), ("home", "eth1", "isp", "eth0")]
    cut = graph.cut_to(g, hops)
    assert [n.name for n in cut.nodes] == ["alice", "home-lan", "home", "isp-access", "isp"]
    assert [p.name for p in cut.nodes[4].ports] == ["eth0"]  # only the interfaces the path uses
    assert len(cut.edges) == 4


def _cli(*args: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([os.environ.get("PYTHON", "python3"), "-m", "netemu", "graph", *args],
                          capture_output=True, text=True, cwd=ROOT, env=env, **kw)


def test_cli_formats_and_errors(tmp_path):
    import sys

    os.environ["PYTHON"] = sys.executable
    res = _cli("topologies/two-routers.yaml", "--format", "mermaid")
    assert res.returncode == 0 and res.stdout == (GOLDEN / "two-routers.mmd").read_text()
    res = _cli("topologies/two-routers.yaml")
    assert res.returncode == 0 and res.stdout == (GOLDEN / "two-routers.dot").read_text()
    if shutil.which("dot"):
        out = tmp_path / "x.html"
        assert _cli("topologies/two-routers.yaml", "-o", str(out)).returncode == 0
        assert out.read_text().startswith("<!doctype html>") and "<svg" in out.read_text()
    res = _cli("no/such.yaml")
    assert res.returncode == 2 and "no such file" in res.stderr
    res = _cli("topologies/two-routers.yaml", "--format", "gif")
    assert res.returncode == 2
