"""The authoritative responder: query bytes in, reply bytes out, with a cache of packed replies."""

from __future__ import annotations

from dnslib import QTYPE, RCODE, RR

from . import wire
from .log import LOG
from .zone import Answer, Zone, key

CACHE_MAX = 50_000


class Authority:
    """Answers for the zones one node serves: deepest zone wins; none → REFUSED."""

    def __init__(self, zones: list[Zone]):
        self.zones = {z.okey: z for z in zones}
        self._packed: dict[tuple[bytes, bool], bytes] = {}

    @classmethod
    def from_text(cls, zones: dict[str, list[str]]) -> Authority:
        """Build from {origin: [zone-file lines with absolute names]}."""
        return cls([Zone(origin, RR.fromZone("\n".join(lines))) for origin, lines in zones.items()])

    def respond(self, data: bytes, udp: bool) -> bytes | None:
        """The reply to one query (None: drop it). `udp` enables truncation to the client's limit."""
        cache_key = (data[2:], udp)  # everything but the ID decides the reply
        hit = self._packed.get(cache_key)
        if hit is not None:
            return data[:2] + hit
        query = wire.check(data)
        if query is None or isinstance(query, bytes):
            wire.log_error(query, len(data))
            return query
        try:
            msg = self.answer(query)
            # Addresses of MX/SRV/NS targets in an authoritative answer are optional; referral glue is not.
            out = wire.finish(msg, query, wire.udp_limit(query) if udp else None, optional=bool(msg.header.aa))
        except Exception as e:  # noqa: BLE001 - a bug must cost a SERVFAIL, not a client timeout
            LOG.error("SERVFAIL", e)
            return wire.servfail(query, data)
        if len(self._packed) >= CACHE_MAX:
            self._packed.clear()
        self._packed[cache_key] = out[2:]
        return out

    def zone_for(self, qname, qtype: int) -> Zone | None:
        """The deepest zone served here that contains `qname` (a DS at an apex goes to the parent)."""
        name = key(qname)
        for i in range(len(name) + 1):
            zone = self.zones.get(name[i:])
            if zone is not None:
                if i == 0 and qtype == QTYPE.DS and name and self._parent_served(name):
                    continue
                return zone
        return None

    def _parent_served(self, name) -> bool:
        return any(name[j:] in self.zones for j in range(1, len(name) + 1))

    def answer(self, query: wire.Query):
        """The reply message for a checked query."""
        q = query.question
        zone = self.zone_for(q.qname, q.qtype)
        if zone is None:
            return wire.reply(query, RCODE.REFUSED)
        ans: Answer = zone.lookup(q.qname, q.qtype)
        msg = wire.reply(query, ans.rcode, aa=ans.aa)
        for rr in ans.answer:
            msg.add_answer(rr)
        for rr in ans.authority:
            msg.add_auth(rr)
        for rr in ans.additional:
            msg.add_ar(rr)
        return msg
