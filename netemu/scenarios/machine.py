"""The machine facts behind a run's numbers: kernel, timer frequency, congestion control, link emulation."""

from __future__ import annotations

import gzip
import os
import re
from typing import Any


def kernel_hz() -> tuple[int | None, str]:
    """CONFIG_HZ of the running kernel and where it was read (the timer tick rounds delayed ACKs and RTOs)."""
    release = os.uname().release
    for path in (f"/boot/config-{release}", "/proc/config.gz"):
        try:
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rt") as f:
                m = re.search(r"^CONFIG_HZ=(\d+)$", f.read(), re.MULTILINE)
        except OSError:
            continue
        if m:
            return int(m.group(1)), path
    return None, "no kernel config found (/boot/config-RELEASE, /proc/config.gz)"


def link_emulation(lab: str) -> str:
    """How the lab's impaired links are emulated: netem, the fallback delay line, or none."""
    try:
        from ..linkemu import status
    except ImportError:
        return "link emulation not available"
    backend = status.describe(lab)["backend"]
    if backend is None:
        return "none (no impaired link in this lab)"
    if backend == "netem":
        return "netem (tc qdisc in the kernel)"
    return "fallback: NFQUEUE delay line in user space, iptables random loss (not netem)"


def facts(lab: str, nodes: list[Any]) -> dict[str, Any]:
    """Kernel release, HZ, congestion control per node (a per-namespace sysctl), link emulation."""
    hz, hz_source = kernel_hz()
    cc = {}
    for node in nodes:
        try:
            cc[node.name] = node.sysctl("net.ipv4.tcp_congestion_control")
        except Exception:  # noqa: BLE001 - a fact we could not read is reported as such
            cc[node.name] = "unknown"
    return {"kernel": os.uname().release, "hz": hz, "hz_source": hz_source,
            "congestion_control": cc, "link_emulation": link_emulation(lab)}


def rows(f: dict[str, Any]) -> list[tuple[str, str]]:
    """The facts as (what, value) rows for the report."""
    hz = f"{f['hz']} (one tick = {1000 / f['hz']:g} ms; read from {f['hz_source']})" if f.get("hz") else \
        f"unknown: {f.get('hz_source')}"
    cc = ", ".join(f"{n}: {v}" for n, v in f.get("congestion_control", {}).items()) or "-"
    return [("kernel", f["kernel"]), ("timer frequency (HZ)", hz), ("TCP congestion control", cc),
            ("link emulation", f["link_emulation"])]
