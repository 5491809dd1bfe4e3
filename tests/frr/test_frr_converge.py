"""How `up` decides routing has converged, on simulated routers: cheap looks, whole FIBs read only when quiet,
and a wait that ends at once when every FIB is as predicted."""

from __future__ import annotations

import dataclasses

import pytest

from netemu.frr import converge
from netemu.frr.converge import Look, summary
from netemu.parse import topology_from_text

from frr_labs import RING


class Lab:
    """Simulated routers: adjacencies up from the start, route counts and FIBs changed by the test."""

    def __init__(self, monkeypatch, predicted: bool = False):
        self.topo = topology_from_text(RING, "t.yaml")
        self.frr = self.topo.feature("frr")
        if not predicted:  # as for a lab netemu cannot predict (BGP, `frr:` lines): the stability window decides
            self.frr = dataclasses.replace(self.frr, routers=tuple(dataclasses.replace(r, expect=None)
                                                                   for r in self.frr.routers))
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
        return Look(r.ospf_peers + r.ospf6_peers, r.ospf_peers + r.ospf6_peers, 0, 0, None,
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


def as_zebra(r) -> frozenset:
    """The router's predicted routes as zebra's FIB answer reads them (IPv6 next hops: some link-local address)."""
    return frozenset((prefix, "ospf6" if ":" in prefix else "ospf",
                      tuple((ip or "fe80::1", dev) for ip, dev in hops)) for prefix, hops in r.expect)


def counts(r) -> tuple:
    v4 = sum(":" not in p for p, _ in r.expect)
    return ((("connected", 3, 3), ("ospf", v4 + 2, v4)), (("connected", 3, 3), ("ospf6", len(r.expect) - v4, len(r.expect) - v4)))


def test_fibs_as_predicted_end_the_wait_at_the_first_look(monkeypatch):
    lab = Lab(monkeypatch, predicted=True)
    for r in lab.frr.routers:
        lab.fibs[r.node], lab.counts[r.node] = as_zebra(r), counts(r)
    res = converge.wait(lab.topo, lab.frr, timeout=30)
    assert res.predicted and res.seconds == 0 and lab.now == 0  # no quiet spell waited out
    assert lab.reads == len(lab.frr.routers)


def test_fibs_as_predicted_are_read_after_one_quiet_look_when_the_counts_differ(monkeypatch):
    lab = Lab(monkeypatch, predicted=True)
    for r in lab.frr.routers:
        lab.fibs[r.node] = as_zebra(r)  # counts not as predicted (e.g. zebra counts differently): one quiet look
    res = converge.wait(lab.topo, lab.frr, timeout=30)
    assert res.predicted and lab.now == pytest.approx(converge.POLL)
    assert lab.reads == len(lab.frr.routers)


def test_a_fib_off_the_prediction_is_left_to_the_stability_window(monkeypatch):
    lab = Lab(monkeypatch, predicted=True)
    for r in lab.frr.routers:
        lab.fibs[r.node], lab.counts[r.node] = as_zebra(r), counts(r)
    r1 = lab.frr.router("r1")
    prefix, hops = r1.expect[0]
    lab.fibs["r1"] = (lab.fibs["r1"] - {x for x in lab.fibs["r1"] if x[0] == prefix}) | {
        (prefix, "ospf", (("10.9.9.9", "eth9"),))}  # a next hop off every shortest path
    res = converge.wait(lab.topo, lab.frr, timeout=30)
    assert not res.predicted and lab.now >= converge.STABLE


def test_as_predicted_wants_every_prefix_each_through_predicted_next_hops_only():
    even = RING.replace("    cost: 5\n", "")  # every link costs the same: r1 reaches r3 both ways round
    r1 = topology_from_text(even, "t.yaml").feature("frr").router("r1")
    full = as_zebra(r1)
    assert converge.as_predicted(r1, full)
    ecmp = next((p, hops) for p, hops in r1.expect if len(hops) > 1)
    one = {x for x in full if x[0] != ecmp[0]} | {(ecmp[0], "ospf", ecmp[1][:1])}
    assert converge.as_predicted(r1, frozenset(one))  # one of two equal-cost hops: still a shortest path
    assert not converge.as_predicted(r1, frozenset(x for x in full if x[0] != ecmp[0]))  # a prefix missing
    assert not converge.as_predicted(r1, full | {("192.0.2.0/24", "ospf", (("10.1.12.2", "eth1"),))})  # one too many
    assert converge.as_predicted(r1, full | {("10.0.1.0/24", "connected", (("", "eth0"),))})  # others are not OSPF's
