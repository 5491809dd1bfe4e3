"""Turn a state into tc and iptables commands, per namespace. Pure: used by plan and runtime alike.

Where each impairment goes:
- rate (both backends): TBF on the sender's egress. `burst` and `limit` are given in bytes, never
  as `latency`, which tc rounds through its tick tables (the TBF latency-rounding trap).
- netem backend: netem at the sender's egress for delay, jitter and loss; with a rate, TBF is
  netem's *child* (netem root handle 1:, tbf parent 1:1), never netem under an HTB class (the
  classic trap: HTB sees a non-work-conserving child and bursts).
- fallback backend: loss (`statistic` DROP) and delay (NFQUEUE to the delay line) in the raw
  PREROUTING of the *receiver* (or the switch port it enters, via br_netfilter + physdev), never
  in the sender's OUTPUT, where held packets count against TCP Small Queues and TCP collapses.
"""

from __future__ import annotations

from . import timer, units
from .model import Impairment
from .state import CHAIN, Direction, directions

DEFAULT_QUEUE_SECONDS = 0.1  # default bottleneck buffer: 100 ms at the link's rate
_MIN_QUEUE_FRAMES = 20
_NETEM_MIN_LIMIT = 1000
_ASSUMED_RATE = 10 * 10**9  # for sizing netem's queue when no rate bounds it


def tbf_args(imp: Impairment, mtu: int, timer_us: int = timer.DEFAULT_US) -> list[str]:
    """`rate … burst … limit …` for the rate limit of one direction.

    The burst covers `timer_us` of traffic (the kernel's timer granularity plus its measured lateness):
    a smaller bucket overflows while TBF's watchdog is late, and the link loses rate.
    """
    assert imp.bandwidth
    frame = mtu + units.ETH_HEADER
    bytes_per_s = imp.bandwidth // 8
    burst = timer.burst_bytes(imp.bandwidth, frame, timer_us)
    if imp.queue is None:
        limit = max(_MIN_QUEUE_FRAMES * frame, int(bytes_per_s * DEFAULT_QUEUE_SECONDS))
    elif imp.queue[0] == "packets":
        limit = imp.queue[1] * frame
    else:
        limit = imp.queue[1]
    return ["rate", units.fmt_rate(imp.bandwidth), "burst", str(burst), "limit", str(limit)]


def netem_args(imp: Impairment, mtu: int) -> list[str]:
    """`delay … loss … limit …` of netem for one direction."""
    args: list[str] = []
    if imp.delay_us or imp.jitter_us:
        args += ["delay", units.fmt_time(imp.delay_us)]
        if imp.jitter_us:
            args.append(units.fmt_time(imp.jitter_us))
    if imp.loss_pct:
        args += ["loss", units.fmt_percent(imp.loss_pct)]
    # netem's limit counts every packet it holds, delayed ones included: size it to the
    # bandwidth-delay product or a fast link silently drops (default 1000 packets).
    rate = imp.bandwidth or _ASSUMED_RATE
    in_flight = rate / 8 * (imp.delay_us + imp.jitter_us) / 1e6 / (mtu + units.ETH_HEADER)
    args += ["limit", str(max(_NETEM_MIN_LIMIT, int(in_flight * 1.5)))]
    return args


def tc_lines(d: Direction, backend: str, mtu: int, runtime: bool = False,
             timer_us: int = timer.DEFAULT_US) -> list[str]:
    """`tc -batch` lines configuring the sender's egress for direction `d`.

    At `up` an unimpaired direction needs nothing; at runtime it needs its qdisc removed.
    """
    dev = d.sender["ifname"]
    imp = d.imp
    netem = backend == "netem" and (imp.delays or imp.loss_pct)
    if netem:
        lines = [f"qdisc replace dev {dev} root handle 1: netem {' '.join(netem_args(imp, mtu))}"]
        if imp.bandwidth:
            lines.append(f"qdisc replace dev {dev} parent 1:1 handle 10: tbf {' '.join(tbf_args(imp, mtu, timer_us))}")
        return lines
    if imp.bandwidth:
        return [f"qdisc replace dev {dev} root handle 1: tbf {' '.join(tbf_args(imp, mtu, timer_us))}"]
    return [f"qdisc del dev {dev} root"] if runtime else []


def state_timer_us(state: dict) -> int:
    """The timer granularity a lab's rate limits are sized for (state files before it existed: the default)."""
    return int(state.get("timer_us") or timer.DEFAULT_US)


def tc_batches(state: dict) -> dict[str, list[str]]:
    """Namespace -> `tc -batch` lines for the lab's initial impairments."""
    mtus = {link["index"]: link["mtu"] for link in state["links"]}
    out: dict[str, list[str]] = {}
    for d in directions(state):
        lines = tc_lines(d, state["backend"], mtus[d.link], timer_us=state_timer_us(state))
        if lines:
            out.setdefault(d.sender["ns"], []).extend(lines)
    return out


def hook_rules(d: Direction) -> list[list[str]]:
    """iptables rule bodies (after `-A CHAIN`) for one direction under the fallback backend."""
    base = [*d.hook_match, "-m", "comment", "--comment", d.label]
    rules = []
    if d.imp.loss_pct:
        rules.append(base + ["-m", "statistic", "--mode", "random", "--probability",
                             units.probability(d.imp.loss_pct), "-j", "DROP"])
    if d.imp.delays:
        rules.append(base + ["-j", "NFQUEUE", "--queue-num", str(d.queue), "--queue-bypass"])
    return rules


def hook_namespaces(state: dict) -> list[str]:
    """Namespaces that hold (or may hold) fallback rules, in link order."""
    return list(dict.fromkeys(d.hook_ns for d in directions(state)))


def restore_text(state: dict, ns: str, with_jump: bool) -> str | None:
    """iptables-restore --noflush input that (re)writes the lab's chain in `ns`; None if it has no rules.

    Declaring the chain in --noflush mode empties it, so the same text serves `up` and runtime.
    """
    if state["backend"] != "fallback":
        return None
    rules = [r for d in directions(state) if d.hook_ns == ns for r in hook_rules(d)]
    if not rules:
        return None
    lines = ["*raw", f":{CHAIN} - [0:0]"]
    if with_jump:
        lines.append(f"-A PREROUTING -m comment --comment netemu-linkemu -j {CHAIN}")
    lines += [f"-A {CHAIN} " + " ".join(r) for r in rules]  # tokens never need quoting
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def needs_bridge_hook(state: dict) -> list[str]:
    """Switch namespaces where fallback rules match bridged packets (br_netfilter must call iptables)."""
    if state["backend"] != "fallback":
        return []
    return list(dict.fromkeys(d.hook_ns for d in directions(state)
                              if d.receiver["kind"] == "switch" and (d.imp.delays or d.imp.loss_pct)))
