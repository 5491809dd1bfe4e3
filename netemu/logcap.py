"""Capped logs: every log netemu writes stays under a fixed size (it lives on /run, a tmpfs in RAM).

A log that reaches LOG_LIMIT bytes is renamed to LOG.1 (replacing the previous one) and started
afresh, so at most twice the limit is kept and the newest lines are always there.

- Python code writing a log: `CappedWriter(path)` (a binary file-like) or `handler(path)` (logging).
- An external process's output: `sink(path)` starts this file as a tiny process reading a pipe;
  pass `sink.fd` as the process's stdout/stderr, then `sink.close()` the parent's copy.

This module imports nothing from netemu, so the sink runs as `python3 -S logcap.py PATH LIMIT`.
"""

from __future__ import annotations

import os
import subprocess
import sys

LOG_LIMIT = 1024 * 1024  # bytes per log file before it is rotated (plus one rotated file)


class CappedWriter:
    """Append bytes to `path`, rotating to `path`.1 whenever the file would exceed `limit`."""

    def __init__(self, path: str, limit: int = LOG_LIMIT):
        self.path = path
        self.limit = limit
        self._open()

    def _open(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        self._f = os.fdopen(fd, "ab", buffering=0)
        self.size = os.fstat(fd).st_size

    def write(self, data: bytes | str) -> int:
        """Write `data` (a str is UTF-8 encoded); a chunk larger than the limit keeps only its end."""
        if isinstance(data, str):
            data = data.encode("utf-8", "replace")
        data = data[-self.limit:]
        if self.size + len(data) > self.limit:
            self._f.close()
            os.replace(self.path, self.path + ".1")
            self._open()
        self._f.write(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        """Nothing is buffered; here for file-like callers."""

    def close(self) -> None:
        """Close the file."""
        self._f.close()


def handler(path: str, limit: int = LOG_LIMIT):
    """A logging handler with the same cap (for Python servers netemu runs)."""
    from logging.handlers import RotatingFileHandler

    return RotatingFileHandler(path, maxBytes=limit, backupCount=1)


class Sink:
    """A pipe whose reader is a capping process writing `path`; give `fd` to a child as its output."""

    def __init__(self, path: str, limit: int = LOG_LIMIT):
        read_end, self.fd = os.pipe()
        try:
            # -S: no site packages to import, so the reader starts in a few milliseconds. Its own
            # session: a Ctrl-C at the terminal goes to netemu, and the reader ends at EOF instead.
            self.proc = subprocess.Popen([sys.executable, "-S", __file__, path, str(limit)], stdin=read_end,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True, close_fds=True)
        finally:
            os.close(read_end)

    def close(self) -> None:
        """Close the parent's write end (the child keeps its own; the reader stops when all are closed)."""
        os.close(self.fd)


def sink(path: str, limit: int = LOG_LIMIT) -> Sink:
    """Start a capping reader for `path`."""
    return Sink(path, limit)


def _main(argv: list[str]) -> int:
    path, limit = argv[0], int(argv[1]) if len(argv) > 1 else LOG_LIMIT
    out = CappedWriter(path, limit)
    stdin = sys.stdin.buffer
    while True:
        chunk = stdin.read1(65536)
        if not chunk:
            break
        out.write(chunk)
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
