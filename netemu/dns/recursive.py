"""The resolver's client side: cache hits answered inline (packed replies reused within a second), misses as tasks."""

from __future__ import annotations

import time
from collections.abc import Awaitable

from . import wire
from .log import LOG
from .resolver import Resolver, Result

PACKED_MAX = 50_000


class Recursive:
    """Answers clients with RA=1, AA=0 from a Resolver."""

    def __init__(self, resolver: Resolver):
        self.resolver = resolver
        # Packed replies are reused only within the whole second they were built in, so TTLs still count down.
        self._packed: dict[tuple[bytes, bool], tuple[int, bytes]] = {}

    def respond(self, data: bytes, udp: bool) -> bytes | None | Awaitable[bytes | None]:
        """The reply now (cache hit or error), None to drop, or an awaitable for a cache miss."""
        second = int(time.monotonic())
        cache_key = (data[2:], udp)
        hit = self._packed.get(cache_key)
        if hit is not None and hit[0] == second:
            return data[:2] + hit[1]
        query = wire.check(data)
        if query is None or isinstance(query, bytes):
            wire.log_error(query, len(data))
            return query
        q = query.question
        result = self.resolver.from_cache(q.qname, q.qtype)
        if result is not None:
            out = self.pack(query, result, udp)
            if len(self._packed) >= PACKED_MAX:
                self._packed.clear()
            self._packed[cache_key] = (second, out[2:])
            return out
        return self._slow(query, data, udp)

    async def _slow(self, query: wire.Query, data: bytes, udp: bool) -> bytes:
        q = query.question
        try:
            result, _ = await self.resolver.resolve(q.qname, q.qtype)
            return self.pack(query, result, udp)
        except Exception as e:  # noqa: BLE001 - a bug must cost a SERVFAIL, not a client timeout
            LOG.error("SERVFAIL", e)
            return wire.servfail(query, data)

    @staticmethod
    def pack(query: wire.Query, result: Result, udp: bool) -> bytes:
        """A reply to `query` carrying `result`."""
        msg = wire.reply(query, result.rcode, aa=False, ra=True)
        for rr in result.answer:
            msg.add_answer(rr)
        for rr in result.authority:
            msg.add_auth(rr)
        return wire.finish(msg, query, wire.udp_limit(query) if udp else None)
