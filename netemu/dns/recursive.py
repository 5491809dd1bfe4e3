"""The resolver's client side: cache hits answered inline from packed replies with their TTLs counted down, misses
as tasks."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from dataclasses import dataclass

from dnslib import RCODE

from . import wire
from .log import LOG
from .resolver import Resolver, Result

PACKED_MAX = 50_000


@dataclass(slots=True)
class _Packed:
    """A packed reply (without its ID) and where its TTLs are, to count them down on reuse."""

    built: int  # whole second (monotonic) it was built in
    expires: float  # when its shortest TTL runs out
    body: bytes
    ttls: list[tuple[int, int]]  # (offset in the full message, TTL when built)
    generation: int  # the cache generation it came from: a flush makes it stale


class Recursive:
    """Answers clients with RA=1, AA=0 from a Resolver."""

    def __init__(self, resolver: Resolver, clock=time.monotonic):
        self.resolver = resolver
        self.clock = clock
        # Packed replies keyed by the query bytes after the ID: a repeated question costs a dict look-up and
        # a TTL patch instead of parse, cache walk and pack (the message cache of Unbound, in short).
        self._packed: dict[tuple[bytes, bool], _Packed] = {}

    def respond(self, data: bytes, udp: bool) -> bytes | None | Awaitable[bytes | None]:
        """The reply now (cache hit or error), None to drop, or an awaitable for a cache miss."""
        now = self.clock()
        cache_key = (data[2:], udp)
        hit = self._packed.get(cache_key)
        if hit is not None:
            out = self._reuse(hit, data, now)
            if out is not None:
                return out
            del self._packed[cache_key]
        ask = wire.plain(data)  # the usual query, read without dnslib's objects
        if ask is not None:
            result = self.resolver.from_cache(ask.labels, ask.qtype)
            if result is not None:
                out, ttls = self._pack_plain(ask, result, udp)
                return self._keep(cache_key, out, now, ttls)
            return self._slow_plain(ask, udp, cache_key)
        query = wire.check(data)
        if query is None or isinstance(query, bytes):
            wire.log_error(query, len(data))
            return query
        q = query.question
        result = self.resolver.from_cache(q.qname, q.qtype)
        if result is not None:
            return self._keep(cache_key, self.pack(query, result, udp), now)
        return self._slow(query, data, udp, cache_key)

    def _reuse(self, hit: _Packed, data: bytes, now: float) -> bytes | None:
        if now >= hit.expires or hit.generation != self.resolver.cache.generation:
            return None
        elapsed = int(now) - hit.built
        if elapsed <= 0:
            return data[:2] + hit.body
        out = bytearray(data[:2] + hit.body)
        for offset, ttl in hit.ttls:
            out[offset:offset + 4] = max(ttl - elapsed, 0).to_bytes(4, "big")
        return bytes(out)

    def _keep(self, cache_key: tuple[bytes, bool], out: bytes, now: float,
              ttls: list[tuple[int, int]] | None = None) -> bytes:
        """Remember a reply for reuse until its shortest TTL ends (replies without TTLs: this second only);
        `ttls`: where its TTLs are, when the packing found them already."""
        if ttls is None:
            ttls = wire.ttl_offsets(out)
        built = int(now)
        expires = built + min(t for _, t in ttls) if ttls else built + 1
        if expires > now:
            if len(self._packed) >= PACKED_MAX:
                self._packed.clear()
            self._packed[cache_key] = _Packed(built, expires, out[2:], ttls, self.resolver.cache.generation)
        return out

    async def _slow(self, query: wire.Query, data: bytes, udp: bool, cache_key: tuple[bytes, bool]) -> bytes:
        q = query.question
        try:
            result, _ = await self.resolver.resolve(q.qname, q.qtype)
            return self._keep(cache_key, self.pack(query, result, udp), self.clock())
        except Exception as e:  # noqa: BLE001 - a bug must cost a SERVFAIL, not a client timeout
            LOG.error("SERVFAIL", e)
            return wire.servfail(query, data)

    async def _slow_plain(self, ask: wire.Plain, udp: bool, cache_key: tuple[bytes, bool]) -> bytes:
        try:
            result, _ = await self.resolver.resolve(ask.labels, ask.qtype)
            out, ttls = self._pack_plain(ask, result, udp)
            return self._keep(cache_key, out, self.clock(), ttls)
        except Exception as e:  # noqa: BLE001 - a bug must cost a SERVFAIL, not a client timeout
            LOG.error("SERVFAIL", e)
            return ask.reply(RCODE.SERVFAIL, ([], []), None)[0]

    @staticmethod
    def _pack_plain(ask: wire.Plain, result: Result, udp: bool) -> tuple[bytes, list[tuple[int, int]]]:
        return ask.reply(result.rcode, (result.answer, result.authority), wire.udp_limit(ask) if udp else None)

    @staticmethod
    def pack(query: wire.Query, result: Result, udp: bool) -> bytes:
        """A reply to `query` carrying `result`."""
        msg = wire.reply(query, result.rcode, aa=False, ra=True)
        msg.rr = list(result.answer)  # the header counts are taken from the sections when packing
        msg.auth = list(result.authority)
        return wire.finish(msg, query, wire.udp_limit(query) if udp else None)
