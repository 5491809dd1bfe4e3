"""A lab across simulated machines (root): namespaces with their own mounts and a real sshd each,
driven from a coordinator namespace with the real ssh client (tests/multi/sim.py)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TOPOLOGIES, host_snapshot, leftovers, needs_root, needs_tool, renamed

sys.path.insert(0, str(Path(__file__).parent))
from sim import Sim  # noqa: E402  (the harness sits next to the tests)

from netemu.parse import load_topology  # noqa: E402

pytestmark = pytest.mark.root

WEB_PUBLIC = "192.0.2.80"  # Bob's web server in internet.yaml, 1:1 NATed to 10.20.0.80
INTERNET = TOPOLOGIES / "internet.yaml"  # the flagship lab: its routers learn their routes over BGP (FRR)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    needs_root()
    needs_tool("sshd" if shutil.which("sshd") else "/usr/sbin/sshd", "ssh", "ssh-keygen", "nsenter", "unshare")
    # NETEMU_SIM_TAG: another prefix for the host namespaces (runs side by side keep apart)
    s = Sim(f"{os.environ.get('NETEMU_SIM_TAG', 'mcs')}{secrets.token_hex(2)}", 3, tmp_path_factory.mktemp("machines"))
    s.up()
    yield s
    s.down()
    assert not [n for n in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
                if n.startswith(s.tag + "-")]


def _lab(sim: Sim, name: str, prefix: str) -> tuple[str, str]:
    lab = f"{prefix}-{secrets.token_hex(3)}"
    path = sim.dir / f"{lab}.yaml"
    path.write_text(renamed((TOPOLOGIES / name).read_text(), lab))
    return lab, str(path)


def _lab_from(sim: Sim, template: str, prefix: str) -> tuple[str, str]:
    """A lab file written from `template` (its {name} filled with a unique lab name)."""
    lab = f"{prefix}-{secrets.token_hex(3)}"
    path = sim.dir / f"{lab}.yaml"
    path.write_text(template.format(name=lab))
    return lab, str(path)


def _snapshots(sim: Sim) -> dict:
    return {m: sim.snapshot(m) for m in sim.machines}


def _same_as(sim: Sim, before: dict, wait: float = 20.0) -> None:
    """Assert every machine is as before; namespace teardown finishes asynchronously in the kernel (and
    takes seconds when other work on the host creates and deletes namespaces by the hundred)."""
    deadline = time.monotonic() + wait
    while True:
        now = _snapshots(sim)
        diff = {m: {k: (before[m][k], now[m][k]) for k in now[m] if now[m][k] != before[m][k]} for m in now}
        diff = {m: d for m, d in diff.items() if d}
        if not diff:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"machines changed: {diff}")
        time.sleep(0.2)


def _exec(sim: Sim, lab: str, node: str, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return sim.coordinator("exec", lab, node, "--", *argv, timeout=timeout)


def test_flagship_lab_over_three_machines(sim, tmp_path):
    host_before = host_snapshot()
    before = _snapshots(sim)
    lab, path = _lab(sim, str(INTERNET), "mc-inet")
    res = sim.coordinator("up", path, "--hosts", str(sim.inventory))
    try:
        assert res.returncode == 0, res.stdout + res.stderr
        assert "is up on 3 machines" in res.stdout, res.stdout
        # each machine has only its own nodes' namespaces; the host has none of them
        placed = {m: set(sim.in_machine(m, ["ls", "/run/netns"]).stdout.split()) for m in sim.machines}
        assert all(placed.values()) and not set.intersection(*placed.values())
        assert not leftovers(lab)
        status = sim.coordinator("status", lab)
        assert status.returncode == 0 and "(up)" in status.stdout and "on m3" in status.stdout, status.stdout
        # the topology's own checks, each run on the machine of the node it starts from
        checks = sim.coordinator("test", lab)
        assert checks.returncode == 0, checks.stdout + checks.stderr
        declared = len(load_topology(path).feature("tests").checks)
        assert declared and f"{declared}/{declared} checks passed" in checks.stdout, checks.stdout
        assert len({line.split("(on ")[1].split(")")[0] for line in checks.stdout.splitlines() if "(on " in line}) > 1
        # across cut links: ping, DNS through the hierarchy (on three machines), HTTP through both NATs
        ping = _exec(sim, lab, "alice", "ping", "-c", "2", "-W", "2", WEB_PUBLIC)
        assert ping.returncode == 0 and " 0% packet loss" in ping.stdout, ping.stdout + ping.stderr
        dig = _exec(sim, lab, "alice", "dig", "+time=4", "+tries=2", "+short", "www.bob.com", "A")
        assert dig.stdout.split() == [WEB_PUBLIC], dig.stdout + dig.stderr
        server = sim.coordinator_popen("exec", lab, "web", "--", "timeout", "30", "python3", "-m", "http.server", "80")
        try:
            for _ in range(50):
                curl = _exec(sim, lab, "alice", "curl", "-sS", "-m", "3", "-o", "/dev/null", "-w", "%{http_code}",
                             "http://www.bob.com/")
                if curl.stdout == "200":
                    break
                time.sleep(0.2)
            assert curl.stdout == "200", curl.stdout + curl.stderr
        finally:
            server.kill()
            server.wait()
        # PMTUD across the link cut between isp and core1: the path is walked through the BGP routers' live
        # FIBs, each read on its machine, and its narrowest hop is what VXLAN carries, not the file's 1500
        placement = json.loads(sim.coordinator("plan", path, "--hosts", str(sim.inventory), "--json").stdout)
        assert placement["placement"]["isp"] != placement["placement"]["core1"], placement["placement"]
        res = sim.coordinator("run", "pmtud", "--lab", lab, "--client", "isp-resolver", "--server", "root", "--quick",
                              "--json", "--report-dir", str(tmp_path / "pmtud"), timeout=600)
        out = json.loads(res.stdout)
        fields = out["results"]
        assert fields["expected_path_mtu"] == 1450 and fields["router"] == "isp", fields
        assert fields["path_mtu"] == 1450 and fields["tracepath_pmtu"] == 1450, fields
        assert "isp -eth1/1450-> core1" in fields["path"], fields["path"]  # the true MTU, in words too
        failed = [c for c in out["checks"] if not c["passed"]]
        assert res.returncode == 0 and not failed and out["error"] is None, (failed, out["error"], res.stderr)
        # without the agent: `netemu part fib` on core2's machine prints the route BGP installed there
        root = Path(__file__).resolve().parents[2]
        res = sim.in_machine(placement["placement"]["core2"], ["env", f"PYTHONPATH={root}", sys.executable, "-m",
                                                               "netemu", "part", "fib", lab, "core2"])
        routes = json.loads(res.stdout)["routes"]
        assert {"dst": "192.0.2.0/24", "via": "198.51.100.10"}.items() <= next(
            (r for r in routes if r["dst"] == "192.0.2.0/24"), {}).items(), routes
    finally:
        down = sim.coordinator("down", lab)
    assert down.returncode == 0, down.stdout + down.stderr
    assert all(f"{m}: lab {lab} removed" in down.stdout for m in sim.machines), down.stdout
    _same_as(sim, before)
    assert host_snapshot() == host_before and not leftovers(lab)


def test_every_problem_of_every_machine_before_anything_is_created(sim, tmp_path):
    lab, path = _lab(sim, "two-routers.yaml", "mc-chk")
    inv = tmp_path / "inv.yaml"
    text = sim.inventory.read_text()
    text = text.replace("  hosts:\n", "  hosts:\n    gone: {ansible_host: 10.77.0.99}\n"
                                      "    old: {ansible_host: 10.77.0.13, netemu_command: 'echo 0.0.1 #'}\n")
    inv.write_text(text.replace("    m3: {ansible_host: 10.77.0.13}\n", ""))
    before = _snapshots(sim)
    res = sim.coordinator("up", path, "--hosts", str(inv))
    assert res.returncode == 1, res.stdout + res.stderr
    assert "gone: unreachable over ssh" in res.stderr and "old: netemu did not answer" in res.stderr, res.stderr
    assert "nothing was created" in res.stderr
    _same_as(sim, before)


def _chain_lab(name: str, nodes: int) -> str:
    """Routers in a chain with a LAN of hosts each (`routing: static`): big enough that `up` takes seconds."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from bench_multi import lab_text

    return lab_text(name, nodes)


def test_killed_coordinator_each_machine_rolls_back_then_down_cleans(sim):
    before = _snapshots(sim)
    lab = f"mc-kill-{secrets.token_hex(3)}"
    path = sim.dir / f"{lab}.yaml"
    path.write_text(_chain_lab(lab, 300))
    proc = sim.coordinator_popen("up", str(path), "--hosts", str(sim.inventory))
    deadline = time.monotonic() + 120
    creating: list[str] = []
    while time.monotonic() < deadline and not creating:  # kill it while machines are building
        for m in sim.machines:
            meta = sim.in_machine(m, ["cat", f"/run/netemu/{lab}/lab.json"]).stdout
            if '"creating"' in meta and sim.in_machine(m, ["ls", "/run/netns"]).stdout.strip():
                creating.append(m)
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert creating, "no machine was seen building its part"
    # ssh closed their input: the machines that were building roll back by themselves
    deadline = time.monotonic() + 30
    while any(sim.in_machine(m, ["ls", "/run/netns"]).stdout.strip() for m in creating):
        assert time.monotonic() < deadline, f"{creating} did not roll back by themselves"
        time.sleep(0.2)
    res = sim.coordinator("down", lab)
    assert res.returncode == 0, res.stdout + res.stderr
    _same_as(sim, before)


def test_down_with_a_machine_unreachable_finishes_later(sim):
    before = _snapshots(sim)
    lab, path = _lab(sim, "two-routers.yaml", "mc-away")
    assert sim.coordinator("up", path, "--hosts", str(sim.inventory)).returncode == 0
    away = next(m for m in sim.machines if sim.in_machine(m, ["ls", "/run/netns"]).stdout.strip())
    ul = sim.ns("ul")
    subprocess.run(["ip", "-n", ul, "link", "set", f"p-{away}", "down"], check=True)
    try:
        res = sim.coordinator("down", lab)
        assert res.returncode == 1, res.stdout + res.stderr
        assert f"{away}: NOT removed (unreachable" in res.stderr and "again when they are reachable" in res.stderr
    finally:
        subprocess.run(["ip", "-n", ul, "link", "set", f"p-{away}", "up"], check=True)
    assert sim.in_machine(away, ["ls", "/run/netns"]).stdout.strip()  # its part is still there
    res = sim.coordinator("down", lab)
    assert res.returncode == 0 and f"{away}: lab {lab} removed" in res.stdout, res.stdout + res.stderr
    _same_as(sim, before)


PMTU_LAB = """\
name: {name}
nodes:
  h1: {{kind: host, host: m1, routes: ["default via 10.0.1.1"]}}
  r1: {{kind: router, host: m2}}
  h2: {{kind: host, host: m2, routes: ["default via 10.0.2.1"]}}
links:
  - endpoints: ["h1:eth0 10.0.1.2/24", "r1:eth0 10.0.1.1/24"]
  - endpoints: ["r1:eth1 10.0.2.1/24", "h2:eth0 10.0.2.2/24"]
"""


def test_path_mtu_across_a_cut_link_is_the_underlay_minus_vxlan(sim):
    lab, path = _lab_from(sim, PMTU_LAB, "mc-pmtu")
    res = sim.coordinator("up", path, "--hosts", str(sim.inventory))
    try:
        assert res.returncode == 0, res.stdout + res.stderr
        assert "it gets 1450" in res.stderr, res.stderr  # the written 1500 cannot cross machines
        tp = _exec(sim, lab, "h1", "tracepath", "-n", "-m", "4", "10.0.2.2")
        assert tp.returncode == 0 and "pmtu 1450" in tp.stdout, tp.stdout + tp.stderr
        big = _exec(sim, lab, "h1", "ping", "-M", "do", "-c", "1", "-W", "2", "-s", str(1450 - 28), "10.0.2.2")
        assert big.returncode == 0, big.stdout + big.stderr
        over = _exec(sim, lab, "h1", "ping", "-M", "do", "-c", "1", "-W", "2", "-s", str(1450 - 27), "10.0.2.2")
        assert over.returncode != 0, over.stdout
    finally:
        down = sim.coordinator("down", lab)
    assert down.returncode == 0, down.stdout + down.stderr


SPANNING_LAB = """\
name: {name}
nodes:
  h1: {{kind: host, host: m1}}
  h2: {{kind: host, host: m2}}
  h3: {{kind: host, host: m3}}
  h4: {{kind: host, host: m3}}
  lan: {{kind: switch, host: m2}}
links:
  - endpoints: ["h1:eth0 10.0.0.1/24", lan]
  - endpoints: ["h2:eth0 10.0.0.2/24", lan]
  - endpoints: ["h3:eth0 10.0.0.3/24", lan]
  - endpoints: ["h4:eth0 10.0.0.4/24", lan]
"""


def test_switch_spanning_three_machines(sim):
    before = _snapshots(sim)
    lab, path = _lab_from(sim, SPANNING_LAB, "mc-lan")
    res = sim.coordinator("up", path, "--hosts", str(sim.inventory))
    try:
        assert res.returncode == 0, res.stdout + res.stderr
        for src, dst in (("h1", "10.0.0.3"), ("h3", "10.0.0.4"), ("h4", "10.0.0.2"), ("h2", "10.0.0.1")):
            ping = _exec(sim, lab, src, "ping", "-c", "1", "-W", "2", dst)
            assert ping.returncode == 0, f"{src} -> {dst}: {ping.stdout}{ping.stderr}"
        # one MTU for the whole LAN: every member gets what VXLAN carries, also those on the switch's machine
        status = sim.coordinator("status", lab, "h2")
        assert "mtu 1450" in status.stdout and "on m2" in status.stdout, status.stdout
    finally:
        down = sim.coordinator("down", lab)
    assert down.returncode == 0, down.stdout + down.stderr
    _same_as(sim, before)


def _ssh_connections(sim: Sim, m: str) -> list[str]:
    """The established TCP connections to machine m's sshd (one line each)."""
    out = sim.in_machine(m, ["ss", "-Htn", "state", "established", "( sport = :22 )"]).stdout
    return [line for line in out.splitlines() if line.strip()]


def test_one_ssh_connection_per_machine_reused_then_closed_by_down(sim):
    before = _snapshots(sim)
    others = {m: set(_ssh_connections(sim, m)) for m in ("m1", "m2")}  # e.g. another lab's masters
    lab, path = _lab_from(sim, PMTU_LAB, "mc-mux")
    assert sim.coordinator("up", path, "--hosts", str(sim.inventory)).returncode == 0
    control = f"/run/netemu/.multi/{lab}.ssh"

    def ours():
        return {m: set(_ssh_connections(sim, m)) - others[m] for m in ("m1", "m2")}

    try:
        sockets = sim.in_machine("c", ["ls", control]).stdout.split()
        assert len(sockets) == 2, sockets  # one master per machine of the lab, in the lab's own directory
        mode = sim.in_machine("c", ["stat", "-c", "%a %U", control]).stdout.split()
        assert mode == ["700", "root"], mode
        first = ours()
        assert all(len(c) == 1 for c in first.values()), first  # the master, kept open after `up`
        for _ in range(3):
            assert _exec(sim, lab, "h1", "true").returncode == 0
            assert _exec(sim, lab, "h2", "true").returncode == 0
        assert sim.coordinator("status", lab).returncode == 0
        # every command went through the same connection: no new one was opened to either machine
        assert ours() == first
    finally:
        down = sim.coordinator("down", lab)
    assert down.returncode == 0, down.stdout + down.stderr
    # the masters were told to exit and their directory is gone with the record
    assert sim.in_machine("c", ["ls", "-a", "/run/netemu/.multi"]).stdout.split().count(f"{lab}.ssh") == 0
    masters = subprocess.run(["pgrep", "-f", f"{lab}.ssh"], capture_output=True, text=True).stdout.split()
    assert not masters, masters
    deadline = time.monotonic() + 5
    while any(ours().values()):
        assert time.monotonic() < deadline, ours()
        time.sleep(0.1)
    _same_as(sim, before)


AGENT_TIMING = """
import json, sys, time
from netemu.multi import remote
from netemu.multi.nodes import RemoteLab
node = RemoteLab.attach(sys.argv[1]).node("h1")
def plain():  # one ssh session and one netemu start per command, as without the agent
    return remote.run(node.machine, ["part", "proc", node.lab, "h1"], json.dumps({"argv": ["true"], "input": None}))
t = time.monotonic(); codes = [plain().code for _ in range(5)]; each_plain = (time.monotonic() - t) / 5
node.run(["true"])  # starts the agent
t = time.monotonic(); codes += [node.run(["true"]).returncode for _ in range(5)]; each_agent = (time.monotonic() - t) / 5
out = node.run(["sh", "-c", "cat; echo err >&2; exit 3"], input="in\\n")
print(json.dumps({"codes": codes, "plain": each_plain, "agent": each_agent, "out": [out.returncode, out.stdout, out.stderr]}))
"""


def test_commands_in_nodes_go_through_one_agent_per_machine(sim):
    lab, path = _lab_from(sim, PMTU_LAB, "mc-agent")
    assert sim.coordinator("up", path, "--hosts", str(sim.inventory)).returncode == 0
    try:
        res = subprocess.run(["nsenter", "-t", str(sim.pids["c"]), "-m", "-n", "--", sys.executable, "-c", AGENT_TIMING,
                              lab], capture_output=True, text=True, timeout=120,
                             env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
        assert res.returncode == 0, res.stdout + res.stderr
        got = json.loads(res.stdout.splitlines()[-1])
        assert got["codes"] == [0] * 10 and got["out"] == [3, "in\n", "err\n"], got
        # a command through the machine's agent costs a process start there, not an ssh session and a
        # netemu start: measured against the plain way in the same run
        assert got["agent"] * 3 < got["plain"], got
        print(f"per command: {got['plain'] * 1000:.0f} ms plain, {got['agent'] * 1000:.0f} ms through the agent")
    finally:
        down = sim.coordinator("down", lab)
    assert down.returncode == 0, down.stdout + down.stderr
    # the agent ended with the process that started it: no session of it is left on m1
    left = subprocess.run(["pgrep", "-af", f"part agent {lab}"], capture_output=True, text=True).stdout
    assert f"part agent {lab}" not in left, left
