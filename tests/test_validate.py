"""Validation: every problem at once, with file, line and path (golden error files; no root)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from netemu.errors import TopologyError
from netemu.parse import load_topology, topology_from_text

GOLDEN = Path(__file__).parent / "golden" / "errors"
CASES = sorted(p.name for p in GOLDEN.glob("*.yaml"))


@pytest.mark.parametrize("name", CASES)
def test_error_golden(name):
    path = GOLDEN / name
    with pytest.raises(TopologyError) as exc:
        topology_from_text(path.read_text(), name)
    got = "\n".join(i.render(e.filename) for e in [exc.value] for i in e.issues) + "\n"
    expected = path.with_suffix(".txt")
    if os.environ.get("UPDATE_GOLDEN"):
        expected.write_text(got)
    assert got == expected.read_text()


def test_every_problem_has_a_line():
    for name in CASES:
        with pytest.raises(TopologyError) as exc:
            load_topology(str(GOLDEN / name))
        assert all(i.line for i in exc.value.issues), name


@pytest.mark.parametrize("path", sorted(str(p) for p in (Path(__file__).parent.parent / "topologies").glob("*.yaml")))
def test_shipped_topologies_are_valid(path):
    topo = load_topology(path)
    assert topo.nodes and topo.warnings == ()


def test_interface_names_fill_in_around_explicit_ones():
    topo = topology_from_text("""
name: x
nodes: {a: {}, b: {}, c: {}}
links:
  - endpoints: ["a 10.0.0.1/24", "b 10.0.0.2/24"]
  - endpoints: ["a:eth0 10.0.1.1/24", "c 10.0.1.2/24"]
""")
    assert [i.name for i in topo.node("a").interfaces] == ["eth1", "eth0"]
    assert [i.name for i in topo.node("c").interfaces] == ["eth0"]


def test_routes_and_families():
    topo = topology_from_text("""
name: x
nodes:
  a: {routes: ["default via 10.0.0.2", "default via 2001:db8::2", "10.9.0.0/16 dev eth0 metric 5"]}
  b: {kind: router}
links:
  - endpoints: ["a 10.0.0.1/24 2001:db8::1/64", "b 10.0.0.2/24 2001:db8::2/64"]
""")
    routes = topo.node("a").routes
    assert [(r.family, r.dst_text, str(r.via), r.dev, r.metric) for r in routes] == [
        (4, "default", "10.0.0.2", None, None),
        (6, "default", "2001:db8::2", None, None),
        (4, "10.9.0.0/16", "None", "eth0", 5),
    ]


def test_segments_join_through_switches():
    topo = topology_from_text("""
name: x
nodes: {a: {}, b: {}, c: {}, s1: {kind: switch}, s2: {kind: switch}}
links:
  - endpoints: ["a 10.0.0.1/24", s1]
  - endpoints: [s1, s2]
  - endpoints: ["b 10.0.0.2/24", s2]
  - endpoints: ["a 10.1.0.1/24", "c 10.1.0.2/24"]
""")
    segs = sorted(sorted(f"{i.node}:{i.name}" for i in s) for s in topo.segments())
    assert segs == [["a:eth0", "b:eth0"], ["a:eth1", "c:eth0"]]


def test_switch_mtu_mismatch_and_self_link():
    with pytest.raises(TopologyError) as exc:
        topology_from_text("""
name: x
nodes: {a: {}}
links:
  - endpoints: ["a 10.0.0.1/24", "a 10.0.0.2/24"]
""")
    assert "both ends are on node 'a'" in str(exc.value)


def test_warnings_for_ends_without_a_common_subnet_and_ownerless_gateways():
    text = ('name: w\nnodes:\n  a: {routes: ["default via 10.0.0.9"]}\n  b: {routes: ["default via 10.0.9.2"]}\n'
            '  c: {}\nlinks:\n  - endpoints: ["a 10.0.0.5/24", "b 10.0.9.1/24"]\n'
            '  - endpoints: ["b 10.0.9.5/24", "c 10.0.9.2/24"]\n')
    warnings = topology_from_text(text, "w.yaml").warnings  # warnings only: the lab is still valid
    assert warnings == (
        "w.yaml:3: warning: nodes.a.routes[0]: no node of this lab has the gateway address 10.0.0.9: "
        "packets on this route will not get past the first hop",
        "w.yaml:7: warning: links[0].endpoints: a 10.0.0.5/24 and b 10.0.9.1/24 share no subnet: they cannot "
        "reach each other over this link (hint: give both ends addresses in one prefix)",
    )


def test_tab_indentation_gets_a_hint():
    with pytest.raises(TopologyError) as exc:
        topology_from_text("name: t\nnodes:\n\ta: {}\n", "t.yaml")
    assert "tab" in exc.value.issues[0].hint and exc.value.issues[0].line == 3
