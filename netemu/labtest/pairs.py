"""All-pairs reachability: every host pings every other host's addresses, in each family it has.

One fping per source host pings all its targets at once; the hosts run in parallel (bounded);
unanswered pings are retried until the deadline (routing may still be converging); each pair
that still fails is traced to the hop where its path stops.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..model import IPAddress, Topology
from . import probe
from .stop import Stop, locate, owners, sender_named

WORKERS = 16  # processes at once: enough to keep 2 cores busy without drowning a laptop
TRACE_LIMIT = 64  # failures traced at most; the rest are listed without a hop
WAIT_MS = 1000  # how long one ping waits for its answer


@dataclass(frozen=True)
class Pair:
    """One ping of one address: `src` to `dst`'s `address`, answered or not, and where it stops."""

    src: str
    dst: str
    address: IPAddress
    answered: bool
    attempts: int
    note: str = ""  # the ICMP error fping saw, if any, and the node that sent it
    stop: Stop | None = None

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {"from": self.src, "to": self.dst, "address": str(self.address), "family": self.address.version,
                "answered": self.answered, "attempts": self.attempts, "note": self.note,
                "stop": self.stop.to_json() if self.stop else None}


@dataclass(frozen=True)
class PairsReport:
    """The outcome of all pairs."""

    hosts: tuple[str, ...]
    pairs: tuple[Pair, ...]
    seconds: float

    @property
    def failures(self) -> list[Pair]:
        """The pings never answered."""
        return [p for p in self.pairs if not p.answered]

    @property
    def passed(self) -> bool:
        """Whether every ping was answered."""
        return not self.failures

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {"hosts": list(self.hosts), "total": len(self.pairs), "answered": len(self.pairs) - len(self.failures),
                "passed": self.passed, "seconds": round(self.seconds, 3),
                "failures": [p.to_json() for p in self.failures]}


def hosts_of(topo: Topology) -> list[str]:
    """The nodes that take part: the hosts that have an address."""
    return [n.name for n in topo.nodes if n.kind == "host" and _addresses(topo, n.name)]


def _addresses(topo: Topology, node: str) -> list[IPAddress]:
    return [a.ip for a in topo.node(node).addresses() if not (a.ip.is_link_local or a.ip.is_loopback)]


Key = tuple[str, IPAddress]  # (source host, address pinged)


def run(topo: Topology, deadline: float, retry: float = 1.0,
        waiting: Callable[[int, float], None] | None = None, sources: list[str] | None = None) -> PairsReport:
    """Ping every pair until all answer or `deadline` (time.time()) passes; trace what still fails.

    `waiting(unanswered, seconds_left)` is called once, before the first retry. `sources`: only the
    pings from these hosts (a lab across machines: each machine pings from its own hosts).
    """
    started = time.monotonic()
    hosts = hosts_of(topo)
    mine = {h: _addresses(topo, h) for h in hosts}
    # a host pings the families it has itself: an IPv4-only host has no IPv6 path to test
    targets = {src: [(dst, a) for dst in hosts if dst != src for a in mine[dst]
                     if any(b.version == a.version for b in mine[src])]
               for src in hosts if sources is None or src in sources}
    names = owners(topo)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        echoes, attempts = _ping_until(pool, topo, targets, deadline, retry, waiting)
        failed = [(src, a) for src, t in targets.items() for _, a in t if not echoes[(src, a)].answered]
        stops = _trace(pool, topo, failed[:TRACE_LIMIT], echoes, names)
    pairs = [Pair(src, dst, a, echoes[(src, a)].answered, attempts[(src, a)],
                  sender_named(echoes[(src, a)].note, names), stops.get((src, a)))
             for src, t in targets.items() for dst, a in t]
    return PairsReport(tuple(hosts), tuple(pairs), time.monotonic() - started)


def _ping_until(pool: ThreadPoolExecutor, topo: Topology, targets: dict[str, list[tuple[str, IPAddress]]],
                deadline: float, retry: float, waiting: Callable[[int, float], None] | None,
                ) -> tuple[dict[Key, probe.Echo], dict[Key, int]]:
    """Rounds of one fping per source host, each round only what is still unanswered: last echoes, attempts."""
    echoes: dict[Key, probe.Echo] = {}
    attempts: dict[Key, int] = {}
    while True:
        todo = {src: list(dict.fromkeys(a for _, a in t if not _ok(echoes, (src, a)))) for src, t in targets.items()}
        todo = {src: addrs for src, addrs in todo.items() if addrs}
        if not todo:
            return echoes, attempts
        round_start = time.time()
        futures = {src: pool.submit(probe.ping, topo.namespace(src), addrs, WAIT_MS) for src, addrs in todo.items()}
        for src, fut in futures.items():
            for addr, echo in fut.result().items():
                attempts[(src, addr)] = attempts.get((src, addr), 0) + 1
                echoes[(src, addr)] = echo
        left = sum(1 for src, addrs in todo.items() for a in addrs if not echoes[(src, a)].answered)
        if not left or time.time() + retry > deadline:
            return echoes, attempts
        if waiting and max(attempts.values()) == 1:
            waiting(left, deadline - time.time())
        time.sleep(max(0.0, retry - (time.time() - round_start)))


def _ok(echoes: dict[Key, probe.Echo], key: Key) -> bool:
    return key in echoes and echoes[key].answered


def _trace(pool: ThreadPoolExecutor, topo: Topology, failed: list[Key], echoes: dict[Key, probe.Echo],
           names: dict[IPAddress, str]) -> dict[Key, Stop]:
    """Where each failed ping's path stops; sources in parallel, one source's traces one after another.

    Routers rate-limit the ICMP errors they send to one host (net.ipv4.icmp_ratelimit), so parallel
    traces from one host would starve each other of answers.
    """
    by_src: dict[str, list[IPAddress]] = {}
    for src, a in failed:
        by_src.setdefault(src, []).append(a)

    def one_source(src: str) -> dict[Key, Stop]:
        return {(src, a): locate(topo, src, a, names, echoes[(src, a)].note) for a in by_src[src]}

    out: dict[Key, Stop] = {}
    for found in pool.map(one_source, by_src):
        out.update(found)
    return out


def matrix(report: PairsReport) -> list[list[str]]:
    """Rows of text cells: a header row of destinations, then one row per source.

    A cell is `ok` (every address answered), `FAIL` (none did), `no v4` / `no v6` when one family fails,
    `part` when some addresses of a family answer and others do not.
    """
    cells: dict[tuple[str, str], list[Pair]] = {}
    for p in report.pairs:
        cells.setdefault((p.src, p.dst), []).append(p)
    rows = [["from \\ to", *report.hosts]]
    for src in report.hosts:
        row = [src]
        for dst in report.hosts:
            ps = cells.get((src, dst), [])
            if src == dst or not ps:
                row.append(".")
                continue
            bad = {p.address.version for p in ps if not p.answered}
            good = {p.address.version for p in ps if p.answered}
            row.append("ok" if not bad else "FAIL" if not good else " ".join(f"no v{v}" for v in sorted(bad - good))
                       or "part")
        rows.append(row)
    return rows
