"""A lab's state directory, /run/netemu/<lab>/: metadata, journal, logs, process files."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import LabError, NotFoundError, clip
from .names import check_lab, lab_name_problem

RUN_DIR = Path(os.environ.get("NETEMU_RUN_DIR", "/run/netemu"))
ETC_NETNS = Path("/etc/netns")  # iproute2 bind-mounts /etc/netns/<ns>/* over /etc/* in `ip netns exec`


@dataclass(frozen=True)
class LabDir:
    """Paths of one lab's state."""

    name: str

    def __post_init__(self) -> None:
        # Every lab path is built here: a name like '..' or 'a/b' never reaches the file system.
        check_lab(self.name)

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
        """Whether the lab has state on this machine (a real directory, not a link to one)."""
        try:
            return stat.S_ISDIR(os.lstat(self.path).st_mode)
        except OSError:
            return False

    def present(self) -> bool:
        """Whether anything (even a dangling link or a stray file) is at the lab's path."""
        return os.path.lexists(self.path)

    def untrusted(self) -> str | None:
        """Why the lab's state directory cannot be trusted (None if it can): the journal inside it tells
        `down` what to delete and kill, so only a real directory that only root could have written counts."""
        return untrusted_dir(self.path, (RUN_DIR, self.path))

    def check_trusted(self) -> None:
        """Raise LabError unless the state directory can be trusted (see untrusted())."""
        why = self.untrusted()
        if why:
            raise LabError(f"lab {self.name!r}: {why}; netemu will not act on it. Inspect and remove it by hand")

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


def untrusted_dir(path: Path, owned: tuple[Path, ...]) -> str | None:
    """Why `path` is not a directory netemu can trust, or None.

    No component of the path may be a symbolic link (checked with lstat, from the root down), and the
    directories in `owned` must belong to this user (root) and not be writable by group or others.
    """
    path = Path(os.path.abspath(path))
    owned_set = {Path(os.path.abspath(p)) for p in owned}
    current = Path("/")
    for part in path.parts[1:]:
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            return f"{current} does not exist"
        except OSError as e:
            return f"cannot inspect {current}: {e.strerror}"
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(current)
            dangling = "" if os.path.exists(current) else " that leads nowhere"
            return f"{current} is a symbolic link{dangling} (to {target}), not a directory netemu made"
        if not stat.S_ISDIR(st.st_mode):
            return f"{current} is not a directory"
        if current in owned_set:
            if st.st_uid != os.geteuid():
                return f"{current} belongs to uid {st.st_uid}, not to uid {os.geteuid()} who runs netemu"
            if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                return f"{current} is writable by group or others (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def run_dir_problem() -> str | None:
    """Why netemu's state directory (if present) cannot be trusted, or None."""
    if not os.path.lexists(RUN_DIR):
        return None
    return untrusted_dir(RUN_DIR, (RUN_DIR,))


def existing(name: str) -> LabDir:
    """The state directory of lab `name`, which must exist (NotFoundError naming the labs that are up)."""
    d = LabDir(name)
    if not d.exists():
        if d.present():
            d.check_trusted()  # a link or a stray file at the lab's path: say so, not "no lab"
        up = ", ".join(lab.name for lab in all_labs()) or "none"
        raise NotFoundError(f"no lab named {name!r} is up (labs up: {clip(up, 200)})")
    return d


def all_labs() -> list[LabDir]:
    """Every lab with state on this machine (entries whose names break the lab-name rule are not netemu's)."""
    if not RUN_DIR.is_dir():
        return []
    return [LabDir(p.name) for p in sorted(RUN_DIR.iterdir())
            if not p.name.startswith(".") and lab_name_problem(p.name) is None and os.path.lexists(p)
            and (p.is_dir() or p.is_symlink())]


@contextlib.contextmanager
def locked(name: str, wait: float = 10.0) -> Iterator[None]:
    """An exclusive lock per lab name, so `up` and `down` of one lab never interleave.

    The lock file is removed by its holder while still locked; a waiter that then gets the lock
    finds the file gone (or replaced) and starts again, so two commands never hold "the" lock
    on two different inodes.
    """
    lock_path = LabDir(name).path.with_name(f".{name}.lock")
    deadline = time.monotonic() + wait
    fd = _lock_fd(lock_path, name, deadline)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            lock_path.unlink()  # unlinked while held: see the retry in _lock_fd
        os.close(fd)


def _lock_fd(lock_path: Path, name: str, deadline: float) -> int:
    """An fd holding the flock on the inode that is at `lock_path` right now."""
    while True:
        RUN_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:  # tidy() of a concurrent `down` removed the empty dir in between
            continue
        except OSError as e:
            raise LabError(f"cannot lock lab {name!r}: {lock_path}: {e.strerror}") from None
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise LabError(f"lab {name!r} is busy: another netemu command is working on it") from None
                time.sleep(0.05)
        try:
            same = os.stat(lock_path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the previous holder unlinked it: lock the file that is there now
