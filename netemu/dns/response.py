"""Classify an upstream reply (RFC 1034 §5.3.3, 2308): answer, referral, NXDOMAIN, NODATA or lame."""

from __future__ import annotations

from dataclasses import dataclass, field

from dnslib import QTYPE, RCODE, RR, DNSRecord

from .zone import Key, key, under

ANSWER, REFERRAL, NXDOMAIN, NODATA, LAME = "answer", "referral", "NXDOMAIN", "NODATA", "lame"
MAX_CHAIN = 16
# Plain ints: dnslib's QTYPE.X is a look-up through __getattr__ on every use, and this runs per upstream reply.
_A, _NS, _CNAME, _SOA, _AAAA, _RRSIG, _ANY = (QTYPE.A, QTYPE.NS, QTYPE.CNAME, QTYPE.SOA, QTYPE.AAAA, QTYPE.RRSIG,
                                              QTYPE.ANY)
_NOERROR, _NXDOMAIN = RCODE.NOERROR, RCODE.NXDOMAIN


@dataclass(slots=True)  # created per question or exchange: no __dict__ each time
class Outcome:
    """What a reply means for the question, keeping only in-bailiwick data."""

    kind: str
    chain: list[RR] = field(default_factory=list)  # CNAMEs from the question name, then the data
    final: Key = ()  # the name the chain ends at (the question name without CNAMEs)
    soa: RR | None = None  # negative answers
    cut: Key = ()  # referrals: the delegated zone
    ns: list[RR] = field(default_factory=list)
    glue: list[RR] = field(default_factory=list)
    why: str = ""  # lame: what was wrong
    complete: bool = True  # False: an answer ending at a CNAME whose target lives in another zone


def follow(records: list[RR], qname: Key, qtype: int, zone: Key) -> tuple[list[RR], Key, bool]:
    """The answer chain from `qname`: (records, name it ends at, whether data of qtype was found)."""
    by_owner: dict[Key, list[RR]] = {}
    for rr in records:
        owner = key(rr._rname)  # the attributes behind dnslib's properties: this runs per record
        if under(owner, zone):  # out-of-bailiwick data is never believed
            by_owner.setdefault(owner, []).append(rr)
    chain: list[RR] = []
    name = qname
    for _ in range(MAX_CHAIN):
        here = by_owner.get(name, ())
        data = [rr for rr in here if rr._rtype == qtype or (qtype == _ANY and rr._rtype != _RRSIG)]
        if data:
            return chain + data, name, True
        cname = [rr for rr in here if rr._rtype == _CNAME]
        if not cname or qtype == _CNAME:
            return chain, name, False
        chain.append(cname[0])
        name = key(cname[0].rdata.label)
    return chain, name, False


def classify(msg: DNSRecord, zone: Key, qname: Key, qtype: int) -> Outcome:
    """What `msg`, from a server of `zone`, says about qname/qtype."""
    rcode = msg.header.rcode
    if rcode != _NOERROR and rcode != _NXDOMAIN:
        return Outcome(LAME, why=str(RCODE.get(rcode, rcode)))
    chain, final, complete = follow(msg.rr, qname, qtype, zone)
    soa = None
    for rr in msg.auth:
        if rr._rtype == _SOA:
            owner = key(rr._rname)
            if under(owner, zone) and under(final, owner):
                soa = rr
                break
    if rcode == _NXDOMAIN:
        return Outcome(NXDOMAIN, chain, final, soa)
    if complete:
        return Outcome(ANSWER, chain, final)
    if chain and soa is None:
        return Outcome(ANSWER, chain, final, complete=False)  # dangling CNAME: the target lives in another zone
    ns = [rr for rr in msg.auth if rr._rtype == _NS]
    if ns and not chain:
        cut = key(ns[0]._rname)
        if any(key(rr._rname) != cut for rr in ns):
            return Outcome(LAME, why="NS records of several owners")
        if not msg.header.aa and under(cut, zone) and cut != zone and under(qname, cut):
            glue = [rr for rr in msg.ar if (rr._rtype == _A or rr._rtype == _AAAA) and under(key(rr._rname), cut)]
            return Outcome(REFERRAL, cut=cut, ns=ns, glue=glue)
        if not msg.header.aa:
            return Outcome(LAME, why=f"upward or sideways referral to {ns[0].rname}")
    if msg.header.aa or soa is not None:
        return Outcome(NODATA, chain, final, soa)
    return Outcome(LAME, why="neither an answer nor a referral")
