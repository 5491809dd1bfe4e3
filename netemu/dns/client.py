"""Upstream queries: random ID, 0x20 case randomisation, connected sockets, ID and question (with its exact
case) verified, TC → TCP, FORMERR → no EDNS."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import random
import socket
import time
from dataclasses import dataclass

from dnslib import EDNS0, QTYPE, RCODE, DNSHeader, DNSLabel, DNSQuestion, DNSRecord

from .wire import UDP_MAX
from .zone import key

_rng = random.SystemRandom()
CASE_MISMATCH = "0x20 case mismatch"


@dataclass
class Reply:
    """What one server said (msg None: no usable answer, `error` says why)."""

    msg: DNSRecord | None
    transport: str  # "udp" or "tcp"
    ms: float
    error: str = ""
    sent: str = ""  # the question name exactly as sent (0x20 case included)


def mix_case(qname) -> DNSLabel:
    """The name with each letter's case chosen at random (draft-vixie-dnsext-dns0x20): more bits to guess
    for an off-path spoofer, since a reply must copy the question byte for byte."""
    labels = DNSLabel(qname).label
    bits = _rng.getrandbits(max(1, sum(map(len, labels))))
    out = []
    for label in labels:
        chars = bytearray(label)
        for i, c in enumerate(chars):
            if 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A:
                chars[i] = c | 0x20 if bits & 1 else c & ~0x20
            bits >>= 1
        out.append(bytes(chars))
    return DNSLabel(out)


def make_query(qname, qtype: int, edns: bool = True, caps: bool = False) -> DNSRecord:
    """An iterative query: random ID, RD=0, EDNS with our 1232-byte limit, the name's case mixed if `caps`."""
    name = mix_case(qname) if caps else qname
    msg = DNSRecord(DNSHeader(id=_rng.getrandbits(16), rd=0), q=DNSQuestion(name, qtype))
    if edns:
        msg.add_ar(EDNS0(udp_len=UDP_MAX))
    return msg


def matches(query: DNSRecord, data: bytes) -> DNSRecord | str | None:
    """The parsed reply if it answers `query` (same ID, QR=1, same question in the same case), else None;
    CASE_MISMATCH when only the case of the name differs (a spoof, or a server that does not keep case)."""
    if len(data) < 12 or data[:2] != query.header.id.to_bytes(2, "big") or not data[2] & 0x80:
        return None
    try:
        msg = DNSRecord.parse(data)
    except Exception:  # noqa: BLE001 - garbage is ignored like a spoofed packet
        return None
    q, mq = query.q, msg.questions
    if len(mq) != 1 or key(mq[0].qname) != key(q.qname) or mq[0].qtype != q.qtype or mq[0].qclass != q.qclass:
        return None
    if mq[0].qname.label != q.qname.label:
        return CASE_MISMATCH
    return msg


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
    if data is not None and data.header.rcode in (RCODE.FORMERR, RCODE.NOTIMP) and not data.header.tc:
        msg = make_query(qname, qtype, edns=False)
        data, error = await udp(addr, port, msg, timeout)
    if data is not None and data.header.tc:
        transport = "tcp"
        data, error = await tcp(addr, port, msg, timeout)
    if data is not None:
        _restore_case(data, DNSLabel(qname))
    return Reply(data, transport, (time.monotonic() - start) * 1000, error, str(msg.q.qname))


def _restore_case(msg: DNSRecord, qname: DNSLabel) -> None:
    """Give the question and the records owned by the asked name the case the resolver asked for."""
    k = key(qname)
    for q in msg.questions:
        q.qname = qname
    for rr in msg.rr + msg.auth + msg.ar:
        if key(rr.rname) == k:
            rr.rname = qname


def _family(addr: str) -> int:
    return socket.AF_INET6 if ipaddress.ip_address(addr).version == 6 else socket.AF_INET


async def udp(addr: str, port: int, msg: DNSRecord, timeout: float) -> tuple[DNSRecord | None, str]:
    """Send over a connected UDP socket (the kernel drops other sources); wait for a matching reply."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(_family(addr), socket.SOCK_DGRAM)
    sock.setblocking(False)
    deadline = loop.time() + timeout
    try:
        sock.connect((addr, port))
        await loop.sock_sendall(sock, bytes(msg.pack()))
        while True:
            left = deadline - loop.time()
            if left <= 0:
                return None, "timeout"
            data = await asyncio.wait_for(loop.sock_recv(sock, 65535), left)
            reply = matches(msg, data)
            if isinstance(reply, str):
                return None, CASE_MISMATCH  # the caller asks again with the name as given
            if reply is not None:
                return reply, ""
    except TimeoutError:
        return None, "timeout"
    except OSError as e:
        return None, _why(e)
    finally:
        sock.close()


async def tcp(addr: str, port: int, msg: DNSRecord, timeout: float) -> tuple[DNSRecord | None, str]:
    """One query over TCP with the 2-byte length prefix."""
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(addr, port)
            data = bytes(msg.pack())
            writer.write(len(data).to_bytes(2, "big") + data)
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
