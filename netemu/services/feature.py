"""Registration of the services feature: owns the node key `services:`.

Its plan comes last, so services start once links, routes, NAT, link emulation and DNS are in place.
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

from ..features import Feature

if TYPE_CHECKING:
    from ..errors import Issue
    from ..model import Topology
    from ..ops import Op
    from ..source import Source
    from .model import Services


def parse(src: Source, topo: Topology) -> tuple[Services | None, list[Issue]]:
    """Every node's services, in start order."""
    from .parse import parse as services_parse

    return services_parse(src, topo)


def plan(topo: Topology, model: Services) -> list[Op]:
    """One StartProcess per service, in start order: each must be ready before the next starts."""
    from ..ops import StartProcess

    return [StartProcess(topo.namespace(s.node), s.process, s.argv, ready=s.ready, ready_timeout=s.ready_timeout,
                         env=s.env, cwd=s.cwd) for s in model.services]


def preflight(topo: Topology, model: Services) -> list[str]:
    """Programs that are not installed and working directories that do not exist."""
    out = []
    for s in model.services:
        prog = s.argv[0]
        if shutil.which(prog) is None:
            hint = " (apt-get install iperf3)" if s.builtin == "iperf3" else ""
            out.append(f"service {s.node}:{s.name}: {prog}: command not found{hint}")
        if s.cwd is not None and not os.path.isdir(s.cwd):
            out.append(f"service {s.node}:{s.name}: cwd {s.cwd}: no such directory")
    return out


def lab_status(lab: str) -> tuple[dict, list[str]]:
    """Each service: running or not, ready or not (its probe, checked now), its log."""
    from .runtime import service_states

    states = service_states(lab)
    if not states:
        return {}, []
    lines = ["services:"]
    for st in states:
        lines.append(f"  {st['node'] + ':' + st['service']:<24} {st['state']:<22} pid {st['pid'] or '-':<8} "
                     f"{st['probe']}")
    return {"services": states}, lines


FEATURE = Feature(
    name="services",
    node_keys=frozenset({"services"}),
    parse=parse,
    plan=plan,
    preflight=preflight,
    lab_status=lab_status,
)
