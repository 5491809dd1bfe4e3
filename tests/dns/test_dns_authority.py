"""The authoritative responder against the rules of shared/notes/dns.md, in process (no sockets, no root)."""

from __future__ import annotations

from dns_helpers import question, rrs, same, zones_by_address
from dnslib import OPCODE, QTYPE, RCODE, DNSRecord

from netemu.dns.authority import Authority

ZONES, _ = zones_by_address()
ROOT = Authority.from_text(ZONES["127.0.0.2"])
COM = Authority.from_text(ZONES["127.0.0.3"])
BOB = Authority.from_text(ZONES["127.0.0.5"])


def ask(auth: Authority, name: str, qtype: str = "A", udp: bool = True, **kw) -> DNSRecord:
    return DNSRecord.parse(auth.respond(bytes(question(name, qtype, rd=0, **kw).pack()), udp))


def test_answer_is_authoritative_and_header_built_by_hand():
    q = question("www.bob.com", rd=1)
    q.header.ad = 1
    r = DNSRecord.parse(BOB.respond(bytes(q.pack()), True))
    assert (r.header.qr, r.header.aa, r.header.ra, r.header.ad, r.header.rd) == (1, 1, 0, 0, 1)
    assert r.header.id == q.header.id and r.header.rcode == RCODE.NOERROR
    assert rrs(r) == ["www.bob.com. A 203.0.113.10"]


def test_referral_has_aa0_ns_in_authority_and_glue_under_the_cut_only():
    r = ask(ROOT, "www.bob.com")
    assert (r.header.aa, r.header.rcode, r.rr) == (0, RCODE.NOERROR, [])
    assert rrs(r, "auth") == ["com. NS ns1.com."]
    assert rrs(r, "ar") == ["ns1.com. A 127.0.0.3"]
    r = ask(COM, "www.glueless.com")
    assert rrs(r, "auth") == ["glueless.com. NS ns.bob.org."]
    assert [x for x in r.ar if x.rtype != QTYPE.OPT] == []  # ns.bob.org is not under glueless.com: no glue


def test_referral_for_the_cut_itself_and_ds_from_the_parent():
    assert rrs(ask(COM, "bob.com", "NS"), "auth") == ["bob.com. NS ns1.bob.com.", "bob.com. NS ns2.bob.com."]
    r = ask(COM, "bob.com", "DS")  # the parent answers DS at a cut: NODATA with its own SOA
    assert (r.header.aa, r.header.rcode, r.rr) == (1, RCODE.NOERROR, [])
    assert [x.rtype for x in r.auth] == [QTYPE.SOA] and str(r.auth[0].rname) == "com."


def test_nxdomain_and_nodata_carry_the_soa_with_negative_ttl():
    r = ask(BOB, "nope.bob.com")
    assert (r.header.aa, r.header.rcode) == (1, RCODE.NXDOMAIN)
    assert [x.rtype for x in r.auth] == [QTYPE.SOA] and r.auth[0].ttl == 300  # min(SOA TTL 300, MINIMUM 300)
    r = ask(BOB, "www.bob.com", "MX")
    assert (r.header.aa, r.header.rcode, r.rr, [x.rtype for x in r.auth]) == (1, RCODE.NOERROR, [], [QTYPE.SOA])


def test_empty_non_terminal_is_nodata_not_nxdomain():
    r = ask(BOB, "y.bob.com")
    assert (r.header.rcode, r.rr, [x.rtype for x in r.auth]) == (RCODE.NOERROR, [], [QTYPE.SOA])


def test_cname_followed_inside_the_zone_and_final_rcode_is_the_targets():
    assert rrs(ask(BOB, "alias.bob.com")) == ["alias.bob.com. CNAME www.bob.com.", "www.bob.com. A 203.0.113.10"]
    r = ask(BOB, "dangling.bob.com")
    assert r.header.rcode == RCODE.NXDOMAIN and rrs(r) == ["dangling.bob.com. CNAME nope.bob.com."]
    r = ask(BOB, "far.bob.com")  # the target is in another zone: the resolver goes on
    assert r.header.rcode == RCODE.NOERROR and rrs(r) == ["far.bob.com. CNAME www.shop.org."] and r.auth == []
    assert rrs(ask(BOB, "alias.bob.com", "CNAME")) == ["alias.bob.com. CNAME www.bob.com."]


def test_deepest_zone_wins_and_foreign_names_are_refused():
    assert rrs(ask(BOB, "www.bob.org")) == ["www.bob.org. A 203.0.113.30"]
    r = ask(BOB, "www.example.net")
    assert (r.header.rcode, r.header.aa) == (RCODE.REFUSED, 0)


def test_edns_echo_badvers_and_no_edns():
    r = ask(BOB, "www.bob.com")
    opt = [x for x in r.ar if x.rtype == QTYPE.OPT]
    assert len(opt) == 1 and opt[0].rclass == 1232
    r = ask(BOB, "www.bob.com", edns=1)
    opt = [x for x in r.ar if x.rtype == QTYPE.OPT]
    assert r.header.rcode == 0 and opt and opt[0].ttl >> 24 == 1  # extended rcode 16 = BADVERS
    assert r.rr == []
    r = ask(BOB, "www.bob.com", edns=None)
    assert [x for x in r.ar if x.rtype == QTYPE.OPT] == []


def test_truncation_keeps_question_and_opt_and_tcp_gets_it_all():
    r = ask(BOB, "big.bob.com", "TXT")
    assert r.header.tc == 1 and r.rr == [] and len(r.questions) == 1
    assert [x.rtype for x in r.ar] == [QTYPE.OPT]
    r = ask(BOB, "big.bob.com", "TXT", edns=None)  # 512 bytes without EDNS
    assert r.header.tc == 1 and r.ar == []
    r = ask(BOB, "big.bob.com", "TXT", udp=False)
    assert r.header.tc == 0 and len(r.rr) == 1
    r = ask(BOB, "big.bob.com", "TXT", payload=4096)  # a client asking for more still gets at most 1232
    assert r.header.tc == 1


def test_formerr_notimp_refused_and_silence():
    data = bytes(question("www.bob.com").pack())
    assert BOB.respond(data[:11], True) is None  # shorter than a header
    reply = BOB.respond(data[:12] + b"\x05abc", True)  # garbage question
    assert DNSRecord.parse(reply).header.rcode == RCODE.FORMERR and reply[:2] == data[:2]
    response = bytearray(data)
    response[2] |= 0x80
    assert BOB.respond(bytes(response), True) is None  # never answer a response
    q = question("www.bob.com")
    q.header.opcode = OPCODE.NOTIFY
    assert DNSRecord.parse(BOB.respond(bytes(q.pack()), True)).header.rcode == RCODE.NOTIMP
    assert ask(BOB, "bob.com", "AXFR", udp=False).header.rcode == RCODE.REFUSED
    two = question("www.bob.com")
    two.add_question(question("bob.com").q)
    assert DNSRecord.parse(BOB.respond(bytes(two.pack()), True)).header.rcode == RCODE.FORMERR


def test_packed_cache_only_changes_the_id():
    q1, q2 = question("www.bob.com"), question("www.bob.com")
    q2.header.id = (q1.header.id + 1) % 65536
    r1, r2 = BOB.respond(bytes(q1.pack()), True), BOB.respond(bytes(q2.pack()), True)
    assert r1[2:] == r2[2:] and r1[:2] != r2[:2] and r2[:2] == bytes(q2.pack())[:2]


def test_hand_parsed_queries_equal_dnslibs_reading():
    import random as rnd

    from dns_corpus import corpus

    from netemu.dns import wire

    seen_plain = 0
    for q in corpus(ZONES["127.0.0.5"]["bob.com."], "bob.com.")[:400]:
        msg = question(q.name, q.qtype, rd=rnd.getrandbits(1), edns=q.edns, payload=q.payload)
        if q.do:
            msg.ar[0].ttl |= 0x8000
        data = bytes(msg.pack())
        plain = wire.parse_fast(data)
        if plain is None:
            continue
        seen_plain += 1
        assert same(plain, DNSRecord.parse(data))
        fast, slow = wire.check(data), _dnslib_check(data)
        if isinstance(slow, bytes):  # an error reply (BADVERS, REFUSED)
            assert fast == slow
        else:
            assert bytes(BOB.answer(fast).pack()) == bytes(BOB.answer(slow).pack())
    assert seen_plain > 300


def _dnslib_check(data: bytes):
    from netemu.dns import wire

    saved = wire.parse_fast
    wire.parse_fast = lambda _data: None
    try:
        return wire.check(data)
    finally:
        wire.parse_fast = saved
