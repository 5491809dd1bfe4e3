"""A delay line started again at runtime (`netemu link … set`) is journaled: `status` shows its new
PID, not the old dead one, and `down` kills it by PID, start time and namespace."""

from __future__ import annotations

import pytest
from conftest import needs_root

from netemu import status as status_mod
from netemu.apply import down
from netemu.kernel import procs
from netemu.linkemu import caps as capsmod
from netemu.linkemu import runtime
from netemu.linkemu.feature import PROCESS
from netemu.linkemu.state import load

TOPOLOGY = """
name: NAME
nodes: {a: {}, b: {}}
links:
  - endpoints: ["a:eth0 10.76.0.1/24", "b:eth0 10.76.0.2/24"]
    delay: 20ms
"""


def test_a_restarted_delay_line_is_journaled_and_shown_by_status(lab_text):
    needs_root()
    if capsmod.backend(capsmod.probe()) != "fallback" or not capsmod.probe().delay_line:
        pytest.skip("needs the NFQUEUE delay line (this kernel has netem, or lacks NFQUEUE)")
    lab = lab_text(TOPOLOGY, prefix="safety")
    first = runtime.delayline_pid(load(lab))
    assert first is not None
    runtime.set_impairment(lab, "a:eth0", runtime.parse_changes({"delay": "0"}))  # nothing to delay: it stops
    assert runtime.delayline_pid(load(lab)) is None
    runtime.set_impairment(lab, "a:eth0", runtime.parse_changes({"delay": "10ms"}))  # a new process
    second = runtime.delayline_pid(load(lab))
    assert second not in (None, first)
    shown = [p for p in status_mod.lab(lab)["processes"] if p["name"] == PROCESS]
    assert shown == [{"pid": second, "name": PROCESS, "running": True}]
    start = procs.start_time(second)
    assert down(lab) is not None
    assert procs.start_time(second) != start or _zombie(second)  # our own child: dead until reaped


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
