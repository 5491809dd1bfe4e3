"""Processes of a lab: run to completion or start in the background inside a namespace."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time


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
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[19])


def start(ns: str, argv, log_path: str) -> subprocess.Popen:
    """Start argv in `ns` in its own session, output to `log_path`."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(ns_argv(ns, argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)


def _accepts(path: str) -> bool:
    """Whether the unix socket at `path` accepts a connection (it exists and someone listens)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(path)
        except OSError:
            return False
    return True


def wait_ready(proc: subprocess.Popen, ns: str, ready: tuple[str, ...], timeout: float = 15.0) -> str | None:
    """Wait until `ready` holds: ("file", PATH) exists, ("unix", PATH) accepts; None when ready, else why not.

    `ns` is where the process runs (paths of unix sockets do not depend on the network namespace).
    """
    kind, arg = ready[0], ready[1]
    probe = {"file": os.path.exists, "unix": _accepts}[kind]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe(arg):
            return None
        if proc.poll() is not None:
            return f"exited with status {proc.returncode} before it was ready"
        time.sleep(0.01)
    return f"not ready after {timeout:.0f} s"


def alive(pid: int, started: int | None) -> bool:
    """Whether `pid` still runs and is the same process (same start time)."""
    st = start_time(pid)
    return st is not None and (started is None or st == started)


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
