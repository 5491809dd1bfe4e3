"""Helpers of the link-emulation integration tests: capability skips, ping parsing, process lookups."""

from __future__ import annotations

import re
import statistics
import subprocess

import pytest
from conftest import needs_root

from netemu.linkemu import caps as capsmod
from netemu.linkemu import timer
from netemu.linkemu.runtime import delayline_pid
from netemu.linkemu.state import load


def needs_link_emulation(*features: str) -> capsmod.Caps:
    """Skip (reason printed) unless root and this machine can emulate `features` (delay/loss/bandwidth)."""
    needs_root()
    c = capsmod.probe()
    backend = capsmod.backend(c)
    missing = []
    for f in features:
        if f in ("delay", "jitter") and not (c.netem or c.delay_line):
            missing.append(f"{f}: neither netem ({c.why('netem')}) nor NFQUEUE ({c.why('iptables_nfqueue')})")
        if f == "loss" and not (c.netem or c.random_drop):
            missing.append(f"loss: neither netem nor the statistic match ({c.why('iptables_statistic')})")
        if f == "bandwidth" and not c.rate:
            missing.append(f"bandwidth: no tbf ({c.why('tbf')})")
        if f == "fallback" and backend != "fallback":
            missing.append("this test exercises the NFQUEUE fallback; this kernel has netem "
                           "(force it with NETEMU_LINKEMU_BACKEND=fallback)")
        if f == "bridge" and backend == "fallback" and not c.bridge_hook:
            missing.append(f"delay into a switch: {c.why('br_netfilter', 'iptables_physdev')}")
    if missing:
        pytest.skip("; ".join(missing))
    return c


def ns(lab: str, node: str) -> str:
    """The namespace of `node` in `lab`."""
    return f"{lab}-{node}"


def ping_rtts(lab: str, node: str, dst: str, count: int = 20, interval: float = 0.05) -> list[float]:
    """RTTs in ms of `ping -U` (user-to-user timing: correct when delay is added at PREROUTING)."""
    res = subprocess.run(["ip", "netns", "exec", ns(lab, node), "ping", "-U", "-n", "-c", str(count),
                          "-i", str(interval), "-W", "2", dst], capture_output=True, text=True, timeout=count * 3 + 10, check=False)
    return [float(m) for m in re.findall(r"time=([0-9.]+) ms", res.stdout)]


def ping_ok(lab: str, node: str, dst: str, count: int = 3, wait: float = 1.0) -> int:
    """How many of `count` pings were answered."""
    res = subprocess.run(["ip", "netns", "exec", ns(lab, node), "ping", "-n", "-c", str(count), "-i", "0.2",
                          "-W", str(wait), dst], capture_output=True, text=True, timeout=count * (wait + 1) + 10, check=False)
    return len(re.findall(r"time=", res.stdout))


def delay_pid(lab: str) -> int | None:
    """The pid of the lab's delay line, if it runs."""
    return delayline_pid(load(lab))


def raw_rules(lab: str, node: str, tool: str = "iptables-save") -> list[str]:
    """The raw table rules of the node (without counters and comments lines)."""
    out = subprocess.run(["ip", "netns", "exec", ns(lab, node), tool, "-t", "raw"], capture_output=True,
                         text=True, check=False).stdout
    return [x for x in out.splitlines() if x.startswith("-A")]


def alive(pid: int) -> bool:
    """Whether a process with this pid exists (and is not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def timer_slack_ms(hops: int) -> float:
    """How late `hops` delayed hops may release packets here, measured now: each waits on a timer, and
    a VM's or a loaded machine's timers fire late (the machine's doing, not the emulation's)."""
    return hops * timer.lateness_us() / 1000


def median(xs: list[float]) -> float:
    """The median (raises on no samples, with a readable message)."""
    assert xs, "no samples"
    return statistics.median(xs)


@pytest.fixture
def lemu_lab(lab_text):
    """conftest's lab_text under `lemu-…` names: name = lemu_lab(yaml_text), torn down and leak-checked."""
    return lambda text: lab_text(text, prefix="lemu")
