"""Processes of a lab: run to completion or start in the background inside a namespace."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .netns import inode_of_pid


Binds = tuple[tuple[str, str], ...]  # (directory, where the process sees it) pairs

# `ip netns exec` always gives the process its own mount namespace, a slave of the host's: a bind
# mount made there is seen by that process (and its children) only, never by the host, and vanishes
# with the last of them. The shell mounts as root, then execs the program in its place (same PID).
_BIND = 'while [ "$1" != -- ]; do mount --bind "$1" "$2" || exit 125; shift 2; done; shift; exec "$@"'
# A gated start waits for one line on stdin before it runs anything: netemu journals the PID and start
# time first, then writes the line. If netemu dies before, the read sees end of file and it exits.
_GATE = "read -r go || exit 125; "


def ns_argv(ns: str, argv: tuple[str, ...] | list[str], binds: Binds = (), gated: bool = False,
            join: tuple[int, ...] | None = None, cwd: str | None = None) -> list[str]:
    """argv that runs inside `ns` with its /etc/netns files mounted (as `ip netns exec` does) and, when the
    node has one, inside its own UTS namespace (so `hostname` says the node's name); each (DIR, AT) of
    `binds` shows DIR at AT to this process only (e.g. a router's directory as FRR's compiled-in /run/frr).
    `gated`: the program starts only once a line arrives on stdin (it then gets /dev/null as stdin).
    `join`: descriptors (inherited by the process) of the mount, network and UTS namespaces of a process
    started by this function for the same `ns` and `binds` (see join_fds): the program enters them instead,
    with one `nsenter` and none of `ip netns exec`'s and the binds' own work; `cwd` is then where it starts
    (entering a mount namespace starts at its root)."""
    if join is not None:
        head = ["nsenter", *(f"--{kind}=/proc/self/fd/{fd}" for kind, fd in zip(JOINED, join)),
                *([f"--wd={cwd}"] if cwd else [])]
        # the program needs the descriptors no more once nsenter has entered their namespaces (bash: dash
        # closes only descriptors 0-9)
        shut = "".join(f"exec {fd}<&-; " for fd in join)
        return [*head, "bash", "-c", (_GATE if gated else "") + shut + 'exec "$@"' + (" </dev/null" if gated else ""),
                "netemu-start", *argv]
    uts = uts_of(ns)
    head = ["nsenter", f"--uts={uts}"] if uts else []
    if binds or gated:
        script = (_GATE if gated else "") + _BIND + (" </dev/null" if gated else "")
        argv = ["sh", "-c", script, "netemu-start", *(x for pair in binds for x in pair), "--", *argv]
    return [*head, "ip", "netns", "exec", ns, *argv]


JOINED = ("mount", "net", "uts")  # the namespaces a process joins (nsenter's names; /proc/PID/ns/mnt for mount)


def join_fds(proc: subprocess.Popen) -> tuple[int, ...] | None:
    """Descriptors of the namespaces of `proc`, a running child of netemu, for ns_argv's `join`; None if it
    has ended. They are opened while the child is unreaped, so its PID cannot name another process yet,
    and they hold the namespaces whatever happens to it next."""
    if proc.poll() is not None:
        return None
    fds: list[int] = []
    try:
        for kind in JOINED:
            fds.append(os.open(f"/proc/{proc.pid}/ns/{'mnt' if kind == 'mount' else kind}", os.O_RDONLY | os.O_CLOEXEC))
    except OSError:  # it ended meanwhile (a zombie has no namespaces)
        for fd in fds:
            os.close(fd)
        return None
    return tuple(fds)


def uts_path(lab: str, node: str) -> Path:
    """Where a node's UTS namespace is held (bind-mounted) for the lab's life."""
    from ..labdir import LabDir

    return LabDir(lab).path / "uts" / node


def uts_of(ns: str) -> str | None:
    """The held UTS namespace of the node whose network namespace is `ns` (LAB-NODE), if any.

    Lab names may hold '-', so every split of `ns` is tried; the file exists only for a real lab's node.
    """
    for i, ch in enumerate(ns):
        if ch == "-":
            path = uts_path(ns[:i], ns[i + 1:])
            if os.path.isfile(path) and os.path.ismount(path):
                return str(path)
    return None


def run(ns: str, argv, stdin: str | None = None, timeout: float = 60, binds: Binds = ()) -> subprocess.CompletedProcess:
    """Run argv in `ns` to completion, capturing output (`binds` as in ns_argv)."""
    return subprocess.run(ns_argv(ns, argv, binds), input=stdin, capture_output=True, text=True, timeout=timeout)


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (guards against PID reuse), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        return int(stat[stat.rindex(")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


LOG_LIMIT = 1 << 20  # bytes of output kept per process: the newest half in LOG, the half before in LOG.1
LOGCAP = str(Path(__file__).with_name("logcap.py"))


@dataclass(frozen=True)
class Started:
    """A process started in a node, and the pump that writes its output to its capped log."""

    proc: subprocess.Popen
    pump: subprocess.Popen | None

    def release(self) -> None:
        """Let a gated process run its program (see ns_argv); nothing for one started ungated."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):  # it died at the gate: wait_all_ready reports it
                self.proc.stdin.write(b"go\n")
            with contextlib.suppress(OSError):
                self.proc.stdin.close()


def start_capped(ns: str, argv, log_path: str, env: tuple[tuple[str, str], ...] | dict = (), cwd: str | None = None,
                 log_limit: int = LOG_LIMIT, binds: Binds = (), gated: bool = False) -> Started:
    """Start argv in `ns` in its own session; its output goes through a pump that keeps `log_path` under
    `log_limit` bytes (with LOG.1), so a chatty process cannot fill /run (`binds`, `gated` as in ns_argv:
    a gated process waits for Started.release)."""
    read, write = os.pipe()
    try:
        # The pump is plain Python without site packages: it starts in a few ms and imports nothing of netemu.
        pump = subprocess.Popen([sys.executable, "-I", LOGCAP, log_path, str(log_limit)], stdin=read,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                close_fds=True)
    except BaseException:
        os.close(read)
        os.close(write)
        raise
    os.close(read)
    try:
        proc = subprocess.Popen(ns_argv(ns, argv, binds, gated), stdin=subprocess.PIPE if gated else subprocess.DEVNULL,
                                stdout=write, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True, env=_env(env), cwd=cwd)
    except BaseException:
        pump.kill()
        pump.wait()
        raise
    finally:
        os.close(write)
    return Started(proc, pump)


@dataclass(frozen=True)
class Spec:
    """One process for a Starter: as the arguments of start_capped."""

    ns: str
    argv: tuple[str, ...]
    log_path: str
    env: tuple[tuple[str, str], ...] = ()
    cwd: str | None = None
    binds: Binds = ()


class Starter:
    """Gated processes (as start_capped) whose outputs share one pump, made at once for every spec: a pump
    is a Python start-up, costlier in CPU than many a daemon's own; each output still goes to its own
    capped log. The processes are started one by one, each when wanted (`start`); `close` gives up the
    ones never started (their logs end at once)."""

    def __init__(self, specs: list[Spec], log_limit: int = LOG_LIMIT):
        self.specs = specs
        pipes = [os.pipe() for _ in specs]
        try:
            fds = [f"{r}={spec.log_path}" for (r, _), spec in zip(pipes, specs)]
            self.pump = subprocess.Popen([sys.executable, "-I", LOGCAP, "--fds", str(log_limit), *fds],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True,
                                         pass_fds=[r for r, _ in pipes])
        except BaseException:
            for fd in (fd for pair in pipes for fd in pair):
                os.close(fd)
            raise
        for r, _ in pipes:
            os.close(r)
        self.writers = [w for _, w in pipes]

    def start(self, i: int, join: subprocess.Popen | None = None) -> Started:
        """Start specs[i], held at its gate until Started.release; with `join`, a running process started
        for the same namespace and binds, in that process's namespaces (see ns_argv)."""
        spec, w = self.specs[i], self.writers[i]
        if w < 0:
            raise RuntimeError(f"process {i} was already started")
        fds = join_fds(join) if join is not None else None
        try:
            proc = subprocess.Popen(ns_argv(spec.ns, spec.argv, spec.binds, gated=True, join=fds, cwd=spec.cwd),
                                    stdin=subprocess.PIPE, stdout=w, stderr=subprocess.STDOUT,
                                    start_new_session=True, close_fds=True, pass_fds=fds or (), env=_env(spec.env),
                                    cwd=spec.cwd)
        finally:
            os.close(w)
            self.writers[i] = -1
            for fd in fds or ():
                os.close(fd)
        return Started(proc, self.pump)

    def close(self) -> None:
        for i, w in enumerate(self.writers):
            if w >= 0:
                os.close(w)
                self.writers[i] = -1


def log_tail(log: Path, lines: int = 15, limit: int = 2000) -> str:
    """The last lines of a process's log (its rotated half included), for error messages."""
    text = ""
    for p in (Path(f"{log}.1"), log):
        with contextlib.suppress(OSError):
            text += p.read_bytes()[-limit:].decode(errors="replace")
    tail = "\n".join(text.splitlines()[-lines:])[-limit:]
    return tail or "(nothing)"


def _env(extra: tuple[tuple[str, str], ...] | dict) -> dict[str, str] | None:
    extra = dict(extra)
    return {**os.environ, **extra} if extra else None


Wait = tuple[subprocess.Popen, str, tuple[str, ...] | None, float]  # process, namespace, probe, timeout


def wait_all_ready(waits: list[Wait], on_ready: Callable[[int], list[Wait]] | None = None) -> list[str | None]:
    """Probe each process's `ready` (see ops.StartProcess) in its namespace, all in one loop: for each, None
    when ready, else why not. Without a probe a process only has to be still running after EARLY_EXIT seconds.

    `on_ready(i)`, called as soon as process i is ready, may return more processes to wait for (e.g.
    ones it just let run); they are numbered on after the others, and their timeouts count from then.
    """
    waits = list(waits)
    since = [time.monotonic()] * len(waits)
    why: list[str | None] = [None] * len(waits)
    pending = set(range(len(waits)))
    pause = 0.01

    def done(i: int) -> None:
        pending.discard(i)
        if on_ready is not None and why[i] is None:
            more = on_ready(i)
            now = time.monotonic()
            for w in more:
                waits.append(w)
                since.append(now)
                why.append(None)
                pending.add(len(waits) - 1)

    while pending:
        progressed = False
        for i in sorted(pending):
            proc, ns, ready, timeout = waits[i]
            elapsed = time.monotonic() - since[i]
            if not ready:
                if proc.poll() is not None:
                    why[i] = f"exited with status {proc.returncode} right after it started"
                    done(i)
                elif elapsed >= EARLY_EXIT:
                    done(i)
                    progressed = True
                continue
            if probe(ns, ready, min(5.0, max(0.1, timeout - elapsed))) and proc.poll() is None:
                done(i)
                progressed = True
            elif proc.poll() is not None:
                why[i] = f"exited with status {proc.returncode} before it was ready ({describe_probe(ready)})"
                done(i)
            elif time.monotonic() - since[i] >= timeout:
                why[i] = f"not ready after {timeout:g} s ({describe_probe(ready)} never held)"
                done(i)
        if pending:
            if progressed:  # processes just let run: look again soon
                pause = 0.01
            time.sleep(pause)
            slow = any(waits[i][2] and waits[i][2][0] == "command" for i in pending)
            pause = min(pause * 1.5, 0.5 if slow else 0.05)
    return why


EARLY_EXIT = 0.3  # seconds a process without a readiness probe must survive


def describe_probe(ready: tuple[str, ...]) -> str:
    """The probe in words, for messages and status."""
    kind, args = ready[0], ready[1:]
    if kind in ("tcp", "udp"):
        return f"{kind} port {args[0]} listening"
    if kind == "file":
        return f"file {args[0]} exists"
    if kind == "unix":
        return f"unix socket {args[0]} accepts"
    return f"`{shlex.join(args)}` succeeds"


def probe(ns: str, ready: tuple[str, ...], timeout: float = 5.0) -> bool:
    """Whether the readiness probe holds right now."""
    kind, args = ready[0], ready[1:]
    if kind in ("tcp", "udp"):
        return int(args[0]) in listening(ns, kind)
    if kind == "file":
        return os.path.exists(args[0])
    if kind == "unix":
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            try:
                s.connect(args[0])
                return True
            except OSError:
                return False
    if kind == "command":
        try:
            return run(ns, list(args), timeout=timeout).returncode == 0
        except subprocess.TimeoutExpired:
            return False
    raise ValueError(f"unknown readiness probe {kind!r}")


# Socket states in /proc/net/{tcp,udp}: a TCP socket accepting connections is LISTEN (0A); a bound
# UDP socket is "closed" (07) unless connected (01), and either receives.
_LISTEN = {"tcp": {"0A"}, "udp": {"07", "01"}}


def listening(ns: str, proto: str) -> set[int]:
    """Local ports of `proto` sockets that accept traffic in namespace `ns` (as `ss -l` shows them)."""
    from . import netns

    ports: set[int] = set()
    with netns.entered(ns):
        # /proc/thread-self/net follows this thread's network namespace (/proc/net would follow the process's).
        for fam in ("", "6"):
            try:
                with open(f"/proc/thread-self/net/{proto}{fam}") as f:
                    next(f)
                    for line in f:
                        parts = line.split()
                        if parts[3] in _LISTEN[proto]:
                            ports.add(int(parts[1].rsplit(":", 1)[1], 16))
            except FileNotFoundError:  # no IPv6 in this kernel
                continue
    return ports


def alive(pid: int, started: int | None) -> bool:
    """Whether `pid` still runs and is the same process (same start time, when one is known)."""
    st = start_time(pid)
    return st is not None and (started is None or st == started)


def same(pid: int, started: int | None) -> bool:
    """Whether `pid` is still the process recorded with start time `started`: the identity netemu
    requires before it signals anything (without a start time any process reusing the PID would match)."""
    return started is not None and pid > 1 and start_time(pid) == started


def same_process(pid: int, started: int | None, ns_inode: int) -> bool:
    """Whether `pid` is still the process recorded: same start time and inside namespace `ns_inode`."""
    return same(pid, started) and inode_of_pid(pid) == ns_inode


def is_log_pump(pid: int, started: int | None) -> bool:
    """Whether `pid` is still the recorded process (same start time) and one of netemu's log pumps."""
    if not same(pid, started):
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return False
    return LOGCAP.encode() in args


def kill_all(pids: dict[int, int | None], grace: float = 1.0) -> None:
    """SIGTERM each pid that is still the same process, then SIGKILL what is left after `grace`."""
    live = {p: s for p, s in pids.items() if same(p, s)}
    for pid in live:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while live and time.monotonic() < deadline:
        live = {p: s for p, s in live.items() if same(p, s) and not _zombie(p)}
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
