"""Bulk TCP transfer: `serve` receives and acknowledges a byte count; `send` pushes N bytes.

    python -m netemu.scenarios.probes.bulk serve --bind ADDR --timeout S
    python -m netemu.scenarios.probes.bulk send --to ADDR --port P --bytes N --timeout S

The sender samples TCP_INFO every few milliseconds (the transfer timeline) and reports whether
the receiver confirmed every byte before the deadline, how long it took, bytes acknowledged,
the final MSS (tcpi_snd_mss) and retransmissions.
"""

from __future__ import annotations

import argparse
import select
import socket
import struct
import time

from .common import abort, emit, family_of, serve_one, tcp_info

CHUNK = 256 * 1024


def serve(args: argparse.Namespace) -> None:
    """Accept one connection, count bytes to EOF, answer with the count (8 bytes)."""
    conn, deadline = serve_one(args.bind, args.timeout, {"received": 0})
    if conn is None:
        return
    total = 0
    t0 = time.monotonic()
    buf = bytearray(CHUNK)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([conn], [], [], remaining)[0]:
            emit({"received": total, "error": "deadline"})
            abort(conn)
            return
        n = conn.recv_into(buf)
        if n == 0:
            break
        total += n
    conn.sendall(struct.pack("!Q", total))
    conn.close()
    emit({"received": total, "seconds": round(time.monotonic() - t0, 6)})


def send(args: argparse.Namespace) -> None:
    """Send `--bytes` bytes, sampling TCP_INFO; report completion within `--timeout`."""
    s = socket.socket(family_of(args.to), socket.SOCK_STREAM)
    s.settimeout(min(args.timeout, 5.0))
    t0 = time.monotonic()
    deadline = t0 + args.timeout
    try:
        s.connect((args.to, args.port))
    except OSError as e:
        emit({"completed": False, "seconds": 0.0, "bytes": 0, "error": f"connect: {e}"})
        return
    s.setblocking(False)
    payload = b"\0" * CHUNK
    sent = 0
    timeline: list[list[float]] = []
    next_sample = 0.0
    sample = args.sample_ms / 1000
    reply = b""
    shut = False
    error = None
    while True:
        now = time.monotonic()
        if now >= next_sample:
            info = tcp_info(s)
            timeline.append([round(now - t0, 4), info.bytes_acked, info.snd_mss])
            next_sample = now + sample
        if now >= deadline:
            error = "deadline"
            break
        if sent >= args.bytes and not shut:
            s.shutdown(socket.SHUT_WR)
            shut = True
        wait = max(0.0, min(next_sample, deadline) - time.monotonic())
        r, w, _ = select.select([s], [] if shut else [s], [], wait)
        try:
            if w:
                sent += s.send(payload[: min(CHUNK, args.bytes - sent)])
            if r:
                data = s.recv(64)
                if not data:
                    break
                reply += data
                if len(reply) >= 8:
                    break
        except OSError as e:
            error = f"{e.strerror or e}"
            break
    elapsed = time.monotonic() - t0
    info = tcp_info(s)
    timeline.append([round(elapsed, 4), info.bytes_acked, info.snd_mss])
    confirmed = struct.unpack("!Q", reply[:8])[0] if len(reply) >= 8 else 0
    completed = confirmed == args.bytes
    first_acked = next((t for t, acked, _ in timeline if acked > 1), None)
    abort(s) if not completed else s.close()
    emit({
        "completed": completed, "seconds": round(elapsed, 4), "bytes": max(0, min(info.bytes_acked - 1, args.bytes)),
        "size": args.bytes, "final_mss": info.snd_mss, "pmtu": info.pmtu, "retransmits": info.total_retrans,
        "first_ack_seconds": first_acked, "timeline": timeline, "error": None if completed else error,
    })


def main(argv: list[str] | None = None) -> None:
    """Command line of the probe."""
    p = argparse.ArgumentParser(prog="bulk")
    sub = p.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("serve")
    sp.add_argument("--bind", required=True)
    sp.add_argument("--timeout", type=float, default=30)
    cp = sub.add_parser("send")
    cp.add_argument("--to", required=True)
    cp.add_argument("--port", type=int, required=True)
    cp.add_argument("--bytes", type=int, required=True)
    cp.add_argument("--timeout", type=float, default=30)
    cp.add_argument("--sample-ms", type=float, default=10)
    args = p.parse_args(argv)
    serve(args) if args.cmd == "serve" else send(args)


if __name__ == "__main__":
    main()
