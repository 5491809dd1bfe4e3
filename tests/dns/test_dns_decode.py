"""The fast message parser and packer (netemu/dns/decode.py, encode.py): the parser never raises and agrees with
dnslib on what it reads; the packer gives dnslib's bytes."""

from __future__ import annotations

import pytest
from dns_helpers import same
from dnslib import RR, DNSLabel, DNSLabelError, DNSHeader, DNSQuestion, DNSRecord, EDNS0
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netemu.dns import decode, encode, wire


def dnslib_parse(data: bytes) -> DNSRecord | None:
    try:
        return DNSRecord.parse(data)
    except Exception:  # noqa: BLE001
        return None


label = st.binary(min_size=1, max_size=8).map(lambda b: bytes(c % 26 + (65 if c & 32 else 97) for c in b))
name = st.lists(st.sampled_from([b"www", b"ns1", b"Bob", b"com", b"z0"]) | label, max_size=4).map(
    lambda xs: ".".join(x.decode() for x in xs) + ".")
ZONE_LINES = {
    "A": st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: "%d.%d.%d.%d" % t),
    "AAAA": st.sampled_from(["::1", "2001:db8::53", "fe80::1:2:3"]),
    "NS": name, "CNAME": name, "PTR": name,
    "MX": st.tuples(st.integers(0, 65535), name).map(lambda t: f"{t[0]} {t[1]}"),
    "SOA": st.tuples(name, name, st.integers(0, 2**32 - 1)).map(lambda t: f"{t[0]} {t[1]} {t[2]} 7200 900 86400 60"),
    "TXT": st.lists(st.text("abc xyz=", max_size=20), min_size=1, max_size=3).map(
        lambda xs: " ".join(f'"{x}"' for x in xs)),
    "SRV": st.tuples(st.integers(0, 9), name).map(lambda t: f"{t[0]} 5 5060 {t[1]}"),
    "DS": st.just("60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"),
}
record = st.tuples(name, st.integers(0, 2**31), st.sampled_from(sorted(ZONE_LINES))).flatmap(
    lambda t: ZONE_LINES[t[2]].map(lambda data: RR.fromZone(f"{t[0]} {t[1]} IN {t[2]} {data}")[0]))


@st.composite
def messages(draw) -> bytes:
    """Replies packed by dnslib (compression included), in all four sections, with or without EDNS."""
    msg = DNSRecord(DNSHeader(id=draw(st.integers(0, 65535)), bitmap=draw(st.integers(0, 65535))))
    for _ in range(draw(st.integers(0, 2))):
        msg.add_question(DNSQuestion(draw(name), draw(st.sampled_from([1, 2, 15, 28, 255, 43]))))
    msg.add_answer(*draw(st.lists(record, max_size=5)))
    msg.add_auth(*draw(st.lists(record, max_size=3)))
    msg.add_ar(*draw(st.lists(record, max_size=3)))
    if draw(st.booleans()):
        msg.add_ar(EDNS0(udp_len=draw(st.integers(512, 4096)), flags=draw(st.sampled_from(["", "do"]))))
    return bytes(msg.pack())


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(messages())
def test_agrees_with_dnslib_on_valid_messages(data):
    fast = decode.parse(data)
    assert fast is not None
    assert same(fast, DNSRecord.parse(data))


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(messages(), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
       st.integers(0, 10_000), st.binary(max_size=20))
def test_damaged_messages_never_raise_and_never_disagree(data, flips, cut, tail):
    """Bytes changed, the message cut short or extended: None (dnslib decides), or exactly dnslib's result."""
    damaged = bytearray(data)
    for pos, value in flips:
        if damaged:
            damaged[pos % len(damaged)] = value
    damaged = bytes(damaged[:cut]) + tail
    fast = decode.parse(damaged)
    if fast is not None:
        slow = dnslib_parse(damaged)
        assert slow is not None and same(fast, slow)


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=600))
def test_garbage_never_raises(data):
    fast = decode.parse(data)
    if fast is not None:
        slow = dnslib_parse(data)
        assert slow is not None and same(fast, slow)


def _header(an: int = 1) -> bytes:
    return b"\x12\x34\x84\x00\x00\x00" + an.to_bytes(2, "big") + b"\x00\x00\x00\x00"


def test_pointer_loops_and_forward_pointers_are_refused():
    rest = b"\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x01\x02\x03\x04"
    assert decode.parse(_header() + b"\xc0\x0c" + rest) is None  # points at itself
    assert decode.parse(_header() + b"\x01a\xc0\x0c" + rest) is None  # back into its own start: a loop
    assert decode.parse(_header() + b"\xc0\x20" + rest + b"\x00") is None  # forward
    assert decode.parse(_header() + b"\x01a\x00" + rest) is not None  # the same record without pointers


def test_truncated_rdata_and_reserved_label_types_are_refused():
    assert decode.parse(_header() + b"\x01a\x00\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x01\x02\x03") is None
    assert decode.parse(_header() + b"\x41a\x00\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x01\x02\x03\x04") is None
    assert decode.parse(_header() + b"\x01a\x00\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x05\x01\x02\x03\x04\x05") is None


def test_over_long_names_are_refused():
    long_name = b"\x3f" + b"a" * 63
    data = _header() + long_name * 4 + b"\x00" + b"\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x01\x02\x03\x04"
    assert decode.parse(data) is None


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(messages())
def test_fast_packing_gives_dnslibs_bytes(data):
    msg = DNSRecord.parse(data)
    assert encode.pack(msg) == bytes(msg.pack())


def test_fast_packing_refuses_what_dnslib_refuses():
    msg = DNSRecord.parse(bytes(DNSRecord.question("a.example.").pack()))
    msg.questions[0].qname = DNSLabel([b"x" * 64, b"example"])
    with pytest.raises(DNSLabelError):
        encode.pack(msg)
    msg.questions[0].qname = DNSLabel([b"x" * 63] * 5)
    with pytest.raises(DNSLabelError):
        encode.pack(msg)


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(messages(), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4))
def test_query_checks_never_raise_on_damaged_packets(data, flips):
    """What the servers do first with a datagram: a Query, an error reply or None, never an exception."""
    damaged = bytearray(data)
    for pos, value in flips:
        if damaged:
            damaged[pos % len(damaged)] = value
    damaged[2:3] = bytes([damaged[2] & 0x7F]) if len(damaged) > 2 else b""  # a query (QR=0), else it is dropped
    out = wire.check(bytes(damaged))
    assert out is None or isinstance(out, (bytes, wire.Query))


@st.composite
def queries(draw) -> bytes:
    """Client queries: mostly the usual shape (one question, maybe an OPT with options), some odd, some damaged."""
    h = DNSHeader(id=draw(st.integers(0, 65535)), bitmap=draw(st.integers(0, 65535)) & 0x7FFF)
    if draw(st.booleans()):
        h.bitmap &= 0x07FF  # opcode QUERY
    msg = DNSRecord(h)
    for _ in range(draw(st.sampled_from([1, 1, 1, 0, 2]))):
        msg.add_question(DNSQuestion(draw(name), draw(st.sampled_from([1, 2, 15, 28, 255, 43, 41, 252])),
                                     draw(st.sampled_from([1, 1, 1, 3]))))
    if draw(st.integers(0, 5)) == 0:
        msg.add_answer(draw(record))
    if draw(st.booleans()):
        opts = draw(st.lists(st.tuples(st.integers(0, 65535), st.binary(max_size=8)), max_size=2))
        from dnslib import EDNSOption
        msg.add_ar(EDNS0(udp_len=draw(st.integers(0, 4096)), version=draw(st.sampled_from([0, 0, 0, 1])),
                         flags=draw(st.sampled_from(["", "do"])), opts=[EDNSOption(c, d) for c, d in opts]))
    data = bytearray(msg.pack())
    for pos, value in draw(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=2)):
        data[pos % len(data)] = value
    cut = draw(st.sampled_from([0, 0, 0, 1, 3]))
    return bytes(data[:len(data) - cut] if cut < len(data) else data)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(queries(), st.lists(record, max_size=4), st.lists(record, max_size=2), st.sampled_from([0, 2, 3]),
       st.sampled_from([None, 512, 700, 1232]))
def test_plain_queries_get_the_bytes_of_the_general_path(data, answer, authority, rcode, udp):
    """The resolver's shortcut for usual queries (wire.plain, Plain.reply) answers byte for byte what check,
    reply and finish answer, with the TTL offsets that ttl_offsets finds; everything else it leaves to check."""
    ask = wire.plain(data)
    if ask is None:
        return
    query = wire.check(data)
    assert isinstance(query, wire.Query)  # what the shortcut takes is a well-formed query to check too
    q = query.question
    assert (q.qname.label, q.qtype, ask.edns, ask.payload, ask.do) == (ask.labels, ask.qtype, query.edns,
                                                                     query.payload, query.do)
    limit = wire.udp_limit(query) if udp else None
    msg = wire.reply(query, rcode, ra=True)
    msg.rr, msg.auth = list(answer), list(authority)
    try:
        expected = wire.finish(msg, query, limit)
    except DNSLabelError:
        with pytest.raises(DNSLabelError):
            ask.reply(rcode, (answer, authority), limit)
        return
    out, ttls = ask.reply(rcode, (answer, authority), limit)
    assert out == expected
    assert ttls == wire.ttl_offsets(out)


def test_plain_takes_the_usual_queries():
    """The shortcut is taken for what clients send (else the test above would check nothing)."""
    q = DNSRecord(DNSHeader(id=7, rd=1), q=DNSQuestion("WWW.bob.com.", 1))
    assert wire.plain(bytes(q.pack())).labels == (b"WWW", b"bob", b"com")
    q.add_ar(EDNS0(udp_len=1232, flags="do"))
    ask = wire.plain(bytes(q.pack()))
    assert (ask.edns, ask.payload, ask.do) == (True, 1232, True)
    assert wire.plain(bytes(q.pack()) + b"\x00") is None  # trailing bytes: check decides
    q.header.opcode = 2
    assert wire.plain(bytes(q.pack())) is None
