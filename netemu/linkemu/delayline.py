"""The userspace delay line: holds queued packets for their link's delay, then accepts them.

One process per lab. It reads the lab's link-emulation state file, opens one nfnetlink socket
in each namespace that hooks delayed traffic (entering it only to create the socket), binds
the queues there and runs a single epoll loop with a timerfd for sub-millisecond release times.

Packets of one queue leave in arrival order (jitter never reorders), so one batch verdict
accepts every due packet of a queue. Rules use --queue-bypass: if this process dies, traffic
flows undelayed instead of stopping. SIGHUP reloads the state file; SIGTERM releases every
held packet and exits.

Run as: python3 netemu/linkemu/delayline.py STATE_FILE  (or python3 -m netemu.linkemu.delayline)
"""

from __future__ import annotations

if __name__ == "__main__" and not __package__:  # started by path: make `netemu` importable
    import pathlib
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
    __package__ = "netemu.linkemu"

import gc
import json
import os
import random
import select
import signal
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass, field

from netemu.kernel import netns
from netemu.linkemu import nfq
from netemu.linkemu.state import READY, STATS, delay_queues, write_atomic
from netemu.linkemu.timerfd import TimerFd

EARLY = 50e-6  # release a packet up to 50 µs before its time rather than arm another timer
STATS_EVERY = 1.0


@dataclass
class Line:
    """One delayed direction: a queue in one namespace and the packets it holds."""

    ns: str
    queue: int
    label: str
    delay: float
    jitter: float
    sock: nfq.QueueSocket
    held: deque = field(default_factory=deque)  # (release time, packet id), release times non-decreasing
    last_release: float = 0.0
    packets: int = 0
    max_held: int = 0
    late: int = 0  # released more than 1 ms after their time
    worst_late_us: int = 0

    def due(self, arrived: float) -> float:
        """The release time of a packet arriving now: delay ± uniform jitter, never before the previous."""
        d = self.delay
        if self.jitter:
            d = max(0.0, d + random.uniform(-self.jitter, self.jitter))
        t = arrived + d
        t = max(t, self.last_release)
        self.last_release = t
        return t


class DelayLine:
    """The event loop and the sockets it owns."""

    def __init__(self, state_file: str):
        self.state_file = state_file
        self.ep = select.epoll()
        self.timer = TimerFd()
        self.ep.register(self.timer.fileno(), select.EPOLLIN)
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        signal.set_wakeup_fd(self.wake_w.fileno())
        self.ep.register(self.wake_r.fileno(), select.EPOLLIN)
        self.socks: dict[str, nfq.QueueSocket] = {}  # namespace -> socket
        self.by_fd: dict[int, nfq.QueueSocket] = {}
        self.lines: dict[tuple[int, int], Line] = {}  # (socket fd, queue) -> line
        self.reload_wanted = False
        self.stop_wanted = False
        self.generation = -1
        self.ready_file = ""
        self.stats_file = ""
        self.unknown = 0

    # --- configuration ---------------------------------------------------------------
    def load(self) -> None:
        """(Re)read the state file and bind, update or unbind queues to match it."""
        with open(self.state_file) as f:
            state = json.load(f)
        # A lab across machines (--hosts): each machine's delay line serves the queues of its own namespaces.
        want = {(q["ns"], q["queue"]): q for q in delay_queues(state) if netns.exists(q["ns"])}
        # Unbind what is no longer wanted, accepting what it still holds first.
        for key, line in list(self.lines.items()):
            if (line.ns, line.queue) not in want:
                self._flush(line)
                line.sock.unbind(line.queue)
                del self.lines[key]
        for (ns, queue), q in want.items():
            sock = self.socks.get(ns)
            if sock is None:
                with netns.entered(ns):
                    sock = nfq.QueueSocket()
                self.socks[ns] = sock
                self.by_fd[sock.fileno()] = sock
                self.ep.register(sock.fileno(), select.EPOLLIN)
            key = (sock.fileno(), queue)
            line = self.lines.get(key)
            if line is None:
                sock.bind(queue)
                line = Line(ns, queue, q.get("label", ""), 0.0, 0.0, sock)
                self.lines[key] = line
            line.delay = q["delay_us"] / 1e6
            line.jitter = q.get("jitter_us", 0) / 1e6
            line.label = q.get("label", line.label)
        self.generation = state.get("generation", 0)
        run_dir = state["run_dir"]
        self.ready_file = os.path.join(run_dir, READY)
        self.stats_file = os.path.join(run_dir, STATS)
        write_atomic(self.ready_file, f"{os.getpid()} {self.generation}\n")
        print(f"delayline: generation {self.generation}: {len(self.lines)} queue(s) in "
              f"{len({line.ns for line in self.lines.values()})} namespace(s)", file=sys.stderr, flush=True)

    # --- the loop --------------------------------------------------------------------
    def run(self) -> None:
        """Serve until SIGTERM/SIGINT."""
        next_stats = time.monotonic() + STATS_EVERY
        while not self.stop_wanted:
            nxt = min((line.held[0][0] for line in self.lines.values() if line.held), default=None)
            if nxt is not None:
                self.timer.arm(nxt - EARLY)
            events = self.ep.poll(STATS_EVERY)
            now = time.monotonic()
            for fd, _ev in events:
                if fd == self.timer.fileno():
                    self.timer.clear()
                elif fd == self.wake_r.fileno():
                    try:
                        while self.wake_r.recv(64):
                            pass
                    except BlockingIOError:
                        pass
                else:
                    self._receive(self.by_fd[fd], now)
            self._release(time.monotonic())
            if self.reload_wanted:
                self.reload_wanted = False
                try:
                    self.load()
                except Exception as e:  # noqa: BLE001 - any reload failure: keep serving the old configuration
                    print(f"delayline: reload failed: {e}", file=sys.stderr, flush=True)
            if now >= next_stats:
                self._write_stats()
                next_stats = now + STATS_EVERY
        for line in self.lines.values():
            self._flush(line)
        self._write_stats()

    def _receive(self, sock: nfq.QueueSocket, now: float) -> None:
        fd = sock.fileno()
        accept_now: dict[int, int] = {}
        for queue, pid in sock.packets():
            line = self.lines.get((fd, queue))
            if line is None:
                accept_now[queue] = pid
                self.unknown += 1
                continue
            line.held.append((line.due(now), pid))
            line.packets += 1
            line.max_held = max(line.max_held, len(line.held))
        if accept_now:
            sock.send(b"".join(nfq.verdict(q, pid) for q, pid in accept_now.items()))

    def _release(self, now: float) -> None:
        out: dict[nfq.QueueSocket, list[bytes]] = {}
        limit = now + EARLY
        for line in self.lines.values():
            held = line.held
            if not held or held[0][0] > limit:
                continue
            last = None
            first_due = held[0][0]
            while held and held[0][0] <= limit:
                last = held.popleft()[1]
            late = now - first_due
            if late > 1e-3:
                line.late += 1
                line.worst_late_us = max(line.worst_late_us, int(late * 1e6))
            out.setdefault(line.sock, []).append(nfq.verdict(line.queue, last))
        for sock, msgs in out.items():
            sock.send(b"".join(msgs))

    def _flush(self, line: Line) -> None:
        if line.held:
            last = line.held[-1][1]
            line.held.clear()
            line.sock.send(nfq.verdict(line.queue, last))

    def _write_stats(self) -> None:
        if not self.stats_file:
            return
        data = {
            "pid": os.getpid(),
            "generation": self.generation,
            "unknown_queue_packets": self.unknown,
            "overruns": sum(s.overruns for s in self.socks.values()),
            "queues": [
                {"ns": line.ns, "queue": line.queue, "label": line.label, "packets": line.packets,
                 "held": len(line.held), "max_held": line.max_held, "late_releases": line.late,
                 "worst_late_us": line.worst_late_us}
                for line in self.lines.values()
            ],
        }
        try:
            write_atomic(self.stats_file, json.dumps(data))
        except OSError:
            pass


def _realtime(priority: int) -> None:
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        print(f"delayline: running SCHED_FIFO priority {priority}", file=sys.stderr, flush=True)
    except (PermissionError, OSError) as e:
        print(f"delayline: real-time priority not permitted ({e}); timing will be noisier",
              file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point: `delayline.py STATE_FILE`."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: delayline.py STATE_FILE", file=sys.stderr)
        return 2
    line = DelayLine(argv[0])

    def on_hup(_sig, _frm):
        line.reload_wanted = True

    def on_term(_sig, _frm):
        line.stop_wanted = True

    signal.signal(signal.SIGHUP, on_hup)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    if os.environ.get("NETEMU_LINKEMU_NO_RT") != "1":
        _realtime(int(os.environ.get("NETEMU_LINKEMU_RT_PRIORITY", "10")))
    line.load()
    # Nothing here forms reference cycles; a full collection over the held packets would stall
    # releases by milliseconds, so leave memory to reference counting alone.
    gc.disable()
    line.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
