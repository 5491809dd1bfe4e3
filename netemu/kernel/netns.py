"""Named network namespaces, created and entered in-process (no `ip` fork per node)."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
from collections.abc import Iterator

NETNS_RUN_DIR = "/run/netns"  # where iproute2 looks; namespaces here are visible to `ip netns`
CLONE_NEWNET = 0x40000000
CLONE_NEWUTS = 0x04000000
MS_REC = 0x4000
MS_BIND = 0x1000
MS_SHARED = 1 << 20
MNT_DETACH = 2
UMOUNT_NOFOLLOW = 8  # a link planted at a namespace file's path must not redirect the unmount

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def path_of(name: str) -> str:
    """The bind-mount file that keeps namespace `name` alive."""
    return os.path.join(NETNS_RUN_DIR, name)


def exists(name: str) -> bool:
    """Whether a namespace of that name is present in /run/netns."""
    return os.path.exists(path_of(name))


def _ensure_run_dir() -> None:
    # As iproute2 does: /run/netns must be a shared mount point, so the bind mounts made here
    # propagate into mount namespaces `ip netns exec` creates (and their removal too).
    os.makedirs(NETNS_RUN_DIR, mode=0o755, exist_ok=True)
    if _libc.mount(b"", NETNS_RUN_DIR.encode(), b"none", MS_SHARED | MS_REC, None) == 0:
        return
    err = ctypes.get_errno()
    if err != errno.EINVAL:  # EINVAL: not a mount point yet
        raise OSError(err, f"mount --make-rshared {NETNS_RUN_DIR}: {os.strerror(err)}")
    _check(_libc.mount(NETNS_RUN_DIR.encode(), NETNS_RUN_DIR.encode(), b"none", MS_BIND | MS_REC, None),
           f"mount --bind {NETNS_RUN_DIR}")
    _check(_libc.mount(b"", NETNS_RUN_DIR.encode(), b"none", MS_SHARED | MS_REC, None),
           f"mount --make-rshared {NETNS_RUN_DIR}")


class Home:
    """The calling thread's original namespace, to return to after each excursion."""

    def __init__(self) -> None:
        self.fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)

    def back(self) -> None:
        """Return the calling thread to its original namespace."""
        _check(_libc.setns(self.fd, CLONE_NEWNET), "setns back to the original namespace")

    def close(self) -> None:
        """Release the descriptor."""
        os.close(self.fd)


_home: Home | None = None


def home() -> Home:
    """The process-wide handle on the original namespace."""
    global _home
    if _home is None:
        _home = Home()
    return _home


@contextlib.contextmanager
def created(name: str) -> Iterator[None]:
    """Create namespace `name` and run the block with the calling thread inside it.

    unshare(CLONE_NEWNET) moves only the calling thread, so the rest of the process (and the
    host's root namespace) is untouched; the thread returns home when the block ends. If the
    block fails, the new namespace is removed again.
    """
    _ensure_run_dir()
    h = home()  # remember where we are *before* leaving
    path = path_of(name)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444))
    try:
        _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
    except OSError:
        os.unlink(path)
        raise
    try:
        _check(_libc.mount(b"/proc/thread-self/ns/net", path.encode(), b"none", MS_BIND, None),
               f"bind-mount namespace onto {path}")
        yield
    except BaseException:
        h.back()
        delete(name)
        raise
    h.back()


def open_fd(name: str) -> int:
    """An fd on an existing namespace (raises FileNotFoundError if absent)."""
    return os.open(path_of(name), os.O_RDONLY | os.O_CLOEXEC)


@contextlib.contextmanager
def entered(name: str) -> Iterator[None]:
    """Run the block with the calling thread inside existing namespace `name`."""
    fd = open_fd(name)
    try:
        with entered_fd(fd):
            yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def dump_socket(name: str) -> Iterator:
    """A full pyroute2 IPRoute opened inside namespace `name` (its socket stays bound there), for dumps
    whose messages are worth pyroute2's parser; closed after the block."""
    from pyroute2 import IPRoute  # the full pyroute2 (~100 ms to import) only where dumps are parsed

    with entered(name):
        ipr = IPRoute()
    try:
        yield ipr
    finally:
        ipr.close()


@contextlib.contextmanager
def entered_fd(fd: int) -> Iterator[None]:
    """Run the block with the calling thread inside the namespace behind `fd`."""
    h = home()
    _check(_libc.setns(fd, CLONE_NEWNET), "setns")
    try:
        yield
    finally:
        h.back()


def delete(name: str) -> bool:
    """Unmount and remove a namespace's name; the kernel frees it once no process holds it."""
    path = path_of(name)
    if not os.path.exists(path):
        return False
    # Lazy unmount: another mount namespace (an `ip netns exec` child) may still see it.
    _libc.umount2(path.encode(), MNT_DETACH | UMOUNT_NOFOLLOW)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return True


def inode(name: str) -> int | None:
    """The namespace's inode number (identity shared by /proc/PID/ns/net), or None.

    None too when the name is not a mounted namespace: a plain file's inode number could equal
    some other process's namespace inode, so it must come from nsfs (same device as our own).
    """
    try:
        st = os.stat(path_of(name))
        return st.st_ino if st.st_dev == os.stat("/proc/self/ns/net").st_dev else None
    except OSError:
        return None


def inode_of_pid(pid: int) -> int | None:
    """The network namespace inode of process `pid`, or None."""
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def pids_in(inodes: set[int]) -> dict[int, int]:
    """Every process whose network namespace is one of `inodes`: pid -> inode (like `ip netns pids`)."""
    found: dict[int, int] = {}
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            ino = os.stat(f"/proc/{entry.name}/ns/net").st_ino
        except OSError:
            continue
        if ino in inodes:
            found[int(entry.name)] = ino
    return found


def hold_uts(path: str, hostname: str) -> None:
    """A new UTS namespace whose hostname is `hostname`, kept alive by a bind mount on `path`.

    Like `created`, only the calling thread moves (and comes back); `path` must not exist yet.
    """
    import socket

    home_fd = os.open("/proc/thread-self/ns/uts", os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444))
        try:
            _check(_libc.unshare(CLONE_NEWUTS), "unshare(CLONE_NEWUTS)")
            try:
                socket.sethostname(hostname)
                _check(_libc.mount(b"/proc/thread-self/ns/uts", path.encode(), b"none", MS_BIND, None),
                       f"bind-mount UTS namespace onto {path}")
            finally:
                _check(_libc.setns(home_fd, CLONE_NEWUTS), "setns back to the original UTS namespace")
        except BaseException:
            release(path)
            raise
    finally:
        os.close(home_fd)


def release(path: str) -> None:
    """Unmount (lazily: `ip netns exec` children may still see it) and remove a held namespace file."""
    _libc.umount2(path.encode(), MNT_DETACH | UMOUNT_NOFOLLOW)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
