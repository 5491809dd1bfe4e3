"""TCP Fast Open: a server answering each connection's request, and a client timing first bytes.

    python -m netemu.scenarios.probes.tfo serve --bind ADDR [--fastopen QLEN] --count K
    python -m netemu.scenarios.probes.tfo client --to ADDR --port P --count K --mode plain|sendto|connect

Client modes: `plain` connect() then send(); `sendto` sendto(…, MSG_FASTOPEN) (data in the SYN
when a cookie is cached); `connect` TCP_FASTOPEN_CONNECT (option 30) then connect()+send().
Per connection the client reports the time to the first response byte, the connect time, and
whether the SYN's data was acknowledged (tcpi_options & TCPI_OPT_SYN_DATA).
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import time

from .common import TCP_FASTOPEN_CONNECT, accept, emit, family_of, ready_listener, recv_exact, tcp_info

MODES = ("plain", "sendto", "connect")


def serve(args: argparse.Namespace) -> None:
    """Accept --count connections; answer each --request-byte request with --response bytes."""
    deadline = time.monotonic() + args.timeout
    lsock = ready_listener(args.bind, fastopen=args.fastopen)
    syn_data = []
    response = b"r" * args.response
    for _ in range(args.count):
        conn = accept(lsock, deadline)
        if conn is None:
            break
        req = recv_exact(conn, args.request, deadline)
        if req is not None:
            conn.sendall(response)
        syn_data.append(tcp_info(conn).syn_data_acked)
        conn.close()
    emit({"accepted": len(syn_data), "syn_data": syn_data})


def client(args: argparse.Namespace) -> None:
    """Open --count connections one after another, each sending one request in the first flight."""
    deadline = time.monotonic() + args.timeout
    addr = (args.to, args.port)
    request = b"q" * args.request
    conns = []
    error = None
    for _ in range(args.count):
        if time.monotonic() >= deadline:
            error = "deadline"
            break
        s = socket.socket(family_of(args.to), socket.SOCK_STREAM)
        s.settimeout(max(0.1, min(5.0, deadline - time.monotonic())))
        connect_ms = None
        try:
            if args.mode == "plain":
                t0 = time.perf_counter()
                s.connect(addr)
                connect_ms = (time.perf_counter() - t0) * 1000
                s.sendall(request)
            else:
                s.setblocking(False)  # every wait below is a bounded select
                t0 = time.perf_counter()
                _fastopen_send(s, addr, request, args.mode, deadline)
            if recv_exact(s, 1, deadline) is None:
                error = "no response before the deadline"
                s.close()
                break
            ttfb = (time.perf_counter() - t0) * 1000
            recv_exact(s, args.response - 1, deadline)
            info = tcp_info(s)
        except OSError as e:
            error = f"{e.strerror or e}"
            s.close()
            break
        s.close()
        conns.append({"ttfb_ms": round(ttfb, 4), "connect_ms": None if connect_ms is None else round(connect_ms, 4),
                      "syn_data_acked": info.syn_data_acked, "fastopen_client_fail": info.fastopen_client_fail,
                      "rtt_ms": info.rtt_us / 1000, "min_rtt_ms": info.min_rtt_us / 1000})
        time.sleep(args.gap)
    emit({"connections": conns, "error": error})


def _fastopen_send(s: socket.socket, addr: tuple, request: bytes, mode: str, deadline: float) -> None:
    """Send `request` in the SYN when a cookie is cached; otherwise after the handshake.

    On a non-blocking socket without a cookie the kernel sends a SYN with a cookie request and
    answers EINPROGRESS: the data then goes out once the connection is established.
    """
    try:
        if mode == "sendto":
            sent = s.sendto(request, socket.MSG_FASTOPEN, addr)
        else:
            s.setsockopt(socket.IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 1)
            s.connect(addr)  # returns at once: the SYN leaves with the first write
            sent = s.send(request)
    except BlockingIOError:
        sent = 0
    if sent == len(request):
        return
    remaining = deadline - time.monotonic()
    if remaining <= 0 or not select.select([], [s], [], remaining)[1]:
        raise TimeoutError("connection not established before the deadline")
    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if err:
        raise OSError(err, os.strerror(err))
    s.setblocking(True)
    s.settimeout(max(0.1, deadline - time.monotonic()))
    s.sendall(request[sent:])


def main(argv: list[str] | None = None) -> None:
    """Command line of the probe."""
    p = argparse.ArgumentParser(prog="tfo")
    sub = p.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("serve")
    sp.add_argument("--bind", required=True)
    sp.add_argument("--fastopen", type=int, default=0, help="TCP_FASTOPEN queue length; 0 leaves it off")
    sp.add_argument("--count", type=int, default=10)
    sp.add_argument("--request", type=int, default=64)
    sp.add_argument("--response", type=int, default=256)
    sp.add_argument("--timeout", type=float, default=30)
    cp = sub.add_parser("client")
    cp.add_argument("--to", required=True)
    cp.add_argument("--port", type=int, required=True)
    cp.add_argument("--count", type=int, default=10)
    cp.add_argument("--mode", choices=MODES, default="sendto")
    cp.add_argument("--request", type=int, default=64)
    cp.add_argument("--response", type=int, default=256)
    cp.add_argument("--gap", type=float, default=0.01, help="seconds between connections")
    cp.add_argument("--timeout", type=float, default=30)
    args = p.parse_args(argv)
    serve(args) if args.cmd == "serve" else client(args)


if __name__ == "__main__":
    main()
