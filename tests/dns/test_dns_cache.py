"""The resolver cache and reply classification, with a fake clock."""

from __future__ import annotations

from dnslib import QTYPE, RR, DNSRecord

from netemu.dns.cache import ANSWER, GLUE, REFERRAL, Cache
from netemu.dns.response import ANSWER as K_ANSWER
from netemu.dns.response import LAME, NODATA, NXDOMAIN, classify
from netemu.dns.response import REFERRAL as K_REFERRAL
from netemu.dns.zone import key


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def rr(text: str) -> RR:
    return RR.fromZone(text)[0]


def test_ttl_counts_down_and_expires():
    clock = Clock()
    cache = Cache(clock)
    cache.put(key("www.bob.com"), QTYPE.A, [rr("www.bob.com. 300 A 1.2.3.4"), rr("www.bob.com. 60 A 1.2.3.5")], ANSWER)
    clock.now += 10
    assert [r.ttl for r in cache.get(key("WWW.bob.com"), QTYPE.A)] == [50, 50]  # min TTL of the set, case-blind
    clock.now += 50
    assert cache.get(key("www.bob.com"), QTYPE.A) is None


def test_authoritative_data_outranks_glue():
    cache = Cache(Clock())
    cache.put(key("ns1.bob.com"), QTYPE.A, [rr("ns1.bob.com. 300 A 10.0.0.1")], ANSWER)
    cache.put(key("ns1.bob.com"), QTYPE.A, [rr("ns1.bob.com. 900 A 10.6.6.6")], GLUE)
    assert str(cache.get(key("ns1.bob.com"), QTYPE.A)[0].rdata) == "10.0.0.1"
    cache.put(key("bob.com"), QTYPE.NS, [rr("bob.com. 300 NS ns1.bob.com.")], REFERRAL)
    assert cache.get(key("bob.com"), QTYPE.NS, ANSWER) is None  # a referral's NS set never answers a client


def test_negative_entries_use_min_of_soa_ttl_and_minimum():
    clock = Clock()
    cache = Cache(clock)
    soa = rr("bob.com. 3600 SOA ns1.bob.com. h.bob.com. 1 3600 600 86400 120")
    cache.put_negative(key("nope.bob.com"), None, soa)
    cache.put_negative(key("www.bob.com"), QTYPE.MX, soa)
    nx, s = cache.get_negative(key("nope.bob.com"), QTYPE.AAAA)
    assert nx and s.ttl == 120
    assert cache.get_negative(key("www.bob.com"), QTYPE.MX)[0] is False
    assert cache.get_negative(key("www.bob.com"), QTYPE.A) is None
    clock.now += 121
    assert cache.get_negative(key("nope.bob.com"), QTYPE.A) is None


def reply(text: str, aa: int = 0, rcode: int = 0) -> DNSRecord:
    """A reply from zone-file lines prefixed with the section: 'an', 'ns' or 'ar'."""
    msg = DNSRecord.question("www.bob.com").reply()
    msg.header.aa, msg.header.rcode = aa, rcode
    for line in text.strip().splitlines():
        section, record = line.split(None, 1)
        {"an": msg.add_answer, "ns": msg.add_auth, "ar": msg.add_ar}[section](rr(record))
    return msg


def test_classification():
    www, com = key("www.bob.com"), key("com")
    out = classify(reply("ns bob.com. 300 NS ns1.bob.com.\nar ns1.bob.com. 300 A 10.0.0.1\nar evil.org. 1 A 6.6.6.6"),
                   com, www, QTYPE.A)
    assert out.kind == K_REFERRAL and out.cut == key("bob.com") and [str(g.rname) for g in out.glue] == ["ns1.bob.com."]
    assert classify(reply("ns com. 300 NS ns1.com."), com, www, QTYPE.A).kind == LAME  # not deeper: lame
    assert classify(reply("ns . 300 NS a.root-servers.net."), com, www, QTYPE.A).kind == LAME  # upward
    assert classify(reply("", rcode=5), com, www, QTYPE.A).kind == LAME  # REFUSED
    bob = key("bob.com")
    soa = "ns bob.com. 300 SOA ns1.bob.com. h.bob.com. 1 3600 600 86400 300"
    assert classify(reply(soa, aa=1, rcode=3), bob, www, QTYPE.A).kind == NXDOMAIN
    assert classify(reply(soa, aa=1), bob, www, QTYPE.A).kind == NODATA
    out = classify(reply("an www.bob.com. 300 A 1.2.3.4\nan www.evil.org. 300 A 6.6.6.6", aa=1), bob, www, QTYPE.A)
    assert out.kind == K_ANSWER and out.complete and len(out.chain) == 1
    out = classify(reply("an www.bob.com. 300 CNAME www.shop.org.\nan www.shop.org. 300 A 6.6.6.6", aa=1),
                   bob, www, QTYPE.A)
    assert out.kind == K_ANSWER and not out.complete and out.final == key("www.shop.org")  # out of bailiwick: dropped


def test_packed_replies_are_reused_with_ttls_counted_down_until_a_flush():
    from dns_helpers import question
    from dnslib import A

    from netemu.dns.recursive import Recursive
    from netemu.dns.resolver import Resolver

    now = [1000.0]
    cache = Cache(clock=lambda: now[0])
    resolver = Resolver([], cache=cache)
    rec = Recursive(resolver, clock=lambda: now[0])
    cache.put(key("www.bob.com"), QTYPE.A, [RR("www.bob.com", QTYPE.A, ttl=300, rdata=A("192.0.2.1"))], ANSWER)
    data = bytes(question("www.bob.com").pack())
    assert [rr.ttl for rr in DNSRecord.parse(rec.respond(data, True)).rr] == [300]
    cache._sets.clear()  # only the packed reply is left: what follows comes from it
    now[0] += 100
    reply = DNSRecord.parse(rec.respond(data, True))
    assert [rr.ttl for rr in reply.rr] == [200] and [x.rtype for x in reply.ar] == [QTYPE.OPT]
    cache.put(key("www.bob.com"), QTYPE.A, [RR("www.bob.com", QTYPE.A, ttl=300, rdata=A("192.0.2.1"))], ANSWER)
    cache.flush()
    pending = rec.respond(data, True)
    assert not isinstance(pending, bytes)  # stale after the flush: resolved again
    pending.close()
