"""The resolver and both servers over real sockets on 127.0.0.x high ports (no root needed)."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from dns_helpers import Lab, ask, free_port, question, rrs
from dnslib import QTYPE, RCODE, DNSRecord

RES = "127.0.0.53"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_resolves_through_root_tld_and_zone_with_ra_and_no_aa():
    async def main():
        port = free_port()
        async with Lab(port) as lab:
            r = await ask(RES, port, question("www.bob.com"))
            assert (r.header.ra, r.header.aa, r.header.rcode) == (1, 0, RCODE.NOERROR)
            assert rrs(r) == ["www.bob.com. A 203.0.113.10"]
            result, steps = await lab.resolver.resolve("www.bob.com", QTYPE.A, trace=True, fresh=True)
            assert [(s.zone, s.server, s.outcome) for s in steps] == [
                (".", "127.0.0.2", "referral"), ("com.", "127.0.0.3", "referral"), ("bob.com.", "127.0.0.5", "answer")]
            result, steps = await lab.resolver.resolve("www.bob.com", QTYPE.A, trace=True)
            assert [s.server for s in steps] == ["cache"] and result.answer[0].ttl <= 300
    run(main())


def test_cname_across_zones_returns_the_whole_chain():
    async def main():
        port = free_port()
        async with Lab(port):
            r = await ask(RES, port, question("far.bob.com"))
            assert rrs(r) == ["far.bob.com. CNAME www.shop.org.", "www.shop.org. A 198.51.100.80"]
            r = await ask(RES, port, question("dangling.bob.com"))
            assert r.header.rcode == RCODE.NXDOMAIN and rrs(r) == ["dangling.bob.com. CNAME nope.bob.com."]
    run(main())


def test_glueless_delegation_resolves_the_ns_name_first():
    async def main():
        port = free_port()
        async with Lab(port) as lab:
            result, steps = await lab.resolver.resolve("www.glueless.com", QTYPE.A, trace=True)
            assert [str(rr.rdata) for rr in result.answer] == ["192.0.2.7"]
            assert any(s.depth == 1 and s.qname == "ns.bob.org." for s in steps)
    run(main())


def test_negative_answers_are_cached_with_the_soa():
    async def main():
        port = free_port()
        async with Lab(port) as lab:
            r = await ask(RES, port, question("nope.bob.com"))
            assert r.header.rcode == RCODE.NXDOMAIN and [x.rtype for x in r.auth] == [QTYPE.SOA]
            r = await ask(RES, port, question("www.bob.com", "MX"))
            assert r.header.rcode == RCODE.NOERROR and r.rr == [] and [x.rtype for x in r.auth] == [QTYPE.SOA]
            for name, qtype in (("nope.bob.com", QTYPE.A), ("www.bob.com", QTYPE.MX)):
                _, steps = await lab.resolver.resolve(name, qtype, trace=True)
                assert [s.server for s in steps] == ["cache"]
    run(main())


def test_failover_when_a_server_is_down():
    async def main():
        port = free_port()
        async with Lab(port, skip=("127.0.0.2", "127.0.0.5")) as lab:  # first root and first bob.com server off
            start = time.monotonic()
            r = await ask(RES, port, question("www.bob.com"))
            assert rrs(r) == ["www.bob.com. A 203.0.113.10"] and time.monotonic() - start < 1.0
            _, steps = await lab.resolver.resolve("alias.bob.com", QTYPE.A, trace=True, fresh=True)
            assert steps[0].server == "127.0.0.12"  # the dead root is tried last for a while
    run(main())


def test_lame_delegations_give_servfail_quickly():
    async def main():
        port = free_port()
        async with Lab(port, timeout=0.3):
            start = time.monotonic()
            r = await ask(RES, port, question("www.broken.com"))  # delegated to a server that REFUSEs
            assert r.header.rcode == RCODE.SERVFAIL and time.monotonic() - start < 0.5
            # delegated to an address where a socket swallows queries: one timeout per try, then SERVFAIL
            sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sink.bind(("127.0.0.99", port))
            try:
                start = time.monotonic()
                r = await ask(RES, port, question("www.lame.com"), timeout=5)
                assert r.header.rcode == RCODE.SERVFAIL and time.monotonic() - start < 1.5
            finally:
                sink.close()
    run(main())


def test_truncated_upstream_answers_are_retried_over_tcp():
    async def main():
        port = free_port()
        async with Lab(port) as lab:
            result, steps = await lab.resolver.resolve("big.bob.com", QTYPE.TXT, trace=True)
            assert steps[-1].transport == "tcp" and len(result.answer) == 1
            r = await ask(RES, port, question("big.bob.com", "TXT"))
            assert r.header.tc == 1 and r.rr == []
            r = await ask(RES, port, question("big.bob.com", "TXT"), tcp=True)
            assert r.header.tc == 0 and len(r.rr) == 1
    run(main())


def test_tcp_carries_several_pipelined_queries_on_one_connection():
    async def main():
        port = free_port()
        async with Lab(port):
            reader, writer = await asyncio.open_connection("127.0.0.5", port)
            queries = [question(n, rd=0) for n in ("www.bob.com", "alias.bob.com", "nope.bob.com")]
            writer.write(b"".join(len(d).to_bytes(2, "big") + d for d in (bytes(q.pack()) for q in queries)))
            replies = []
            for _ in queries:
                size = int.from_bytes(await reader.readexactly(2), "big")
                replies.append(DNSRecord.parse(await reader.readexactly(size)))
            assert [r.header.id for r in replies] == [q.header.id for q in queries]
            assert [r.header.rcode for r in replies] == [RCODE.NOERROR, RCODE.NOERROR, RCODE.NXDOMAIN]
            writer.close()
    run(main())


def test_resolver_answers_formerr_and_badvers_itself():
    async def main():
        port = free_port()
        async with Lab(port):
            r = await ask(RES, port, question("www.bob.com", edns=1))
            assert [x.ttl >> 24 for x in r.ar if x.rtype == QTYPE.OPT] == [1]
            data = bytes(question("www.bob.com").pack())
            r = await ask(RES, port, data[:12] + b"\x07")
            assert r.header.rcode == RCODE.FORMERR
    run(main())


@pytest.mark.parametrize("qtype", ["A", "AAAA", "MX"])
def test_concurrent_identical_questions_share_one_resolution(qtype):
    async def main():
        port = free_port()
        async with Lab(port):
            replies = await asyncio.gather(*(ask(RES, port, question("www.bob.com", qtype)) for _ in range(20)))
            assert len({tuple(rrs(r)) for r in replies}) == 1
    run(main())
