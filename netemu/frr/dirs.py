"""Make a router's FRR directories and give them to the daemons' user, in netemu itself (no process)."""

from __future__ import annotations

import os
import pwd
from pathlib import Path
from typing import TYPE_CHECKING

from .ops import OwnedDirs

if TYPE_CHECKING:
    from ..apply import Runner


def make(runner: Runner, op: OwnedDirs) -> None:
    """Create each directory (journaled) and hand it to op.user; only directories inside the lab's own."""
    entry = pwd.getpwnam(op.user)
    lab = str(runner.lab.path) + "/"
    for p in op.paths:
        if not p.startswith(lab) or "/../" in p or p.endswith("/.."):
            raise RuntimeError(f"{p} is not inside the lab's directory {lab}")
        d = Path(p)
        runner.mkdirs(d)
        os.chown(d, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
        os.chmod(d, 0o755, follow_symlinks=False)
