"""One authoritative zone in memory and the RFC 1034 §4.3.2 lookup: answer, referral, NXDOMAIN, NODATA."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field

from dnslib import QTYPE, RCODE, RR, DNSLabel

Key = tuple[bytes, ...]  # a name's labels, lower-cased, left to right
MAX_CHASE = 8  # CNAMEs followed inside one zone
WILD = b"*"
# RFC 4035 §2.5: RRSIG and NSEC live at a CNAME's owner next to it; a query for them is not redirected.
AT_CNAME_OWNER = frozenset({QTYPE.CNAME, QTYPE.RRSIG, QTYPE.NSEC})
# Types whose data names a host whose addresses go into the additional section (RFC 1035 §3.3, 2782).
TARGET_TYPES = {QTYPE.MX: "label", QTYPE.NS: "label", QTYPE.SRV: "target"}


def key(name: DNSLabel | str | tuple[bytes, ...]) -> Key:
    """The case-insensitive lookup key of a name (given as a DNSLabel, text or a tuple of labels)."""
    if type(name) is tuple:
        return tuple(map(bytes.lower, name))
    if not isinstance(name, DNSLabel):
        name = DNSLabel(name)
    return tuple(map(bytes.lower, name.label))


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
            if rrset and rr.ttl != rrset[0].ttl:  # RFC 2181 §5.2: one TTL per RRset; the first one wins
                rr = RR(rr.rname, rr.rtype, rr.rclass, rrset[0].ttl, rr.rdata)
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
        """Answer `qname`/`qtype` from this zone: CNAMEs followed inside it (restarting at cuts, RFC 1034
        §4.3.2 step 3), wildcards synthesised (RFC 4592), addresses of MX/SRV/NS targets added."""
        out = Answer()
        name = key(qname)
        owner = qname  # the name as asked: synthesised records carry it
        for _ in range(MAX_CHASE + 1):
            cut = self.cut_above(name, qtype)
            if cut is not None:
                if not out.answer:
                    return self.referral(cut)
                ref = self.referral(cut)  # a chased CNAME into a delegation: the answer plus the referral
                out.authority, out.additional = ref.authority, ref.additional
                return out
            sets = self.data.get(name)
            if sets is None:
                wild = None if name in self.names else self._wildcard(name)
                if wild is None:
                    if name not in self.names:
                        out.rcode = RCODE.NXDOMAIN
                    out.authority = [self.neg_soa]
                    return out
                sets = {t: [RR(owner, rr.rtype, rr.rclass, rr.ttl, rr.rdata) for rr in rrs] for t, rrs in wild.items()}
            if qtype == QTYPE.ANY:  # no additional data for ANY, as BIND and NSD
                out.answer += [rr for rrs in sets.values() for rr in rrs]
                return out
            if qtype in sets:
                out.answer += sets[qtype]
                return self._additional(out)
            cname = sets.get(QTYPE.CNAME)
            if cname and qtype not in AT_CNAME_OWNER:
                out.answer.append(cname[0])
                owner = cname[0].rdata.label
                name = key(owner)
                if not under(name, self.okey) or any(rr.rdata == cname[0].rdata and rr.rtype == QTYPE.CNAME
                                                     for rr in out.answer[:-1]):
                    return out  # leaves the zone (the resolver goes on) or loops
                continue
            out.authority = [self.neg_soa]  # NODATA: the name exists, the type does not
            return out
        return out

    def _wildcard(self, name: Key) -> dict[int, list[RR]] | None:
        """The RRsets of the wildcard `*.<closest encloser>` that matches an absent `name`, if any.

        RFC 4592 §3.3.1: the closest encloser is the deepest existing ancestor (empty non-terminals
        count), so no wildcard applies below an existing name; cuts were handled before.
        """
        for i in range(1, len(name) - len(self.okey) + 1):
            if name[i:] in self.names:
                return self.data.get((WILD, *name[i:]))
        return None

    def _additional(self, out: Answer) -> Answer:
        """A/AAAA of the in-zone hosts named by MX, SRV and NS data of the answer (optional data)."""
        seen: set[Key] = set()
        for rr in out.answer:
            field_name = TARGET_TYPES.get(rr.rtype)
            if field_name is None:
                continue
            target = key(getattr(rr.rdata, field_name))
            if target in seen or not under(target, self.okey) or self.cut_above(target, QTYPE.A) is not None:
                continue
            seen.add(target)
            sets = self.data.get(target, {})
            out.additional += sets.get(QTYPE.A, []) + sets.get(QTYPE.AAAA, [])
        return out
