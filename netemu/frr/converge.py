"""Wait until a lab's routing has converged: every adjacency and session up, and every FIB either exactly
what the topology predicts (OSPF-only labs, see expect.py) or unchanged for a while."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from ..errors import NetemuError
from ..model import Topology
from .derive import FrrLab, Router
from .query import ask

POLL = 0.2  # seconds between looks
STABLE = 1.0  # the FIBs must stay unchanged this long after the last adjacency came up


class NotConvergedError(NetemuError):
    """Routing did not converge within the timeout (the lab stays up for inspection)."""

    exit_code = 1


@dataclass(frozen=True)
class Converged:
    """When routing settled, counted from the moment the last daemon started."""

    seconds: float  # until the last FIB change (or the last adjacency, if later); predicted: until the match
    adjacencies: int
    sessions: int
    routes: int
    predicted: bool = False  # every router's OSPF routes matched the prediction (no quiet spell waited out)


def ospf_up(answer: object) -> int:
    """OSPFv2 neighbours in their final state (Full, or 2-Way between two DROthers)."""
    n = 0
    for entries in (answer or {}).get("neighbors", {}).values() if isinstance(answer, dict) else ():
        for e in entries if isinstance(entries, list) else [entries]:
            state = str(e.get("nbrState", e.get("state", "")))
            n += state.startswith("Full") or state == "2-Way/DROther"
    return n


def ospf6_up(answer: object) -> int:
    """OSPFv3 neighbours in state Full."""
    return sum(1 for e in (answer or {}).get("neighbors", []) if isinstance(answer, dict)
               and str(e.get("state", "")).startswith("Full"))


def bgp_up(answer: object) -> int:
    """BGP sessions Established."""
    return sum(1 for v in (answer or {}).values() if isinstance(answer, dict) and isinstance(v, dict)
               and v.get("bgpState") == "Established")


def fib(answer: object) -> frozenset:
    """The routes zebra installed in the kernel: (prefix, protocol, next hops)."""
    out = set()
    for prefix, entries in (answer or {}).items() if isinstance(answer, dict) else ():
        for e in entries:
            if e.get("installed") or e.get("selected") and any(h.get("fib") for h in e.get("nexthops", [])):
                hops = tuple(sorted((h.get("ip", ""), h.get("interfaceName", "")) for h in e.get("nexthops", [])
                                    if h.get("fib")))
                out.add((prefix, e.get("protocol"), hops))
    return frozenset(out)


def summary(answer: object) -> tuple:
    """zebra's route counts (protocol, in the RIB, in the FIB): a route added, removed or installed changes them."""
    routes = answer.get("routes", []) if isinstance(answer, dict) else []
    return tuple(sorted((str(r.get("type")), r.get("rib"), r.get("fib")) for r in routes if isinstance(r, dict)))


@dataclass(frozen=True)
class Look:
    """One router's state at one moment."""

    adjacencies: int
    wanted_adjacencies: int
    sessions: int
    wanted_sessions: int
    missing: tuple[str, ...] | None  # prefixes the router should reach and has no route for yet (None: not read)
    counts: tuple = ()  # zebra's route summary (IPv4, IPv6)


def _ask(topo: Topology, r: Router, what: list[str]) -> dict[str, object]:
    return ask(topo.namespace(r.node), topo.name, r.node, r.daemons, what)


def quick_look(topo: Topology, r: Router) -> Look:
    """Adjacencies, sessions and route counts: small answers, cheap for the daemons and for netemu."""
    a = _ask(topo, r, ["ospf", "ospf6", "bgp", "summary4", "summary6"])
    return Look(ospf_up(a.get("ospf")) + ospf6_up(a.get("ospf6")), r.ospf_peers + r.ospf6_peers,
                bgp_up(a.get("bgp")), len(r.bgp), None,
                (summary(a.get("summary4")), summary(a.get("summary6"))))


def as_predicted(r: Router, routes: frozenset) -> bool:
    """Whether the router's installed OSPF routes are its predicted ones, each through next hops of its
    predicted equal-cost set only (IPv6 next hops, link-local addresses, by interface only): every prefix
    is then forwarded along a shortest path. Not all of a set need be there: FRR 8.4's ospf6d sometimes
    installs one of two equal-cost next hops of a loopback for good (measured: 1 router in 50, in 3 runs
    of 7), where waiting for the rest would wait in vain."""
    if r.expect is None:
        return False
    have: dict[str, set[tuple[str, str]]] = {}
    for prefix, protocol, hops in routes:
        if protocol in ("ospf", "ospf6"):
            have.setdefault(prefix, set()).update(("" if ":" in prefix else ip, dev) for ip, dev in hops)
    expect = dict(r.expect)
    return have.keys() == expect.keys() and all(hops and hops <= set(expect[p]) for p, hops in have.items())


def read_fib(topo: Topology, r: Router) -> tuple[frozenset, tuple[str, ...]]:
    """The router's whole FIB, and the prefixes it should reach that are missing from it."""
    a = _ask(topo, r, ["routes4", "routes6"])
    routes = fib(a.get("routes4")) | fib(a.get("routes6"))
    have = {prefix for prefix, _, _ in routes}
    return routes, tuple(p for p in map(str, r.reach) if p not in have)


def look(topo: Topology, r: Router) -> Look:
    """Ask one router how far it is, the prefixes its FIB lacks included."""
    return replace(quick_look(topo, r), missing=read_fib(topo, r)[1])


def wait(topo: Topology, frr: FrrLab, timeout: float) -> Converged:
    """Poll every router until all adjacencies/sessions are up and every FIB is as predicted or unchanged
    for STABLE seconds.

    The looks ask for adjacencies, sessions and zebra's route counts only. The whole FIBs (~1 KB of JSON
    per route, which zebra builds and netemu parses: on 50 routers more CPU than the daemons' own
    convergence when read at every look) are read when the counts have stayed the same for one look (where
    every router's OSPF routes are predicted: a match ends the wait), then twice per quiet spell: half-way
    through it and at its end. A changed next hop leaves the counts alone, so the two readings must match
    (and reach every prefix the router should reach), or the wait goes on from the second one.
    """
    start = time.monotonic()
    last_change = start
    previous: dict[str, Look] = {}
    snapshot: dict[str, tuple[frozenset, tuple[str, ...]]] | None = None
    stuck = False  # the FIBs were read, unchanged but incomplete: read again only after a change
    routers = list(frr.routers)
    predicted = bool(routers) and all(r.expect is not None for r in routers)
    compared = False  # the FIBs were compared with the prediction since the last change
    with ThreadPoolExecutor(max_workers=min(8, len(routers)) or 1) as pool:
        def read_all() -> dict[str, tuple[frozenset, tuple[str, ...]]]:
            return dict(zip((r.node for r in routers), pool.map(lambda r: read_fib(topo, r), routers)))

        def done(fibs: dict[str, tuple[frozenset, tuple[str, ...]]], at: float, match: bool) -> Converged:
            return Converged(round(at - start, 2), sum(lk.adjacencies for lk in looks.values()),
                             sum(lk.sessions for lk in looks.values()),
                             sum(len(routes) for routes, _ in fibs.values()), match)

        def matches(fibs: dict[str, tuple[frozenset, tuple[str, ...]]]) -> bool:
            return predicted and all(as_predicted(r, fibs[r.node][0]) and not fibs[r.node][1] for r in routers)

        while True:
            now = time.monotonic()
            looks = dict(zip((r.node for r in routers), pool.map(lambda r: quick_look(topo, r), routers)))
            if any(previous.get(n) is None or _state(previous[n]) != _state(lk) for n, lk in looks.items()):
                last_change, snapshot, stuck, compared = now, None, False, False
            previous = looks
            quiet = now - last_change
            if all(_peers_up(lk) for lk in looks.values()) and not stuck:
                # a read at once when zebra counts as many OSPF routes in every FIB as predicted, else when
                # the counts have stayed the same for one look
                fibs = None
                if predicted and not compared and (quiet > 0 or all(_counted(r, looks[r.node]) for r in routers)):
                    compared = True
                    fibs = read_all()
                    if matches(fibs):
                        return done(fibs, now, True)
                if snapshot is None and quiet >= STABLE / 2:
                    snapshot = fibs or read_all()  # a reading of this very look serves as the half-way one
                    if fibs is None and matches(snapshot):
                        return done(snapshot, now, True)
                elif snapshot is not None and quiet >= STABLE:
                    again = read_all()
                    if matches(again):
                        return done(again, now, True)
                    if again == snapshot and not any(missing for _, missing in again.values()):
                        return done(again, last_change, False)
                    if again != snapshot:
                        last_change = time.monotonic()
                    else:
                        stuck = True
                    snapshot = again
            if now - start > timeout:
                looks = dict(zip((r.node for r in routers), pool.map(lambda r: look(topo, r), routers)))
                raise NotConvergedError(_why(topo, frr, looks, timeout))
            time.sleep(POLL)


def _counted(r: Router, lk: Look) -> bool:
    """Whether zebra's FIB holds as many OSPF routes of each family as the router's prediction."""
    want = {"ospf": sum(":" not in p for p, _ in r.expect or ()), "ospf6": sum(":" in p for p, _ in r.expect or ())}
    have = {kind: fib for family in lk.counts for kind, _, fib in family if kind in want}
    return all(have.get(kind, 0) == n for kind, n in want.items())


def _state(lk: Look) -> tuple:
    return lk.adjacencies, lk.sessions, lk.counts


def _peers_up(lk: Look) -> bool:
    return lk.adjacencies >= lk.wanted_adjacencies and lk.sessions >= lk.wanted_sessions


def _why(topo: Topology, frr: FrrLab, looks: dict[str, Look], timeout: float) -> str:
    lagging = []
    for r in frr.routers:
        lk = looks[r.node]
        if lk.adjacencies < lk.wanted_adjacencies:
            lagging.append(f"{r.node}: {lk.adjacencies}/{lk.wanted_adjacencies} OSPF adjacencies full")
        if lk.sessions < lk.wanted_sessions:
            lagging.append(f"{r.node}: {lk.sessions}/{lk.wanted_sessions} BGP sessions established")
        if lk.missing:
            lagging.append(f"{r.node}: no route to {', '.join(lk.missing[:3])}{' …' if len(lk.missing) > 3 else ''}")
    what = "; ".join(lagging[:6]) + (" …" if len(lagging) > 6 else "") if lagging else "routes still changing"
    first = lagging[0].split(":")[0] if lagging else frr.routers[0].node
    return (f"routing of lab {topo.name} did not converge within {timeout:.0f} s ({what}); the lab is up: look with "
            f"'netemu status {topo.name} {first}', or remove it with 'netemu down {topo.name}'")
