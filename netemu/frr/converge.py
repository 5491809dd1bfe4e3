"""Wait until a lab's routing has converged: every adjacency and session up, every FIB unchanged."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

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

    seconds: float  # until the last FIB change (or the last adjacency, if later)
    adjacencies: int
    sessions: int
    routes: int


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


@dataclass(frozen=True)
class Look:
    """One router's state at one moment."""

    adjacencies: int
    wanted_adjacencies: int
    sessions: int
    wanted_sessions: int
    fib: frozenset
    missing: tuple[str, ...]  # prefixes the router should reach and has no route for yet

    @property
    def up(self) -> bool:
        return (self.adjacencies >= self.wanted_adjacencies and self.sessions >= self.wanted_sessions
                and not self.missing)


def look(topo: Topology, r: Router) -> Look:
    """Ask one router how far it is."""
    a = ask(topo.namespace(r.node), topo.name, r.node, r.daemons, ["ospf", "ospf6", "bgp", "routes4", "routes6"])
    routes = fib(a.get("routes4")) | fib(a.get("routes6"))
    have = {prefix for prefix, _, _ in routes}
    return Look(ospf_up(a.get("ospf")) + ospf6_up(a.get("ospf6")), r.ospf_peers + r.ospf6_peers,
                bgp_up(a.get("bgp")), len(r.bgp), routes, tuple(str(p) for p in r.reach if str(p) not in have))


def wait(topo: Topology, frr: FrrLab, timeout: float) -> Converged:
    """Poll every router until all adjacencies/sessions are up and no FIB changed for STABLE seconds."""
    start = time.monotonic()
    last_change = start
    previous: dict[str, Look] = {}
    with ThreadPoolExecutor(max_workers=min(8, len(frr.routers)) or 1) as pool:
        while True:
            now = time.monotonic()
            looks = dict(zip((r.node for r in frr.routers), pool.map(lambda r: look(topo, r), frr.routers)))
            if any(previous.get(n) is None or previous[n].fib != lk.fib or previous[n].up != lk.up
                   for n, lk in looks.items()):
                last_change = now
            previous = looks
            all_up = all(lk.up for lk in looks.values())
            if all_up and now - last_change >= STABLE:
                return Converged(round(last_change - start, 2), sum(lk.adjacencies for lk in looks.values()),
                                 sum(lk.sessions for lk in looks.values()),
                                 sum(len(lk.fib) for lk in looks.values()))
            if now - start > timeout:
                raise NotConvergedError(_why(topo, frr, looks, timeout))
            time.sleep(POLL)


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
