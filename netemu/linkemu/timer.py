"""How finely and how promptly this kernel's timers fire: what a token bucket's burst must cover.

TBF sends a packet when enough tokens have accumulated and otherwise arms a watchdog timer. If the
timer fires late, tokens pile up meanwhile; whatever exceeds the bucket (`burst`) is lost, and so is
rate. tc's rule of thumb is burst >= rate / HZ (one timer tick of traffic); with high-resolution timers
the tick is tiny but a VM, a loaded laptop or a low-HZ kernel wakes up late, so the burst is sized to
the granularity plus the lateness measured here.
"""

from __future__ import annotations

import gzip
import os
import re
import time

DEFAULT_US = 1000  # assumed when nothing was measured (plans without root): 1 ms of traffic
MAX_US = 20_000  # a burst above 20 ms of traffic would distort short flows more than it saves
_SAMPLES = 300
_SLEEP_S = 0.001


def resolution_us(psched: str = "/proc/net/psched") -> float | None:
    """The qdisc timers' resolution in µs (4th field of /proc/net/psched: NSEC_PER_SEC / resolution_ns).

    1e9 there means high-resolution timers (1 ns); a small number is HZ (low-resolution: one tick).
    """
    try:
        fields = open(psched).read().split()
        rate = int(fields[3], 16)
    except (OSError, IndexError, ValueError):
        return None
    return 1e6 / rate if rate > 0 else None


def kernel_hz(release: str | None = None) -> int | None:
    """CONFIG_HZ of the running kernel, from /proc/config.gz or /boot/config-RELEASE (None: unknown).

    With high-resolution timers TBF's watchdog is not tick-bound, but the transmit softirq it raises
    falls back to ksoftirqd under load, which the scheduler runs at tick granularity.
    """
    release = release or os.uname().release
    texts = []
    try:
        with gzip.open("/proc/config.gz", "rt") as f:
            texts.append(f.read())
    except OSError:
        pass
    try:
        texts.append(open(f"/boot/config-{release}").read())
    except OSError:
        pass
    for text in texts:
        m = re.search(r"^CONFIG_HZ=(\d+)$", text, re.MULTILINE)
        if m:
            return int(m.group(1))
    return None


def lateness_us(samples: int = _SAMPLES, sleep_s: float = _SLEEP_S) -> float:
    """The 99th percentile of how late a 1 ms sleep wakes up, in µs (the tail is what empties a bucket).

    Measured as SCHED_FIFO where permitted: qdisc watchdogs fire from the timer interrupt, so other
    processes queueing for the CPU (which a normal-priority sleeper also waits behind) do not delay them.
    """
    try:
        before = os.sched_getscheduler(0), os.sched_getparam(0)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    except OSError:
        before = None
    late = []
    try:
        for _ in range(samples):
            t0 = time.monotonic()
            time.sleep(sleep_s)
            late.append((time.monotonic() - t0 - sleep_s) * 1e6)
    finally:
        if before is not None:
            os.sched_setscheduler(0, before[0], before[1])
    late.sort()
    return max(0.0, late[int(0.99 * (len(late) - 1))])


def granularity_us(resolution: float | None, late: float, hz: int | None = None) -> int:
    """Time the bucket must bridge between two sends: one tick (1/HZ, >= 1 ms) plus the lateness, capped."""
    tick = max(float(DEFAULT_US), resolution or 0.0, 1e6 / hz if hz else 0.0)
    return int(min(MAX_US, tick + late))


def burst_bytes(rate_bps: int, frame: int, timer_us: int) -> int:
    """TBF burst: `timer_us` of traffic at `rate_bps` (tc: burst >= rate / HZ), at least two frames."""
    return max(2 * frame, rate_bps // 8 * timer_us // 1_000_000)
