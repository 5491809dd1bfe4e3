"""The link-emulation feature: the keys it owns, its plan and its preflight.

Its modules are imported only when a topology impairs a link, so plain labs start fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import MissingFeatureError
from ..features import Feature
from ..ops import Op, RunCommand, StartProcess, Sysctl, WriteFile

if TYPE_CHECKING:
    from ..errors import Issue
    from ..model import Topology
    from ..source import Source
    from . import caps as capsmod
    from .model import LinkEmu

# The per-link keys this feature owns (linkemu.model.FIELDS plus `from:`; a unit test keeps them equal).
LINK_KEYS = frozenset({"bandwidth", "delay", "jitter", "loss", "queue", "from"})

DELAYLINE = str(Path(__file__).with_name("delayline.py"))
PROCESS = "linkemu-delay"


def delayline_argv(state_file: str) -> tuple[str, ...]:
    """The command line of a lab's delay-line process."""
    return (sys.executable, DELAYLINE, state_file)


def parse(src: Source, topo: Topology) -> tuple[LinkEmu, list[Issue]]:
    """The impairments of every link, and the problems found."""
    from .parse import parse as le_parse

    return le_parse(src, topo)


def plan(topo: Topology, model: LinkEmu) -> list[Op]:
    """Operations that impair the lab's links, run after links, addresses and routes exist."""
    if not model.links:
        return []  # runtime changes build the state from the saved topology when needed
    from . import caps as capsmod
    from . import render
    from .state import READY, build, delay_queues, dumps, state_path

    st = build(topo, model, capsmod.backend(), capsmod.timer_us())
    path = state_path(topo.name)
    ops: list[Op] = [WriteFile(path, dumps(st))]
    for ns, lines in render.tc_batches(st).items():
        ops.append(RunCommand(ns, ("tc", "-batch", "-"), "\n".join(lines) + "\n"))
    for ns in render.needs_bridge_hook(st):
        ops.append(Sysctl(ns, "net.bridge.bridge-nf-call-iptables", "1"))
        if st["ipv6"]:
            ops.append(Sysctl(ns, "net.bridge.bridge-nf-call-ip6tables", "1"))
    queues = delay_queues(st)
    if queues:
        # Started before the rules, so no packet is hooked before its queue is bound.
        ops.append(StartProcess(queues[0]["ns"], PROCESS, delayline_argv(path),
                                os.path.join(st["run_dir"], READY)))
    for ns in render.hook_namespaces(st):
        text = render.restore_text(st, ns, with_jump=True)
        if text is None:
            continue
        ops.append(RunCommand(ns, ("iptables-restore", "--noflush"), text))
        if st["ipv6"]:
            ops.append(RunCommand(ns, ("ip6tables-restore", "--noflush"), text))
    return ops


def problems(model: LinkEmu, caps: capsmod.Caps, topo: Topology | None = None) -> list[str]:
    """What the lab needs that this machine lacks (empty: it can run)."""
    from . import caps as capsmod

    needs = model.needs()
    out: list[str] = []
    if "bandwidth" in needs and not caps.rate:
        out.append(f"bandwidth limits need the tbf qdisc: {caps.why('tbf')}")
    if capsmod.backend(caps) == "netem":
        return out
    if needs & {"delay", "jitter"} and not caps.delay_line:
        out.append(f"delay and jitter need netem (missing: {caps.why('netem')}) or NFQUEUE for the userspace "
                   f"delay line (missing: {caps.why('iptables_nfqueue', 'nfqueue_socket', 'iptables_restore')})")
    if "loss" in needs and not caps.random_drop:
        out.append(f"loss needs netem (missing: {caps.why('netem')}) or the iptables statistic match "
                   f"(missing: {caps.why('iptables_statistic')})")
    if topo is not None:
        by_index = {link.index: link for link in topo.links}
        ipv6 = False
        into_switch = []
        for li in model.links:
            link = by_index[li.link]
            for imp, receiver in ((li.ab, link.b), (li.ba, link.a)):
                if not (imp.delays or imp.loss_pct):
                    continue
                if topo.node(receiver.node).is_switch:
                    into_switch.append(f"links[{li.link}] into {receiver.node}")
                ipv6 |= any(a.version == 6 for a in (*link.a.addresses, *link.b.addresses))
        if into_switch and not caps.bridge_hook:
            out.append(f"delay or loss on traffic entering a switch ({', '.join(into_switch[:3])}) needs "
                       f"br_netfilter and the physdev match without netem: "
                       f"{caps.why('br_netfilter', 'iptables_physdev')}")
        if ipv6 and needs & {"delay", "jitter"} and not caps.delay_line6:
            out.append(f"delay on IPv6 traffic needs ip6tables NFQUEUE: {caps.why('ip6tables_nfqueue')}")
    return out


def preflight(topo: Topology, model: LinkEmu) -> list[str]:
    """Problems with this machine, checked before `up` creates anything."""
    if not model.links:
        return []
    from . import caps as capsmod

    try:
        caps = capsmod.probe()
    except MissingFeatureError as e:
        return [str(e)]
    return problems(model, caps, topo)


def lab_status(lab: str) -> tuple[dict, list[str]]:
    """Impaired links and the delay line's health, for `netemu status LAB`."""
    from . import status

    return status.describe(lab), status.lines(lab)


FEATURE = Feature(
    name="linkemu",
    link_keys=LINK_KEYS,
    parse=parse,
    plan=plan,
    preflight=preflight,
    lab_status=lab_status,
)
