"""Independent operations run together: batches in the plan, gated process starts, kill -9 in a batch."""

from __future__ import annotations

import json
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
