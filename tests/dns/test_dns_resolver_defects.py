"""One test per resolver defect of issue 14 (7–9), over sockets on 127.0.0.x high ports (no root)."""

from __future__ import annotations

import asyncio
import socket
import time

from dns_helpers import Lab, ask, free_port, question, rrs
from dnslib import QTYPE, RCODE

from netemu.dns.cache import Cache

RES = "127.0.0.53"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_any_and_cname_at_a_cached_cname_owner_answer_the_cname_itself():  # defect 7, RFC 1034 §3.6.2
    async def main():
        port = free_port()
        async with Lab(port):
            await ask(RES, port, question("alias.bob.com"))  # caches alias CNAME www and www's A
            for qtype in ("ANY", "CNAME"):
                r = await ask(RES, port, question("alias.bob.com", qtype))
                assert (r.header.rcode, rrs(r)) == (RCODE.NOERROR, ["alias.bob.com. CNAME www.bob.com."])
            await ask(RES, port, question("dangling.bob.com"))  # CNAME to a missing name, cached NXDOMAIN
            r = await ask(RES, port, question("dangling.bob.com", "ANY"))
            assert (r.header.rcode, rrs(r)) == (RCODE.NOERROR, ["dangling.bob.com. CNAME nope.bob.com."])
    run(main())


def test_ds_is_asked_of_the_parent_zone():  # defect 8, RFC 4035 §3.1.4.1
    async def main():
        port = free_port()
        async with Lab(port) as lab:
            await ask(RES, port, question("www.bob.com"))  # bob.com's NS set is now cached
            result, steps = await lab.resolver.resolve("bob.com", QTYPE.DS, trace=True)
            asked = [s for s in steps if s.server != "cache"]
            assert asked and {s.zone for s in asked} == {"com."}
            assert result.rcode == RCODE.NOERROR and [str(rr.rname) for rr in result.authority] == ["com."]
    run(main())


def test_resolution_failures_are_cached_per_rfc9520():  # defect 9
    async def main():
        port = free_port()
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind(("127.0.0.99", port))  # lame.com's server: swallows every query
        try:
            async with Lab(port, timeout=0.3) as lab:
                start = time.monotonic()
                r = await ask(RES, port, question("www.lame.com"), timeout=5)
                first = time.monotonic() - start
                start = time.monotonic()
                r2 = await ask(RES, port, question("www.lame.com"), timeout=5)
                second = time.monotonic() - start
                assert r.header.rcode == r2.header.rcode == RCODE.SERVFAIL
                assert second < first / 3  # answered from the failure cache, no timeout waited for
                _, steps = await lab.resolver.resolve("www.lame.com", QTYPE.A, trace=True)
                assert [(s.server, s.outcome) for s in steps] == [("cache", "SERVFAIL")]
        finally:
            sink.close()
    run(main())


def test_failure_cache_expires():
    now = [100.0]
    cache = Cache(clock=lambda: now[0])
    cache.put_failure((b"x",), QTYPE.A, ttl=5.0)
    assert cache.failed((b"x",), QTYPE.A) and not cache.failed((b"x",), QTYPE.AAAA)
    now[0] += 5.0
    assert not cache.failed((b"x",), QTYPE.A)
