"""The `tests:` section: golden errors (every problem with its line) and what valid checks parse into (no root)."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import pytest

from netemu.errors import TopologyError
from netemu.labtest.spec import DEFAULT_TIMEOUT
from netemu.parse import topology_from_text

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name for p in GOLDEN.glob("*.yaml"))

LAB = """
name: x
nodes:
  h1: {kind: host}
  r1: {kind: router}
  h2: {kind: host}
links:
  - endpoints: ["h1:eth0 10.0.1.2/24 2001:db8:1::2/64", "r1:eth0 10.0.1.1/24 2001:db8:1::1/64"]
  - endpoints: ["r1:eth1 10.0.2.1/24", "h2:eth0 10.0.2.2/24 2001:db8:2::2/64"]
"""


@pytest.mark.parametrize("name", CASES)
def test_error_golden(name):
    path = GOLDEN / name
    with pytest.raises(TopologyError) as exc:
        topology_from_text(path.read_text(), name)
    got = "\n".join(i.render(exc.value.filename) for i in exc.value.issues) + "\n"
    expected = path.with_suffix(".txt")
    if os.environ.get("UPDATE_GOLDEN"):
        expected.write_text(got)
    assert got == expected.read_text()
    assert all(i.line for i in exc.value.issues)


def test_checks_parse_into_their_targets():
    text = LAB + """
tests:
  h2-answers: {ping: {from: h1, to: h2}}
  h2-v6:
    ping: {from: h1, to: h2, family: 6}
    timeout: 30
    retry: 0.5
  web: {tcp: {from: h1, to: 10.0.2.2, port: 80}, expect: fail}
  name: {resolve: {from: h1, name: www.example.com, address: ["2001:db8::80"]}}
  back: {route: {node: r1, to: default, via: 10.0.1.2, dev: eth0}}
"""
    topo = topology_from_text(text)
    checks = {c.name: c for c in topo.feature("tests").checks}
    assert list(checks) == ["h2-answers", "h2-v6", "web", "name", "back"]  # file order
    assert checks["h2-answers"].targets == (ipaddress.ip_address("10.0.2.2"), ipaddress.ip_address("2001:db8:2::2"))
    assert checks["h2-answers"].timeout == DEFAULT_TIMEOUT and checks["h2-answers"].expect_pass
    assert checks["h2-v6"].targets == (ipaddress.ip_address("2001:db8:2::2"),)
    assert (checks["h2-v6"].timeout, checks["h2-v6"].retry) == (30.0, 0.5)
    assert checks["web"].port == 80 and not checks["web"].expect_pass
    assert checks["name"].qtype == "AAAA" and checks["name"].qname == "www.example.com"
    assert checks["back"].prefix == ipaddress.ip_network("0.0.0.0/0") and checks["back"].dev == "eth0"
    assert checks["back"].line == text.splitlines().index(next(x for x in text.splitlines() if "back:" in x)) + 1


def test_a_lab_without_tests_attaches_nothing():
    assert topology_from_text(LAB).feature("tests") is None
