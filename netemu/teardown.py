"""Remove a lab completely from its journal: processes, namespaces, files, state.

Teardown runs as root and obeys a file, so it trusts nothing it reads: the state directory must be
one only root could have written, and every journal record must name something of this lab (its
namespaces, paths inside its run directory or exactly /etc/netns/LAB-NODE, processes whose PID,
start time and namespace all still match). Anything else is reported and left alone.
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import shutil
import stat
from dataclasses import dataclass, field

from . import journal as journal_mod
from .kernel import netns, procs
from .labdir import ETC_NETNS, LabDir, untrusted_dir
from .names import lab_namespace_problem


@dataclass(frozen=True)
class Removed:
    """What a teardown removed, and what it refused to touch (one sentence each)."""

    namespaces: int
    processes: int
    files: int
    kept: tuple[str, ...] = field(default=())


def teardown(lab: LabDir) -> Removed:
    """Undo everything the lab's journal lists; safe to repeat, safe after kill -9 of `up`.

    Raises LabError, touching nothing, when the state directory cannot be trusted.
    """
    lab.check_trusted()
    created = journal_mod.read(lab.journal)
    kept: list[str] = list(created.rejected)
    namespaces = []
    for ns in created.namespaces:
        why = lab_namespace_problem(lab.name, ns)
        if why:
            kept.append(f"ignored namespace record: {why}")
        else:
            namespaces.append(ns)
    # Kill the lab's processes first: a process inside a namespace keeps it (and its
    # interfaces) alive after the name is gone. A journaled PID counts only if its start time and
    # namespace still match; anything else running inside our namespaces (e.g. started by
    # `netemu exec`) goes too.
    ns_inode = {ns: netns.inode(ns) for ns in namespaces}
    inodes = {ino for ino in ns_inode.values() if ino is not None}
    victims: dict[int, int | None] = {}
    for pid, st in created.processes.items():
        ino = ns_inode.get(created.process_ns.get(pid) or "")
        if ino is not None and procs.same_process(pid, st, ino):
            victims[pid] = st
    for rec in created.process_records:  # log pumps run on the host: identified by their command line
        pid = rec["pid"]
        if rec.get("of") and rec.get("ns") is None and procs.is_log_pump(pid, rec.get("start")):
            victims[pid] = rec.get("start")
    for pid in netns.pids_in(inodes):
        st = procs.start_time(pid)
        if st is not None:
            victims.setdefault(pid, st)
    procs.kill_all(victims)
    removed_ns = sum(1 for name in namespaces if netns.delete(name))
    for raw in created.mounts:  # namespace files (UTS) the lab holds by a bind mount in its own run dir
        path = os.path.normpath(raw)
        if _inside(path, str(lab.path)) and untrusted_dir(os.path.dirname(path), ()) is None:
            netns.release(path)
        else:
            kept.append(f"ignored mount record outside the lab: {raw}")

    def own_etc(path: str) -> bool:  # exactly /etc/netns/LAB-NODE
        return os.path.dirname(path) == str(ETC_NETNS) and lab_namespace_problem(lab.name, os.path.basename(path)) is None

    removed_files = 0
    in_run_dir: list[str] = []
    etc_files: dict[str, list[str]] = {}  # /etc/netns/NS -> names netemu wrote there (directly or via its link)
    for raw in created.files:
        path = os.path.normpath(raw)  # lexical: '..' cannot climb out of a prefix; links are not followed
        if own_etc(path):
            etc_files.setdefault(path, [])
            target = os.path.normpath(created.link_targets.get(raw) or "")
            if _inside(target, str(lab.path)) and untrusted_dir(target, ()) is None:
                with contextlib.suppress(OSError):
                    etc_files[path] += [os.path.join(target, n) for n in os.listdir(target)]
        elif own_etc(os.path.dirname(path)):
            etc_files.setdefault(os.path.dirname(path), []).append(path)
        elif _inside(path, str(lab.path)):
            in_run_dir.append(path)
        else:
            kept.append(f"ignored file record outside the lab: {raw}")
    for etc, written in etc_files.items():  # first: they are compared with the files in the run dir
        removed_files += _remove_etc_netns(etc, written, kept)
    for path in in_run_dir:
        if untrusted_dir(os.path.dirname(path), ()) is None and _unlink(path):
            removed_files += 1
    for raw in reversed(created.dirs):
        d = os.path.normpath(raw)
        if d == str(ETC_NETNS):
            with contextlib.suppress(OSError):  # another lab may be using it: remove only if empty
                os.rmdir(d)
        elif own_etc(d):
            if d not in etc_files:
                _remove_etc_netns(d, [], kept)
        elif _inside(d, str(lab.path)):
            if untrusted_dir(d, ()) is None:
                shutil.rmtree(d, ignore_errors=True)  # rmtree never follows links below d
        else:
            kept.append(f"ignored directory record outside the lab: {raw}")
    lab.remove()
    return Removed(removed_ns, len(victims), removed_files, tuple(kept))


def _inside(path: str, base: str) -> bool:
    """Whether normalised absolute `path` lies strictly below `base`."""
    return os.path.isabs(path) and path.startswith(base.rstrip("/") + "/")


def _unlink(path: str) -> bool:
    """Remove a file or link (never a directory, never what a link points at)."""
    try:
        if stat.S_ISDIR(os.lstat(path).st_mode):
            return False
        os.unlink(path)
        return True
    except OSError:
        return False


def _remove_etc_netns(etc: str, written: list[str], kept: list[str]) -> int:
    """Remove /etc/netns/LAB-NODE: netemu's link as such; if it became a real directory, only the files
    netemu wrote (by name, or with the content it wrote through its link) and the directory if then empty."""
    try:
        st = os.lstat(etc)
    except FileNotFoundError:
        return 0
    if stat.S_ISLNK(st.st_mode):
        os.unlink(etc)
        return 1
    if not stat.S_ISDIR(st.st_mode) or untrusted_dir(etc, ()) is not None:
        kept.append(f"kept {etc}: not netemu's link or directory")
        return 0
    removed = 0
    for w in written:
        here = os.path.join(etc, os.path.basename(w))
        if w == here:  # written directly into the directory
            removed += _unlink(here)
        elif os.path.isfile(here) and not os.path.islink(here) and os.path.isfile(w) and not os.path.islink(w) \
                and filecmp.cmp(here, w, shallow=False):
            removed += _unlink(here)
    try:
        os.rmdir(etc)
    except OSError:
        rest = sorted(os.listdir(etc)) if os.path.isdir(etc) else []
        kept.append(f"kept {etc}: it holds files netemu did not write ({', '.join(rest[:10])}"
                    f"{' …' if len(rest) > 10 else ''})")
    return removed
