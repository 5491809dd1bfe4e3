"""Independent operations run together: batches in the plan, gated process starts, kill -9 in a batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT, leftovers, needs_root, netemu, unique_name
from netemu.apply import batches
from netemu.kernel import procs
from netemu.ops import RunCommand, StartProcess, WriteFile

from frr_labs import RING, lab_processes, needs_frr, write


def test_consecutive_ops_of_one_batch_form_a_group_and_a_failure_step_starts_one():
    ops = (WriteFile("/x", ""), RunCommand("n", ("a",), batch="b"), RunCommand("n", ("b",), batch="b"),
           RunCommand("n", ("c",), batch="b"), StartProcess("n", "p", ("d",), batch="b"),
           RunCommand("n", ("e",)), RunCommand("n", ("f",)))
    assert [(first, len(group)) for first, group in batches(ops)] == [(1, 1), (2, 3), (5, 1), (6, 1), (7, 1)]
    assert [(first, len(group)) for first, group in batches(ops, fail_at=3)] == [(1, 1), (2, 1), (3, 2), (5, 1),
                                                                                 (6, 1), (7, 1)]


def test_a_gated_process_runs_nothing_if_netemu_goes_away_before_releasing_it(tmp_path):
    needs_root()
    ns = unique_name("fa-gate")
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        marker = tmp_path / "ran"
        st = procs.start_capped(ns, ["touch", str(marker)], str(tmp_path / "log"), gated=True)
        time.sleep(0.3)
        assert not marker.exists() and st.proc.poll() is None  # waiting at the gate
        st.proc.stdin.close()  # as when netemu is killed: the gate reads end of file
        assert st.proc.wait(timeout=10) == 125 and not marker.exists()
        st = procs.start_capped(ns, ["touch", str(marker)], str(tmp_path / "log"), gated=True)
        st.release()
        assert st.proc.wait(timeout=10) == 0 and marker.exists()
    finally:
        subprocess.run(["ip", "netns", "del", ns])


def test_kill_9_while_the_daemons_start_then_down_kills_every_one(tmp_path):
    needs_root()
    needs_frr()
    name = unique_name("fa-kill")
    env_path = write(tmp_path, RING, name)
    proc = subprocess.Popen([sys.executable, "-m", "netemu", "up", "--no-wait", env_path], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    journal = Path(f"/run/netemu/{name}/journal.jsonl")
    deadline = time.monotonic() + 60
    started = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            started = sum(1 for line in journal.read_text().splitlines()
                          if '"frr-' in line and '"kind": "proc"' in line and "(log)" not in line)
        except OSError:
            pass
        if started >= 3:  # inside the first batch of daemon starts
            break
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    try:
        assert started >= 3, "up finished or failed before any daemon started; the test proves nothing"
        state = json.loads(Path(f"/run/netemu/{name}/lab.json").read_text())["state"]
        assert state == "creating", "up finished before it could be killed; the test proves nothing"
        time.sleep(0.5)  # a daemon spawned just before the kill has reached its gate (and left) by now
    finally:
        assert netemu("down", name).returncode == 0
    assert leftovers(name) == [] and lab_processes(name) == []


def _two_hosts(tmp_path, prefix):
    from netemu.parse import load_topology as load

    name = unique_name(prefix)
    path = tmp_path / "t.yaml"
    path.write_text(f"name: {name}\nnodes:\n  h1: {{kind: host}}\n  h2: {{kind: host}}\nlinks:\n"
                    f"  - endpoints: [h1, h2]\n")
    return name, load(str(path))


def _up_with(topo, ops):
    from dataclasses import replace

    from netemu import apply
    from netemu.plan import build

    plan = build(topo)
    return apply.up(topo, replace(plan, ops=plan.ops + tuple(ops)))


def test_a_process_after_another_starts_as_soon_as_that_one_is_ready_not_when_all_are(tmp_path):
    needs_root()
    name, topo = _two_hosts(tmp_path, "fa-after")
    ns = topo.namespace("h1")
    a, b, slow = (tmp_path / x for x in ("a", "b", "slow"))
    where = f"readlink /proc/self/ns/net /proc/self/ns/mnt /proc/self/ns/uts; hostname; ls {tmp_path / 'at'}"
    for d in ("d", "at"):
        (tmp_path / d).mkdir()
    (tmp_path / "d" / "seen").write_text("")
    binds = ((str(tmp_path / "d"), str(tmp_path / "at")),)  # d seen at `at` by these processes only
    ops = [StartProcess(ns, "a", ("sh", "-c", f"({where}) > {a}.t; mv {a}.t {a}; exec sleep 60"),
                        ready=("file", str(a)), batch="t", binds=binds),
           StartProcess(ns, "slow", ("sh", "-c", f"sleep 2; touch {slow}; exec sleep 60"), ready=("file", str(slow)),
                        batch="t"),
           StartProcess(ns, "b", ("sh", "-c", f"({where}) > {b}.t; readlink /proc/self/fd/* > {b}.fds; "
                                               f"mv {b}.t {b}; exec sleep 60"),
                        ready=("file", str(b)), batch="t", after="a", binds=binds)]
    try:
        _up_with(topo, ops)
        journal = [json.loads(line) for line in Path(f"/run/netemu/{name}/journal.jsonl").read_text().splitlines()]
        assert {r.get("name") for r in journal if r.get("kind") == "proc"} >= {"a", "slow", "b"}
        # b ran after a was ready, and well before slow was: it did not wait for the whole batch
        assert a.stat().st_mtime <= b.stat().st_mtime < slow.stat().st_mtime - 1
        # b entered a's namespaces (it waited for a, with the same namespace and binds): it sees what a sees
        seen = a.read_text().split()
        assert b.read_text().split() == seen and seen[-2:] == ["h1", "seen"]
        assert seen[0] != os.readlink("/proc/self/ns/net") and seen[1] != os.readlink("/proc/self/ns/mnt")
        # the descriptors it entered them through are closed before the program runs
        fds = Path(f"{b}.fds").read_text().split()
        assert fds and not [f for f in fds if f.split(":")[0] in ("mnt", "net", "uts")], fds
    finally:
        assert netemu("down", name).returncode == 0
    assert leftovers(name) == []


def test_a_process_after_one_that_fails_never_runs_and_the_failure_is_named(tmp_path):
    needs_root()
    name, topo = _two_hosts(tmp_path, "fa-after")
    ns = topo.namespace("h1")
    b = tmp_path / "b"
    ops = [StartProcess(ns, "a", ("sh", "-c", "echo broken; exit 3"), ready=("file", str(tmp_path / "a")), batch="t"),
           StartProcess(ns, "b", ("touch", str(b)), batch="t", after="a")]
    try:
        import pytest

        from netemu.errors import KernelError

        with pytest.raises(KernelError, match="process a exited with status 3 before it was ready"):
            _up_with(topo, ops)
        time.sleep(0.3)
        assert not b.exists()
    finally:
        netemu("down", name)
    assert leftovers(name) == []


def test_each_routers_daemons_start_once_its_own_zebra_serves(tmp_path):
    needs_frr()
    from netemu.parse import load_topology
    from netemu.plan import build

    starts = [op for op in build(load_topology(write(tmp_path, RING, "fa-plan"))).ops if isinstance(op, StartProcess)]
    zebras = [op for op in starts if op.name.endswith("-zebra")]
    assert zebras and len({op.batch for op in starts}) == 1  # one batch: no router waits for the others' zebras
    assert starts[:len(zebras)] == zebras and all(not op.after for op in zebras)
    for op in starts[len(zebras):]:
        node = op.name[len("frr-"):].rsplit("-", 1)[0]
        assert op.after == f"frr-{node}-zebra" and op.ns == next(z.ns for z in zebras if z.after == "" and
                                                                  z.name == op.after)
