"""The link-emulation feature: the keys it owns, its plan and its preflight.

Its modules are imported only when a topology impairs a link, so plain labs start fast.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..errors import MissingFeatureError
from ..features import Feature
from ..ops import Op, RunCommand, StartProcess, Sysctl, WriteFile
from .keys import LINK_KEYS
from .needs import problems
from .process import DELAYLINE, PROCESS, delayline_argv  # DELAYLINE: re-exported for the golden tests

if TYPE_CHECKING:
    from ..errors import Issue
    from ..model import Topology
    from ..source import Source
    from .model import LinkEmu

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
