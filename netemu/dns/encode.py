"""Fast packing of dnslib messages: the same bytes as `DNSRecord.pack()`, a fraction of its cost.

dnslib packs through a buffer object, validating property setters and a struct call per field. Here the
header, questions and the common record types (A, AAAA, NS, CNAME, PTR, MX, SOA, TXT, OPT) are written
straight into one bytearray with dnslib's own name compression (a suffix seen before becomes a pointer);
every other record type is packed by dnslib itself into the same bytearray, sharing the compression table.
Invalid names raise DNSLabelError as dnslib does.
"""

from __future__ import annotations

import struct

from dnslib import DNSBuffer, DNSLabelError, DNSRecord

_HHIH = struct.Struct("!HHIH")
_H = struct.Struct("!H")
_NAME_RDATA = frozenset({2, 5, 12})  # NS, CNAME, PTR: one compressible name
MAX_POINTER = 0x3FFF


def _name(out: bytearray, names: dict, labels: tuple[bytes, ...]) -> None:
    """A name, compressed against every suffix already written (dnslib's rule: exact bytes, case included)."""
    if sum(map(len, labels)) + len(labels) - 1 > 253:
        raise DNSLabelError(f"Domain label too long: {labels!r}")
    for i in range(len(labels)):
        suffix = labels[i:]
        pointer = names.get(suffix)
        if pointer is not None:
            out += _H.pack(0xC000 | pointer)
            return
        if len(out) <= MAX_POINTER:
            names[suffix] = len(out)
        label = labels[i]
        if len(label) > 63:
            raise DNSLabelError(f"Label component too long: {label!r}")
        out.append(len(label))
        out += label
    out.append(0)


def _rdata(out: bytearray, names: dict, rr) -> None:
    rtype, rd = rr._rtype, rr.rdata
    if rtype == 1 or rtype == 28:
        out += bytes(rd.data)
    elif rtype in _NAME_RDATA:
        _name(out, names, rd.label.label)
    elif rtype == 15:
        out += _H.pack(rd.preference)
        _name(out, names, rd.label.label)
    elif rtype == 6:
        _name(out, names, rd.mname.label)
        _name(out, names, rd.rname.label)
        out += struct.pack("!IIIII", *rd.times)
    elif rtype == 41:  # OPT: a list of options
        for opt in rd:
            out += _H.pack(opt.code) + _H.pack(len(opt.data)) + opt.data
    elif rtype == 16 and all(len(s) <= 255 for s in rd.data):
        for s in rd.data:
            out.append(len(s))
            out += s
    else:  # dnslib's own packer, writing into the same bytes with the same compression table
        buffer = DNSBuffer()
        buffer.data, buffer.offset, buffer.names = out, len(out), names
        rd.pack(buffer)


def pack(msg: DNSRecord) -> bytes:
    """msg.pack(), byte for byte (header counts taken from the sections, as dnslib does)."""
    h = msg.header
    # The attributes behind dnslib's properties (_id, _rtype, …): they were range-checked when set.
    out = bytearray(struct.pack("!HHHHHH", h._id, h._bitmap, len(msg.questions), len(msg.rr), len(msg.auth),
                                len(msg.ar)))
    names: dict = {}
    for q in msg.questions:
        _name(out, names, q._qname.label)
        out += struct.pack("!HH", q.qtype, q.qclass)
    for section in (msg.rr, msg.auth, msg.ar):
        records(out, names, section)
    return bytes(out)


def records(out: bytearray, names: dict, rrs, ttls: list | None = None) -> None:
    """Append records, compressed against `names` as pack() does; the (offset, TTL) of each record's TTL
    field goes into `ttls` (OPT excluded: its TTL holds flags)."""
    for rr in rrs:
        _name(out, names, rr._rname.label)
        at = len(out)
        rtype, ttl = rr._rtype, rr._ttl
        out += _HHIH.pack(rtype, rr._rclass, ttl, 0)
        if ttls is not None and rtype != 41:
            ttls.append((at + 4, ttl))
        start = len(out)
        _rdata(out, names, rr)
        out[at + 8:at + 10] = _H.pack(len(out) - start)


def question_names(names: dict, labels: tuple[bytes, ...], offset: int = 12) -> None:
    """Enter the suffixes of a name written uncompressed at `offset` (the question's) into `names`, as _name
    would have while writing it."""
    for i in range(len(labels)):
        names.setdefault(labels[i:], offset)
        offset += 1 + len(labels[i])
