"""The DNS process of one node: `python -m netemu.dns.server CONFIG.json` serves UDP and TCP on port 53.

One asyncio loop, no threads. The config (written by the plan) holds either `zones` (an authoritative
server) or `resolver` (a recursive resolver, plus a Unix control socket that `netemu dns trace` uses).
The ready file is written once every socket is bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import ipaddress
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dnslib import QTYPE, RCODE

from .authority import Authority
from .log import LOG
from .recursive import Recursive
from .resolver import Resolver, rr_text

TCP_IDLE = 10.0  # seconds a TCP connection may stay silent (RFC 7766 §6.2.3)
TCP_MAX_PENDING = 64
RCVBUF = 4 << 20

Handler = Callable[[bytes, bool], Any]


def _call(handler: Handler, data: bytes, udp: bool) -> Any:
    """The handler's reply; a bug costs one log line and no reply, never the listener or the TCP connection."""
    try:
        return handler(data, udp)
    except Exception as e:  # noqa: BLE001 - the handlers answer SERVFAIL themselves; this is the last net
        LOG.error("query dropped", e)
        return None


class _Udp:
    """UDP on one bound socket: every queued datagram is read per wakeup (up to BATCH), replies go out with a
    plain sendto; a reply the kernel cannot take now (full buffer, unreachable client) is lost, as UDP allows."""

    BATCH = 64  # datagrams per wakeup, so TCP clients and upstream replies get their turn

    def __init__(self, sock: socket.socket, handler: Handler):
        self.sock = sock
        self.handler = handler
        self.loop = asyncio.get_running_loop()
        self.closed = False
        sock.setblocking(False)
        self.loop.add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        recvfrom, handler = self.sock.recvfrom, self.handler
        for _ in range(self.BATCH):
            try:
                data, addr = recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # an ICMP error queued on the socket: nothing to do with it
                continue
            out = _call(handler, data, True)
            if out is None:
                continue
            if isinstance(out, bytes):
                self._send(out, addr)
            else:
                self.loop.create_task(self._later(out, addr))

    def _send(self, out: bytes, addr) -> None:
        try:
            self.sock.sendto(out, addr)
        except OSError:
            pass

    async def _later(self, awaitable, addr) -> None:
        out = await awaitable
        if out is not None and not self.closed:
            self._send(out, addr)

    def close(self) -> None:
        """Stop reading and close the socket."""
        if not self.closed:
            self.closed = True
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()


class _Tcp(asyncio.Protocol):
    """RFC 7766: 2-byte length prefix, several (pipelined) queries per connection, idle timeout."""

    def __init__(self, handler: Handler):
        self.handler = handler
        self.buf = b""
        self.pending = 0
        self.transport: asyncio.Transport | None = None
        self.idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        self._arm()

    def _arm(self) -> None:
        if self.idle is not None:
            self.idle.cancel()
        self.idle = asyncio.get_running_loop().call_later(TCP_IDLE, self._timeout)

    def _timeout(self) -> None:
        if self.pending:
            self._arm()
        else:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._arm()
        while len(self.buf) >= 2:
            size = int.from_bytes(self.buf[:2], "big")
            if len(self.buf) < 2 + size:
                break
            msg, self.buf = self.buf[2:2 + size], self.buf[2 + size:]
            out = _call(self.handler, msg, False)
            if out is None:
                continue
            if isinstance(out, bytes):
                self._send(out)
            elif self.pending < TCP_MAX_PENDING:
                self.pending += 1
                asyncio.ensure_future(self._later(out))

    async def _later(self, awaitable) -> None:
        try:
            out = await awaitable
        finally:
            self.pending -= 1
        if out is not None:
            self._send(out)

    def _send(self, out: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(len(out).to_bytes(2, "big") + out)

    def connection_lost(self, exc) -> None:
        if self.idle is not None:
            self.idle.cancel()


async def bind(handler: Handler, addr: str, port: int) -> list:
    """UDP and TCP listeners for `handler` on one address."""
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ipaddress.ip_address(addr).version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind((addr, port))
    udp = _Udp(sock, handler)
    tcp = await loop.create_server(lambda: _Tcp(handler), addr, port, reuse_address=True, backlog=1024)
    return [udp, tcp]


async def _control(resolver: Resolver, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One JSON request per connection: {"op": "trace", "name", "type", "fresh"} or {"op": "flush"}."""
    try:
        req = json.loads(await reader.readline())
        if req.get("op") == "flush":
            resolver.cache.flush()
            resp: dict = {"ok": True}
        else:
            qtype = getattr(QTYPE, str(req.get("type", "A")).upper())
            start = time.monotonic()
            result, steps = await resolver.resolve(req["name"], qtype, trace=True, fresh=bool(req.get("fresh")))
            resp = {"rcode": str(RCODE.get(result.rcode)), "answer": [rr_text(rr) for rr in result.answer],
                    "authority": [rr_text(rr) for rr in result.authority],
                    "ms": (time.monotonic() - start) * 1000, "steps": [dataclasses.asdict(s) for s in steps]}
    except Exception as e:  # noqa: BLE001 - report it to the caller instead of dying
        resp = {"error": f"{type(e).__name__}: {e}"}
    writer.write(json.dumps(resp).encode() + b"\n")
    with contextlib.suppress(OSError):
        await writer.drain()
    writer.close()


async def serve(config: dict) -> None:
    """Bind everything the config asks for, write the ready file, then serve until SIGTERM/SIGINT."""
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, ctx: LOG.line(f"asyncio: {ctx.get('message')} {ctx.get('exception', '')}"))
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    port = int(config.get("port", 53))
    servers = []
    control = None
    if config.get("zones"):
        handler: Handler = Authority.from_text(config["zones"]).respond
        role = f"authoritative for {', '.join(config['zones'])}"
    else:
        rc = config["resolver"]
        resolver = Resolver([tuple(h) for h in rc["hints"]], tuple(rc.get("families", (4, 6))),
                            port=int(rc.get("upstream_port", 53)))
        handler = Recursive(resolver).respond
        role = "recursive resolver"
        if config.get("control"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(config["control"])
            control = await asyncio.start_unix_server(lambda r, w: _control(resolver, r, w), config["control"])
    for addr in config["listen"]:
        servers += await bind(handler, addr, port)
    # Everything loaded so far lives until exit: freeze it, so the cyclic GC stops re-walking it while serving.
    gc.collect()
    gc.freeze()
    print(f"netemu-dns {config.get('node', '')}: {role} on {', '.join(config['listen'])} port {port}", flush=True)
    if config.get("ready_file"):
        Path(config["ready_file"]).write_text(f"{os.getpid()}\n")
    try:
        await stop
    finally:
        for s in servers:
            s.close()
        if control is not None:
            control.close()
            with contextlib.suppress(OSError):
                os.unlink(config["control"])


def main(argv: list[str] | None = None) -> int:
    """Entry point: one argument, the JSON config file."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m netemu.dns.server CONFIG.json", file=sys.stderr)
        return 2
    config = json.loads(Path(argv[0]).read_text())
    if config.get("ready_file"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(config["ready_file"])
    asyncio.run(serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
