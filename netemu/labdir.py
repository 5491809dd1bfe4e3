"""A lab's state directory, /run/netemu/<lab>/: metadata, journal, logs, process files."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import LabError, NotFoundError

RUN_DIR = Path(os.environ.get("NETEMU_RUN_DIR", "/run/netemu"))
ETC_NETNS = Path("/etc/netns")  # iproute2 bind-mounts /etc/netns/<ns>/* over /etc/* in `ip netns exec`


@dataclass(frozen=True)
class LabDir:
    """Paths of one lab's state."""

    name: str

    @property
    def path(self) -> Path:
        return RUN_DIR / self.name

    @property
    def journal(self) -> Path:
        return self.path / "journal.jsonl"

    @property
    def meta(self) -> Path:
        return self.path / "lab.json"

    @property
    def topology_copy(self) -> Path:
        """The topology text as it was at `up` (status and scenarios read it; `down` never needs it)."""
        return self.path / "topology.yaml"

    @property
    def logs(self) -> Path:
        return self.path / "logs"

    def bin_dir(self, node: str) -> Path:
        """Programs put first on PATH in `netemu exec`/`shell` of `node` (e.g. FRR's vtysh for that router)."""
        return self.path / "bin" / node

    def exists(self) -> bool:
        """Whether the lab has state on this machine."""
        return self.path.is_dir()

    def read_meta(self) -> dict:
        """The lab's metadata (empty if unreadable, e.g. after kill -9 during creation)."""
        try:
            return json.loads(self.meta.read_text())
        except (OSError, ValueError):
            return {}

    def write_meta(self, **fields) -> None:
        """Merge `fields` into the metadata, atomically."""
        data = self.read_meta()
        data.update(fields)
        tmp = self.meta.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, self.meta)

    def unfinished(self) -> str | None:
        """Why the lab is not usable yet (an `up` still running, or one that died), or None if it is up."""
        meta = self.read_meta()
        if meta.get("state") == "up":
            return None
        pid = meta.get("pid")
        alive = isinstance(pid, int) and os.path.exists(f"/proc/{pid}")
        if alive:
            return f"lab {self.name!r} is still coming up (netemu up, pid {pid})"
        return (f"lab {self.name!r} did not finish coming up (its 'netemu up' was killed?); "
                f"run 'netemu down {self.name}' to clean up")

    def remove(self) -> None:
        """Delete the whole state directory."""
        shutil.rmtree(self.path, ignore_errors=True)


CACHE_DIR = RUN_DIR / ".cache"  # per-boot caches (e.g. what the kernel can do); removed with the last lab


def tidy() -> None:
    """Once no lab is left, remove netemu's caches and /run/netemu itself: nothing stays on the host."""
    if all_labs():
        return
    shutil.rmtree(CACHE_DIR, ignore_errors=True)
    with contextlib.suppress(OSError):  # not empty: another command is starting a lab right now
        RUN_DIR.rmdir()


def existing(name: str) -> LabDir:
    """The state directory of lab `name`, which must exist (NotFoundError naming the labs that are up)."""
    d = LabDir(name)
    if not d.exists():
        up = ", ".join(lab.name for lab in all_labs()) or "none"
        raise NotFoundError(f"no lab named {name!r} is up (labs up: {up})")
    return d


def all_labs() -> list[LabDir]:
    """Every lab with state on this machine."""
    if not RUN_DIR.is_dir():
        return []
    return [LabDir(p.name) for p in sorted(RUN_DIR.iterdir()) if p.is_dir() and not p.name.startswith(".")]


@contextlib.contextmanager
def locked(name: str, wait: float = 10.0) -> Iterator[None]:
    """An exclusive lock per lab name, so `up` and `down` of one lab never interleave."""
    lock_path = RUN_DIR / f".{name}.lock"
    for attempt in range(5):
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            break
        except FileNotFoundError:  # tidy() of a concurrent `down` removed the empty dir in between
            if attempt == 4:
                raise
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LabError(f"lab {name!r} is busy: another netemu command is working on it") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            lock_path.unlink()
