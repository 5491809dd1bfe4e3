"""In-process measurements between two namespaces: TCP handshake RTT, TCP goodput, UDP one-way delay and loss.

Each socket is created with the calling thread inside its namespace (netns.entered) and keeps
that namespace for life, so one process measures between any two nodes without `ip netns exec`.
Both ends share the machine's monotonic clock, so one-way delays are exact.
"""

from __future__ import annotations

import socket
import statistics
import struct
import threading
import time

from ..kernel import netns


def _family(addr: str) -> int:
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def _sock(ns: str, family: int, kind: int) -> socket.socket:
    with netns.entered(ns):
        return socket.socket(family, kind)


def _listener(ns: str, addr: str, backlog: int) -> tuple[socket.socket, int]:
    """A listening TCP socket on `addr` inside `ns`, on a free port: (socket, port)."""
    srv = _sock(ns, _family(addr), socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, 0))
    srv.listen(backlog)
    return srv, srv.getsockname()[1]


def handshake_rtts(client_ns: str, server_ns: str, server_addr: str, count: int = 15,
                   timeout: float = 3.0, pause: float = 0.01) -> list[float]:
    """Seconds taken by each of `count` TCP connects (one RTT each); failed connects are left out."""
    fam = _family(server_addr)
    srv, port = _listener(server_ns, server_addr, 128)
    stop = threading.Event()

    def acceptor():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = srv.accept()
                c.close()
            except OSError:
                pass

    t = threading.Thread(target=acceptor, daemon=True)
    t.start()
    out = []
    try:
        for _ in range(count):
            c = _sock(client_ns, fam, socket.SOCK_STREAM)
            c.settimeout(timeout)
            t0 = time.perf_counter()
            try:
                c.connect((server_addr, port))
                out.append(time.perf_counter() - t0)
            except OSError:
                pass
            finally:
                c.close()
            time.sleep(pause)
    finally:
        stop.set()
        t.join(1)
        srv.close()
    return out


def goodput(sender_ns: str, receiver_ns: str, receiver_addr: str, seconds: float = 3.0,
            warmup: float = 1.0) -> float:
    """Bits per second of TCP payload received after `warmup` (past slow start), over `seconds` of bulk sending.

    The receiver's kernel counts the bytes (TCP_INFO bytes_received) at the start and the end of the
    window, so when the reading thread runs (it shares the GIL with the sender) does not matter.
    """
    from ..scenarios.probes.common import tcp_info

    fam = _family(receiver_addr)
    srv, port = _listener(receiver_ns, receiver_addr, 1)
    accepted: list[socket.socket] = []
    ready, stop = threading.Event(), threading.Event()

    def receiver():
        srv.settimeout(10)
        try:
            conn, _ = srv.accept()
        except OSError:
            ready.set()
            return
        accepted.append(conn)
        ready.set()
        conn.settimeout(2.0)
        buf = bytearray(1 << 18)
        try:
            while conn.recv_into(buf):
                pass
        except OSError:
            pass

    def sender(c: socket.socket):
        chunk = b"\0" * (1 << 16)
        try:
            while not stop.is_set():
                c.sendall(chunk)
        except OSError:
            pass

    rx = threading.Thread(target=receiver, daemon=True)
    rx.start()
    c = _sock(sender_ns, fam, socket.SOCK_STREAM)
    tx = None
    try:
        c.settimeout(5.0)
        c.connect((receiver_addr, port))
        tx = threading.Thread(target=sender, args=(c,), daemon=True)
        tx.start()
        if not ready.wait(10) or not accepted:
            return 0.0
        def sample() -> tuple[float, int]:
            # During loss recovery the receiver holds out-of-order data it has not counted yet, and
            # counts it all at once when the hole fills: sample only while the sender is in Open state.
            deadline = time.monotonic() + 0.5
            while tcp_info(c).ca_state != 0 and time.monotonic() < deadline:
                time.sleep(0.001)
            return time.monotonic(), tcp_info(accepted[0]).bytes_received

        time.sleep(warmup)
        t0, b0 = sample()
        time.sleep(seconds)
        t1, b1 = sample()
        return (b1 - b0) * 8 / (t1 - t0)
    finally:
        stop.set()
        if tx is not None:
            tx.join(6)  # the receiver keeps draining, so the last sendall completes (or times out)
        c.close()  # the receiver sees EOF
        rx.join(5)
        for conn in accepted:
            conn.close()
        srv.close()


def one_way(sender_ns: str, receiver_ns: str, receiver_addr: str, count: int = 200,
            interval: float = 0.01, wait: float = 1.0) -> tuple[list[float], int]:
    """UDP one-way delays in seconds of the datagrams that arrived, and how many were sent."""
    fam = _family(receiver_addr)
    rx = _sock(receiver_ns, fam, socket.SOCK_DGRAM)
    rx.bind((receiver_addr, 0))
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    port = rx.getsockname()[1]
    tx = _sock(sender_ns, fam, socket.SOCK_DGRAM)
    delays: list[float] = []
    done = threading.Event()

    def receiver():
        rx.settimeout(0.1)
        while not done.is_set():
            try:
                data = rx.recv(64)
            except OSError:
                continue
            delays.append(time.monotonic() - struct.unpack("d", data[:8])[0])

    t = threading.Thread(target=receiver, daemon=True)
    t.start()
    try:
        nxt = time.monotonic()
        for _ in range(count):
            tx.sendto(struct.pack("d", time.monotonic()) + b"x" * 56, (receiver_addr, port))
            nxt += interval
            time.sleep(max(0.0, nxt - time.monotonic()))
        time.sleep(wait)
    finally:
        done.set()
        t.join(1)
        rx.close()
        tx.close()
    return delays, count


def median(xs: list[float]) -> float | None:
    """The median, or None for no samples."""
    return statistics.median(xs) if xs else None


def percentile(xs: list[float], p: float) -> float | None:
    """The p-th percentile (nearest rank), or None for no samples."""
    if not xs:
        return None
    s = sorted(xs)
    k = max(0, min(len(s) - 1, round(p / 100 * len(s) + 0.5) - 1))
    return s[k]
