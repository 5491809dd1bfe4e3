"""How declared checks decide and retry, with the probes replaced by scripted outcomes (no root)."""

from __future__ import annotations

import ipaddress
import subprocess
import time

from netemu.labtest import checks, probe
from netemu.labtest.checks import Outcome
from netemu.labtest.spec import Check
from netemu.parse import topology_from_text

TOPO = topology_from_text("""
name: x
nodes: {h1: {kind: host}, h2: {kind: host}}
links: [{endpoints: ["h1 10.0.0.1/24", "h2 10.0.0.2/24"]}]
""")


def scripted(monkeypatch, outcomes: list[bool]) -> list[int]:
    """Make each attempt return the next of `outcomes` (the last repeats); returns a call counter."""
    calls = [0]

    def attempt(topo, check, names=None):
        calls[0] += 1
        return Outcome(outcomes[min(calls[0], len(outcomes)) - 1], f"attempt {calls[0]}")

    monkeypatch.setattr(checks, "attempt", attempt)
    return calls


def test_an_absence_check_retries_until_the_thing_is_gone(monkeypatch):
    calls = scripted(monkeypatch, [True, True, False])  # e.g. a route withdrawn after a while
    check = Check("gone", "route", "h1", expect_pass=False, timeout=30, retry=0.01)
    [res] = checks.run(TOPO, [check], started=time.time())
    assert res.passed and res.attempts == 3 == calls[0]


def test_a_check_that_never_holds_fails_at_its_deadline_with_what_was_seen(monkeypatch):
    scripted(monkeypatch, [False])
    check = Check("never", "route", "h1", timeout=0.3, retry=0.05)
    t0 = time.monotonic()
    [res] = checks.run(TOPO, [check], started=time.time())
    assert not res.passed and res.attempts >= 2 and res.seen == f"attempt {res.attempts}"
    assert 0.2 < time.monotonic() - t0 < 5


def test_a_late_lab_still_gets_one_attempt(monkeypatch):
    calls = scripted(monkeypatch, [True])
    check = Check("once", "route", "h1", timeout=1)
    [res] = checks.run(TOPO, [check], started=time.time() - 3600)
    assert res.passed and calls[0] == 1


def completed(stdout: str = "", stderr: str = "", rc: int = 0) -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess([], rc, stdout, stderr)


def test_silent_tools_never_count_as_success(monkeypatch):
    monkeypatch.setattr(probe.procs, "run", lambda *a, **k: completed())
    addr = ipaddress.ip_address("10.0.0.2")
    assert probe.ping("ns", [addr]) == {addr: probe.Echo(addr, False, "")}
    assert probe.resolve("ns", "www.example.com", "A")[0] == []
    resolve = Check("r", "resolve", "h1", qname="www.example.com")
    assert checks.attempt(TOPO, resolve).present is False  # an empty answer, even without expected addresses
    route = Check("rt", "route", "h1", prefix=ipaddress.ip_network("10.9.0.0/16"))
    assert checks.attempt(TOPO, route).present is False


def test_fping_output_is_read_per_address(monkeypatch):
    out = completed("10.0.0.2 is alive\n10.0.9.9 is unreachable\n",
                    "ICMP Network Unreachable from 10.0.0.254 for ICMP Echo sent to 10.0.9.9\n"
                    "2001:db8::9: error while sending ping: Network is unreachable\n", rc=1)
    monkeypatch.setattr(probe.procs, "run", lambda *a, **k: out)
    a, b, c = map(ipaddress.ip_address, ["10.0.0.2", "10.0.9.9", "2001:db8::9"])
    got = probe.ping("ns", [a, b, c])
    assert got[a].answered and not got[b].answered and not got[c].answered
    assert got[b].note == "ICMP Network Unreachable from 10.0.0.254"
    assert got[c].note == "cannot send: Network is unreachable"


def test_a_ping_check_names_the_address_that_did_not_answer(monkeypatch):
    out = completed("10.0.0.2 is alive\n10.0.0.3 is unreachable\n", rc=1)
    monkeypatch.setattr(probe.procs, "run", lambda *a, **k: out)
    a, b = map(ipaddress.ip_address, ["10.0.0.2", "10.0.0.3"])
    check = Check("p", "ping", "h1", targets=(a, b))
    got = checks.attempt(TOPO, check)
    assert got.present is False and got.failed == b and "10.0.0.3: no answer" in got.seen
    absent = Check("p", "ping", "h1", targets=(a, b), expect_pass=False)
    assert checks.attempt(TOPO, absent).present is True  # one answer is enough to fail an absence check
