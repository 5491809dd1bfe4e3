"""The journal: what a lab created, written *before* each step so teardown never misses anything."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Created:
    """Everything a journal says was (or was about to be) created."""

    namespaces: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)  # namespace files held by a bind mount (UTS)
    processes: dict[int, int | None] = field(default_factory=dict)  # pid -> start time
    process_names: dict[int, str] = field(default_factory=dict)  # pid -> the lab's name for it
    process_records: list[dict] = field(default_factory=list)  # each "proc" record as written (ns, log, …)


class Journal:
    """An append-only JSON-lines file; each record is flushed to the OS before the kernel step runs."""

    def __init__(self, path: Path):
        self.path = path
        self._f = open(path, "a", buffering=1)

    def record(self, kind: str, **fields) -> None:
        """Append one record (kind: netns, file, dir, mount, proc) and flush it."""
        self._f.write(json.dumps({"kind": kind, **fields}) + "\n")
        self._f.flush()
        # kill -9 keeps what reached the OS; fsync only matters for power loss, and /run is tmpfs.

    def close(self) -> None:
        """Close the file."""
        self._f.close()


def read(path: Path) -> Created:
    """Parse a journal, tolerating a torn last line (the writer may have been killed mid-write)."""
    created = Created()
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return created
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        kind = rec.get("kind")
        if kind == "netns" and rec["name"] not in created.namespaces:
            created.namespaces.append(rec["name"])
        elif kind == "file" and rec["path"] not in created.files:
            created.files.append(rec["path"])
        elif kind == "dir" and rec["path"] not in created.dirs:
            created.dirs.append(rec["path"])
        elif kind == "mount" and rec["path"] not in created.mounts:
            created.mounts.append(rec["path"])
        elif kind == "proc":
            created.process_records.append(rec)
            created.processes[int(rec["pid"])] = rec.get("start")
            created.process_names[int(rec["pid"])] = rec.get("name", "?")
    return created

