"""DNS message rules shared by the authoritative server and the resolver: checks, headers, EDNS, TC."""

from __future__ import annotations

from dataclasses import dataclass

from dnslib import OPCODE, QTYPE, RCODE, DNSHeader, DNSQuestion, DNSRecord

from . import encode
from .decode import new_header, new_message, opt_record
from .decode import parse as parse_fast
from .log import LOG

MAX_LABEL = 63  # octets of one label (RFC 1035 §2.3.4)
MAX_NAME = 255  # octets of a whole name on the wire, length bytes and the root's zero included
UDP_NO_EDNS = 512
UDP_MAX = 1232  # the DNS flag day 2020 size: never fragment
BADVERS = 16
OPT = QTYPE.OPT
CLASS_IN = 1


@dataclass
class Query:
    """A well-formed query: the message and the client's EDNS parameters."""

    msg: DNSRecord
    edns: bool
    payload: int  # the client's advertised UDP size (512 without EDNS)
    do: bool = False

    @property
    def question(self) -> DNSQuestion:
        """The single question."""
        return self.msg.q


def check(data: bytes) -> Query | bytes | None:
    """Parse a query: a Query, an error reply (FORMERR, NOTIMP, BADVERS, REFUSED), or None to drop."""
    if len(data) < 12 or data[2] & 0x80:  # too short for a header, or a response: never answer
        return None
    msg = parse_fast(data)
    if msg is None:
        try:
            msg = DNSRecord.parse(data)
        except Exception:  # noqa: BLE001 - whatever dnslib cannot parse is a FORMERR
            return _raw_error(data, RCODE.FORMERR)
    if any(not name_ok(q.qname) for q in msg.questions):  # dnslib reads them but cannot pack them back
        return _raw_error(data, RCODE.FORMERR)
    opts = [rr for rr in msg.ar if rr.rtype == OPT]
    if any(rr.rtype == OPT for rr in msg.rr + msg.auth):
        return _error(msg, RCODE.FORMERR, None)
    if len(opts) > 1:
        return _error(msg, RCODE.FORMERR, None)
    query = Query(msg, bool(opts), UDP_NO_EDNS)
    if opts:
        opt = opts[0]
        query.payload = max(UDP_NO_EDNS, opt.rclass)
        query.do = bool(opt.ttl & 0x8000)
        if (opt.ttl >> 16) & 0xFF > 0:
            return _error(msg, BADVERS, query)
    if msg.header.opcode != OPCODE.QUERY:
        return _error(msg, RCODE.NOTIMP, query)
    if len(msg.questions) != 1:
        return _error(msg, RCODE.FORMERR, query)
    q = msg.q
    if q.qtype in (QTYPE.AXFR, QTYPE.IXFR) or q.qclass != CLASS_IN:
        return _error(msg, RCODE.REFUSED, query)
    return query


class Plain:
    """A query of the usual shape, read without building any object of dnslib's: one question of class IN
    with an uncompressed ASCII name, no answer or authority records, at most one OPT (version 0, well-formed
    options), nothing after it. `plain` recognises it; every other message takes `check`."""

    __slots__ = ("data", "end", "labels", "qtype", "edns", "payload", "do")

    def __init__(self, data: bytes, end: int, labels: tuple[bytes, ...], qtype: int, edns: bool, payload: int,
                 do: bool):
        self.data = data  # the whole query
        self.end = end  # where its question section ends
        self.labels = labels  # the question name, as received (case kept)
        self.qtype = qtype
        self.edns = edns
        self.payload = payload  # the client's advertised UDP size (512 without EDNS)
        self.do = do

    def reply(self, rcode: int, sections: tuple[list, ...], limit: int | None) -> tuple[bytes, list[tuple[int, int]]]:
        """The reply with RA=1, AA=0, carrying the answer and authority `sections` (dnslib RRs), packed exactly
        as `finish(reply(...))` packs it, and the (offset, TTL) of each record's TTL (`ttl_offsets`)."""
        data = self.data
        # QR=1; opcode, RD and CD copied from the query (0x7910), RA (0x0080), the rcode's low bits.
        flags = 0x8000 | ((data[2] << 8 | data[3]) & 0x7910) | 0x0080 | (rcode & 0xF)
        names: dict = {}
        encode.question_names(names, self.labels)
        out = bytearray(data[:2] + flags.to_bytes(2, "big") + b"\x00\x01" + len(sections[0]).to_bytes(2, "big")
                        + len(sections[1]).to_bytes(2, "big") + (b"\x00\x01" if self.edns else b"\x00\x00"))
        out += data[12:self.end]
        ttls: list[tuple[int, int]] = []
        for rrs in sections:
            encode.records(out, names, rrs, ttls)
        opt = _opt_bytes(rcode, self.do) if self.edns else b""
        if limit is not None and len(out) + len(opt) > limit:  # TC=1: the question and the OPT only
            out = bytearray(out[:2] + (flags | 0x0200).to_bytes(2, "big") + out[4:6] + b"\x00\x00\x00\x00"
                            + out[10:12]) + data[12:self.end]
            ttls = []
        out += opt
        return bytes(out), ttls


def _opt_bytes(rcode: int, do: bool) -> bytes:
    """The OPT record `finish` adds: root owner, our UDP size, extended rcode, DO copied, no options."""
    ttl = (rcode >> 4) << 24 | (0x8000 if do else 0)
    return b"\x00" + OPT.to_bytes(2, "big") + UDP_MAX.to_bytes(2, "big") + ttl.to_bytes(4, "big") + b"\x00\x00"


def plain(data: bytes) -> Plain | None:
    """The query as a Plain when it has the usual shape (see Plain), else None: `check` then decides."""
    end = len(data)
    # No QR, opcode QUERY (the TC/AA/RD/… bits are free), one question, no answer or authority records.
    if end < 17 or data[2] & 0xF8 or data[4:10] != b"\x00\x01\x00\x00\x00\x00" or data[10] or data[11] > 1:
        return None
    labels = []
    i = 12
    n = data[i]
    while n:
        if n > MAX_LABEL:  # a pointer or a reserved label type
            return None
        j = i + 1 + n
        if j >= end:
            return None
        label = data[i + 1:j]
        if not label.isascii():
            return None
        labels.append(label)
        i = j
        n = data[i]
    if i - 12 + 1 > MAX_NAME or i + 5 > end:
        return None
    qtype = data[i + 1] << 8 | data[i + 2]
    if data[i + 3:i + 5] != b"\x00\x01" or qtype in _NOT_PLAIN:  # class IN; zone transfers get REFUSED by check
        return None
    qend = i + 5
    if not data[11]:
        return Plain(data, qend, tuple(labels), qtype, False, UDP_NO_EDNS, False) if qend == end else None
    # The OPT: root owner, type 41, class = UDP size, TTL = extended rcode, version (must be 0), DO and Z.
    if qend + 11 > end or data[qend:qend + 3] != b"\x00\x00\x29" or data[qend + 6]:
        return None
    rdlen = data[qend + 9] << 8 | data[qend + 10]
    i = qend + 11
    if i + rdlen != end:
        return None
    while i < end:  # options: code, length, data; each must fit (dnslib rejects the message otherwise)
        if i + 4 > end:
            return None
        i += 4 + (data[i + 2] << 8 | data[i + 3])
    if i != end:
        return None
    payload = max(UDP_NO_EDNS, data[qend + 3] << 8 | data[qend + 4])
    return Plain(data, qend, tuple(labels), qtype, True, payload, bool(data[qend + 7] & 0x80))


_NOT_PLAIN = frozenset({QTYPE.AXFR, QTYPE.IXFR, OPT})


def name_ok(name) -> bool:
    """Whether a parsed name fits RFC 1035's limits: labels of at most 63 octets, 255 octets in all."""
    labels = name.label
    return all(len(label) <= MAX_LABEL for label in labels) and sum(len(x) + 1 for x in labels) + 1 <= MAX_NAME


def reply(query: Query, rcode: int = 0, aa: bool = False, ra: bool = False) -> DNSRecord:
    """An empty reply with a header built by hand: ID, opcode, RD, CD copied; never AD."""
    h = query.msg.header
    # QR=1; opcode (0x7800), RD (0x0100) and CD (0x0010) copied; AA 0x0400, RA 0x0080; the low rcode bits.
    bitmap = 0x8000 | (h.bitmap & 0x7910) | (0x0400 if aa else 0) | (0x0080 if ra else 0) | (rcode & 0xF)
    return new_message(new_header(h.id, bitmap), [query.msg.q])


def udp_limit(query: Query | Plain) -> int:
    """How big a UDP reply to this query may be."""
    return min(query.payload, UDP_MAX) if query.edns else UDP_NO_EDNS


def finish(msg: DNSRecord, query: Query | None, limit: int | None, rcode: int | None = None,
           optional: bool = False) -> bytes:
    """Pack a reply: OPT echoed (DO copied) when the query had EDNS; over `limit`, optional additional
    data (addresses of MX/SRV/NS targets) is dropped first, then TC=1 with question and OPT only."""
    if rcode is None:
        rcode = msg.header.rcode
    if query is not None and query.edns:
        msg.ar = [rr for rr in msg.ar if rr.rtype != OPT]
        # RFC 3225 §3: the DO bit of the query MUST be copied into the reply.
        msg.ar.append(opt_record(UDP_MAX, (rcode >> 4) << 24 | (0x8000 if query.do else 0)))
    data = encode.pack(msg)
    if limit is not None and len(data) > limit and optional:
        msg.ar = [rr for rr in msg.ar if rr.rtype == OPT]
        data = encode.pack(msg)
    if limit is not None and len(data) > limit:
        msg.header.tc = 1
        msg.rr = []
        msg.auth = []
        msg.ar = [rr for rr in msg.ar if rr.rtype == OPT]
        data = encode.pack(msg)
    return data


def _error(msg: DNSRecord, rcode: int, query: Query | None) -> bytes:
    h = msg.header
    header = DNSHeader(id=h.id, qr=1, opcode=h.opcode, rd=h.rd, cd=h.cd, rcode=rcode & 0xF)
    out = DNSRecord(header, q=msg.questions[0] if len(msg.questions) == 1 else None)
    return finish(out, query, None, rcode)


def servfail(query: Query, data: bytes) -> bytes:
    """SERVFAIL for a query whose answer could not be built (falls back to a bare header)."""
    try:
        return finish(reply(query, RCODE.SERVFAIL), query, None)
    except Exception:  # noqa: BLE001 - even the question cannot be packed: answer without it
        return _raw_error(data, RCODE.SERVFAIL)


def log_error(out: bytes | None, size: int) -> None:
    """One rate-limited log line for a query answered FORMERR (the other refusals are normal traffic)."""
    if out is not None and len(out) >= 4 and out[3] & 0xF == RCODE.FORMERR:
        LOG.line(f"FORMERR for a malformed query of {size} bytes")


def _raw_error(data: bytes, rcode: int) -> bytes:
    """FORMERR for bytes dnslib cannot parse: ID, opcode and RD taken from the raw header."""
    flags = 0x8000 | (data[2] & 0x79) << 8 | rcode  # QR, opcode and RD kept
    return data[:2] + flags.to_bytes(2, "big") + b"\0" * 8


def _skip_name(data: bytes, i: int) -> int:
    """The offset just past the (possibly compressed) name starting at `i`."""
    while True:
        n = data[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:  # a compression pointer ends the name
            return i + 2
        i += n + 1


def ttl_offsets(data: bytes) -> list[tuple[int, int]]:
    """(offset, TTL) of every record's TTL field in a packed message, OPT excluded (its TTL holds flags)."""
    counts = [int.from_bytes(data[i:i + 2], "big") for i in (4, 6, 8, 10)]
    i = 12
    for _ in range(counts[0]):
        i = _skip_name(data, i) + 4
    out = []
    for _ in range(sum(counts[1:])):
        i = _skip_name(data, i)
        rtype = int.from_bytes(data[i:i + 2], "big")
        if rtype != OPT:
            out.append((i + 4, int.from_bytes(data[i + 4:i + 8], "big")))
        i += 10 + int.from_bytes(data[i + 8:i + 10], "big")
    return out


def rtext(rcode: int) -> str:
    """The name of an rcode (extended ones included)."""
    return "BADVERS" if rcode == BADVERS else str(RCODE.get(rcode, rcode))
