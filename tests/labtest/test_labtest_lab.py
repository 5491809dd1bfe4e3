"""`netemu test` on real namespaces (root): all pairs pass or name the hop, declared checks, --json."""

from __future__ import annotations

import contextlib
import json
import socket

import pytest
from conftest import needs_root, needs_tool, netemu, shipped

from netemu.kernel import netns

pytestmark = pytest.mark.root

# h1 - r1 - r2 - h2, and h3 and h4 on a switch behind r2; dual stack except h4 (IPv4 only), every route written.
FULL = """
name: lt
nodes:
  h1: {kind: host, routes: ["default via 10.0.1.1", "default via 2001:db8:1::1"]}
  r1:
    kind: router
    routes: ["10.0.2.0/24 via 10.0.12.2", "2001:db8:2::/64 via 2001:db8:12::2",
             "10.0.3.0/24 via 10.0.12.2", "2001:db8:3::/64 via 2001:db8:12::2"]
  r2:
    kind: router
    routes: ["10.0.1.0/24 via 10.0.12.1", "2001:db8:1::/64 via 2001:db8:12::1"]
  h2: {kind: host, routes: ["default via 10.0.2.1", "default via 2001:db8:2::1"]}
  h3: {kind: host, routes: ["default via 10.0.3.1", "default via 2001:db8:3::1"]}
  h4: {kind: host, routes: ["default via 10.0.3.1"]}
  lan: {kind: switch}
links:
  - endpoints: ["h1:eth0 10.0.1.2/24 2001:db8:1::2/64", "r1:eth0 10.0.1.1/24 2001:db8:1::1/64"]
  - endpoints: ["r1:eth1 10.0.12.1/30 2001:db8:12::1/64", "r2:eth1 10.0.12.2/30 2001:db8:12::2/64"]
  - endpoints: ["r2:eth0 10.0.2.1/24 2001:db8:2::1/64", "h2:eth0 10.0.2.2/24 2001:db8:2::2/64"]
  - endpoints: ["r2:eth2 10.0.3.1/24 2001:db8:3::1/64", lan]
  - endpoints: ["h3:eth0 10.0.3.3/24 2001:db8:3::3/64", lan]
  - endpoints: ["h4:eth0 10.0.3.4/24", lan]
"""
# The teacher's mistake from issue 11: r2 lacks the IPv6 route back to h1's LAN.
BROKEN = FULL.replace(', "2001:db8:1::/64 via 2001:db8:12::1"]', "]")


@pytest.fixture(autouse=True)
def _tools():
    needs_root()
    needs_tool("fping", "traceroute")


def test_every_host_reaches_every_host(lab_text):
    name = lab_text(FULL, prefix="lt")
    res = netemu("test", name, "--json", "--timeout", "5")
    assert res.returncode == 0, res.stdout + res.stderr
    data = json.loads(res.stdout)
    assert data["passed"] is True and data["checks"] == []
    pairs = data["pairs"]
    assert pairs["hosts"] == ["h1", "h2", "h3", "h4"]
    # h1..h3: 2 others x 2 families + h4's IPv4 address; h4 (no IPv6 of its own): 3 others x IPv4
    assert (pairs["total"], pairs["answered"], pairs["failures"]) == (18, 18, [])
    text = netemu("test", name)
    assert text.returncode == 0, text.stdout + text.stderr
    assert text.stdout.count(" ok") == 12 and "18/18 pings answered" in text.stdout


def test_missing_return_route_fails_and_names_the_hop(lab_text):
    assert BROKEN != FULL
    name = lab_text(BROKEN, prefix="lt")
    res = netemu("test", name, "--json", "--timeout", "2")
    assert res.returncode == 1, res.stdout + res.stderr
    data = json.loads(res.stdout)
    assert data["passed"] is False
    assert set(data) == {"lab", "passed", "pairs", "checks"} and data["lab"] == name
    assert set(data["pairs"]) == {"hosts", "total", "answered", "passed", "seconds", "failures"}
    for f in data["pairs"]["failures"]:
        assert set(f) == {"from", "to", "address", "family", "answered", "attempts", "note", "stop"}
        assert set(f["stop"]) == {"node", "address", "reason", "trace", "model"}
        assert f["family"] == 6 and f["answered"] is False and f["attempts"] >= 1
    failed = {(f["from"], f["address"]): f for f in data["pairs"]["failures"]}
    # IPv4 works everywhere; IPv6 between h1 and the hosts behind r2 fails both ways
    assert set(failed) == {("h1", "2001:db8:2::2"), ("h1", "2001:db8:3::3"), ("h2", "2001:db8:1::2"),
                           ("h3", "2001:db8:1::2")}
    # from h2 the request itself dies at r2, which says so
    assert failed[("h2", "2001:db8:1::2")]["stop"]["node"] == "r2"
    # from h1 the request arrives but the reply is lost: traceroute sees r1, then nothing; the model names r2
    there = failed[("h1", "2001:db8:2::2")]["stop"]
    assert there["node"] == "r1" and there["trace"][0].startswith("1 r1 ")
    assert "r2 has no route to 2001:db8:1::2" in there["model"]
    text = netemu("test", name, "--timeout", "1")
    assert text.returncode == 1
    assert "FAIL h2 -> h1 2001:db8:1::2" in text.stdout and "stops at r2" in text.stdout


@contextlib.contextmanager
def listening(ns: str, address: str, port: int):
    """A TCP listener inside namespace `ns` (the kernel completes handshakes; nobody needs to accept)."""
    with netns.entered(ns):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((address, port))
        s.listen(8)
        yield
    finally:
        s.close()


CHECKS = """
tests:
  h1-h2: {ping: {from: h1, to: h2}}
  tcp-open: {tcp: {from: h1, to: 10.0.2.2, port: 8080}}
  tcp-closed:
    tcp: {from: h1, to: 10.0.2.2, port: 8081}
    expect: fail
  r1-route: {route: {node: r1, to: 10.0.2.0/24, via: 10.0.12.2}}
  r1-no-route:
    route: {node: r1, to: 10.9.9.0/24}
    expect: fail
  nobody-there:
    ping: {from: h1, to: 10.0.2.99}
    timeout: 1
"""


def test_declared_checks_pass_fail_and_show_the_address(lab_text):
    name = lab_text(FULL + CHECKS, prefix="lt")
    with listening(f"{name}-h2", "10.0.2.2", 8080):
        res = netemu("test", name, "--json")
        subset = netemu("test", name, "h1-h2", "tcp-open")
    assert res.returncode == 1, res.stdout + res.stderr
    data = json.loads(res.stdout)
    assert data["pairs"] is None  # declared checks replace the all-pairs ping
    verdicts = {c["name"]: c["passed"] for c in data["checks"]}
    assert verdicts == {"h1-h2": True, "tcp-open": True, "tcp-closed": True, "r1-route": True, "r1-no-route": True,
                        "nobody-there": False}
    for c in data["checks"]:
        assert set(c) == {"name", "kind", "what", "expect", "passed", "attempts", "seconds", "seen", "failed_address",
                          "stop", "description", "line"}
    assert [c["expect"] for c in data["checks"]] == ["pass", "pass", "fail", "pass", "fail", "pass"]
    bad = data["checks"][-1]
    assert bad["failed_address"] == "10.0.2.99" and "10.0.2.99" in bad["seen"]
    assert bad["stop"]["node"] == "r2"  # the last router that answers for it
    assert subset.returncode == 0, subset.stdout + subset.stderr
    assert subset.stdout.splitlines()[-1] == "2/2 checks passed"
    unknown = netemu("test", name, "no-such-check")
    assert unknown.returncode == 2 and "no-such-check" in unknown.stderr


def test_the_internet_lessons_pass(lab_text):
    needs_tool("dig")
    name = lab_text(shipped("internet.yaml"), prefix="lti")
    res = netemu("test", name)
    assert res.returncode == 0, res.stdout + res.stderr
    assert all(line.startswith("PASS ") for line in res.stdout.splitlines()[:-1])
    assert res.stdout.splitlines()[-1] == "8/8 checks passed"


AUTO = """
name: lt
routing: static
nodes: {h1: {kind: host}, r1: {kind: router}, r2: {kind: router}, r3: {kind: router}, h2: {kind: host},
        h3: {kind: host}}
links:
  - endpoints: [h1, r1]
  - endpoints: [r1, r2]
  - endpoints: [r2, r3]
  - endpoints: [r3, r1]
  - endpoints: [r2, h2]
  - endpoints: [r3, h3]
"""


def test_a_lab_without_addresses_or_routes_passes(lab_text):
    from dataclasses import fields

    from netemu.model import Topology

    if "routing" not in {f.name for f in fields(Topology)}:
        pytest.skip("needs automatic addressing and routing: static (the derive stage)")
    name = lab_text(AUTO, prefix="lt")
    res = netemu("test", name, "--json", "--timeout", "5")
    assert res.returncode == 0, res.stdout + res.stderr
    pairs = json.loads(res.stdout)["pairs"]
    assert pairs["total"] == 12 and pairs["answered"] == 12  # pools are dual stack: 3 hosts x 2 others x 2
