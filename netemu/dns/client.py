"""Upstream queries: random ID, 0x20 case randomisation, connected sockets, ID and question (with its exact
case) verified, TC → TCP, FORMERR → no EDNS."""

from __future__ import annotations

import asyncio
import errno
import os
import _socket
import socket
import time
from dataclasses import dataclass

from dnslib import QTYPE, RCODE, DNSLabel, DNSRecord

from . import decode
from .decode import label as _label
from .wire import OPT, UDP_MAX
from .zone import key



class _Entropy:
    """Random bits from the kernel (os.urandom), fetched 4 KiB at a time: one getrandom call per ~500 queries
    instead of two per query. Each bit is used once."""

    def __init__(self, chunk: int = 4096):
        self.chunk = chunk
        self.buf = b""
        self.pos = 0

    def getrandbits(self, k: int) -> int:
        """k random bits as an int (k > 0)."""
        n = (k + 7) // 8
        if self.pos + n > len(self.buf):
            self.buf, self.pos = os.urandom(max(self.chunk, n)), 0
        value = int.from_bytes(self.buf[self.pos:self.pos + n], "big")
        self.pos += n
        return value >> (n * 8 - k)


_rng = _Entropy()
CASE_MISMATCH = "0x20 case mismatch"
_NO_EDNS_RCODES = (RCODE.FORMERR, RCODE.NOTIMP)  # a server that answers these to EDNS is asked without it


@dataclass(slots=True)  # created per question or exchange: no __dict__ each time
class Reply:
    """What one server said (msg None: no usable answer, `error` says why)."""

    msg: DNSRecord | None
    transport: str  # "udp" or "tcp"
    ms: float
    error: str = ""
    sent_name: DNSLabel | None = None  # the question name exactly as sent (0x20 case included)

    @property
    def sent(self) -> str:
        """The name as sent, as text (built only when a trace asks)."""
        return "" if self.sent_name is None else str(self.sent_name)


def mix_case(qname) -> DNSLabel:
    """The name with each letter's case chosen at random (draft-vixie-dnsext-dns0x20): more bits to guess
    for an off-path spoofer, since a reply must copy the question byte for byte."""
    return DNSLabel(_mixed(DNSLabel(qname).label))


def _mixed(labels) -> tuple[bytes, ...]:
    """Each ASCII letter upper- or lower-case by one random bit, done on the whole name at once as integers:
    the lower-cased name XOR random bits kept only at the letters' 0x20 bit."""
    joined = b"".join(labels)
    n = len(joined)
    if not n:
        return tuple(labels)
    flips = int.from_bytes(joined.translate(_LETTER_BIT), "big") & _rng.getrandbits(8 * n)
    mixed = (int.from_bytes(joined.lower(), "big") ^ flips).to_bytes(n, "big")
    out = []
    i = 0
    for label in labels:
        out.append(mixed[i:i + len(label)])
        i += len(label)
    return tuple(out)


_LETTER_BIT = bytes(0x20 if 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A else 0 for c in range(256))


# The OPT record we send: root owner, type 41, our 1232-byte UDP size, no extended flags, no options.
_OPT = b"\x00" + OPT.to_bytes(2, "big") + UDP_MAX.to_bytes(2, "big") + b"\x00" * 6
_COUNTS = b"\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"  # flags 0 (RD=0), one question, no records
_COUNTS_EDNS = _COUNTS[:-1] + b"\x01"  # and one additional record: the OPT
_LEN = [bytes([n]) for n in range(256)]


def _TYPE_CLASS_IN(qtype: int) -> bytes:
    return qtype.to_bytes(2, "big") + b"\x00\x01"


@dataclass(slots=True)
class Query:
    """An iterative query packed by hand (dnslib's objects cost more than the rest of a resolution step)."""

    data: bytes  # the whole message
    question: bytes  # the question section exactly as sent: a reply must repeat it byte for byte
    name: DNSLabel  # the name as sent (0x20 case)


def _labels(qname) -> tuple[bytes, ...]:
    """The labels of a name given as a tuple of labels, a DNSLabel or text."""
    if type(qname) is tuple:
        return qname
    return (qname if isinstance(qname, DNSLabel) else DNSLabel(qname)).label


def make_query(qname, qtype: int, edns: bool = True, caps: bool = False) -> Query:
    """An iterative query: random ID, RD=0, EDNS with our 1232-byte limit, the name's case mixed if `caps`."""
    labels = _labels(qname)
    if caps:
        labels = _mixed(labels)
    question = b"".join([_LEN[len(x)] + x for x in labels]) + b"\x00" + _TYPE_CLASS_IN(qtype)
    header = _rng.getrandbits(16).to_bytes(2, "big") + (_COUNTS_EDNS if edns else _COUNTS)
    return Query(header + question + (_OPT if edns else b""), question, _label(labels))


def matches(query: Query, data: bytes) -> DNSRecord | str | None:
    """The parsed reply if it answers `query` (same ID, QR=1, one question, the same in the same case), else
    None; CASE_MISMATCH when only the case of the name differs (a spoof, or a server that does not keep case)."""
    if len(data) < 12 or data[:2] != query.data[:2] or not data[2] & 0x80 or data[4:6] != b"\x00\x01":
        return None
    end = 12 + len(query.question)
    if data[12:end] != query.question:
        return CASE_MISMATCH if data[12:end].lower() == query.question.lower() else None
    msg = decode.parse(data)  # the fast parser; anything unusual is left to dnslib
    if msg is not None:
        return msg
    try:
        return DNSRecord.parse(data)
    except Exception:  # noqa: BLE001 - garbage is ignored like a spoofed packet
        return None


async def query(addr: str, qname, qtype: int, timeout: float, port: int = 53, caps: bool = True) -> Reply:
    """Ask one server; retry over TCP on TC=1, without EDNS if the server rejects EDNS, and once with the
    name as given if the reply did not keep the mixed case (as Unbound's caps fallback does)."""
    start = time.monotonic()
    msg = make_query(qname, qtype, caps=caps)
    data, error = await udp(addr, port, msg, timeout)
    transport = "udp"
    if data is None and error == CASE_MISMATCH:
        msg = make_query(qname, qtype)
        data, error = await udp(addr, port, msg, timeout)
    # The header's bits read from its bitmap: rcode in the low 4 bits, TC 0x0200 (dnslib's properties cost more).
    if data is not None and data.header._bitmap & 0xF in _NO_EDNS_RCODES and not data.header._bitmap & 0x0200:
        msg = make_query(qname, qtype, edns=False)
        data, error = await udp(addr, port, msg, timeout)
    if data is not None and data.header._bitmap & 0x0200:
        transport = "tcp"
        data, error = await tcp(addr, port, msg, timeout)
    if data is not None:
        _restore_case(data, _label(_labels(qname)))
    return Reply(data, transport, (time.monotonic() - start) * 1000, error, msg.name)


def _restore_case(msg: DNSRecord, qname: DNSLabel) -> None:
    """Give the question and the records owned by the asked name the case the resolver asked for."""
    k = key(qname)
    n = len(k)
    for q in msg.questions:
        q._qname = qname
    for section in (msg.rr, msg.auth, msg.ar):
        for rr in section:
            labels = rr._rname.label  # the attribute behind dnslib's property: this runs per record
            if len(labels) == n and tuple(map(bytes.lower, labels)) == k:
                rr._rname = qname


def _family(addr: str) -> int:
    return socket.AF_INET6 if ":" in addr else socket.AF_INET  # the resolver's addresses are checked IPs


def udp(addr: str, port: int, msg: Query, timeout: float) -> asyncio.Future:
    """Send over a connected UDP socket (the kernel drops other sources); wait for a matching reply.

    One reader callback and one timer per exchange, no task: (reply, "") or (None, why) as the result."""
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    # The C socket type itself: socket.socket's Python wrapper adds a constructor and close() per exchange.
    sock = _socket.socket(_family(addr), socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)  # one syscall, not two
    try:
        sock.connect((addr, port))
        sock.send(msg.data)  # a datagram to a fresh socket does not block
    except OSError as e:
        sock.close()
        fut.set_result((None, _why(e)))
        return fut
    fd = sock.fileno()

    def done(result: tuple[DNSRecord | None, str]) -> None:
        timer.cancel()
        loop.remove_reader(fd)
        sock.close()
        if not fut.done():
            fut.set_result(result)

    def readable() -> None:
        while True:  # several datagrams may wait: read until one matches or none is left
            try:
                data = sock.recv(65535)
            except BlockingIOError:
                return
            except OSError as e:
                return done((None, _why(e)))
            reply = matches(msg, data)
            if isinstance(reply, str):
                return done((None, CASE_MISMATCH))  # the caller asks again with the name as given
            if reply is not None:
                return done((reply, ""))

    loop.add_reader(fd, readable)
    timer = loop.call_later(timeout, done, (None, "timeout"))
    fut.add_done_callback(lambda f: f.cancelled() and done((None, "cancelled")))  # the caller gave up
    return fut


async def tcp(addr: str, port: int, msg: Query, timeout: float) -> tuple[DNSRecord | None, str]:
    """One query over TCP with the 2-byte length prefix."""
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(addr, port)
            writer.write(len(msg.data).to_bytes(2, "big") + msg.data)
            await writer.drain()
            while True:
                size = int.from_bytes(await reader.readexactly(2), "big")
                reply = matches(msg, await reader.readexactly(size))
                if isinstance(reply, DNSRecord):
                    return reply, ""
    except TimeoutError:
        return None, "timeout"
    except asyncio.IncompleteReadError:
        return None, "connection closed"
    except OSError as e:
        return None, _why(e)
    finally:
        if writer is not None:
            writer.close()


def _why(e: OSError) -> str:
    return {errno.ECONNREFUSED: "port unreachable", errno.ENETUNREACH: "network unreachable",
            errno.EHOSTUNREACH: "host unreachable"}.get(e.errno or 0, e.strerror or str(e))


def qtype_name(qtype: int) -> str:
    """A type's mnemonic (TYPE65534 style for unknown ones)."""
    return str(QTYPE.get(qtype, f"TYPE{qtype}"))
