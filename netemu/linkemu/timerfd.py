"""A CLOCK_MONOTONIC timerfd through libc (Python 3.11's os module has none): sub-millisecond wakeups
from epoll, whose own timeout is rounded up to whole milliseconds."""

from __future__ import annotations

import ctypes
import os

CLOCK_MONOTONIC = 1
TFD_CLOEXEC = 0o2000000
TFD_NONBLOCK = 0o4000
TFD_TIMER_ABSTIME = 1

_libc = ctypes.CDLL(None, use_errno=True)


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


class TimerFd:
    """A one-shot timer armed at an absolute time.monotonic() value."""

    def __init__(self) -> None:
        fd = _libc.timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"timerfd_create: {os.strerror(err)}")
        self.fd = fd
        self.armed_at: float | None = None

    def fileno(self) -> int:
        """The descriptor, for epoll."""
        return self.fd

    def arm(self, when: float) -> None:
        """Fire once at monotonic time `when` (seconds); re-arming replaces the previous time."""
        if self.armed_at == when:
            return
        sec = int(when)
        nsec = max(1, int((when - sec) * 1e9))  # 0/0 would disarm
        spec = _Itimerspec(_Timespec(0, 0), _Timespec(sec, nsec))
        if _libc.timerfd_settime(self.fd, TFD_TIMER_ABSTIME, ctypes.byref(spec), None) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"timerfd_settime: {os.strerror(err)}")
        self.armed_at = when

    def clear(self) -> None:
        """Consume an expiry (so epoll stops reporting the fd)."""
        try:
            os.read(self.fd, 8)
        except BlockingIOError:
            pass
        self.armed_at = None

    def close(self) -> None:
        """Release the descriptor."""
        os.close(self.fd)
