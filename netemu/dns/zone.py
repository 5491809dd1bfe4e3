"""One authoritative zone in memory and the RFC 1034 §4.3.2 lookup: answer, referral, NXDOMAIN, NODATA."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field

from dnslib import QTYPE, RCODE, RR, DNSLabel

Key = tuple[bytes, ...]  # a name's labels, lower-cased, left to right
MAX_CHASE = 8  # CNAMEs followed inside one zone


def key(name: DNSLabel | str) -> Key:
    """The case-insensitive lookup key of a name."""
    if not isinstance(name, DNSLabel):
        name = DNSLabel(name)
    return tuple(label.lower() for label in name.label)


def under(name: Key, origin: Key) -> bool:
    """Whether `name` is `origin` or below it."""
    return len(name) >= len(origin) and name[len(name) - len(origin):] == origin


def deepest(name: Key, origins: Container[Key]) -> Key | None:
    """The longest of `origins` that `name` is at or below, or None."""
    for i in range(len(name) + 1):
        if name[i:] in origins:
            return name[i:]
    return None


@dataclass
class Answer:
    """What a zone says about a question, before EDNS and packing."""

    rcode: int = RCODE.NOERROR
    aa: bool = True
    answer: list[RR] = field(default_factory=list)
    authority: list[RR] = field(default_factory=list)
    additional: list[RR] = field(default_factory=list)


class Zone:
    """The records of one zone, its cuts (delegations) and every existing name (empty non-terminals too)."""

    def __init__(self, origin: str, records: list[RR]):
        self.origin = DNSLabel(origin)
        self.okey = key(self.origin)
        self.data: dict[Key, dict[int, list[RR]]] = {}
        self.names: set[Key] = {self.okey}
        for rr in records:
            k = key(rr.rname)
            if not under(k, self.okey):
                raise ValueError(f"{rr.rname} is outside zone {self.origin}")
            rrset = self.data.setdefault(k, {}).setdefault(rr.rtype, [])
            if rr not in rrset:  # a derived record may repeat one the user wrote
                rrset.append(rr)
            for i in range(len(k) - len(self.okey) + 1):
                self.names.add(k[i:])
        soa = self.data.get(self.okey, {}).get(QTYPE.SOA)
        if not soa:
            raise ValueError(f"zone {self.origin} has no SOA")
        self.soa = soa[0]
        # RFC 2308 §5: a negative answer's SOA TTL is min(SOA TTL, MINIMUM).
        neg_ttl = min(self.soa.ttl, self.soa.rdata.times[-1])
        self.neg_soa = RR(self.soa.rname, QTYPE.SOA, ttl=neg_ttl, rdata=self.soa.rdata)
        self.cuts = {k for k, sets in self.data.items() if QTYPE.NS in sets and k != self.okey}

    def cut_above(self, name: Key, qtype: int) -> Key | None:
        """The highest delegation point between the apex (exclusive) and `name` (inclusive)."""
        if not self.cuts:
            return None
        for depth in range(len(self.okey) + 1, len(name) + 1):
            cut = name[len(name) - depth:]
            if cut in self.cuts and not (cut == name and qtype == QTYPE.DS):  # the parent answers DS
                return cut
        return None

    def referral(self, cut: Key) -> Answer:
        """NS set of the cut in authority, glue only for NS names under the cut, AA=0."""
        ns = self.data[cut][QTYPE.NS]
        glue = []
        for rr in ns:
            target = key(rr.rdata.label)
            if under(target, cut):
                sets = self.data.get(target, {})
                glue += sets.get(QTYPE.A, []) + sets.get(QTYPE.AAAA, [])
        return Answer(RCODE.NOERROR, False, [], list(ns), glue)

    def lookup(self, qname: DNSLabel, qtype: int) -> Answer:
        """Answer `qname`/`qtype` from this zone, following CNAMEs that stay inside it."""
        out = Answer()
        name = key(qname)
        for _ in range(MAX_CHASE + 1):
            cut = self.cut_above(name, qtype)
            if cut is not None:
                return out if out.answer else self.referral(cut)  # a chased CNAME stops at a cut
            sets = self.data.get(name)
            if sets is None:
                if name not in self.names:
                    out.rcode = RCODE.NXDOMAIN
                out.authority = [self.neg_soa]
                return out
            if qtype == QTYPE.ANY:
                out.answer += [rr for rrs in sets.values() for rr in rrs]
                return out
            if qtype in sets:
                out.answer += sets[qtype]
                return out
            cname = sets.get(QTYPE.CNAME)
            if cname and qtype != QTYPE.CNAME:
                out.answer.append(cname[0])
                name = key(cname[0].rdata.label)
                if not under(name, self.okey) or any(rr is cname[0] for rr in out.answer[:-1]):
                    return out  # leaves the zone (the resolver goes on) or loops
                continue
            out.authority = [self.neg_soa]  # NODATA: the name exists, the type does not
            return out
        return out
