"""Pure parts of a lab across machines (no root): inventory, placement, per-machine plans, `plan --hosts`."""

from __future__ import annotations

import json

import pytest
from conftest import TOPOLOGIES, netemu

from netemu.errors import TopologyError, UsageError
from netemu.multi.coordinator import layout, mtu_warnings
from netemu.multi.inventory import from_text
from netemu.multi.ops import CreateVxlan
from netemu.multi.placement import place
from netemu.ops import CreateVeth
from netemu.parse import load_topology, topology_from_text
from netemu.plan import build

INVENTORY = """\
all:
  vars:
    ansible_user: root
    ansible_ssh_common_args: -o StrictHostKeyChecking=no -F /dev/null
  hosts:
    m1: {ansible_host: 10.77.0.11, ansible_port: 2201}
  children:
    rack:
      vars: {ansible_user: lab, ansible_ssh_private_key_file: /keys/id}
      hosts:
        m2: {ansible_host: 10.77.0.12}
        m3: {ansible_host: 10.77.0.13, ansible_user: admin, netemu_underlay_mtu: 9000}
"""


def test_inventory_honours_ansible_connection_variables():
    inv = from_text(INVENTORY, "inv.yaml")
    assert inv.names == ("m1", "m2", "m3")
    m1, m2, m3 = inv.machines
    assert (m1.host, m1.port, m1.user, m1.key) == ("10.77.0.11", 2201, "root", None)
    assert m1.common_args == ("-o", "StrictHostKeyChecking=no", "-F", "/dev/null")
    assert (m2.user, m2.key, m2.port) == ("lab", "/keys/id", None)  # the child group's vars win over all's
    assert (m3.user, m3.underlay_mtu) == ("admin", 9000)  # host vars win over group vars


def test_inventory_reports_every_problem_with_its_line():
    text = "all:\n  hosts:\n    m1: {ansible_port: nope}\n    m2: {netemu_underlay: not-an-ip}\n  bogus: 1\n"
    with pytest.raises(TopologyError) as e:
        from_text(text, "inv.yaml")
    msg = str(e.value)
    assert "inv.yaml:3: all.hosts.m1.ansible_port: must be a number" in msg, msg
    assert "inv.yaml:4: all.hosts.m2.netemu_underlay: must be an IP address" in msg, msg
    assert "inv.yaml:5: all.bogus: unknown group key" in msg, msg


def _two_triangles(host_keys: str = "") -> str:
    nodes = "".join(f"  {n}: {{kind: router{host_keys and ', host: ' + ('m1' if n < 'd' else 'm2')}}}\n"
                    for n in "abcdef")
    pairs = ["a b", "b c", "c a", "d e", "e f", "f d", "c d"]
    links = "".join(f"  - endpoints: [{x}, {y}]\n" for x, y in (p.split() for p in pairs))
    return f"name: tri\nnodes:\n{nodes}links:\n{links}"


def test_automatic_placement_balances_and_cuts_the_one_bridge_link():
    topo = topology_from_text(_two_triangles())
    p = place(topo, ["m1", "m2"])
    assert sorted(len(p.nodes_on(m)) for m in ("m1", "m2")) == [3, 3]
    assert len(p.cut) == 1 and {topo.links[p.cut[0]].a.node, topo.links[p.cut[0]].b.node} == {"c", "d"}
    assert place(topo, ["m1", "m2"]) == p  # seeded: plan and up agree


def test_host_keys_place_nodes_and_unknown_machines_are_refused():
    topo = topology_from_text(_two_triangles(host_keys="yes"))
    p = place(topo, ["m1", "m2"], dict(topo.feature("multi").pins))
    assert p.nodes_on("m1") == ["a", "b", "c"] and "host:" in p.how
    with pytest.raises(UsageError, match="host 'm2' is not in the inventory"):
        place(topo, ["m1", "m9"], dict(topo.feature("multi").pins))


def test_split_turns_each_cut_link_into_a_vxlan_pair_and_keeps_every_other_op():
    topo = load_topology(TOPOLOGIES / "two-routers.yaml")
    inv = from_text("all:\n  hosts:\n    m1: {ansible_host: 10.77.0.11}\n    m2: {ansible_host: 10.77.0.12}\n")
    lay = layout(topo, inv)
    plans = dict(lay.split.plans)
    vx = {m: [op for op in p.ops if isinstance(op, CreateVxlan)] for m, p in plans.items()}
    cut = [topo.links[i] for i in lay.placement.cut]
    assert cut and len(vx["m1"]) == len(vx["m2"]) == len(cut)
    for a, b in zip(vx["m1"], sorted(vx["m2"], key=lambda o: [x.vni for x in vx["m1"]].index(o.vni))):
        assert a.vni == b.vni and a.port == b.port and (a.local, a.remote) == (b.remote, b.local)
    # every op of a node's namespace is on exactly one machine; veths of cut links are gone
    full = build(topo)
    vethless = [op for op in full.ops if not isinstance(op, CreateVeth)]
    owned = [op for op in vethless if getattr(op, "ns", None)]
    placed = [op for p in plans.values() for op in p.ops
              if getattr(op, "ns", None) and not isinstance(op, (CreateVxlan, CreateVeth))]
    assert sorted(map(repr, owned)) == sorted(map(repr, placed))
    veths = sum(isinstance(op, CreateVeth) for p in plans.values() for op in p.ops)
    assert veths == sum(isinstance(op, CreateVeth) for op in full.ops) - len(cut)


def test_cut_links_lose_the_vxlan_header_from_the_underlay_mtu():
    topo = load_topology(TOPOLOGIES / "two-routers.yaml")
    text = "all:\n  hosts:\n    m1: {ansible_host: 10.77.0.11}\n    m2: {ansible_host: 10.77.0.12}\n"
    lay = layout(topo, from_text(text), underlay_mtu=1500)
    mtus = {op.mtu for p in dict(lay.split.plans).values() for op in p.ops if isinstance(op, CreateVxlan)}
    expected = {min(topo.links[i].mtu, 1450) for i in lay.placement.cut}
    assert mtus == expected
    lay6 = layout(topo, from_text(text.replace("10.77.0.11", "fd00::11").replace("10.77.0.12", "fd00::12")),
                  underlay_mtu=1500)
    assert {op.mtu for p in dict(lay6.split.plans).values() for op in p.ops
            if isinstance(op, CreateVxlan)} == {min(topo.links[i].mtu, 1430) for i in lay6.placement.cut}
    assert all("it gets 1450" in w for w in mtu_warnings(lay)) and len(mtu_warnings(lay)) == len(lay.split.lowered)


def test_plan_with_hosts_shows_placement_and_each_machines_plan(tmp_path):
    inv = tmp_path / "inv.yaml"
    inv.write_text("all:\n  hosts:\n" + "".join(f"    m{i}: {{ansible_host: 10.77.0.1{i}}}\n" for i in (1, 2, 3)))
    res = netemu("plan", str(TOPOLOGIES / "internet.yaml"), "--hosts", str(inv), "--json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert sorted(set(data["placement"].values())) == ["m1", "m2", "m3"]
    assert sum(op["op"] == "CreateVxlan" for ops in data["machines"].values() for op in ops) == 2 * len(data["cut"])
    text = netemu("plan", str(TOPOLOGIES / "internet.yaml"), "--hosts", str(inv)).stdout
    assert "placement: automatic (networkx Kernighan-Lin" in text and "## machine m2:" in text, text


def test_plan_with_a_bad_inventory_exits_2(tmp_path):
    inv = tmp_path / "inv.yaml"
    inv.write_text("all:\n  hosts:\n    m1: {ansible_port: 0}\n")
    res = netemu("plan", str(TOPOLOGIES / "minimal.yaml"), "--hosts", str(inv))
    assert res.returncode == 2 and "inv.yaml:3" in res.stderr, res.stderr


def test_validate_with_hosts_warns_about_mtus_vxlan_cannot_carry(tmp_path):
    inv = tmp_path / "inv.yaml"
    inv.write_text("all:\n  vars: {netemu_underlay_mtu: 1420}\n  hosts:\n"
                   "    m1: {ansible_host: 10.77.0.11}\n    m2: {ansible_host: 10.77.0.12}\n")
    res = netemu("validate", str(TOPOLOGIES / "two-routers.yaml"), "--hosts", str(inv))
    assert res.returncode == 0, res.stderr
    assert "is more than VXLAN between machines carries (underlay 1420 - 50): it gets 1370" in res.stderr, res.stderr
    assert "warning" not in netemu("validate", str(TOPOLOGIES / "two-routers.yaml")).stderr


def test_graph_with_hosts_boxes_nodes_by_machine_and_shows_the_carried_mtu(tmp_path):
    inv = tmp_path / "inv.yaml"
    inv.write_text("all:\n  hosts:\n" + "".join(f"    m{i}: {{ansible_host: 10.77.0.1{i}}}\n" for i in (1, 2, 3)))
    res = netemu("graph", str(TOPOLOGIES / "internet.yaml"), "--hosts", str(inv))
    assert res.returncode == 0, res.stderr
    assert all(f'subgraph "cluster_machine m{i}"' in res.stdout for i in (1, 2, 3)), res.stdout
    assert "MTU 1450" in res.stdout and "MTU 1450" not in netemu("graph", str(TOPOLOGIES / "internet.yaml")).stdout


def test_ssh_shares_one_connection_per_machine_unless_the_inventory_says_how():
    from dataclasses import replace

    from netemu.multi.remote import ssh_argv

    m1, m2, _ = from_text(INVENTORY, "inv.yaml").machines
    assert "ControlMaster=auto" not in ssh_argv(m1, ["status"])  # no lab directory: plain ssh
    shared = ssh_argv(replace(m1, control="/run/netemu/.multi/lab.ssh"), ["status"])
    paths = [a for a in shared if a.startswith("ControlPath=")]
    assert "ControlMaster=auto" in shared and len(paths) == 1, shared
    assert paths[0].startswith("ControlPath=/run/netemu/.multi/lab.ssh/") and len(paths[0]) < 90  # fits a socket path
    # after the user's own arguments (ssh keeps the first value of an option), before the host
    assert shared.index("ControlMaster=auto") > shared.index("StrictHostKeyChecking=no")
    assert shared.index("ControlMaster=auto") < shared.index("10.77.0.11")
    other = ssh_argv(replace(m2, control="/run/netemu/.multi/lab.ssh"), ["status"])
    assert [a for a in other if a.startswith("ControlPath=")] != paths  # one socket per machine
    # the inventory's own Control* options: netemu adds none
    users = replace(m1, control="/run/netemu/.multi/lab.ssh", common_args=("-o", "ControlMaster=no"))
    assert not [a for a in ssh_argv(users, ["status"]) if a.startswith(("ControlPath", "ControlPersist"))]
    users = replace(m1, control="/run/netemu/.multi/lab.ssh", common_args=("-oControlPath=/tmp/%C",))
    assert "ControlMaster=auto" not in ssh_argv(users, ["status"])
