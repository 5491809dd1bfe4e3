"""Processes of a lab: run to completion or start in the background inside a namespace."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

from .. import logcap
from .netns import inode_of_pid


def ns_argv(ns: str, argv: tuple[str, ...] | list[str]) -> list[str]:
    """argv that runs inside `ns` with its /etc/netns files mounted (as `ip netns exec` does)."""
    return ["ip", "netns", "exec", ns, *argv]


def run(ns: str, argv, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run argv in `ns` to completion, capturing output."""
    return subprocess.run(ns_argv(ns, argv), input=stdin, capture_output=True, text=True, timeout=timeout)


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (guards against PID reuse), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        return int(stat[stat.rindex(")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def start(ns: str, argv, log_path: str) -> subprocess.Popen:
    """Start argv in `ns` in its own session, output to `log_path` (capped: see netemu.logcap)."""
    sink = logcap.sink(log_path)
    try:
        proc = subprocess.Popen(ns_argv(ns, argv), stdin=subprocess.DEVNULL, stdout=sink.fd, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)
    except BaseException:
        sink.close()
        sink.proc.wait()
        raise
    sink.close()
    proc.log_sink = sink  # type: ignore[attr-defined]  # drained before a failed start's log is read
    return proc


def drain_log(proc: subprocess.Popen, timeout: float = 1.0) -> None:
    """After `proc` exited, wait (briefly) until its last output reached its log file."""
    sink = getattr(proc, "log_sink", None)
    if sink is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            sink.proc.wait(timeout)


def wait_ready(proc: subprocess.Popen, ready_file: str, timeout: float = 15.0) -> str | None:
    """Wait until `ready_file` exists; returns None when ready, else why not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(ready_file):
            return None
        if proc.poll() is not None:
            drain_log(proc)
            return f"exited with status {proc.returncode} before it was ready"
        time.sleep(0.01)
    return f"not ready after {timeout:.0f} s"


def alive(pid: int, started: int | None) -> bool:
    """Whether `pid` still runs and is the same process (same start time; unknown start time: never)."""
    if started is None or pid <= 1:
        return False  # without a start time any process reusing the PID would match
    return start_time(pid) == started


def same_process(pid: int, started: int | None, ns_inode: int) -> bool:
    """Whether `pid` is still the process recorded: same start time and inside namespace `ns_inode`."""
    return alive(pid, started) and inode_of_pid(pid) == ns_inode


def kill_all(pids: dict[int, int | None], grace: float = 1.0) -> None:
    """SIGTERM each pid that is still the same process, then SIGKILL what is left after `grace`."""
    live = {p: s for p, s in pids.items() if alive(p, s)}
    for pid in live:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while live and time.monotonic() < deadline:
        live = {p: s for p, s in live.items() if alive(p, s) and not _zombie(p)}
        if live:
            time.sleep(0.02)
    for pid in live:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        return stat[stat.rindex(")") + 2] == "Z"
    except OSError:
        return True
