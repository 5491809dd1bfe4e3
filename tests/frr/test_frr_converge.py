"""How `up` decides routing has converged, on simulated routers: cheap looks, whole FIBs read only when quiet."""

from __future__ import annotations

import pytest

from netemu.frr import converge
from netemu.frr.converge import Look, summary
from netemu.parse import topology_from_text

from frr_labs import RING


class Lab:
    """Simulated routers: adjacencies up from the start, route counts and FIBs changed by the test."""

    def __init__(self, monkeypatch):
        self.topo = topology_from_text(RING, "t.yaml")
        self.frr = self.topo.feature("frr")
        self.counts = {r.node: ((("ospf", 1, 1),), ()) for r in self.frr.routers}
        self.fibs = {r.node: frozenset({("10.0.0.0/8", "ospf", (("10.1.12.2", "eth1"),))}) for r in self.frr.routers}
        self.reads = 0
        self.looks = 0
        self.now = 0.0
        monkeypatch.setattr(converge, "quick_look", self.quick_look)
        monkeypatch.setattr(converge, "read_fib", self.read_fib)
        monkeypatch.setattr(converge.time, "monotonic", lambda: self.now)
        monkeypatch.setattr(converge.time, "sleep", self.sleep)
        self.at: dict[float, callable] = {}

    def quick_look(self, topo, r) -> Look:
        self.looks += 1
        return Look(r.ospf_peers + r.ospf6_peers, r.ospf_peers + r.ospf6_peers, 0, 0, frozenset(), None,
                    self.counts[r.node])

    def read_fib(self, topo, r):
        self.reads += 1
        return self.fibs[r.node], ()

    def sleep(self, s: float) -> None:
        self.now = round(self.now + s, 3)
        for t in [t for t in self.at if t <= self.now]:
            self.at.pop(t)()


def test_route_counts_of_zebras_summary():
    answer = {"routes": [{"fib": 4, "rib": 4, "type": "connected"}, {"fib": 6, "rib": 10, "type": "ospf"}],
              "routesTotal": 14}
    assert summary(answer) == (("connected", 4, 4), ("ospf", 10, 6))
    assert summary(None) == ()


def test_quiet_lab_converges_after_the_stable_window_reading_each_fib_twice(monkeypatch):
    lab = Lab(monkeypatch)
    res = converge.wait(lab.topo, lab.frr, timeout=30)
    assert res.seconds == 0 and res.adjacencies == 16
    assert lab.now >= converge.STABLE
    assert lab.reads == 2 * len(lab.frr.routers)  # half-way through the quiet spell and at its end


def test_a_changed_next_hop_with_unchanged_counts_restarts_the_wait(monkeypatch):
    lab = Lab(monkeypatch)

    def reroute():  # after the half-way reading, before the last: the counts cannot show it
        lab.fibs["r2"] = frozenset({("10.0.0.0/8", "ospf", (("10.1.23.2", "eth2"),))})

    lab.at[0.8] = reroute
    res = converge.wait(lab.topo, lab.frr, timeout=30)
    assert res.seconds >= 1.0  # the change was seen at the end of the first quiet spell
    assert lab.now >= res.seconds + converge.STABLE


def test_changing_counts_put_off_the_whole_fib_readings(monkeypatch):
    lab = Lab(monkeypatch)
    for i in range(10):  # a route added every 0.2 s for 2 s
        lab.at[round(0.2 * (i + 1), 3)] = lambda i=i: lab.counts.update(r1=((("ospf", i + 2, i + 2),), ()))
    res = converge.wait(lab.topo, lab.frr, timeout=30)
    assert res.seconds == pytest.approx(2.0, abs=0.25)
    assert lab.reads == 2 * len(lab.frr.routers)
