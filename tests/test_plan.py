"""Planning is pure: golden plans of the shipped topologies, and plan invariants (no root)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from netemu import plan as plan_mod
from netemu.ops import AddNeighbour, CreateNamespace, CreateVeth, LinkDir, WriteFile, from_json
from netemu.parse import load_topology, topology_from_text

ROOT = Path(__file__).parent.parent
GOLDEN = Path(__file__).parent / "golden" / "plans"
SHIPPED = sorted(p.name for p in (ROOT / "topologies").glob("*.yaml"))
CORE = ["minimal.yaml", "two-routers.yaml", "mtu-chain.yaml"]


@pytest.mark.parametrize("name", CORE)
def test_plan_golden(name):
    got = plan_mod.build(load_topology(str(ROOT / "topologies" / name))).text() + "\n"
    expected = GOLDEN / name.replace(".yaml", ".txt")
    if os.environ.get("UPDATE_GOLDEN"):
        expected.write_text(got)
    assert got == expected.read_text()


@pytest.mark.parametrize("name", SHIPPED)
def test_plan_invariants(name):
    topo = load_topology(str(ROOT / "topologies" / name))
    ops = plan_mod.build(topo).ops
    created = [op.ns for op in ops if isinstance(op, CreateNamespace)]
    assert created == [topo.namespace(n.name) for n in topo.nodes]
    # every namespace is created before any operation uses it; no operation targets any other namespace
    seen: set[str] = set()
    for op in ops:
        if isinstance(op, CreateNamespace):
            seen.add(op.ns)
        for field in ("ns", "peer_ns"):
            ns = getattr(op, field, None)
            assert ns is None or ns in seen, f"{op.text()} uses {ns} before it exists"
    assert sum(isinstance(op, CreateVeth) for op in ops) == len(topo.links)
    assert all(from_json(op.to_json()) == op for op in ops)


def _lan(n: int, router: bool) -> str:
    nodes = "\n".join(f"  h{i}: {{}}" for i in range(n))
    links = "\n".join(f"  - endpoints: [\"h{i} 10.0.{i // 200}.{i % 200 + 2}/16\", sw]" for i in range(n))
    r = "  r: {kind: router}\n" if router else ""
    rl = "  - endpoints: [\"r 10.0.255.1/16\", sw]\n" if router else ""
    return f"name: big\nnodes:\n{nodes}\n{r}  sw: {{kind: switch}}\nlinks:\n{links}\n{rl}"


def test_neighbours_auto_small_lab_stays_dynamic():
    topo = load_topology(str(ROOT / "topologies" / "two-routers.yaml"))
    assert not any(isinstance(op, AddNeighbour) for op in plan_mod.build(topo).ops)


def test_neighbours_auto_big_lab_gets_permanent_entries_towards_routers():
    topo = topology_from_text(_lan(40, router=True))
    neigh = [op for op in plan_mod.build(topo).ops if isinstance(op, AddNeighbour)]
    # each host learns the router, the router learns each host (IPv4 only here): 2 per host
    assert len(neigh) == 80
    assert {op.address for op in neigh if op.ns == "big-h0"} == {"10.0.255.1"}


def test_neighbours_static_small_lab_full_mesh_and_dynamic_none():
    text = _lan(3, router=False)
    static = topology_from_text(text.replace("name: big", "name: big\nneighbours: static"))
    assert sum(isinstance(op, AddNeighbour) for op in plan_mod.build(static).ops) == 6
    dynamic = topology_from_text(_lan(40, router=True).replace("name: big", "name: big\nneighbours: dynamic"))
    assert not any(isinstance(op, AddNeighbour) for op in plan_mod.build(dynamic).ops)


def test_switch_ports_are_created_from_the_switch_and_enslaved():
    topo = load_topology(str(ROOT / "topologies" / "two-routers.yaml"))
    ports = [op for op in plan_mod.build(topo).ops if isinstance(op, CreateVeth) and op.master]
    assert [(op.ns, op.ifname, op.peer_ns, op.peer_ifname) for op in ports] == [
        ("two-routers-lan", "h2-eth1", "two-routers-h2", "eth1"),
        ("two-routers-lan", "h3-eth0", "two-routers-h3", "eth0"),
    ]


def test_netns_files_are_shared_between_nodes_with_identical_files():
    plan = plan_mod.build(load_topology(str(ROOT / "topologies" / "internet.yaml")))
    links = {op.path: op.target for op in plan.ops if isinstance(op, LinkDir)}
    topo = load_topology(str(ROOT / "topologies" / "internet.yaml"))
    # every non-switch node has its /etc/netns directory, as a link into the lab's run dir
    assert set(links) == {f"/etc/netns/{topo.namespace(n.name)}" for n in topo.nodes if not n.is_switch}
    assert all(t.startswith("/run/netemu/internet/etc/files-") for t in links.values())
    # alice uses the ISP resolver, web does not: different sets; web and core1 share the default set
    alice, web, core1 = (links[f"/etc/netns/internet-{n}"] for n in ("alice", "web", "core1"))
    assert alice != web and web == core1
    assert "nameserver" in plan.netns_file("/etc/netns/internet-alice/resolv.conf")
    assert "nameserver" not in plan.netns_file("/etc/netns/internet-web/resolv.conf")
    assert "alice" in plan.netns_file("/etc/netns/internet-web/hosts")
    # each distinct set is written once, and before any node links to it
    writes = [i for i, op in enumerate(plan.ops)
              if isinstance(op, WriteFile) and op.path.startswith("/run/netemu/internet/etc/")]
    assert len(writes) == 2 * len(set(links.values()))
    assert max(writes) < min(i for i, op in enumerate(plan.ops) if isinstance(op, LinkDir))


def test_full_plan_shows_the_rules_and_files_each_step_loads():
    plan = plan_mod.build(load_topology(str(ROOT / "topologies" / "internet.yaml")))
    full, short = plan.text(full=True), plan.text()
    assert "| *nat" in full and "| -A " in full and "|" not in short
    assert len(full.splitlines()) > len(short.splitlines()) == len(plan.ops)


def test_switch_ports_are_named_after_the_interface_they_lead_to():
    from netemu.parse import topology_from_text

    topo = topology_from_text("""
name: ports
nodes:
  a: {}
  b: {}
  lan: {kind: switch}
  lan2: {kind: switch}
  a-very-long-name: {}
links:
  - endpoints: [a, lan]
  - endpoints: ["b:uplink", lan]
  - endpoints: [lan, lan2]
  - endpoints: [a-very-long-name, lan2]
""", "<ports>")
    assert [i.name for i in topo.node("lan").interfaces] == ["a-eth0", "b-uplink", "lan2"]
    assert [i.name for i in topo.node("lan2").interfaces] == ["lan", "p3"]  # 'a-very-long-name-eth0' is too long
