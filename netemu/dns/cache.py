"""The resolver's cache: RRsets with counting-down TTLs, ranked by trust, and negative answers (RFC 2308)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from dnslib import RR

from .zone import Key

_new = object.__new__
# Trust ranks (RFC 2181 §5.4.1): data from an authoritative answer outranks referral NS sets and glue.
GLUE, REFERRAL, ANSWER = 1, 2, 3
NXDOMAIN = None  # the negative-cache type slot meaning "the whole name does not exist"
MAX_TTL = 86400 * 7
FAIL_TTL = 5.0  # RFC 9520 §3.2: resolution failures cached at least 1 s, at most 5 minutes


def _with_ttl(rr: RR, ttl: int) -> RR:
    """A copy of a stored record with the TTL that remains (its fields were checked when it was built)."""
    out = _new(RR)
    out._rname, out._rtype, out._rclass, out._ttl, out.rdata = rr._rname, rr._rtype, rr._rclass, ttl, rr.rdata
    return out


@dataclass(slots=True)
class _Entry:
    expires: float
    rrs: list[RR]
    rank: int


@dataclass(slots=True)
class _Negative:
    expires: float
    soa: RR | None


class Cache:
    """RRsets keyed by (name, type); negative entries by (name, None) for NXDOMAIN or (name, type) for NODATA."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_entries: int = 200_000):
        self.clock = clock
        self.max_entries = max_entries
        self._sets: dict[tuple[Key, int], _Entry] = {}
        self._neg: dict[tuple[Key, int | None], _Negative] = {}
        self._fail: dict[tuple[Key, int], float] = {}  # (name, type) → until when it answers SERVFAIL
        self.generation = 0  # bumped by flush(): packed replies built before are stale

    def __len__(self) -> int:
        return len(self._sets) + len(self._neg) + len(self._fail)

    def put_failure(self, name: Key, rtype: int, ttl: float = FAIL_TTL) -> None:
        """Remember that resolving name/type failed (RFC 9520), so a dead server is not waited for again."""
        now = self.clock()
        self._room(now)
        self._fail[(name, rtype)] = now + ttl

    def failed(self, name: Key, rtype: int) -> bool:
        """Whether a resolution failure of name/type is still cached."""
        until = self._fail.get((name, rtype))
        if until is None:
            return False
        if until <= self.clock():
            del self._fail[(name, rtype)]
            return False
        return True

    def put(self, name: Key, rtype: int, rrs: list[RR], rank: int) -> None:
        """Store an RRset for min(TTL of its records); lower-ranked data never replaces live higher-ranked data."""
        if not rrs:
            return
        now = self.clock()
        ttl = min(min(rr._ttl for rr in rrs), MAX_TTL)
        old = self._sets.get((name, rtype))
        if old is not None and old.expires > now and old.rank > rank:
            return
        if ttl <= 0:
            self._sets.pop((name, rtype), None)
            return
        self._room(now)
        self._sets[(name, rtype)] = _Entry(now + ttl, list(rrs), rank)
        if rank == ANSWER:
            self._neg.pop((name, rtype), None)
            self._neg.pop((name, NXDOMAIN), None)

    def get(self, name: Key, rtype: int, min_rank: int = GLUE) -> list[RR] | None:
        """The RRset with TTLs counted down to what remains, or None when absent or expired."""
        entry = self._sets.get((name, rtype))
        if entry is None or entry.rank < min_rank:
            return None
        left = int(entry.expires - self.clock())
        if left <= 0:
            del self._sets[(name, rtype)]
            return None
        return [_with_ttl(rr, left) for rr in entry.rrs]

    def peek(self, name: Key, rtype: int, min_rank: int = GLUE) -> list[RR] | None:
        """The stored RRset itself (TTLs as received) while it is live: for the resolver's own use, no copies."""
        entry = self._sets.get((name, rtype))
        if entry is None or entry.rank < min_rank or entry.expires <= self.clock():
            return None
        return entry.rrs

    def put_negative(self, name: Key, rtype: int | None, soa: RR | None) -> None:
        """Remember NXDOMAIN (rtype None) or NODATA for TTL = min(SOA TTL, SOA MINIMUM)."""
        if soa is None:
            return  # RFC 2308 §5: without an SOA a negative answer is not cached
        ttl = min(soa.ttl, soa.rdata.times[-1], MAX_TTL)
        if ttl <= 0:
            return
        now = self.clock()
        self._room(now)
        self._neg[(name, rtype)] = _Negative(now + ttl, soa)

    def get_negative(self, name: Key, rtype: int) -> tuple[bool, RR | None] | None:
        """(is_nxdomain, SOA with TTL counted down) for a cached negative answer, else None."""
        now = self.clock()
        for slot, nx in (((name, NXDOMAIN), True), ((name, rtype), False)):
            entry = self._neg.get(slot)
            if entry is None:
                continue
            left = int(entry.expires - now)
            if left <= 0:
                del self._neg[slot]
                continue
            return nx, None if entry.soa is None else _with_ttl(entry.soa, left)
        return None

    def flush(self) -> None:
        """Forget everything."""
        self.generation += 1
        self._sets.clear()
        self._neg.clear()
        self._fail.clear()

    def _room(self, now: float) -> None:
        if len(self) < self.max_entries:
            return
        self._sets = {k: e for k, e in self._sets.items() if e.expires > now}
        self._neg = {k: e for k, e in self._neg.items() if e.expires > now}
        self._fail = {k: t for k, t in self._fail.items() if t > now}
        if len(self) >= self.max_entries:  # still full of live data: start over rather than grow
            self.flush()
