"""One test per defect of issue 14 (authoritative side) and the over-long names of issue 10, in process."""

from __future__ import annotations

import io

import pytest
from dns_helpers import question, rrs, zones_by_address
from dnslib import QTYPE, RCODE, DNSRecord

from netemu.dns.authority import Authority
from netemu.dns.log import Log
from netemu.errors import TopologyError
from netemu.parse import topology_from_text

TEXT = """
name: defects
nodes: {root: {}, com: {}, ex: {}, sub: {}}
dns:
  zones:
    .: {servers: [{node: root, address: 127.0.0.2}]}
    com.: {servers: [{node: com, address: 127.0.0.3}]}
    ex.com.:
      servers: [{node: ex, address: 127.0.0.5}]
      ttl: 300
      records:
        - www A 192.0.2.1
        - tosub CNAME www.sub
        - _sip._udp SRV 10 5 5060 sipserver
        - sipserver A 192.0.2.5
        - "@ MX 10 mail"
        - mail A 192.0.2.25
        - mail AAAA 2001:db8::25
        - alias CNAME www
        - "*.wild A 192.0.2.99"
        - "*.wild TXT wildtext"
        - "*.cn CNAME www"
        - host.wild A 192.0.2.7
        - deep.x.wild A 192.0.2.8
    sub.ex.com.:
      servers: [{node: sub, address: 127.0.0.6}]
      records: ["www A 192.0.2.10"]
"""
ZONES, _ = zones_by_address(TEXT)
EX = Authority.from_text(ZONES["127.0.0.5"])


def ask(name: str, qtype: str = "A", **kw) -> DNSRecord:
    return DNSRecord.parse(EX.respond(bytes(question(name, qtype, rd=0, **kw).pack()), True))


def test_do_bit_is_copied_into_the_reply_opt():  # defect 1, RFC 3225 §3
    q = question("www.ex.com", rd=0)
    q.ar[0].edns_do = 1
    q.ar[0].ttl |= 0x8000
    r = DNSRecord.parse(EX.respond(bytes(q.pack()), True))
    assert [x.ttl & 0x8000 for x in r.ar if x.rtype == QTYPE.OPT] == [0x8000]
    r = ask("www.ex.com")
    assert [x.ttl & 0x8000 for x in r.ar if x.rtype == QTYPE.OPT] == [0]


def test_cname_to_a_name_below_a_cut_adds_the_referral():  # defect 2, RFC 1034 §4.3.2 step 3
    r = ask("tosub.ex.com")
    assert rrs(r) == ["tosub.ex.com. CNAME www.sub.ex.com."]
    assert rrs(r, "auth") == ["sub.ex.com. NS ns1.sub.ex.com."]
    assert rrs(r, "ar") == ["ns1.sub.ex.com. A 127.0.0.6"]


def test_relative_targets_are_completed_with_the_origin_for_every_type():  # defect 3
    spec = topology_from_text(TEXT, "<t>").feature("dns")
    lines = [" ".join(line.split()) for line in spec.zone("ex.com.").records]
    assert "_sip._udp.ex.com. 300 IN SRV 10 5 5060 sipserver.ex.com." in lines
    assert "ex.com. 300 IN MX 10 mail.ex.com." in lines
    assert "alias.ex.com. 300 IN CNAME www.ex.com." in lines
    more = TEXT.replace('        - www A 192.0.2.1\n', '        - www A 192.0.2.1\n        - "p PTR host"\n'
                        '        - "n NS other"\n        - "s SRV 0 0 1 @"\n')
    lines = [" ".join(line.split()) for line in topology_from_text(more, "<t>").feature("dns").zone("ex.com.").records]
    assert "p.ex.com. 300 IN PTR host.ex.com." in lines and "n.ex.com. 300 IN NS other.ex.com." in lines
    assert "s.ex.com. 300 IN SRV 0 0 1 ex.com." in lines
    apex = TEXT.replace('        - www A 192.0.2.1\n', '        - www A 192.0.2.1\n        - "c CNAME @"\n'
                        '        - "@ MX 5 @"\n        - "q PTR @"\n        - "t TXT @"\n')
    lines = [" ".join(line.split()) for line in topology_from_text(apex, "<t>").feature("dns").zone("ex.com.").records]
    assert {"c.ex.com. 300 IN CNAME ex.com.", "ex.com. 300 IN MX 5 ex.com.", "q.ex.com. 300 IN PTR ex.com.",
            't.ex.com. 300 IN TXT "@"'} <= set(lines), lines  # '@' is the apex as a name, a word in TXT
    r = ask("_sip._udp.ex.com", "SRV")
    assert rrs(r) == ["_sip._udp.ex.com. SRV 10 5 5060 sipserver.ex.com."]


def test_rrset_with_different_ttls_is_rejected_with_its_line():  # defect 4, RFC 2181 §5.2
    bad = TEXT.replace("        - mail A 192.0.2.25\n", "        - mail A 192.0.2.25\n        - mail 60 A 192.0.2.26\n")
    with pytest.raises(TopologyError) as e:
        topology_from_text(bad, "t.yaml")
    text = [i.render("t.yaml") for i in e.value.issues]
    assert len(text) == 1 and "TTL 60 differs from TTL 300" in text[0] and text[0].startswith("t.yaml:18:")


def test_rrsig_and_nsec_at_a_cname_owner_are_not_redirected():  # defect 5, RFC 4035 §2.5
    for qtype in ("NSEC", "RRSIG"):
        r = ask("alias.ex.com", qtype)
        assert (r.header.rcode, r.rr, [x.rtype for x in r.auth]) == (RCODE.NOERROR, [], [QTYPE.SOA])
    assert rrs(ask("alias.ex.com", "A")) == ["alias.ex.com. CNAME www.ex.com.", "www.ex.com. A 192.0.2.1"]


def test_wildcards_synthesise_per_rfc4592():  # defect 6
    r = ask("anything.wild.ex.com")
    assert (r.header.rcode, r.header.aa, rrs(r)) == (RCODE.NOERROR, 1, ["anything.wild.ex.com. A 192.0.2.99"])
    assert rrs(ask("a.b.wild.ex.com")) == ["a.b.wild.ex.com. A 192.0.2.99"]  # several labels below
    r = ask("AnyCase.wild.ex.com", "TXT")
    assert rrs(r) == ['AnyCase.wild.ex.com. TXT "wildtext"']  # the owner is the name as asked
    r = ask("anything.wild.ex.com", "MX")  # wildcard exists, type does not: NODATA
    assert (r.header.rcode, r.rr, [x.rtype for x in r.auth]) == (RCODE.NOERROR, [], [QTYPE.SOA])
    assert rrs(ask("host.wild.ex.com")) == ["host.wild.ex.com. A 192.0.2.7"]  # existing names win
    r = ask("host.wild.ex.com", "TXT")  # ... and are not synthesised for other types
    assert (r.header.rcode, r.rr) == (RCODE.NOERROR, [])
    r = ask("other.x.wild.ex.com")  # x.wild exists (empty non-terminal): closest encloser, no *.x.wild
    assert r.header.rcode == RCODE.NXDOMAIN
    assert ask("x.wild.ex.com").header.rcode == RCODE.NOERROR  # the empty non-terminal itself: NODATA
    assert ask("wild.ex.com").header.rcode == RCODE.NOERROR and ask("wild.ex.com").rr == []
    r = ask("foo.cn.ex.com")  # a wildcard CNAME is synthesised, then followed
    assert rrs(r) == ["foo.cn.ex.com. CNAME www.ex.com.", "www.ex.com. A 192.0.2.1"]
    r = ask("x.sub.ex.com")  # no synthesis across a cut: the referral
    assert (r.header.aa, rrs(r, "auth")) == (0, ["sub.ex.com. NS ns1.sub.ex.com."])
    assert ask("nothing.ex.com").header.rcode == RCODE.NXDOMAIN


def test_wildcard_owner_rules_in_the_topology():
    for record, message in (('"a.*.b A 192.0.2.1"', "wildcard only as the whole leftmost label"),
                            ('"* NS ns"', "a wildcard cannot own NS")):
        bad = TEXT.replace("        - www A 192.0.2.1\n", f"        - www A 192.0.2.1\n        - {record}\n")
        with pytest.raises(TopologyError) as e:
            topology_from_text(bad, "t.yaml")
        assert message in e.value.issues[0].render("t.yaml")


def test_addresses_of_mx_srv_and_ns_targets_in_the_additional_section():
    assert rrs(ask("ex.com", "MX"), "ar") == ["mail.ex.com. A 192.0.2.25", "mail.ex.com. AAAA 2001:db8::25"]
    assert rrs(ask("_sip._udp.ex.com", "SRV"), "ar") == ["sipserver.ex.com. A 192.0.2.5"]
    assert rrs(ask("ex.com", "NS"), "ar") == ["ns1.ex.com. A 127.0.0.5"]


def _long_names() -> list[bytes]:
    head = bytes.fromhex("abcd01000001000000000000")
    tail = b"\x00\x00\x01\x00\x01"
    return [head + bytes([64]) + b"a" * 64 + b"\x02ex\x03com" + tail,  # a 64-octet label
            head + (bytes([63]) + b"a" * 63) * 4 + tail]  # 257 octets


def test_over_long_names_get_formerr_and_one_log_line():
    log = io.StringIO()
    import netemu.dns.log as logmod
    saved = logmod.LOG.stream
    logmod.LOG.stream = log
    try:
        for data in _long_names():
            r = DNSRecord.parse(EX.respond(data, True))
            assert (r.header.id, r.header.qr, r.header.rcode) == (0xABCD, 1, RCODE.FORMERR)
    finally:
        logmod.LOG.stream = saved
    lines = log.getvalue().splitlines()
    assert len(lines) == 2 and all("FORMERR" in x for x in lines)


def test_log_is_rate_limited_and_capped(tmp_path):
    now = [0.0]
    path = tmp_path / "dns.log"
    with open(path, "a") as f:
        log = Log(f, limit=2000, rate=10, burst=5, clock=lambda: now[0])
        written = sum(log.line("x" * 30) for _ in range(100))
        assert written == 5  # the burst, then nothing within the same instant
        now[0] += 1.0
        assert log.line("after") and "95 more lines suppressed" in path.read_text().splitlines()[-1]
        for _ in range(200):
            now[0] += 1.0
            log.line("y" * 100)
    assert path.stat().st_size <= 2000 + 200
    assert "log truncated" in path.read_text()


def test_over_long_names_over_udp_and_tcp_keep_the_connection():
    import asyncio

    from dns_helpers import ask as ask_socket
    from dns_helpers import free_port

    from netemu.dns import server

    async def main():
        port = free_port()
        listeners = await server.bind(EX.respond, "127.0.0.5", port)
        try:
            for data in _long_names():
                r = await ask_socket("127.0.0.5", port, data)
                assert r.header.rcode == RCODE.FORMERR
            reader, writer = await asyncio.open_connection("127.0.0.5", port)
            good = bytes(question("www.ex.com", rd=0).pack())
            msgs = [*_long_names(), good]
            writer.write(b"".join(len(m).to_bytes(2, "big") + m for m in msgs))
            replies = []
            for _ in msgs:
                size = int.from_bytes(await asyncio.wait_for(reader.readexactly(2), 3), "big")
                replies.append(DNSRecord.parse(await reader.readexactly(size)))
            assert [r.header.rcode for r in replies] == [RCODE.FORMERR, RCODE.FORMERR, RCODE.NOERROR]
            assert rrs(replies[-1]) == ["www.ex.com. A 192.0.2.1"]
            writer.close()
        finally:
            for listener in listeners:
                listener.close()

    asyncio.run(asyncio.wait_for(main(), 20))
