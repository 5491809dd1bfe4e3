"""`netemu test LAB`: pick what to run (declared checks, all pairs), when to stop trying, and the verdict."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import UsageError
from ..lab import Lab
from ..labdir import existing
from . import checks as checks_mod
from . import pairs as pairs_mod
from . import probe
from .spec import DEFAULT_TIMEOUT, TestsSpec

CONVERGING_TIMEOUT = 60.0  # a routing protocol needs tens of seconds (FRR OSPF+BGP measured at ~22 s)


@dataclass(frozen=True)
class Report:
    """Everything `netemu test` found."""

    lab: str
    pairs: pairs_mod.PairsReport | None
    checks: tuple[checks_mod.CheckResult, ...]

    @property
    def passed(self) -> bool:
        """Whether every ping answered and every check passed."""
        return (self.pairs is None or self.pairs.passed) and all(c.passed for c in self.checks)

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {"lab": self.lab, "passed": self.passed,
                "pairs": self.pairs.to_json() if self.pairs else None,
                "checks": [c.to_json() for c in self.checks]}


def lab_started(name: str) -> float:
    """When the lab finished coming up (time.time() scale), from its run directory's metadata."""
    meta = existing(name).read_meta()
    created = meta.get("created")
    if not isinstance(created, (int, float)):
        return time.time()
    return created + float(meta.get("up_seconds") or 0)


def default_timeout(lab: Lab) -> float:
    """How long after `up` the all-pairs ping keeps retrying: longer when a routing protocol must converge."""
    routing = getattr(lab.topology, "routing", None)  # derive's Topology.routing, when present
    return CONVERGING_TIMEOUT if getattr(routing, "protocol", "none") in ("ospf", "bgp") else DEFAULT_TIMEOUT


def plan(lab: Lab, names: tuple[str, ...], all_pairs: bool) -> tuple[list, bool]:
    """The declared checks to run and whether to ping all pairs.

    Named checks run alone; with no names, the declared checks run, and all pairs are pinged when
    the topology declares none (or when asked).
    """
    spec: TestsSpec = lab.topology.feature("tests") or TestsSpec(())
    declared = {c.name: c for c in spec.checks}
    unknown = [n for n in names if n not in declared]
    if unknown:
        have = ", ".join(declared) or "none (the topology has no tests: section)"
        raise UsageError(f"lab {lab.name!r} has no check {', '.join(map(repr, unknown))} (checks: {have})")
    chosen = [declared[n] for n in names] if names else list(spec.checks)
    return chosen, all_pairs or not chosen


def run(lab: Lab, names: tuple[str, ...] = (), all_pairs: bool = False, timeout: float | None = None,
        waiting: Callable[[int, float], None] | None = None) -> Report:
    """Run the lab's tests (see plan()) and return the report."""
    chosen, do_pairs = plan(lab, names, all_pairs)
    if timeout is not None:
        chosen = [dataclasses.replace(c, timeout=timeout) for c in chosen]
    if do_pairs and len(pairs_mod.hosts_of(lab.topology)) < 2:
        raise UsageError(f"lab {lab.name!r} has fewer than two hosts with addresses: no pairs to ping "
                         "(declare checks in a tests: section)")
    needed = {"fping", "traceroute"} if do_pairs or any(c.kind in ("ping", "tcp") for c in chosen) else set()
    if any(c.kind == "resolve" for c in chosen):
        needed.add("dig")
    probe.need(*sorted(needed))
    started = lab_started(lab.name)
    pairs = None
    if do_pairs:
        deadline = started + (default_timeout(lab) if timeout is None else timeout)
        pairs = pairs_mod.run(lab.topology, deadline, waiting=waiting)
    results = checks_mod.run(lab.topology, chosen, started)
    return Report(lab.name, pairs, tuple(results))
