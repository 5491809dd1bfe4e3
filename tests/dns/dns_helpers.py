"""Test helpers: a DNS hierarchy from YAML served in-process on 127.0.0.x, and a tiny dig-like client."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import time
from pathlib import Path

from dnslib import EDNS0, QTYPE, DNSHeader, DNSQuestion, DNSRecord

from netemu.dns import server
from netemu.dns.authority import Authority
from netemu.dns.recursive import Recursive
from netemu.dns.resolver import Resolver
from netemu.dns.zonedata import build, root_hints
from netemu.parse import topology_from_text

# Root, com., org., bob.com. (two servers), shop.org. on the second; glueless.com. served by a name in org.;
# lame.com. delegated to an address where nothing answers; broken.com. delegated to a server that refuses it.
HIERARCHY = """
name: unit
nodes: {root: {}, root2: {}, com: {}, org: {}, bob: {}, bob2: {}, res: {}}
dns:
  zones:
    .: {servers: [{node: root, address: 127.0.0.2}, {node: root2, address: 127.0.0.12}]}
    com.:
      servers: [{node: com, address: 127.0.0.3}]
      records:
        - lame NS ns.lame.com.
        - ns.lame A 127.0.0.99
        - broken NS ns1.org.
    org.:
      servers: [{node: org, address: 127.0.0.4}]
    bob.com.:
      servers: [{node: bob, address: 127.0.0.5}, {node: bob2, address: 127.0.0.6}]
      ttl: 300
      records:
        - www A 203.0.113.10
        - www AAAA 2001:db8::10
        - alias CNAME www
        - far CNAME www.shop.org.
        - dangling CNAME nope.bob.com.
        - "@ MX 10 mail"
        - mail 30 A 203.0.113.25
        - x.y A 192.0.2.1
        - "big TXT BIGTXT"
    bob.org.:
      servers: [{node: bob, address: 127.0.0.5, name: ns1.bob.com.}]
      records: ["www A 203.0.113.30"]
    shop.org.:
      servers: [{node: bob2, address: 127.0.0.6}]
      records: ["www 60 A 198.51.100.80"]
    glueless.com.:
      servers: [{node: bob, address: 127.0.0.5, name: ns.bob.org.}]
      records: ["www A 192.0.2.7"]
"""
BIG = " ".join(['"' + "x" * 250 + '"'] * 8)  # ~2 KB: too big for UDP


def zones_by_address(text: str = HIERARCHY) -> tuple[dict[str, dict[str, list[str]]], list[tuple[str, str]]]:
    """Server address → {origin: zone lines}, and the root hints, derived by netemu's own parser."""
    spec = topology_from_text(text, "<unit>").feature("dns")
    zones = build(spec)
    zones = {o: [line.replace('"BIGTXT"', BIG).replace("BIGTXT", BIG) for line in lines] for o, lines in zones.items()}
    out: dict[str, dict[str, list[str]]] = {}
    for z in spec.zones:
        for s in z.servers:
            out.setdefault(s.addresses[0], {})[z.origin] = zones[z.origin]
    return out, root_hints(spec)


def free_port() -> int:
    """A high port free on 127.0.0.1 for UDP and TCP (good enough for other 127.0.0.x addresses too)."""
    while True:
        port = random.randint(20000, 60000)
        try:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                s = socket.socket(socket.AF_INET, kind)
                s.bind(("127.0.0.1", port))
                s.close()
            return port
        except OSError:
            continue


class Lab:
    """Authoritative servers and a resolver (127.0.0.53) in this event loop."""

    def __init__(self, port: int, skip: tuple[str, ...] = (), timeout: float = 0.3, text: str = HIERARCHY):
        self.port = port
        self.skip = skip
        self.zones, self.hints = zones_by_address(text)
        self.resolver = Resolver(self.hints, (4,), port=port, timeout=timeout, deadline=2.5)
        self.listeners: list = []

    async def __aenter__(self) -> Lab:
        for addr, zones in self.zones.items():
            if addr not in self.skip:
                self.listeners += await server.bind(Authority.from_text(zones).respond, addr, self.port)
        self.listeners += await server.bind(Recursive(self.resolver).respond, "127.0.0.53", self.port)
        return self

    async def __aexit__(self, *exc) -> None:
        for listener in self.listeners:
            listener.close()


def question(name: str, qtype: str = "A", rd: int = 1, edns: int | None = 0, payload: int = 1232) -> DNSRecord:
    """A query like dig's (EDNS version `edns`, None = no EDNS)."""
    q = DNSRecord(DNSHeader(id=random.getrandbits(16), rd=rd), q=DNSQuestion(name, getattr(QTYPE, qtype)))
    if edns is not None:
        q.add_ar(EDNS0(udp_len=payload, version=edns))
    return q


async def ask(addr: str, port: int, msg: DNSRecord | bytes, tcp: bool = False, timeout: float = 3.0) -> DNSRecord:
    """Send one query and parse the reply."""
    data = bytes(msg.pack()) if isinstance(msg, DNSRecord) else msg
    if tcp:
        reader, writer = await asyncio.open_connection(addr, port)
        writer.write(len(data).to_bytes(2, "big") + data)
        size = int.from_bytes(await asyncio.wait_for(reader.readexactly(2), timeout), "big")
        out = await reader.readexactly(size)
        writer.close()
        return DNSRecord.parse(out)
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.connect((addr, port))
    try:
        await loop.sock_sendall(sock, data)
        return DNSRecord.parse(await asyncio.wait_for(loop.sock_recv(sock, 65535), timeout))
    finally:
        sock.close()


def rrs(msg: DNSRecord, section: str = "rr") -> list[str]:
    """A section as 'name TYPE data' strings (no TTL, no OPT)."""
    records = [rr for rr in getattr(msg, section) if rr.rtype != QTYPE.OPT]
    return [f"{rr.rname} {QTYPE[rr.rtype]} {rr.rdata.toZone()}" for rr in records]


def stop_dns_server(lab: str, node: str) -> None:
    """SIGTERM the netemu DNS server of `node` in `lab` and wait (up to 2 s) until it is gone."""
    pid = int(Path(f"/run/netemu/{lab}/dns/{node}.ready").read_text())
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)


def same(a: DNSRecord, b: DNSRecord) -> bool:
    """Whether two parsed messages are equal field by field, names byte for byte (DNSLabel's == ignores case)."""
    if (a.header.id, a.header.bitmap, a.header.q, a.header.a, a.header.auth, a.header.ar) != (
            b.header.id, b.header.bitmap, b.header.q, b.header.a, b.header.auth, b.header.ar):
        return False
    if [(q.qname.label, q.qtype, q.qclass) for q in a.questions] != [
            (q.qname.label, q.qtype, q.qclass) for q in b.questions]:
        return False
    for x, y in zip(a.rr + a.auth + a.ar, b.rr + b.auth + b.ar, strict=True):
        if (x.rname.label, x.rtype, x.rclass, x.ttl, type(x.rdata)) != (y.rname.label, y.rtype, y.rclass, y.ttl,
                                                                        type(y.rdata)):
            return False
        if x.rtype != QTYPE.OPT and (repr(x.rdata) != repr(y.rdata) or _labels(x.rdata) != _labels(y.rdata)):
            return False
    return a.pack() == b.pack()


def _labels(rd) -> list:
    return [getattr(rd, f).label for f in ("label", "mname", "rname") if hasattr(rd, f)]
