"""The journal: what a lab created, written *before* each step so teardown never misses anything."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .errors import clip

MAX_JOURNAL = 64 * 1024 * 1024  # far above any real lab's journal; a bigger one is not netemu's


@dataclass
class Created:
    """Everything a journal says was (or was about to be) created; records of the wrong shape are
    left out and described in `rejected` (teardown reports them and acts on nothing else)."""

    namespaces: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)  # namespace files held by a bind mount (UTS)
    processes: dict[int, int | None] = field(default_factory=dict)  # pid -> start time
    process_names: dict[int, str] = field(default_factory=dict)  # pid -> the lab's name for it
    process_ns: dict[int, str | None] = field(default_factory=dict)  # pid -> namespace it was started in
    process_records: list[dict] = field(default_factory=list)  # each "proc" record as written (ns, log, …)
    link_targets: dict[str, str] = field(default_factory=dict)  # a link's path -> what it pointed at
    rejected: list[str] = field(default_factory=list)

    def current_processes(self) -> dict[int, int | None]:
        """pid -> start time of the latest record of each named process (a restarted delay line
        supersedes its earlier PID)."""
        latest: dict[str, int] = {}
        for pid, name in self.process_names.items():  # dicts keep insertion order: later records win
            latest.pop(name, None)
            latest[name] = pid
        return {pid: self.processes[pid] for pid in latest.values()}


class Journal:
    """An append-only JSON-lines file; each record is flushed to the OS before the kernel step runs."""

    def __init__(self, path: Path):
        self.path = path
        # O_NOFOLLOW: a link planted at the journal's name never redirects netemu's writes
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        self._f = open(fd, "a", buffering=1)

    def record(self, kind: str, **fields) -> None:
        """Append one record (kind: netns, file, dir, mount, proc) and flush it."""
        self._f.write(json.dumps({"kind": kind, **fields}) + "\n")
        self._f.flush()
        # kill -9 keeps what reached the OS; fsync only matters for power loss, and /run is tmpfs.

    def close(self) -> None:
        """Close the file."""
        self._f.close()


def append(path: Path, kind: str, **fields) -> None:
    """Append one record to an existing journal (e.g. a process restarted after `up`)."""
    j = Journal(path)
    try:
        j.record(kind, **fields)
    finally:
        j.close()


def _read_bytes(path: Path) -> bytes:
    """The journal's bytes: a regular file reached without following a link, at most MAX_JOURNAL."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        with open(fd, "rb", closefd=False) as f:
            return f.read(MAX_JOURNAL)
    finally:
        os.close(fd)


def _int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read(path: Path) -> Created:
    """Parse a journal, tolerating a torn last line (the writer may have been killed mid-write).

    Each record's shape is checked; whether it belongs to the lab is teardown's question.
    """
    created = Created()
    try:
        lines = _read_bytes(path).decode("utf-8", "replace").splitlines()
    except OSError:
        return created
    for number, line in enumerate(lines, 1):
        try:
            rec = json.loads(line)
        except ValueError:
            if number != len(lines):  # only the last line can be torn by a kill
                created.rejected.append(f"journal line {number}: not JSON")
            continue
        kind = rec.get("kind") if isinstance(rec, dict) else None
        if kind == "netns" and isinstance(rec.get("name"), str):
            if rec["name"] not in created.namespaces:
                created.namespaces.append(rec["name"])
        elif kind in ("file", "dir", "mount") and isinstance(rec.get("path"), str):
            paths = {"file": created.files, "dir": created.dirs, "mount": created.mounts}[kind]
            if rec["path"] not in paths:
                paths.append(rec["path"])
            if isinstance(rec.get("target"), str):
                created.link_targets[rec["path"]] = rec["target"]
        elif (kind == "proc" and _int(rec.get("pid")) and rec["pid"] > 1
              and (rec.get("start") is None or _int(rec.get("start")))
              and (rec.get("ns") is None or isinstance(rec.get("ns"), str))):
            pid = rec["pid"]
            created.processes.pop(pid, None)  # re-insert: the latest record of a pid wins, in order
            created.process_names.pop(pid, None)
            created.processes[pid] = rec.get("start")
            created.process_names[pid] = str(rec.get("name", "?"))
            created.process_ns[pid] = rec.get("ns")
            created.process_records.append(rec)
        else:
            created.rejected.append(f"journal line {number}: unusable record {clip(line, 80)}")
    return created
