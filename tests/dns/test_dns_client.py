"""The resolver's upstream UDP exchange (netemu/dns/client.py): garbage skipped, timeouts, cancellation."""

from __future__ import annotations

import asyncio
import os
import socket

from dns_helpers import free_port
from dnslib import QTYPE, RR, A, DNSRecord

from netemu.dns import client


def _server(port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    s.setblocking(False)
    return s


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_garbage_and_wrong_ids_are_skipped_until_the_real_reply():
    async def main():
        port = free_port()
        srv = _server(port)
        loop = asyncio.get_running_loop()
        q = client.make_query("www.bob.com.", QTYPE.A, caps=True)
        fut = client.udp("127.0.0.1", port, q, 2.0)
        data, peer = await loop.sock_recvfrom(srv, 4096)
        reply = DNSRecord.parse(data).reply()
        reply.add_answer(RR(reply.q.qname, QTYPE.A, rdata=A("192.0.2.1"), ttl=60))
        good = bytes(reply.pack())
        wrong_id = bytes([good[0] ^ 0xFF]) + good[1:]
        for junk in (b"\xff" * 3, wrong_id, good[:20], good):  # all queued before the resolver reads
            srv.sendto(junk, peer)
        msg, error = await fut
        srv.close()
        return msg, error

    msg, error = asyncio.run(main())
    assert error == "" and str(msg.rr[0].rdata) == "192.0.2.1"


def test_timeout_and_cancellation_close_the_socket():
    async def main():
        port = free_port()
        srv = _server(port)
        before = _open_fds()
        q = client.make_query("www.bob.com.", QTYPE.A)
        assert await client.udp("127.0.0.1", port, q, 0.05) == (None, "timeout")
        fut = client.udp("127.0.0.1", port, q, 5.0)
        await asyncio.sleep(0.01)
        fut.cancel()
        await asyncio.sleep(0)
        after = _open_fds()
        srv.close()
        return before, after

    before, after = asyncio.run(main())
    assert after == before
