"""Where FRR is installed on this machine, and what is missing for netemu to run it."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
from dataclasses import dataclass

from .paths import SYSTEM_RUN, SYSTEM_TMP

# Debian's `frr` package puts the daemons here; NETEMU_FRR_DIR points elsewhere (tests use it to
# simulate a machine without FRR).
DAEMON_DIR_ENV = "NETEMU_FRR_DIR"
DEFAULT_DAEMON_DIR = "/usr/lib/frr"
INSTALL_HINT = "apt-get install -y frr  (or: bash vagrant/provision.sh)"
# The daemons drop privileges to this user; their VTY sockets belong to the group `frrvty`, a name
# compiled into Debian's FRR, and the daemons refuse to start unless the user is a member of it.
USER = "frr"
VTY_GROUP = "frrvty"


@dataclass(frozen=True)
class Install:
    """The FRR programs netemu runs."""

    daemon_dir: str
    vtysh: str

    def daemon(self, name: str) -> str:
        """Absolute path of a daemon (zebra, ospfd…)."""
        return os.path.join(self.daemon_dir, name)


def locate() -> Install:
    """The FRR installation netemu uses (paths only; see `problems` for whether it is usable)."""
    daemon_dir = os.environ.get(DAEMON_DIR_ENV, DEFAULT_DAEMON_DIR)
    return Install(daemon_dir, shutil.which("vtysh") or "/usr/bin/vtysh")


def problems(daemons: set[str] | None = None) -> list[str]:
    """What this machine lacks to run `daemons` (default: zebra only); empty when FRR is usable."""
    inst = locate()
    out: list[str] = []
    missing = [d for d in sorted({"zebra"} | (daemons or set())) if not os.access(inst.daemon(d), os.X_OK)]
    if missing:
        out.append(f"FRR is not installed (no {', '.join(missing)} in {inst.daemon_dir}): {INSTALL_HINT}")
        return out
    if not os.access(inst.vtysh, os.X_OK):
        out.append(f"FRR's vtysh is missing ({inst.vtysh}): {INSTALL_HINT}")
    try:
        pwd.getpwnam(USER)
    except KeyError:
        out.append(f"the user {USER!r} the FRR daemons run as does not exist: reinstall FRR ({INSTALL_HINT})")
        return out
    try:
        members = grp.getgrnam(VTY_GROUP).gr_mem
    except KeyError:
        out.append(f"the group {VTY_GROUP!r} FRR's daemons need does not exist: groupadd -r {VTY_GROUP} && "
                   f"usermod -a -G {VTY_GROUP} {USER}")
        return out
    # The router's directories are bind-mounted over these (frr.paths.binds): a mount needs its target.
    for target, fix in ((SYSTEM_RUN, f"install -d -o {USER} -g {USER} {SYSTEM_RUN}  (FRR's package makes it at boot)"),
                        (SYSTEM_TMP, f"install -d -m 1777 {SYSTEM_TMP}")):
        if not os.path.isdir(target) or os.path.islink(target):
            out.append(f"{target} is missing; netemu shows each router its own directory there: {fix}")
    if USER not in members and pwd.getpwnam(USER).pw_gid != grp.getgrnam(VTY_GROUP).gr_gid:
        out.append(f"the user {USER!r} is not in the group {VTY_GROUP!r}, so FRR's daemons refuse to start: "
                   f"usermod -a -G {VTY_GROUP} {USER}")
    return out


def version() -> str | None:
    """FRR's version string (e.g. '8.4.4'), or None when it cannot be run."""
    import subprocess

    inst = locate()
    try:
        res = subprocess.run([inst.daemon("zebra"), "--version"], capture_output=True, text=True, timeout=10)
    except OSError:
        return None
    first = (res.stdout or "").splitlines()[:1]
    return first[0].split()[-1] if first else None
