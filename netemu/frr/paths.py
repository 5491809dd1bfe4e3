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


# Paths compiled into Debian's FRR 8.4 that no option moves: ospfd/ospf6d keep graceful-restart state
# and ospf6d its authentication sequence number in /var/run/frr, bfdd may open /var/run/frr/bfdd.sock,
# and every daemon (a dry run too) makes a directory in /var/tmp/frr for its crash log.
SYSTEM_RUN = "/run/frr"  # /var/run is a link to /run
SYSTEM_TMP = "/var/tmp"  # /var/tmp/frr may not exist: its parent is what can be covered


def tmp_dir(lab: str, node: str) -> Path:
    """What a router's daemons see as /var/tmp."""
    return node_dir(lab, node) / "tmp"


def binds(lab: str, node: str) -> tuple[tuple[str, str], ...]:
    """The router's own directories shown to its daemons (only) at FRR's compiled-in paths, so nothing
    they write lands in the host's shared directories; `down` removes them with the router's directory."""
    return ((str(node_dir(lab, node)), SYSTEM_RUN), (str(tmp_dir(lab, node)), SYSTEM_TMP))


def zserv(lab: str, node: str) -> Path:
    return node_dir(lab, node) / "zserv.api"


def vty(lab: str, node: str, daemon: str) -> Path:
    return node_dir(lab, node) / f"{daemon}.vty"
