"""`netemu doctor`: what this machine does for each link feature — native, fallback, or unavailable."""

from __future__ import annotations

import os
from dataclasses import dataclass

from . import caps as capsmod

NATIVE, FALLBACK, MISSING, INFO = "native", "fallback", "unavailable", "info"


@dataclass(frozen=True)
class Row:
    """One line of the report."""

    feature: str
    status: str  # NATIVE, FALLBACK, MISSING or INFO
    how: str


def report(fresh: bool = True) -> list[Row]:
    """Probe the machine and say how each link feature would be done."""
    c = capsmod.probe(fresh=fresh)
    rows: list[Row] = []
    netem_why = c.why("netem")
    if c.netem:
        rows += [Row("delay, jitter", NATIVE, "netem on the sender's egress"),
                 Row("loss", NATIVE, "netem on the sender's egress")]
    else:
        if c.delay_line:
            rt = "SCHED_FIFO" if c.realtime else "normal priority (no SCHED_FIFO: expect a wider p99)"
            rows.append(Row("delay, jitter", FALLBACK,
                            f"NFQUEUE userspace delay line at the receiver's PREROUTING, {rt} "
                            f"(netem: {netem_why})"))
            if not c.delay_line6:
                rows.append(Row("delay on IPv6", MISSING, f"ip6tables NFQUEUE: {c.why('ip6tables_nfqueue')}"))
        else:
            why = c.why("iptables_nfqueue", "nfqueue_socket", "iptables_restore")
            rows.append(Row("delay, jitter", MISSING, f"netem: {netem_why}; NFQUEUE: {why}"))
        if c.random_drop:
            rows.append(Row("loss", FALLBACK, "iptables statistic match (random DROP) at the receiver"))
        else:
            rows.append(Row("loss", MISSING, f"netem: {netem_why}; statistic: {c.why('iptables_statistic')}"))
        if c.bridge_hook:
            rows.append(Row("delay/loss into a switch", FALLBACK, "br_netfilter + physdev in the switch namespace"))
        else:
            rows.append(Row("delay/loss into a switch", MISSING, c.why("br_netfilter", "iptables_physdev")))
    if c.rate:
        rows.append(Row("bandwidth, queue", NATIVE, "tbf on the sender's egress"
                        + (" (netem's child when delayed)" if c.netem else "")))
    else:
        rows.append(Row("bandwidth, queue", MISSING, f"tbf: {c.why('tbf')}"))
    if c.rate:
        res = c.results.get("timer_resolution_us")
        res_text = f"{res:g} µs resolution" if isinstance(res, (int, float)) else str(res)
        rows.append(Row("rate timers", INFO, f"{res_text}, HZ {c.results.get('timer_hz', '?')}, 1 ms sleeps wake {c.results.get('timer_late_us', '?')} µs late "
                        f"(p99): rate limits get a burst of {c.timer_us} µs of traffic"))
    rows.append(Row("link down/up", NATIVE, "interface admin state (carrier loss at the far end)"))
    forced = os.environ.get(capsmod.BACKEND_ENV)
    if forced:
        rows.append(Row("backend", INFO, f"forced to {forced} by {capsmod.BACKEND_ENV}"))
    rows.append(Row("kernel", INFO, os.uname().release))
    rows.append(_congestion_row())
    return rows


def _congestion_row() -> Row:
    """Which TCP congestion control algorithms a lab node can choose here (`tcp: {congestion: …}`)."""
    from ..congestion import default_algorithm, host_lists

    available, allowed = host_lists()
    usable = [a for a in available if a in allowed] if allowed else available
    other = [a for a in available if a not in usable]
    how = f"default {default_algorithm() or '?'}; a lab node may choose {' '.join(usable) or 'nothing'}"
    if other:
        how += (f"; loaded but not allowed in lab namespaces: {' '.join(other)} (per-route 'congctl' or the "
                f"per-socket option only)")
    return Row("tcp congestion control", INFO, how)
