"""Where a router's FRR files live: all under the lab's run directory, never /etc/frr or /var/run/frr."""

from __future__ import annotations

from pathlib import Path

from ..labdir import RUN_DIR, LabDir


def node_dir(lab: str, node: str) -> Path:
    """Configs, pid files, the zserv socket and the VTY sockets of one router's daemons."""
    return RUN_DIR / lab / "frr" / node


def bin_dir(lab: str, node: str) -> Path:
    """Programs `netemu exec` puts first on the node's PATH (the `vtysh` that talks to this node)."""
    return LabDir(lab).bin_dir(node)


def zserv(lab: str, node: str) -> Path:
    return node_dir(lab, node) / "zserv.api"


def vty(lab: str, node: str, daemon: str) -> Path:
    return node_dir(lab, node) / f"{daemon}.vty"
