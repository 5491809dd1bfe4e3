"""The iterative resolver (RFC 1034 §5.3.3): from the deepest cached NS set, or the root hints, down to an answer."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from dataclasses import dataclass, field

from dnslib import QTYPE, RCODE, RR, DNSLabel

from . import client
from .cache import ANSWER, GLUE, REFERRAL, Cache
from .response import LAME, NODATA, NXDOMAIN, Outcome, classify
from .response import REFERRAL as K_REFERRAL
from .zone import Key, key, under

MAX_CNAME = 12  # CNAMEs followed across zones for one client query
MAX_REFERRALS = 16
MAX_QUERIES = 64  # upstream queries for one client query, sub-tasks included
MAX_DEPTH = 4  # nested resolutions of glueless NS names
MAX_MINIMISE = 10  # RFC 9156 §2.3 MAX_MINIMISE_COUNT: then the full name is asked
TRY_TIMEOUT = 0.8  # seconds per upstream try before the next address
DEADLINE = 4.0  # a client query gets SERVFAIL after this, before dig's 5 s timeout
BAD_FOR = 30.0  # a server that timed out or was lame is tried last for this long
SERVFAIL = "SERVFAIL"
# Plain ints: dnslib's QTYPE.X is a look-up through __getattr__ on every use.
_A, _NS, _CNAME, _AAAA, _DS, _ANY = QTYPE.A, QTYPE.NS, QTYPE.CNAME, QTYPE.AAAA, QTYPE.DS, QTYPE.ANY
_NOERROR, _NXDOMAIN, _SERVFAIL = RCODE.NOERROR, RCODE.NXDOMAIN, RCODE.SERVFAIL


@dataclass(slots=True)  # created per question or exchange: no __dict__ each time
class Result:
    """The resolver's final word on a client question."""

    rcode: int
    answer: list[RR] = field(default_factory=list)
    authority: list[RR] = field(default_factory=list)


@dataclass
class Step:
    """One thing the resolver did for a query: a cache look-up or one upstream question."""

    depth: int  # 0: the client's question; >0: resolving a glueless NS name
    qname: str
    qtype: str
    zone: str  # the zone whose servers were asked ("" for cache steps)
    server: str  # an address, or "cache"
    outcome: str  # answer, referral, NXDOMAIN, NODATA, lame, timeout, …
    detail: str = ""
    ms: float = 0.0
    transport: str = ""
    sent: str = ""  # the name as sent upstream, with its 0x20 mixed case


class _Limit(Exception):
    """A per-query limit was reached: the answer is SERVFAIL."""


@dataclass(slots=True)
class _Context:
    cache: Cache
    deadline: float
    queries: int = 0
    referrals: int = 0
    steps: list[Step] | None = None
    cached_failure: bool = False  # the SERVFAIL came from the failure cache (do not extend it)

    def step(self, *args, **kw) -> None:
        if self.steps is not None:
            self.steps.append(Step(*args, **kw))


def name_text(name: Key) -> str:
    """A key as an absolute domain name."""
    return str(DNSLabel(list(name)))


def rr_text(rr: RR) -> str:
    """A record as `name TTL TYPE data` on one line."""
    return f"{rr.rname} {rr.ttl} {client.qtype_name(rr.rtype)} {rr.rdata.toZone()}"


class Resolver:
    """Resolves questions iteratively, sharing one cache between all client queries."""

    def __init__(self, hints: list[tuple[str, str]], families: tuple[int, ...] = (4, 6), port: int = 53,
                 timeout: float = TRY_TIMEOUT, deadline: float = DEADLINE, cache: Cache | None = None,
                 minimise: bool = True, caps: bool = True):
        self.hints = [(key(name), addr) for name, addr in hints if ipaddress.ip_address(addr).version in families]
        self.families = families
        self._hint_names = {n for n, _ in self.hints}
        self.port = port
        self.timeout = timeout
        self.deadline = deadline
        self.cache = cache if cache is not None else Cache()
        self.minimise = minimise  # QNAME minimisation (RFC 9156), on by default as in Unbound
        self.caps = caps  # 0x20 case randomisation of upstream questions, checked in the replies
        self.bad: dict[str, float] = {}  # address → until when it is tried last
        self._inflight: dict[tuple[Key, int], asyncio.Future] = {}

    # --- client side ---------------------------------------------------------------------
    def from_cache(self, qname, qtype: int) -> Result | None:
        """The full answer if the cache holds it (CNAME chain included), without any I/O."""
        chain: list[RR] = []
        name = key(qname)
        if self.cache.failed(name, qtype):
            return Result(_SERVFAIL)
        for _ in range(MAX_CNAME + 1):
            neg = self.cache.get_negative(name, qtype)
            if neg is not None:
                return Result(_NXDOMAIN if neg[0] else _NOERROR, chain, [neg[1]])
            rrs = self.cache.get(name, qtype, ANSWER)
            if rrs:
                return Result(_NOERROR, chain + rrs)
            cname = self.cache.get(name, _CNAME, ANSWER) if qtype != _CNAME else None
            if not cname:
                return None
            if qtype == _ANY:  # RFC 1034 §3.6.2: at a CNAME owner the CNAME is the answer to ANY
                return Result(_NOERROR, chain + cname)
            chain += cname
            name = key(cname[0].rdata.label)
        return None

    async def resolve(self, qname, qtype: int, trace: bool = False, fresh: bool = False) -> tuple[Result, list[Step]]:
        """Resolve a client question; `trace` records every step, `fresh` starts from an empty cache."""
        name = key(qname)
        if trace or fresh:
            return await self._run(name, qtype, trace, fresh)
        flight = self._inflight.get((name, qtype))
        if flight is not None:  # the same question is already on its way: share its answer
            return await asyncio.shield(flight)
        fut = asyncio.get_running_loop().create_future()
        self._inflight[(name, qtype)] = fut
        try:
            result = await self._run(name, qtype, False, False)
            fut.set_result(result)
            return result
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # mark retrieved: waiters get it; nobody else must be told
            raise
        finally:
            del self._inflight[(name, qtype)]

    async def _run(self, name: Key, qtype: int, trace: bool, fresh: bool) -> tuple[Result, list[Step]]:
        ctx = _Context(Cache() if fresh else self.cache, time.monotonic() + self.deadline, steps=[] if trace else None)
        try:
            result = await self._resolve(name, qtype, ctx, 0)
        except _Limit as e:
            if ctx.steps is not None:
                ctx.step(0, name_text(name), client.qtype_name(qtype), "", "-", SERVFAIL, str(e))
            result = Result(_SERVFAIL)
        if result.rcode == _SERVFAIL and not ctx.cached_failure:
            ctx.cache.put_failure(name, qtype)
        return result, ctx.steps or []

    # --- iteration -----------------------------------------------------------------------
    async def _resolve(self, name: Key, qtype: int, ctx: _Context, depth: int) -> Result:
        chain: list[RR] = []
        seen = {name}
        for _ in range(MAX_CNAME + 1):
            out = await self._one(name, qtype, ctx, depth)
            chain += out.chain
            if out.kind == SERVFAIL:
                return Result(_SERVFAIL)
            if out.kind in (NXDOMAIN, NODATA):
                rcode = _NXDOMAIN if out.kind == NXDOMAIN else _NOERROR
                return Result(rcode, chain, [out.soa] if out.soa is not None else [])
            if out.complete:
                return Result(_NOERROR, chain)
            name = key(out.chain[-1].rdata.label)
            if name in seen:
                raise _Limit(f"CNAME loop at {name_text(name)}")
            seen.add(name)
        raise _Limit(f"more than {MAX_CNAME} CNAMEs")

    async def _one(self, name: Key, qtype: int, ctx: _Context, depth: int) -> Outcome:
        """One name, no CNAME chasing across zones: the cache, else iteration."""
        trace = ctx.steps is not None  # the step texts are built only when someone reads them
        if ctx.cache.failed(name, qtype):
            ctx.cached_failure = True
            if trace:
                ctx.step(depth, name_text(name), client.qtype_name(qtype), "", "cache", SERVFAIL,
                         "resolution failed recently (RFC 9520)")
            return Outcome(SERVFAIL)
        neg = ctx.cache.get_negative(name, qtype)
        if neg is not None:
            kind = NXDOMAIN if neg[0] else NODATA
            if trace:
                ctx.step(depth, name_text(name), client.qtype_name(qtype), "", "cache", kind,
                         f"SOA {neg[1].rname} ttl {neg[1].ttl}")
            return Outcome(kind, [], name, neg[1])
        rrs = ctx.cache.get(name, qtype, ANSWER)
        if rrs:
            if trace:
                ctx.step(depth, name_text(name), client.qtype_name(qtype), "", "cache", "answer",
                         "; ".join(map(rr_text, rrs)))
            return Outcome("answer", rrs, name)
        if qtype != _CNAME:
            cname = ctx.cache.get(name, _CNAME, ANSWER)
            if cname:
                if trace:
                    ctx.step(depth, name_text(name), client.qtype_name(qtype), "", "cache", "answer",
                             rr_text(cname[0]))
                # RFC 1034 §3.6.2: for ANY the CNAME itself is the answer, not a pointer to follow
                return Outcome("answer", cname, name, complete=qtype == _ANY)
        return await self._iterate(name, qtype, ctx, depth)

    def _closest(self, name: Key, ctx: _Context, qtype: int = _A) -> tuple[Key, list[Key]]:
        """The deepest zone above `name` whose NS set is cached, else the root (hints).

        RFC 4035 §3.1.4.1: DS lives in the parent, so for DS the search starts one label up.
        """
        for i in range(1 if qtype == _DS and name else 0, len(name) + 1):
            zone = name[i:]
            ns = ctx.cache.peek(zone, _NS, REFERRAL)
            if ns:
                return zone, [key(rr.rdata.label) for rr in ns]
        return (), [n for n, _ in self.hints]

    async def _iterate(self, name: Key, qtype: int, ctx: _Context, depth: int) -> Outcome:
        zone, nsnames = self._closest(name, ctx, qtype)
        if ctx.steps is not None and zone:
            ctx.step(depth, name_text(name), client.qtype_name(qtype), name_text(zone), "cache", "start",
                     f"cached NS of {name_text(zone)}: " + ", ".join(map(name_text, nsnames)))
        known = zone  # the deepest name known to exist in `zone` (RFC 9156: reveal one label more each time)
        minimise = self.minimise
        steps = 0
        while True:
            ask, ask_type = name, qtype
            if minimise and len(known) + 1 < len(name) and steps < MAX_MINIMISE:
                ask, ask_type = name[len(name) - len(known) - 1:], _A
                steps += 1
            out = await self._ask(zone, nsnames, ask, ask_type, ctx, depth)
            if out is None:
                if ask != name:  # relaxed mode, like Unbound's default: a server that fails the
                    minimise = False  # minimised question gets the full one
                    continue
                return Outcome(SERVFAIL)
            if out.kind == K_REFERRAL:
                ctx.referrals += 1
                if ctx.referrals > MAX_REFERRALS:
                    raise _Limit(f"more than {MAX_REFERRALS} referrals")
                ctx.cache.put(out.cut, _NS, out.ns, REFERRAL)
                for (owner, rtype), rrs in _rrsets(out.glue).items():
                    ctx.cache.put(owner, rtype, rrs, GLUE)
                zone, nsnames = out.cut, [key(rr.rdata.label) for rr in out.ns]
                known = zone
                continue
            for (owner, rtype), rrs in _rrsets(out.chain).items():
                ctx.cache.put(owner, rtype, rrs, ANSWER)
            if out.kind == NXDOMAIN:
                ctx.cache.put_negative(out.final, None, out.soa)
            elif out.kind == NODATA:
                ctx.cache.put_negative(out.final, ask_type, out.soa)
            if ask == name:
                if qtype == _ANY and out.kind == "answer":  # the whole ANY answer, for the next asker
                    ctx.cache.put(name, _ANY, [rr for rr in out.chain if key(rr.rname) == name], ANSWER)
                return out
            if out.kind == NXDOMAIN and not out.chain:  # RFC 8020: nothing exists below a missing name
                ctx.cache.put_negative(name, None, out.soa)
                return Outcome(NXDOMAIN, [], name, out.soa)
            known = ask  # it exists and is not delegated: one label deeper, same zone

    def _addresses(self, nsname: Key, ctx: _Context) -> list[str]:
        addrs = [a for n, a in self.hints if n == nsname] if nsname in self._hint_names else []
        for rtype, family in ((_A, 4), (_AAAA, 6)):
            if family in self.families:
                addrs += [str(rr.rdata) for rr in ctx.cache.peek(nsname, rtype) or []]
        return list(dict.fromkeys(addrs))

    async def _ask(self, zone: Key, nsnames: list[Key], name: Key, qtype: int, ctx: _Context,
                   depth: int) -> Outcome | None:
        """Ask the zone's servers in turn (known addresses first, then glueless names) until one is not lame."""
        now = time.monotonic()
        known = [a for n in nsnames for a in self._addresses(n, ctx)]
        if self.bad:
            known.sort(key=lambda a: self.bad.get(a, 0) > now)  # stable: good servers first, in NS order
        tried: set[str] = set()
        for addr in known:
            tried.add(addr)
            out = await self._try(addr, zone, name, qtype, ctx, depth)
            if out is not None:
                return out
        for nsname in nsnames:
            if self._addresses(nsname, ctx) or under(nsname, zone) or depth >= MAX_DEPTH:
                continue  # has addresses already tried, or in-bailiwick without glue: unreachable
            for rtype, family in ((_A, 4), (_AAAA, 6)):
                if family not in self.families:
                    continue
                sub = await self._resolve(nsname, rtype, ctx, depth + 1)
                for rr in sub.answer:
                    if rr.rtype == rtype and str(rr.rdata) not in tried:
                        tried.add(str(rr.rdata))
                        out = await self._try(str(rr.rdata), zone, name, qtype, ctx, depth)
                        if out is not None:
                            return out
        return None

    async def _try(self, addr: str, zone: Key, name: Key, qtype: int, ctx: _Context, depth: int) -> Outcome | None:
        left = ctx.deadline - time.monotonic()
        if ctx.queries >= MAX_QUERIES:
            raise _Limit(f"more than {MAX_QUERIES} upstream queries")
        if left <= 0:
            raise _Limit(f"no answer within {self.deadline:g} s")
        ctx.queries += 1
        reply = await client.query(addr, name, qtype, min(self.timeout, left), self.port, self.caps)
        if reply.msg is None:
            self.bad[addr] = time.monotonic() + BAD_FOR
            if ctx.steps is not None:
                ctx.step(depth, name_text(name), client.qtype_name(qtype), name_text(zone), addr, reply.error, "",
                         reply.ms, reply.transport, reply.sent)
            return None
        out = classify(reply.msg, zone, name, qtype)
        if ctx.steps is not None:
            ctx.step(depth, name_text(name), client.qtype_name(qtype), name_text(zone), addr, out.kind, _detail(out),
                     reply.ms, reply.transport, reply.sent)
        if out.kind == LAME:
            self.bad[addr] = time.monotonic() + BAD_FOR
            return None
        self.bad.pop(addr, None)
        return out


def _rrsets(rrs: list[RR]) -> dict[tuple[Key, int], list[RR]]:
    out: dict[tuple[Key, int], list[RR]] = {}
    for rr in rrs:
        out.setdefault((key(rr._rname), rr._rtype), []).append(rr)  # dnslib's fields without its properties
    return out


def _detail(out: Outcome) -> str:
    if out.kind == K_REFERRAL:
        names = ", ".join(str(rr.rdata.label) for rr in out.ns)
        return f"to {name_text(out.cut)} NS {names}" + (f" (glue: {len(out.glue)})" if out.glue else " (no glue)")
    if out.kind == LAME:
        return out.why
    text = "; ".join(map(rr_text, out.chain))
    if out.kind in (NXDOMAIN, NODATA):
        soa = f"SOA {out.soa.rname}" if out.soa is not None else "no SOA"
        return f"{text}; {soa}" if text else soa
    return text
