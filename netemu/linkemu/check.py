"""Fidelity check: measure the RTT and rate each impaired link really gives, warn when off by > 10 %.

Under virtualisation or load every round trip costs the machine itself some time (TCG adds 1-2 ms), so
the RTT is judged by what the emulation *adds* to a baseline measured in the same run: the same
handshake over loopback in the probing node; each delayed hop may also add the timer lateness
measured in the same run. A rate that falls short says why when it can: the kernel's tbf differs
from the lab's, the CPU cannot move that much even over loopback, or the timers now fire later than
the burst was sized for.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field

from ..kernel import netns, procs
from ..labdir import locked
from . import measure, timer, units
from .model import Impairment
from .runtime import delayline_pid
from .render import state_timer_us
from .state import delay_queues, load

TOLERANCE = 0.10
_TCP_IP_HDRS = 52  # IPv4 20 + TCP 20 + timestamps 12


@dataclass
class LinkCheck:
    """What was configured and measured on one link."""

    link: int
    path: str  # 'a:eth0 -> b:eth0' (the probe's endpoints)
    rtt_expected_ms: float | None = None
    rtt_ms: float | None = None
    rtt_base_ms: float | None = None  # the same handshake over loopback: the machine's own share
    rates: list[dict] = field(default_factory=list)  # {from, to, expected_mbit, measured_mbit, ok}
    warnings: list[str] = field(default_factory=list)
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        """No deviation found (a skipped link is not a failure)."""
        return not self.warnings


def _addr(end: dict, other: dict) -> tuple[str, str] | None:
    """A pair of addresses (end's, other's) on a common subnet."""
    for a in end["addresses"]:
        ia = ipaddress.ip_interface(a)
        for b in other["addresses"]:
            ib = ipaddress.ip_interface(b)
            if ia.version == ib.version and ib.ip in ia.network:
                return str(ia.ip), str(ib.ip)
    return None


def _probe_path(state: dict, link: dict) -> tuple[dict, dict, list[tuple[int, int]]] | None:
    """(P end, Q end, [(link index, direction P->Q)]): IP endpoints whose traffic crosses `link`.

    A link into a switch is probed to another IP node on the same switch, across both links.
    """
    a, b = link["ends"]
    if a["kind"] != "switch" and b["kind"] != "switch":
        return a, b, [(link["index"], 0)]
    if a["kind"] == "switch" and b["kind"] == "switch":
        return None
    ip_end, sw_i = (b, 0) if a["kind"] == "switch" else (a, 1)
    sw = link["ends"][sw_i]["node"]
    p_to_link_dir = 1 - sw_i  # ip_end sends: direction from ip_end's side
    found = []
    for other in state["links"]:
        if other["index"] == link["index"]:
            continue
        for j, e in enumerate(other["ends"]):
            peer = other["ends"][1 - j]
            if e["node"] == sw and peer["kind"] != "switch" and _addr(ip_end, peer):
                found.append((ip_end, peer, [(link["index"], p_to_link_dir), (other["index"], j)]))
    # a peer on this machine first (a lab across machines measures where both ends are)
    return next((f for f in found if netns.exists(f[1]["ns"])), found[0] if found else None)


def _kernel_rate(ns: str, dev: str) -> int | None:
    """The rate (bit/s) of the tbf on `dev` in `ns`, as the kernel has it; None if there is none."""
    res = procs.run(ns, ["tc", "-j", "qdisc", "show", "dev", dev])
    try:
        qdiscs = json.loads(res.stdout or "[]")
    except ValueError:
        return None
    rates = [q["options"]["rate"] * 8 for q in qdiscs if q.get("kind") == "tbf" and "rate" in q.get("options", {})]
    return min(rates) if rates else None


def _short_rate_why(limiter: dict, configured_bps: int, expected_bps: float, timer_us: int) -> str:
    """Why the rate limit on `limiter` (a link end: ns, ifname) falls short, as far as can be told."""
    ns, dev = limiter["ns"], limiter["ifname"]
    kernel = _kernel_rate(ns, dev)
    if kernel is None:
        return f"no tbf on {limiter['node']}:{dev} in the kernel (removed outside netemu?)"
    if abs(kernel - configured_bps) > 0.01 * configured_bps:
        return (f"the kernel's tbf on {limiter['node']}:{dev} limits to {kernel / 1e6:.2f} Mbit/s, not the "
                f"configured {configured_bps / 1e6:.2f} (changed outside netemu?)")
    capacity = measure.goodput(ns, ns, "127.0.0.1", seconds=1.0)
    if capacity < expected_bps * (1 + TOLERANCE):
        return (f"this machine moves only {capacity / 1e6:.1f} Mbit/s of TCP even over loopback "
                f"(CPU-bound: virtualisation or load)")
    needed = timer.granularity_us(timer.resolution_us(), timer.lateness_us(), timer.kernel_hz())
    if needed > 1.25 * timer_us:  # a few % of measurement noise explains nothing
        return (f"the kernel's timers now need {needed} µs between sends but the burst covers {timer_us} µs "
                f"(sized at `up`; recreate the lab to resize it)")
    return f"neither the CPU nor the timers explain it (see drops and overlimits: tc -s qdisc in {ns})"


def _imp(state: dict, index: int, d: int) -> Impairment:
    link = next(x for x in state["links"] if x["index"] == index)
    return Impairment.from_json(link["dirs"][d])


def check(lab: str, rate_seconds: float = 3.0, rtt_samples: int = 15) -> list[LinkCheck]:
    """Measure every impaired link of `lab`."""
    with locked(lab):
        state = load(lab)
    out: list[LinkCheck] = []
    line_dead = bool(delay_queues(state)) and delayline_pid(state) is None
    for link in state["links"]:
        imps = [Impairment.from_json(d) for d in link["dirs"]]
        if all(i.empty for i in imps):
            continue
        ends = link["ends"]
        res = LinkCheck(link["index"], f"{ends[0]['node']}:{ends[0]['ifname']} -- {ends[1]['node']}:{ends[1]['ifname']}")
        out.append(res)
        if link.get("admin", "up") != "up":
            res.skipped = "link is down"
            continue
        found = _probe_path(state, link)
        pair = _addr(found[0], found[1]) if found else None
        if not found or not pair:
            res.skipped = "no pair of IP addresses on a common subnet across this link"
            continue
        p, q, hops = found
        away = [e["node"] for e in (p, q) if not netns.exists(e["ns"])]
        if away:  # a lab across machines (--hosts): this machine measures only what it holds both ends of
            res.skipped = f"{' and '.join(away)} not on this machine"
            continue
        res.path = f"{p['node']}:{p['ifname']} -> {q['node']}:{q['ifname']}"
        fwd = [_imp(state, i, d) for i, d in hops]
        rev = [_imp(state, i, 1 - d) for i, d in hops]
        if line_dead and any(i.delays for i in fwd + rev):
            res.warnings.append("the delay line is not running: delayed links pass undelayed")
        expected = sum(i.delay_us for i in fwd + rev) / 1000
        lossy = any(i.loss_pct for i in fwd + rev)
        samples = measure.handshake_rtts(p["ns"], q["ns"], pair[1], count=rtt_samples)
        rtt = measure.median(samples)
        res.rtt_expected_ms = expected
        res.rtt_ms = round(rtt * 1000, 3) if rtt is not None else None
        if rtt is None:
            res.warnings.append("no TCP connection succeeded")
        elif expected > 0:
            base = measure.median(measure.handshake_rtts(p["ns"], p["ns"], "127.0.0.1", count=rtt_samples)) or 0.0
            res.rtt_base_ms = round(base * 1000, 3)
            added = (rtt - base) * 1000
            # Each delayed hop releases packets on a timer (netem's watchdog, the delay line's timerfd):
            # where timers fire late (a VM, a loaded machine) that lateness is the machine's, not the
            # emulation's error. It is measured now, like the baseline.
            delayed = sum(1 for i in fwd + rev if i.delays)
            slack = delayed * timer.lateness_us() / 1000
            if abs(added - expected) > TOLERANCE * expected + slack:
                res.warnings.append(f"RTT {rtt * 1000:.1f} ms: {added:.1f} ms added to the machine's own "
                                    f"{base * 1000:.1f} ms, configured {expected:.1f} ms "
                                    f"({(added / expected - 1) * 100:+.0f}%; timers here fire up to "
                                    f"{slack / max(delayed, 1):.2f} ms late per delayed hop)")
        links = {x["index"]: x for x in state["links"]}
        fwd_senders = [links[i]["ends"][d] for i, d in hops]
        rev_senders = [links[i]["ends"][1 - d] for i, d in hops]
        for sender, receiver, imps_dir, senders, addr in ((p, q, fwd, fwd_senders, pair[1]),
                                                          (q, p, rev, rev_senders, pair[0])):
            rates = [i.bandwidth for i in imps_dir if i.bandwidth]
            if not rates:
                continue
            # The hop with the smallest rate is the bottleneck; its sender's egress holds the tbf.
            limiter = min((i.bandwidth, n, s) for n, (i, s) in enumerate(zip(imps_dir, senders)) if i.bandwidth)[2]
            mtu = link["mtu"]
            expected_bps = min(rates) * (mtu - _TCP_IP_HDRS) / (mtu + units.ETH_HEADER)
            entry = {"from": f"{sender['node']}:{sender['ifname']}", "to": f"{receiver['node']}:{receiver['ifname']}",
                     "expected_mbit": round(expected_bps / 1e6, 3)}
            if lossy:
                entry["skipped"] = "loss configured: TCP cannot fill the link"
                res.rates.append(entry)
                continue
            seconds = max(rate_seconds, 30 * expected / 1000)
            bps = measure.goodput(sender["ns"], receiver["ns"], addr, seconds=seconds)
            entry["measured_mbit"] = round(bps / 1e6, 3)
            entry["ok"] = abs(bps - expected_bps) <= TOLERANCE * expected_bps
            if not entry["ok"]:
                why = ""
                if bps < expected_bps:
                    entry["why"] = _short_rate_why(limiter, min(rates), expected_bps, state_timer_us(state))
                    why = f": {entry['why']}"
                res.warnings.append(f"rate {entry['from']} -> {entry['to']}: {bps / 1e6:.2f} Mbit/s of TCP payload, "
                                    f"expected {expected_bps / 1e6:.2f} ({(bps / expected_bps - 1) * 100:+.0f}%){why}")
            res.rates.append(entry)
    return out
