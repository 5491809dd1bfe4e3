"""Rules between the fields of one direction, shared by the topology parser and `netemu link set`."""

from __future__ import annotations

from dataclasses import dataclass

from . import units
from .model import Impairment

ETH_OVERHEAD = 14


@dataclass(frozen=True)
class Problem:
    """A broken rule: which field, what is wrong, how to fix it."""

    field: str
    message: str
    hint: str | None = None
    warning: bool = False


def problems(imp: Impairment, mtu: int) -> list[Problem]:
    """Every cross-field problem of one direction (warnings included)."""
    out: list[Problem] = []
    if imp.jitter_us and not imp.delay_us:
        out.append(Problem("jitter", "jitter without delay", "jitter varies a delay: add e.g. 'delay: 20ms'"))
    elif imp.jitter_us > imp.delay_us:
        out.append(Problem("jitter", f"jitter {units.fmt_time(imp.jitter_us)} exceeds the delay "
                           f"{units.fmt_time(imp.delay_us)}: delays below 0 are cut to 0", warning=True))
    if imp.queue is not None and not imp.bandwidth:
        out.append(Problem("queue", "queue without bandwidth",
                           "'queue' sizes the buffer in front of the rate limit: add 'bandwidth'"))
    if imp.queue and imp.queue[0] == "bytes" and imp.queue[1] < mtu + ETH_OVERHEAD:
        out.append(Problem("queue", f"{imp.queue[1]} bytes cannot hold one {mtu + ETH_OVERHEAD}-byte frame"))
    if imp.loss_pct == 100:
        out.append(Problem("loss", "100% loss drops everything", "use 'netemu link … down' for an outage",
                           warning=True))
    return out
