"""QNAME minimisation (RFC 9156) and 0x20 case randomisation of the resolver's upstream questions (no root)."""

from __future__ import annotations

import asyncio

from dns_helpers import Lab, free_port, zones_by_address
from dnslib import QTYPE, RCODE, DNSLabel, DNSRecord

from netemu.dns import client, server
from netemu.dns.authority import Authority


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def asked(steps) -> list[tuple[str, str, str]]:
    return [(s.zone, s.qname, s.qtype) for s in steps if s.server not in ("cache", "-")]


def test_each_server_is_asked_only_for_one_label_more_than_its_zone():
    async def main():
        async with Lab(free_port()) as lab:
            result, steps = await lab.resolver.resolve("www.bob.com", QTYPE.MX, trace=True, fresh=True)
            assert asked(steps) == [(".", "com.", "A"), ("com.", "bob.com.", "A"), ("bob.com.", "www.bob.com.", "MX")]
            result, steps = await lab.resolver.resolve("x.y.bob.com", QTYPE.A, trace=True, fresh=True)
            assert asked(steps)[-2:] == [("bob.com.", "y.bob.com.", "A"), ("bob.com.", "x.y.bob.com.", "A")]
            assert [str(rr.rdata) for rr in result.answer] == ["192.0.2.1"]
    run(main())


def test_nxdomain_of_an_ancestor_ends_the_search():  # RFC 8020
    async def main():
        async with Lab(free_port()) as lab:
            result, steps = await lab.resolver.resolve("a.b.nope.bob.com", QTYPE.A, trace=True, fresh=True)
            assert asked(steps)[-1] == ("bob.com.", "nope.bob.com.", "A")
            assert result.rcode == RCODE.NXDOMAIN and [rr.rtype for rr in result.authority] == [QTYPE.SOA]
    run(main())


def test_minimisation_can_be_turned_off():
    async def main():
        async with Lab(free_port()) as lab:
            lab.resolver.minimise = False
            _, steps = await lab.resolver.resolve("www.bob.com", QTYPE.A, trace=True, fresh=True)
            assert {q for _, q, _ in asked(steps)} == {"www.bob.com."}
    run(main())


def test_upstream_names_have_random_case_and_the_answer_keeps_the_asked_case():
    names = {str(client.mix_case("abcdefghijklmnop.example.com")) for _ in range(8)}
    assert len(names) > 1 and all(n.lower() == "abcdefghijklmnop.example.com." for n in names)

    async def main():
        async with Lab(free_port()) as lab:
            result, steps = await lab.resolver.resolve("www.bob.com", QTYPE.A, trace=True, fresh=True)
            sent = [s.sent for s in steps if s.sent]
            assert [x.lower() for x in sent] == ["com.", "bob.com.", "www.bob.com."]
            assert [str(rr.rname) for rr in result.answer] == ["www.bob.com."]
    run(main())


def test_a_reply_with_the_case_changed_is_refused_then_asked_again_plainly():
    zones, _ = zones_by_address()
    auth = Authority.from_text(zones["127.0.0.5"])
    seen: list[str] = []

    def lower_case(data: bytes, udp: bool) -> bytes:  # a server (or spoofer) that does not copy the case
        seen.append(str(DNSRecord.parse(data).q.qname))
        reply = DNSRecord.parse(auth.respond(data, udp))
        reply.q.qname = DNSLabel(str(reply.q.qname).lower())
        return bytes(reply.pack())

    async def main():
        port = free_port()
        listeners = await server.bind(lower_case, "127.0.0.5", port)
        try:
            reply = await client.query("127.0.0.5", DNSLabel("www.bob.com"), QTYPE.A, 1.0, port)
            assert reply.msg is not None and reply.msg.rr and seen[-1] == "www.bob.com."
            assert len(seen) == 2 and seen[0] != "www.bob.com."  # first mixed case (refused), then as given (the resolver asks lower case)
        finally:
            for listener in listeners:
                listener.close()
    run(main())


def test_nxdomain_below_a_missing_ancestor_and_any_answers_are_cached():
    async def main():
        async with Lab(free_port()) as lab:
            await lab.resolver.resolve("a.b.nope.bob.com", QTYPE.A)
            assert lab.resolver.from_cache("a.b.nope.bob.com", QTYPE.A).rcode == RCODE.NXDOMAIN
            first, _ = await lab.resolver.resolve("www.bob.com", QTYPE.ANY)
            again = lab.resolver.from_cache("www.bob.com", QTYPE.ANY)
            assert again is not None and len(again.answer) == len(first.answer) == 2
    run(main())
