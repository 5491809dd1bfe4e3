"""Helpers shared by the probes: TCP_INFO, JSON output, bounded socket waits."""

from __future__ import annotations

import json
import select
import socket
import struct
import sys
import time
from dataclasses import dataclass

TCP_FASTOPEN_CONNECT = 30  # not named in Python's socket module
TCPI_OPT_SYN_DATA = 32  # "SYN-ACK acked data in SYN sent or rcvd"

# struct tcp_info up to tcpi_bytes_retrans (linux/tcp.h), native byte order, no padding needed.
_TCP_INFO = struct.Struct("=8B24I4Q2I4IQ3Q2I2Q")
_U32 = ("rto", "ato", "snd_mss", "rcv_mss", "unacked", "sacked", "lost", "retrans", "fackets",
        "last_data_sent", "last_ack_sent", "last_data_recv", "last_ack_recv", "pmtu", "rcv_ssthresh",
        "rtt", "rttvar", "snd_ssthresh", "snd_cwnd", "advmss", "reordering", "rcv_rtt", "rcv_space",
        "total_retrans")


@dataclass(frozen=True)
class TcpInfo:
    """The fields of struct tcp_info the scenarios use."""

    state: int
    ca_state: int  # 0 = Open: no loss recovery in progress, so no hole in the receiver's stream
    options: int
    fastopen_client_fail: int
    snd_mss: int
    rcv_mss: int
    pmtu: int
    rtt_us: int
    min_rtt_us: int
    total_retrans: int
    bytes_acked: int
    bytes_received: int
    bytes_sent: int
    bytes_retrans: int

    @property
    def syn_data_acked(self) -> bool:
        """Whether data carried in the SYN was acknowledged (TFO worked for this connection)."""
        return bool(self.options & TCPI_OPT_SYN_DATA)


def tcp_info(sock: socket.socket) -> TcpInfo:
    """Read TCP_INFO of a connected socket."""
    raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO.size)
    raw = raw.ljust(_TCP_INFO.size, b"\0")
    v = _TCP_INFO.unpack(raw)
    u32 = dict(zip(_U32, v[8:32]))
    # after the u32s: pacing_rate, max_pacing_rate, bytes_acked, bytes_received, segs_out, segs_in,
    # notsent_bytes, min_rtt, data_segs_in, data_segs_out, delivery_rate, busy, rwnd_lim, sndbuf_lim,
    # delivered, delivered_ce, bytes_sent, bytes_retrans
    rest = v[32:]
    return TcpInfo(
        state=v[0], ca_state=v[1], options=v[5], fastopen_client_fail=(v[7] >> 1) & 3,
        snd_mss=u32["snd_mss"], rcv_mss=u32["rcv_mss"], pmtu=u32["pmtu"], rtt_us=u32["rtt"],
        min_rtt_us=rest[7], total_retrans=u32["total_retrans"], bytes_acked=rest[2], bytes_received=rest[3],
        bytes_sent=rest[16], bytes_retrans=rest[17],
    )


def emit(obj: dict) -> None:
    """Print one JSON line and flush (the scenario reads it through a pipe)."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def family_of(address: str) -> int:
    """socket.AF_INET or AF_INET6 for an address literal."""
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def listener(bind: str, port: int = 0, backlog: int = 64, fastopen: int = 0) -> socket.socket:
    """A listening TCP socket on `bind` (port 0: any free port), optionally with TCP_FASTOPEN."""
    s = socket.socket(family_of(bind), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fastopen:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, fastopen)
    s.bind((bind, port))
    s.listen(backlog)
    return s


def ready_listener(bind: str, fastopen: int = 0) -> socket.socket:
    """A listener on `bind` (any free port), announced with the line `{"ready": true, "port": N}`."""
    lsock = listener(bind, fastopen=fastopen)
    emit({"ready": True, "port": lsock.getsockname()[1]})
    return lsock


def serve_one(bind: str, timeout: float, empty: dict) -> tuple[socket.socket | None, float]:
    """Listen on `bind`, announce the port, accept one connection within `timeout` s.

    Returns (connection, deadline); without a connection, emits `empty` with an error and returns None.
    """
    deadline = time.monotonic() + timeout
    conn = accept(ready_listener(bind), deadline)
    if conn is None:
        emit({**empty, "error": "no connection before the deadline"})
    return conn, deadline


def accept(lsock: socket.socket, deadline: float) -> socket.socket | None:
    """Accept one connection before `deadline` (time.monotonic), or None."""
    remaining = deadline - time.monotonic()
    if remaining <= 0 or not select.select([lsock], [], [], remaining)[0]:
        return None
    conn, _ = lsock.accept()
    return conn


def recv_exact(sock: socket.socket, n: int, deadline: float, after_recv=None) -> bytes | None:
    """Read exactly n bytes before `deadline`; None on EOF or timeout."""
    buf = bytearray()
    while len(buf) < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([sock], [], [], remaining)[0]:
            return None
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        if after_recv is not None:
            after_recv()
        buf += chunk
    return bytes(buf)


def abort(sock: socket.socket) -> None:
    """Close with a RST (SO_LINGER 0) so no retransmissions outlive the probe."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()
