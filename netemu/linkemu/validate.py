"""Rules between the fields of one direction, shared by the topology parser and `netemu link set`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import units
from .model import Impairment


@dataclass(frozen=True)
class Problem:
    """A broken rule: which field, what is wrong, how to fix it."""

    field: str
    message: str
    hint: str | None = None
    warning: bool = False


def topology_key(name: str, value: str | None = None) -> str:
    """A key as the topology file writes it, for hints: 'delay: 20ms', 'bandwidth'."""
    return f"'{name}: {value}'" if value else f"'{name}'"


def flag(name: str, value: str | None = None) -> str:
    """A key as `netemu link … set` takes it, for hints: --delay 20ms, --bandwidth."""
    return f"--{name} {value}" if value else f"--{name}"


def problems(imp: Impairment, mtu: int, key: Callable[..., str] = topology_key) -> list[Problem]:
    """Every cross-field problem of one direction (warnings included); hints name keys with `key`."""
    out: list[Problem] = []
    if imp.jitter_us and not imp.delay_us:
        out.append(Problem("jitter", "jitter without delay", f"jitter varies a delay: add e.g. {key('delay', '20ms')}"))
    elif imp.jitter_us > imp.delay_us:
        out.append(Problem("jitter", f"jitter {units.fmt_time(imp.jitter_us)} exceeds the delay "
                           f"{units.fmt_time(imp.delay_us)}: delays below 0 are cut to 0", warning=True))
    if imp.queue is not None and not imp.bandwidth:
        out.append(Problem("queue", "queue without bandwidth",
                           f"{key('queue')} sizes the buffer in front of the rate limit: add {key('bandwidth')}"))
    frame = mtu + units.ETH_HEADER
    if imp.queue and imp.queue[0] == "bytes" and imp.queue[1] < frame:
        out.append(Problem("queue", f"{imp.queue[1]} bytes cannot hold one {frame}-byte frame"))
    if imp.loss_pct == 100:
        out.append(Problem("loss", "100% loss drops everything", "use 'netemu link … down' for an outage",
                           warning=True))
    return out
