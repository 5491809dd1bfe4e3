"""Upstream queries: random ID, connected sockets, ID and question verified, TC → TCP, FORMERR → no EDNS."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import random
import socket
import time
from dataclasses import dataclass

from dnslib import EDNS0, QTYPE, RCODE, DNSHeader, DNSQuestion, DNSRecord

from .wire import UDP_MAX
from .zone import key

_rng = random.SystemRandom()


@dataclass
class Reply:
    """What one server said (msg None: no usable answer, `error` says why)."""

    msg: DNSRecord | None
    transport: str  # "udp" or "tcp"
    ms: float
    error: str = ""


def make_query(qname, qtype: int, edns: bool = True) -> DNSRecord:
    """An iterative query: random ID, RD=0, EDNS with our 1232-byte limit."""
    msg = DNSRecord(DNSHeader(id=_rng.getrandbits(16), rd=0), q=DNSQuestion(qname, qtype))
    if edns:
        msg.add_ar(EDNS0(udp_len=UDP_MAX))
    return msg


def matches(query: DNSRecord, data: bytes) -> DNSRecord | None:
    """The parsed reply if it answers `query` (same ID, QR=1, same question), else None."""
    if len(data) < 12 or data[:2] != query.header.id.to_bytes(2, "big") or not data[2] & 0x80:
        return None
    try:
        msg = DNSRecord.parse(data)
    except Exception:  # noqa: BLE001 - garbage is ignored like a spoofed packet
        return None
    q, mq = query.q, msg.questions
    if len(mq) != 1 or key(mq[0].qname) != key(q.qname) or mq[0].qtype != q.qtype or mq[0].qclass != q.qclass:
        return None
    return msg


async def query(addr: str, qname, qtype: int, timeout: float, port: int = 53) -> Reply:
    """Ask one server; retry over TCP on TC=1 and without EDNS if the server rejects EDNS."""
    start = time.monotonic()
    msg = make_query(qname, qtype)
    data, error = await udp(addr, port, msg, timeout)
    transport = "udp"
    if data is not None and data.header.rcode in (RCODE.FORMERR, RCODE.NOTIMP) and not data.header.tc:
        msg = make_query(qname, qtype, edns=False)
        data, error = await udp(addr, port, msg, timeout)
    if data is not None and data.header.tc:
        transport = "tcp"
        data, error = await tcp(addr, port, msg, timeout)
    return Reply(data, transport, (time.monotonic() - start) * 1000, error)


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
                if reply is not None:
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
