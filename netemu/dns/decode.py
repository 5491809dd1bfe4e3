"""A fast, bounds-checked parser of DNS messages into dnslib's objects, for the resolver's upstream replies.

dnslib's `DNSRecord.parse` validates every field through property setters and a buffer object: most of the
resolver's CPU time per upstream reply. `parse` here reads the usual messages (names with backward
compression pointers; A, AAAA, NS, CNAME, PTR, MX, SOA, TXT records) straight into the same objects, and
hands every record of another type (OPT included) to dnslib's own record parser. For anything it does not
recognise as well-formed — a forward or looping pointer, a reserved label type, a non-UTF-8 label, a name
over 255 octets, rdata that does not fill its rdlength, a truncated message — it returns None, and the
caller falls back to dnslib, which then decides as before. It never raises.
"""

from __future__ import annotations

from dnslib import AAAA, CNAME, MX, NS, PTR, RR, SOA, TXT, A, DNSBuffer, DNSHeader, DNSLabel, DNSQuestion, DNSRecord

MAX_NAME = 255  # octets of a name on the wire (RFC 1035 §2.3.4)
_NAME_TYPES = {2: NS, 5: CNAME, 12: PTR}
_new = object.__new__


class _Bad(Exception):
    """Not a message this parser reads: the caller falls back to dnslib."""


def _name(data: bytes, i: int, end: int) -> tuple[tuple[bytes, ...], int]:
    """The labels of the name at `i` and the offset after it; pointers must point strictly backwards,
    so every jump lands earlier in the message and the walk ends."""
    labels: list[bytes] = []
    size = 1
    after = -1
    limit = i  # a pointer must go below the start of the name part it interrupts
    while True:
        if i >= end:
            raise _Bad
        n = data[i]
        if n == 0:
            return tuple(labels), (i + 1 if after < 0 else after)
        if n < 64:
            j = i + 1 + n
            if j > end:
                raise _Bad
            label = data[i + 1:j]
            if not label.isascii():  # dnslib insists on UTF-8: let it decide
                raise _Bad
            labels.append(label)
            size += n + 1
            if size > MAX_NAME:
                raise _Bad
            i = j
        elif n >= 0xC0:
            if i + 1 >= end:
                raise _Bad
            target = (n & 0x3F) << 8 | data[i + 1]
            if target >= limit:  # forward, or onto itself: a loop
                raise _Bad
            if after < 0:
                after = i + 2
            i = limit = target
        else:  # 0x40 and 0x80: reserved label types
            raise _Bad


def label(labels: tuple[bytes, ...]) -> DNSLabel:
    """A DNSLabel of labels already checked (bytes, each at most 63 octets), without dnslib's constructor."""
    out = _new(DNSLabel)
    out.label = labels
    return out


def new_header(id_: int, bitmap: int) -> DNSHeader:
    """A DNSHeader without dnslib's per-field checks (counts are set when the message is packed)."""
    h = _new(DNSHeader)
    h._id, h._bitmap, h._q, h._a, h._auth, h._ar = id_, bitmap, 0, 0, 0, 0
    return h


def new_message(header: DNSHeader, questions: list, rr: list | None = None, auth: list | None = None,
                ar: list | None = None) -> DNSRecord:
    """A DNSRecord from its parts, without dnslib's constructor."""
    msg = _new(DNSRecord)
    msg.header, msg.questions, msg.rr, msg.auth, msg.ar = header, questions, rr or [], auth or [], ar or []
    return msg


def opt_record(udp_len: int, ttl: int, options: list | None = None) -> RR:
    """An OPT pseudo-record (RFC 6891) as dnslib builds it: owner root, class = UDP size, TTL = flags."""
    rr = _new(RR)
    rr._rname = label(())
    rr._rtype, rr._rclass, rr._ttl, rr.rdata = 41, udp_len, ttl, options or []
    rr.edns_len, rr.edns_ver, rr.edns_rcode = udp_len, (ttl >> 16) & 0xFF, (ttl >> 24) & 0xFF
    return rr


def _rdata(data: bytes, rtype: int, i: int, end: int):
    """The rdata of a fast type, which must end exactly at `end`; None for other types."""
    if rtype == 1:
        if end - i != 4:
            raise _Bad
        rd = _new(A)
        rd._data = tuple(data[i:end])
        return rd
    if rtype == 28:
        if end - i != 16:
            raise _Bad
        rd = _new(AAAA)
        rd._data = tuple(data[i:end])
        return rd
    cls = _NAME_TYPES.get(rtype)
    if cls is not None:
        labels, j = _name(data, i, end)
        if j != end:
            raise _Bad
        rd = _new(cls)
        rd._label = label(labels)
        return rd
    if rtype == 15:
        if end - i < 3:
            raise _Bad
        labels, j = _name(data, i + 2, end)
        if j != end:
            raise _Bad
        rd = _new(MX)
        rd._preference = data[i] << 8 | data[i + 1]
        rd._label = label(labels)
        return rd
    if rtype == 6:
        mname, j = _name(data, i, end)
        rname, j = _name(data, j, end)
        if j + 20 != end:
            raise _Bad
        rd = _new(SOA)
        rd._mname = label(mname)
        rd._rname = label(rname)
        rd._times = tuple(int.from_bytes(data[k:k + 4], "big") for k in range(j, end, 4))
        return rd
    if rtype == 16:
        strings = []
        while i < end:  # as dnslib: each string strictly inside the rdata that remains
            n = data[i]
            if i + 1 + n > end:
                raise _Bad
            strings.append(data[i + 1:i + 1 + n])
            i += 1 + n
        rd = _new(TXT)
        rd.data = strings
        return rd
    return None


def _records(data: bytes, i: int, count: int, end: int, out: list) -> int:
    buffer = None
    for _ in range(count):
        start = i
        labels, i = _name(data, i, end)
        if i + 10 > end:
            raise _Bad
        rtype = data[i] << 8 | data[i + 1]
        rdlength = data[i + 8] << 8 | data[i + 9]
        rd_start = i + 10
        rd_end = rd_start + rdlength
        if rd_end > end or (not rdlength and rtype != 41):  # dnslib refuses empty rdata except OPT's
            raise _Bad
        if rtype == 41 and not rdlength:  # OPT without options: what nearly every query and reply carries
            out.append(opt_record(data[i + 2] << 8 | data[i + 3], int.from_bytes(data[i + 4:i + 8], "big")))
            if labels:  # dnslib keeps whatever owner it read
                out[-1]._rname = label(labels)
            i = rd_end
            continue
        rdata = _rdata(data, rtype, rd_start, rd_end)
        if rdata is None:  # another type (OPT, SRV, DS, …): dnslib's own record parser, at this offset
            if buffer is None:
                buffer = DNSBuffer(data)
            buffer.offset = start
            try:
                rr = RR.parse(buffer)
            except Exception as e:  # noqa: BLE001 - whatever dnslib rejects, the whole message falls back
                raise _Bad from e
            if buffer.offset != rd_end:
                raise _Bad
        else:
            rr = _new(RR)
            rr._rname = label(labels)
            rr._rtype = rtype
            rr._rclass = data[i + 2] << 8 | data[i + 3]
            rr._ttl = int.from_bytes(data[i + 4:i + 8], "big")
            rr.rdata = rdata
        out.append(rr)
        i = rd_end
    return i


def parse(data: bytes) -> DNSRecord | None:
    """The message as dnslib would parse it, or None when this parser cannot read it (never raises)."""
    try:
        return _parse(data)
    except Exception:  # noqa: BLE001 - _Bad, or a slip in this parser: either way dnslib decides
        return None


def _parse(data: bytes) -> DNSRecord:
    end = len(data)
    if end < 12:
        raise _Bad
    header = _new(DNSHeader)
    header._id = data[0] << 8 | data[1]
    header._bitmap = data[2] << 8 | data[3]
    header._q, header._a, header._auth, header._ar = (data[k] << 8 | data[k + 1] for k in (4, 6, 8, 10))
    i = 12
    questions = []
    for _ in range(header._q):
        labels, i = _name(data, i, end)
        if i + 4 > end:
            raise _Bad
        q = _new(DNSQuestion)
        q._qname = label(labels)
        q.qtype = data[i] << 8 | data[i + 1]
        q.qclass = data[i + 2] << 8 | data[i + 3]
        questions.append(q)
        i += 4
    rr: list[RR] = []
    auth: list[RR] = []
    ar: list[RR] = []
    i = _records(data, i, header._a, end, rr)
    i = _records(data, i, header._auth, end, auth)
    _records(data, i, header._ar, end, ar)
    return new_message(header, questions, rr, auth, ar)
