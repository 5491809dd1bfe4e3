"""Request/response over one TCP connection, written as two writes then a read (write-write-read).

    python -m netemu.scenarios.probes.rr serve --bind ADDR --request N --response M [--quickack once|every]
    python -m netemu.scenarios.probes.rr client --to ADDR --port P --writes 100,100 --response M \
        --requests K [--mode default|nodelay|cork|single|more]

The client reports every request's latency (send of the first byte to the last response byte).
"""

from __future__ import annotations

import argparse
import socket
import time

from .common import abort, emit, family_of, recv_exact, serve_one, tcp_info

MODES = ("default", "nodelay", "cork", "single", "more")
QUICKACK = ("none", "once", "every")


def serve(args: argparse.Namespace) -> None:
    """Answer each request of exactly --request bytes with --response bytes, until EOF."""
    conn, deadline = serve_one(args.bind, args.timeout, {"served": 0})
    if conn is None:
        return

    def quickack() -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)

    if args.quickack == "once":
        quickack()  # not sticky: the kernel leaves quick-ack mode again by itself
    after = quickack if args.quickack == "every" else None
    response = b"r" * args.response
    served = 0
    while True:
        req = recv_exact(conn, args.request, deadline, after)
        if req is None:
            break
        conn.sendall(response)
        served += 1
    conn.close()
    emit({"served": served})


def client(args: argparse.Namespace) -> None:
    """Send --requests requests as the given writes, timing each until its response is read."""
    writes = [int(x) for x in args.writes.split(",")]
    deadline = time.monotonic() + args.timeout
    s = socket.socket(family_of(args.to), socket.SOCK_STREAM)
    s.settimeout(min(args.timeout, 5.0))
    s.connect((args.to, args.port))
    if args.mode == "nodelay":
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    parts = [b"q" * n for n in writes]
    latencies: list[float] = []
    error = None
    for _ in range(args.requests):
        if time.monotonic() >= deadline:
            error = "deadline"
            break
        t0 = time.perf_counter()
        if args.mode == "single":
            s.sendall(b"".join(parts))
        elif args.mode == "cork":
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
            for p in parts:
                s.sendall(p)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
        elif args.mode == "more":
            for p in parts[:-1]:
                s.sendall(p, socket.MSG_MORE)
            s.sendall(parts[-1])
        else:
            for p in parts:
                s.sendall(p)
        if recv_exact(s, args.response, deadline) is None:
            error = "no response before the deadline"
            break
        latencies.append(round((time.perf_counter() - t0) * 1000, 4))
    info = tcp_info(s)
    abort(s) if error else s.close()
    emit({"latencies_ms": latencies, "requests": len(latencies), "snd_mss": info.snd_mss,
          "rcv_mss": info.rcv_mss, "error": error})


def main(argv: list[str] | None = None) -> None:
    """Command line of the probe."""
    p = argparse.ArgumentParser(prog="rr")
    sub = p.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("serve")
    sp.add_argument("--bind", required=True)
    sp.add_argument("--request", type=int, required=True)
    sp.add_argument("--response", type=int, default=100)
    sp.add_argument("--quickack", choices=QUICKACK, default="none")
    sp.add_argument("--timeout", type=float, default=60)
    cp = sub.add_parser("client")
    cp.add_argument("--to", required=True)
    cp.add_argument("--port", type=int, required=True)
    cp.add_argument("--writes", default="100,100")
    cp.add_argument("--response", type=int, default=100)
    cp.add_argument("--requests", type=int, default=200)
    cp.add_argument("--mode", choices=MODES, default="default")
    cp.add_argument("--timeout", type=float, default=60)
    args = p.parse_args(argv)
    serve(args) if args.cmd == "serve" else client(args)


if __name__ == "__main__":
    main()
