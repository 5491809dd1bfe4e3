"""Run the checks a topology declares in `tests:`, each retried until its deadline, all in parallel."""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..model import IPAddress, Topology
from . import probe
from .spec import Check
from .stop import Stop, locate, owners, sender_named

WORKERS = 16


@dataclass(frozen=True)
class Outcome:
    """One attempt: whether the thing checked is there (an answer, a route), and what was seen."""

    present: bool
    seen: str
    failed: IPAddress | None = None  # the address that did not answer (ping, tcp)
    note: str = ""  # what the failed ping saw (an ICMP error and its sender)


@dataclass(frozen=True)
class CheckResult:
    """A check's verdict after its last attempt."""

    check: Check
    passed: bool
    attempts: int
    seconds: float
    seen: str
    failed: IPAddress | None = None
    stop: Stop | None = None

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        c = self.check
        return {"name": c.name, "kind": c.kind, "what": c.what(), "expect": "pass" if c.expect_pass else "fail",
                "passed": self.passed, "attempts": self.attempts, "seconds": round(self.seconds, 3),
                "seen": self.seen, "failed_address": str(self.failed) if self.failed else None,
                "stop": self.stop.to_json() if self.stop else None, "description": c.description, "line": c.line}


def run(topo: Topology, checks: list[Check], started: float) -> list[CheckResult]:
    """Run `checks` (deadline of each: `started` + its timeout, at least one attempt); results in order."""
    if not checks:
        return []
    names = owners(topo)
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(checks))) as pool:
        return list(pool.map(lambda c: _run_one(topo, c, started + c.timeout, names), checks))


def _run_one(topo: Topology, check: Check, deadline: float, names: dict[IPAddress, str]) -> CheckResult:
    t0 = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        try:
            out = attempt(topo, check, names)
        except Exception as e:  # a tool that fails to run is a failed attempt, reported as such
            out = Outcome(False, f"could not check: {e}")
            if not check.expect_pass:  # "absent" must be seen, not inferred from a broken tool
                out = Outcome(True, out.seen)
        if out.present == check.expect_pass or time.time() + check.retry > deadline:
            break
        time.sleep(check.retry)
    passed = out.present == check.expect_pass
    stop = None
    if not passed and check.expect_pass and out.failed is not None and check.kind in ("ping", "tcp"):
        stop = locate(topo, check.node, out.failed, names, out.note)
    return CheckResult(check, passed, attempts, time.monotonic() - t0, out.seen, out.failed, stop)


def attempt(topo: Topology, check: Check, names: dict[IPAddress, str] | None = None) -> Outcome:
    """One try of `check`; `present` is True when what it looks for is there (whatever is expected)."""
    ns = topo.namespace(check.node)
    if check.kind == "ping":
        echoes = probe.ping(ns, list(check.targets))
        seen = [(a, e.answered, "answers" if e.answered else f"no answer{_after(sender_named(e.note, names or {}))}")
                for a, e in echoes.items()]
        out = _many(seen, check.expect_pass)
        return dataclasses.replace(out, note=echoes[out.failed].note) if out.failed in echoes else out
    if check.kind == "tcp":
        tried = [(a, *probe.tcp_connect(ns, a, check.port)) for a in check.targets]
        return _many(tried, check.expect_pass)
    if check.kind == "resolve":
        found, seen = probe.resolve(ns, check.qname, check.qtype)
        if check.expect_pass:
            missing = [a for a in check.targets if a not in found]
            ok = bool(found) and not missing  # an empty answer is never a success
            return Outcome(ok, seen if ok or not found else f"{seen}; missing {', '.join(map(str, missing))}")
        unwanted = [a for a in found if a in check.targets] if check.targets else found
        return Outcome(bool(unwanted), seen)
    routes = probe.routes(ns, check.prefix)
    hits = [r for r in routes if _route_matches(r, check)]
    seen = "; ".join(_route_text(r) for r in routes) or f"no route to {check.prefix}"
    return Outcome(bool(hits), seen)


def _many(tried: list[tuple[IPAddress, bool, str]], expect: bool) -> Outcome:
    """Several addresses: present when all answer; the first one against the expectation is named."""
    if not tried:
        return Outcome(False, "nothing to try")
    present = all(ok for _, ok, _ in tried)
    if expect:
        bad = next(((a, why) for a, ok, why in tried if not ok), None)
    else:
        bad = next(((a, why) for a, ok, why in tried if ok), None)
        present = bad is not None  # an absence check fails as soon as any address answers
    seen = "; ".join(f"{a}: {why}" for a, _, why in tried)
    return Outcome(present, seen, bad[0] if bad and expect else None)


def _route_matches(route: dict, check: Check) -> bool:
    hops = route.get("nexthops") or [route]
    return any((check.via is None or h.get("gateway") == str(check.via))
               and (check.dev is None or h.get("dev") == check.dev) for h in hops)


def _route_text(route: dict) -> str:
    hops = route.get("nexthops") or [route]
    return f"{route.get('dst')} " + ", ".join(
        " ".join(f"{name} {h[k]}" for k, name in (("gateway", "via"), ("dev", "dev")) if k in h) for h in hops)


def _after(note: str) -> str:
    return f", {note}" if note else ""
