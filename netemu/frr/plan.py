"""The operations that run FRR in each router: configs, a dry run of each, the daemons, extra lines."""

from __future__ import annotations

import shlex

from ..model import Topology
from ..ops import Op, RunCommand, StartProcess, WriteFile
from . import paths
from .derive import FrrLab
from .install import USER, Install, locate
from .ops import CheckConfigs, OwnedDirs

READY_TIMEOUT = 20.0  # seconds; a daemon reading its config and opening its sockets takes well under one


def daemon_argv(inst: Install, lab: str, node: str, daemon: str) -> tuple[str, ...]:
    """How one daemon runs: in the foreground, every path in the router's own directory, no TCP VTY."""
    d = paths.node_dir(lab, node)
    argv = [inst.daemon(daemon), "-f", str(d / f"{daemon}.conf"), "-i", str(d / f"{daemon}.pid"),
            "-z", str(paths.zserv(lab, node)), "--vty_socket", str(d), "-P", "0", "-u", USER, "-g", USER]
    if daemon == "bfdd":
        argv += ["--bfdctl", str(d / "bfdd.sock")]
    return tuple(argv)


def vtysh_argv(inst: Install, lab: str, node: str) -> tuple[str, ...]:
    """vtysh talking to this router's daemons only (their VTY sockets are in its directory)."""
    d = str(paths.node_dir(lab, node))
    return (inst.vtysh, "--vty_socket", d, "--config_dir", d)


def _wrapper(inst: Install, lab: str, node: str) -> str:
    return ("#!/bin/sh\n# netemu: vtysh of router " + node + " in lab " + lab + "\n"
            f"exec {shlex.join(vtysh_argv(inst, lab, node))} \"$@\"\n")


def plan(topo: Topology, frr: FrrLab) -> list[Op]:
    """Write every config and check them all in one dry run (nothing starts if a line is wrong), then start
    the daemons."""
    inst = locate()
    lab = topo.name
    files: list[Op] = []
    dirs: list[Op] = []
    parts: list[tuple[str, str, str]] = []
    zebras: list[Op] = []
    others: list[Op] = []
    finish: list[Op] = []
    for r in frr.routers:
        ns = topo.namespace(r.node)
        d = paths.node_dir(lab, r.node)
        files += [WriteFile(str(d / f"{daemon}.conf"), text) for daemon, text in r.configs]
        files.append(WriteFile(str(d / "vtysh.conf"), "! netemu: vtysh of this router\n"))
        files.append(WriteFile(str(paths.bin_dir(lab, r.node) / "vtysh"), _wrapper(inst, lab, r.node), 0o755))
        # The daemons drop root for the user frr: it must own the directory their pid files and sockets go to.
        dirs.append(OwnedDirs(ns, (str(d), str(paths.tmp_dir(lab, r.node))), USER))
        binds = paths.binds(lab, r.node)
        # Each file from the top configuration level, as its daemon (or vtysh -f for extra.conf) reads it.
        reset = f"hostname {r.node}"
        parts += [(f"{r.node} {daemon}.conf", reset, str(d / f"{daemon}.conf")) for daemon in r.daemons]
        if r.extra:
            files.append(WriteFile(str(d / "extra.conf"), r.extra + "\n"))
            parts.append((f"{r.node} frr: lines", reset, str(d / "extra.conf")))
            finish.append(RunCommand(ns, (*vtysh_argv(inst, lab, r.node), "-f", str(d / "extra.conf")),
                                     batch="frr-extra"))
        zebra = f"frr-{r.node}-zebra"
        for daemon in r.daemons:
            ready = paths.zserv(lab, r.node) if daemon == "zebra" else paths.vty(lab, r.node, daemon)
            (zebras if daemon == "zebra" else others).append(
                StartProcess(ns, f"frr-{r.node}-{daemon}", daemon_argv(inst, lab, r.node, daemon),
                             ready=("unix", str(ready)), ready_timeout=READY_TIMEOUT, binds=binds,
                             batch="frr-start", after="" if daemon == "zebra" else zebra))
    # Every zebra at once; each router's other daemons as soon as ITS zebra serves (FRR's zclient retries a
    # refused connection only 10 s later): they talk to their zebra only (when bfdd connects, zebra asks
    # bgpd and ospfd to register their BFD sessions again). The routers are independent of each other.
    ordered = zebras + others
    checks: list[Op] = [
        CheckConfigs(topo.namespace(first), (inst.vtysh, "--config_dir", str(paths.node_dir(lab, first)), "-C",
                                             "-f", "/dev/stdin"), tuple(parts))
        for first in [r.node for r in frr.routers[:1]]]
    return files + dirs + checks + ordered + finish


def routers_needing(frr: FrrLab) -> set[str]:
    """Every daemon some router of the lab runs."""
    return {d for r in frr.routers for d in r.daemons}

