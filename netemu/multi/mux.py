"""One ssh connection per machine for a lab across machines (OpenSSH's ControlMaster).

Every command in a node on another machine is an ssh session; opening a connection for each costs a
TCP and key exchange every time. The coordinator keeps one master connection per machine, its control
socket in the lab's own directory on the coordinator, /run/netemu/.multi/LAB.ssh/ (mode 0700, made at
`up` after the lab's record, checked before use, its masters told to exit and the directory removed by
`down`). An idle master also exits by itself after PERSIST seconds. The user's inventory wins: when
`ansible_ssh_common_args` set any Control* option, netemu adds none of its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from ..errors import LabError
from ..labdir import RUN_DIR, untrusted_dir
from ..names import check_lab
from .inventory import Machine

RECORDS = RUN_DIR / ".multi"
PERSIST = 300  # seconds an idle master connection stays (down closes it at once)
ALIVE_INTERVAL, ALIVE_COUNT = 3, 3  # a master whose machine stops answering for ~9 s gives up


def control_dir(lab: str) -> Path:
    """The directory of lab `lab`'s control sockets (the name checked: nothing outside RECORDS)."""
    return RECORDS / f"{check_lab(lab)}.ssh"


def _users_own(m: Machine) -> bool:
    """Whether the inventory's ssh arguments already say how to share connections."""
    return any(re.match(r"(-o)?\s*control", a, re.IGNORECASE) for a in m.common_args)


def options(m: Machine) -> list[str]:
    """The ssh options that share one connection to `m`, or none (no lab directory, or the user's own)."""
    if not m.control or _users_own(m):
        return []
    # A short name of our own rather than %C (40 characters): a unix socket path has 108 bytes at most,
    # and ssh adds 17 while it creates the socket.
    key = "\0".join([m.name, m.host, str(m.port or ""), m.user or ""])
    path = os.path.join(m.control, hashlib.sha256(key.encode()).hexdigest()[:16])
    # A master outlives each command: without keepalives a machine that became unreachable would hold
    # every later session open forever instead of failing like a new connection does (ConnectTimeout).
    return ["-o", "ControlMaster=auto", "-o", f"ControlPath={path}", "-o", f"ControlPersist={PERSIST}",
            "-o", f"ServerAliveInterval={ALIVE_INTERVAL}", "-o", f"ServerAliveCountMax={ALIVE_COUNT}"]


def _problem(d: Path) -> str | None:
    if not d.exists():
        return None
    return untrusted_dir(d, (RECORDS, d))


def make(lab: str) -> Path:
    """Create the lab's control directory (mode 0700); LabError when a path on the way is not netemu's."""
    d = control_dir(lab)
    RECORDS.mkdir(mode=0o755, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        d.mkdir(mode=0o700)
    problem = _problem(d)
    if problem:
        raise LabError(f"lab {lab!r}: cannot keep ssh connections in {d}: {problem}")
    return d


def usable(lab: str) -> str | None:
    """The lab's control directory when it exists and can be trusted, else None (plain ssh then)."""
    d = control_dir(lab)
    return str(d) if d.is_dir() and _problem(d) is None else None


def close(lab: str, machines: list[Machine], remove: bool = True) -> None:
    """Tell each machine's master to exit, then (with `remove`) remove the lab's control directory."""
    from .remote import ssh_argv

    d = control_dir(lab)
    if not d.is_dir() or _problem(d):
        return
    procs = []
    for m in machines:
        opts = options(m)
        if opts and os.path.exists(opts[3].split("=", 1)[1]):
            argv = ssh_argv(m, [])
            # `ssh -O exit HOST`: the same options (so the same socket), no command
            argv = argv[:argv.index("--")]
            procs.append(subprocess.Popen([argv[0], "-O", "exit", *argv[1:]], stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for p in procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if remove:
        shutil.rmtree(d, ignore_errors=True)
