"""A node as a scenario sees it: run commands and probes, background servers, sysctls, counters,
captures and firewall rules — every change registered so the run undoes it."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..errors import NetemuError
from ..model import IPAddress, Node
from .paths import global_address

if TYPE_CHECKING:
    from ..lab import NodeHandle

RULE_COMMENT = "netemu-scenario"  # marks every firewall rule a scenario adds, so removal never guesses
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class ProbeError(NetemuError):
    """A command or probe inside a node failed or did not answer in time."""


Undo = Callable[[Callable[[], None], str], None]


def _read_some(fd: int, deadline: float) -> bytes | None:
    """What `fd` has to read, waiting until `deadline` (time.monotonic) at most: None on timeout, b"" at EOF."""
    remaining = deadline - time.monotonic()
    if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
        return None
    return os.read(fd, 65536)


class Background:
    """A process started in a node; stopped (SIGTERM, then SIGKILL, by PID) when its scope ends."""

    def __init__(self, node: str, argv: list[str], proc: subprocess.Popen):
        self.node = node
        self.argv = argv
        self.proc = proc
        self._buf = ""
        self.lines: list[str] = []

    @property
    def pid(self) -> int:
        """The PID of the `ip netns exec` process (the program execs in its place; for a node on another
        machine, of the local ssh)."""
        return self.proc.pid

    def readline(self, timeout: float) -> str | None:
        """The next stdout line, waiting at most `timeout` seconds; None on timeout or EOF."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while "\n" not in self._buf:
            chunk = _read_some(fd, deadline)
            if not chunk:
                return None
            self._buf += chunk.decode(errors="replace")
        line, self._buf = self._buf.split("\n", 1)
        self.lines.append(line)
        return line

    def read_json(self, timeout: float) -> dict:
        """The next stdout line parsed as JSON (ProbeError if none comes in time)."""
        line = self.readline(timeout)
        if line is None:
            raise ProbeError(f"{self.node}: {' '.join(self.argv[:6])} gave no answer within {timeout:.0f} s"
                             f"{self._stderr_tail()}")
        try:
            return json.loads(line)
        except ValueError:
            raise ProbeError(f"{self.node}: unexpected output {line[:200]!r}") from None

    def _stderr_tail(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        err = self.proc.stderr.read().decode(errors="replace").strip()
        return f": {err[-500:]}" if err else ""

    def stop(self, grace: float = 2.0, sig: int = signal.SIGTERM) -> str:
        """Signal the process, wait at most `grace`, then SIGKILL it; returns the rest of stdout."""
        if self.proc.poll() is None:
            # through the Popen: a process on another machine is signalled over its control channel
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.send_signal(signal.SIGKILL)
                self.proc.wait(5)
        rest = self._buf
        if self.proc.stdout is not None:
            with contextlib.suppress(OSError, ValueError):
                rest += self.proc.stdout.read().decode(errors="replace")
        self._buf = ""
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return rest


class Capture:
    """A running tcpdump in a node; `lines` holds its output once stopped (and `pcap` the file, if any)."""

    def __init__(self, bg: Background, pcap: str | None = None):
        self.bg = bg
        self.pcap = pcap
        self.lines: list[str] = []

    def stop(self) -> list[str]:
        """Stop tcpdump (SIGINT flushes its output) and return the packet lines (read back from the pcap)."""
        if not self.lines:
            out = self.bg.stop(grace=3.0, sig=signal.SIGINT)
            if self.pcap is not None:
                out = subprocess.run(["tcpdump", "-r", self.pcap, "-n", "-tt"], capture_output=True, text=True,
                                     timeout=60).stdout
            self.lines = [ln for ln in out.splitlines() if ln.strip()]
        return self.lines


class ScenarioNode:
    """One node of the lab, bound to the run so every change it makes is undone at the end."""

    def __init__(self, handle: NodeHandle, undo: Undo, track: Callable[[Background], None]):
        self._h = handle
        self._undo = undo
        self._track = track

    # --- identity ----------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The node's name in the topology."""
        return self._h.name

    @property
    def ns(self) -> str:
        """The node's network namespace."""
        return self._h.ns

    @property
    def model(self) -> Node:
        """The node as the topology describes it."""
        return self._h.model

    def address(self, family: int = 4) -> IPAddress | None:
        """The node's first global address of `family`, or None."""
        return global_address(self.model.addresses(), family)

    def __repr__(self) -> str:
        return f"<node {self.name} ns={self.ns}>"

    # --- processes ---------------------------------------------------------------------
    def run(self, argv: list[str], timeout: float = 30, input: str | None = None,
            check: bool = True) -> subprocess.CompletedProcess:
        """Run argv in the node to completion (bounded by `timeout`); ProbeError on failure if `check`."""
        try:
            res = self._h.run(list(argv), timeout=timeout, input=input)
        except subprocess.TimeoutExpired:
            raise ProbeError(f"{self.name}: {' '.join(argv)} did not finish within {timeout:.0f} s") from None
        if check and res.returncode != 0:
            raise ProbeError(f"{self.name}: {' '.join(argv)} exited {res.returncode}: {res.stderr.strip()[-500:]}")
        return res

    def start(self, argv: list[str], stdout: Any = subprocess.PIPE) -> Background:
        """Start argv in the background; it is stopped when the current case (or the run) ends."""
        proc = self._h.popen(list(argv), stdin=subprocess.DEVNULL, stdout=stdout,
                             stderr=subprocess.PIPE, text=False, env=probe_env())
        bg = Background(self.name, list(argv), proc)
        self._track(bg)
        return bg

    def probe(self, name: str, *args: object, timeout: float = 60) -> dict:
        """Run probe `netemu.scenarios.probes.NAME` to completion and return its JSON result."""
        argv = self._probe_argv(name, args)
        try:
            res = self._h.run(argv, timeout=timeout + 5, input=None)
        except subprocess.TimeoutExpired:
            raise ProbeError(f"{self.name}: probe {name} did not finish within {timeout + 5:.0f} s") from None
        if res.returncode != 0:
            raise ProbeError(f"{self.name}: probe {name} exited {res.returncode}: {res.stderr.strip()[-800:]}")
        lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
        if not lines:
            raise ProbeError(f"{self.name}: probe {name} printed nothing: {res.stderr.strip()[-500:]}")
        return json.loads(lines[-1])

    def serve(self, name: str, *args: object, timeout: float = 10) -> tuple[Background, dict]:
        """Start probe NAME as a server; returns it and its ready line (e.g. {"port": …})."""
        bg = self.start(self._probe_argv(name, args))
        ready = bg.read_json(timeout)
        if not ready.get("ready"):
            raise ProbeError(f"{self.name}: probe {name} did not become ready: {ready}")
        return bg, ready

    def _probe_argv(self, name: str, args: tuple[Any, ...]) -> list[str]:
        # A node on another machine runs the probe with that machine's Python and netemu (multi.proc).
        remote = getattr(self._h, "probe_argv", None)
        return remote(name, args) if remote else probe_argv(name, args)

    # --- sysctls, counters, learned state ------------------------------------------------
    def sysctl(self, key: str) -> str:
        """A sysctl as this node sees it."""
        return self._h.sysctl(key)

    def set_sysctl(self, key: str, value: object) -> None:
        """Set a sysctl in this node; the old value comes back when the current scope ends."""
        old = self._h.set_sysctl(key, value)
        self._undo(lambda: self._h.set_sysctl(key, old), f"{self.name}: {key}={old}")

    def netstat(self) -> dict[str, int]:
        """TCP/IP counters of this node's namespace (/proc/net/netstat and snmp), e.g. 'TcpExt.TCPFastOpenActive'."""
        out: dict[str, int] = {}
        # read by a process inside the node: /proc/net is the reader's network namespace's
        for f in ("/proc/net/netstat", "/proc/net/snmp"):
            lines = self.run(["cat", f], timeout=10).stdout.splitlines()
            for head, vals in zip(lines[::2], lines[1::2]):
                prefix, names = head.split(":", 1)
                _, values = vals.split(":", 1)
                for n, v in zip(names.split(), values.split()):
                    with contextlib.suppress(ValueError):
                        out[f"{prefix}.{n}"] = int(v)
        return out

    def flush_learned(self) -> None:
        """Forget learned path state: PMTU exceptions (route cache) and tcp_metrics (cookies, RTTs)."""
        for argv in (["ip", "-4", "route", "flush", "cache"], ["ip", "-6", "route", "flush", "cache"],
                     ["ip", "tcp_metrics", "flush"]):
            self.run(argv, timeout=10, check=False)

    def route_get(self, address: object) -> str:
        """`ip route get ADDRESS` as this node answers it (shows a learned `mtu` when cached)."""
        return self.run(["ip", "route", "get", str(address)], timeout=10).stdout.strip()

    # --- firewall, routes ----------------------------------------------------------------
    def iptables(self, rules: list[str], family: int = 4, table: str = "filter") -> None:
        """Append rules (iptables syntax after the chain, e.g. `OUTPUT -p icmp … -j DROP`); removed at scope end.

        Each rule carries a comment, and removal deletes exactly these rules (`-D` with the same
        spec), so rules another part of netemu installed stay untouched.
        """
        tool = "iptables-restore" if family == 4 else "ip6tables-restore"
        specs = [f"{r} -m comment --comment {RULE_COMMENT}" for r in rules]
        add = f"*{table}\n" + "".join(f"-A {s}\n" for s in specs) + "COMMIT\n"
        delete = f"*{table}\n" + "".join(f"-D {s}\n" for s in specs) + "COMMIT\n"
        self.run([tool, "--noflush", "--wait"], input=add, timeout=15)
        self._undo(lambda: self.run([tool, "--noflush", "--wait"], input=delete, timeout=15),
                   f"{self.name}: {len(specs)} {table} rule(s) of IPv{family}")

    def add_route(self, spec: str, family: int = 4) -> None:
        """`ip route add SPEC` in this node; deleted again at scope end."""
        words = spec.split()
        self.run(["ip", f"-{family}", "route", "add", *words], timeout=10)
        self._undo(lambda: self.run(["ip", f"-{family}", "route", "del", *words], timeout=10, check=False),
                   f"{self.name}: route {spec}")

    # --- capture -------------------------------------------------------------------------
    def capture(self, bpf: str, interface: str = "any", timeout: float = 5, pcap: str | None = None,
                snaplen: int = 200) -> Capture:
        """Start tcpdump on `interface` with filter `bpf`; call `.stop()` for the packet lines.

        With `pcap` (an absolute path, e.g. from `ctx.pcap(…)`) the packets are also kept in that file,
        which Wireshark opens; the lines then come from reading it back (`tcpdump -r`).
        """
        argv = ["tcpdump", "-i", interface, "-n", "-l", "-tt", "--immediate-mode", "-s", str(snaplen)]
        sink = None
        if pcap is not None:
            # -U: each packet is written at once, so the file is complete when tcpdump stops. The packets come
            # out on stdout into the file opened here: a node on another machine streams them back over ssh.
            argv += ["-w", "-", "-U"]
            if interface == "any":
                # LINUX_SLL2 (tcpdump's default for "any") records interface indexes, which a reader outside
                # the node's namespace resolves to its own interfaces' names: SLL v1 names none.
                argv += ["-y", "LINUX_SLL"]
            sink = open(pcap, "wb")  # noqa: SIM115 - the child holds it; closed right after the start
        try:
            bg = self.start([*argv, bpf], stdout=sink if sink is not None else subprocess.PIPE)
        finally:
            if sink is not None:
                sink.close()
        deadline = time.monotonic() + timeout
        # tcpdump says "listening on …" on stderr once the socket is bound: only then is it capturing.
        err = b""
        fd = bg.proc.stderr.fileno()
        while b"listening on" not in err:
            chunk = _read_some(fd, deadline)
            if not chunk:
                bg.stop()
                why = f"did not start within {timeout:.0f} s" if chunk is None else "exited"
                raise ProbeError(f"{self.name}: tcpdump {why}: {err.decode()[-300:]}")
            err += chunk
        return Capture(bg, pcap)


def _pythonpath() -> str:
    """PYTHONPATH with this netemu's root first, so a probe imports this very netemu even when it is not installed."""
    rest = os.environ.get("PYTHONPATH")
    return _PACKAGE_ROOT + (os.pathsep + rest if rest else "")


def probe_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": _pythonpath()}


def probe_argv(name: str, args: tuple[Any, ...]) -> list[str]:
    # PYTHONPATH via `env` too: probe() runs through the handle's run(), which takes no environment.
    return ["env", f"PYTHONPATH={_pythonpath()}", sys.executable, "-m",
            f"netemu.scenarios.probes.{name}", *[str(a) for a in args]]


@contextlib.contextmanager
def stopped(bg: Background) -> Iterator[Background]:
    """Run a block, then stop `bg` whatever happens."""
    try:
        yield bg
    finally:
        bg.stop()
