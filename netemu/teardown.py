"""Remove a lab completely from its journal: processes, namespaces, files, state."""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass

from . import journal as journal_mod
from .kernel import netns, procs
from .labdir import ETC_NETNS, LabDir


@dataclass(frozen=True)
class Removed:
    """What a teardown removed."""

    namespaces: int
    processes: int
    files: int


def teardown(lab: LabDir) -> Removed:
    """Undo everything the lab's journal lists; safe to repeat, safe after kill -9 of `up`."""
    created = journal_mod.read(lab.journal)
    # Kill the lab's processes first: a process inside a namespace keeps it (and its
    # interfaces) alive after the name is gone. Journaled PIDs are checked by start time;
    # anything else still running inside our namespaces (e.g. started by `netemu exec`) goes too.
    inodes = {ino for ino in (netns.inode(n) for n in created.namespaces) if ino is not None}
    victims: dict[int, int | None] = {pid: st for pid, st in created.processes.items() if procs.alive(pid, st)}
    for pid in netns.pids_in(inodes):
        victims.setdefault(pid, procs.start_time(pid))
    procs.kill_all(victims)
    removed_ns = sum(1 for name in created.namespaces if netns.delete(name))
    for path in created.mounts:
        if path.startswith(str(lab.path) + "/"):  # only namespace files the lab holds in its own run dir
            netns.release(path)
    removed_files = 0
    for path in created.files:
        with contextlib.suppress(FileNotFoundError):
            if os.path.isdir(path) and not os.path.islink(path):
                # /etc/netns/NS is our symlink; if someone replaced it with a directory, the name is still ours
                shutil.rmtree(path)
            else:
                os.unlink(path)
            removed_files += 1
    for d in reversed(created.dirs):
        # Only directories the journal says we created, and only under /etc/netns or our run dir.
        if d.startswith(str(ETC_NETNS) + "/") or d.startswith(str(lab.path)):
            shutil.rmtree(d, ignore_errors=True)
        elif d == str(ETC_NETNS):
            with contextlib.suppress(OSError):  # another lab may be using it: remove only if empty
                os.rmdir(d)
    lab.remove()
    return Removed(removed_ns, len(victims), removed_files)

