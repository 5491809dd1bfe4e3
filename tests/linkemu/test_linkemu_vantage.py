"""What a ping shows of a delayed link depends on where it is sent from; status and check say so truthfully."""

from __future__ import annotations

import re
import statistics
import subprocess

import pytest
from conftest import netemu
from lemu_helpers import needs_link_emulation, ns

pytestmark = pytest.mark.root

CHAIN = """
name: vantage
nodes:
  h1: {routes: ["default via 10.0.1.1"]}
  r1: {kind: router, routes: ["10.0.2.0/24 via 10.0.12.2"]}
  r2: {kind: router, routes: ["10.0.1.0/24 via 10.0.12.1"]}
  h2: {routes: ["default via 10.0.2.1"]}
links:
  - endpoints: ["h1 10.0.1.2/24", "r1 10.0.1.1/24"]
  - endpoints: ["r1:eth1 10.0.12.1/24", "r2:eth1 10.0.12.2/24"]
    delay: 10ms
  - endpoints: ["r2 10.0.2.1/24", "h2 10.0.2.2/24"]
"""


def _median_rtt(lab: str, node: str, dst: str, user_time: bool) -> float:
    argv = ["ip", "netns", "exec", ns(lab, node), "ping", "-n", "-c", "8", "-i", "0.05", "-W", "2", dst]
    if user_time:
        argv.insert(5, "-U")
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout
    rtts = [float(m) for m in re.findall(r"time=([0-9.]+) ms", out)]
    assert rtts, out
    return statistics.median(rtts)


def test_fallback_ping_from_an_end_sees_half_and_netemu_says_so(lab_text):
    needs_link_emulation("delay", "fallback")
    lab = lab_text(CHAIN, prefix="lemu")
    from_end = _median_rtt(lab, "r1", "10.0.12.2", user_time=False)
    from_end_user = _median_rtt(lab, "r1", "10.0.12.2", user_time=True)
    beyond = _median_rtt(lab, "h1", "10.0.2.2", user_time=False)
    # what the status line below promises, measured: ~10 ms from the end, ~20 ms with -U and from beyond
    assert 8 <= from_end <= 16 and from_end < 0.8 * beyond, (from_end, beyond)
    assert from_end_user >= 18 and beyond >= 18, (from_end_user, beyond)
    text = netemu("status", lab, check=True).stdout
    assert ("plain ping from r1:eth1 shows +10 ms, from r2:eth1 +10 ms, from beyond the link +20 ms; "
            "ping -U and TCP see +20 ms from everywhere") in text
    check = netemu("check", lab, "--seconds", "1").stdout
    assert "a plain ping from one end of this link shows only the delay towards the other end, +10 / +10 ms" in check
