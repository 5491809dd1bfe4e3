"""The DNS server's log: one line per event, rate-limited, and a file that never grows past LOG_MAX bytes.

The server's stderr is the lab's log file (opened for append by `up`, on a tmpfs): a flood of bad
packets must cost neither memory nor a multi-kilobyte traceback each.
"""

from __future__ import annotations

import os
import stat
import sys
import time
import traceback
from collections.abc import Callable
from typing import TextIO

LOG_MAX = 1 << 20  # bytes: past this the file is truncated to zero and says so
RATE = 10.0  # lines per second on average
BURST = 20  # lines allowed at once


class Log:
    """Rate-limited one-line messages to a stream whose file is truncated when it reaches `limit` bytes."""

    def __init__(self, stream: TextIO | None = None, limit: int = LOG_MAX, rate: float = RATE, burst: int = BURST,
                 clock: Callable[[], float] = time.monotonic):
        self.stream = stream
        self.limit = limit
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.tokens = float(burst)
        self.last = clock()
        self.suppressed = 0

    def line(self, text: str) -> bool:
        """Write one line unless over the rate (then count it); returns whether it was written."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens < 1:
            self.suppressed += 1
            return False
        self.tokens -= 1
        stream = self.stream or sys.stderr
        if self.suppressed:
            text += f" ({self.suppressed} more lines suppressed by the rate limit)"
            self.suppressed = 0
        stream.write(text.replace("\n", " ")[:400] + "\n")
        stream.flush()
        self._cap(stream)
        return True

    def error(self, what: str, exc: BaseException) -> bool:
        """One line for an exception: where it was raised and what it says (no traceback)."""
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
        return self.line(f"{what}: {type(exc).__name__}: {exc}{where}")

    def _cap(self, stream: TextIO) -> None:
        try:
            fd = stream.fileno()
            st = os.fstat(fd)
        except (OSError, ValueError, AttributeError):
            return
        if stat.S_ISREG(st.st_mode) and st.st_size > self.limit:
            os.ftruncate(fd, 0)
            if stream.seekable():  # O_APPEND files write at the end anyway; others must be told
                stream.seek(0)
            stream.write(f"netemu-dns: log truncated after reaching {self.limit} bytes\n")
            stream.flush()


LOG = Log()
