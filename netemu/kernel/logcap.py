"""Copy stdin to a log file kept under a size limit: `python -I logcap.py LOG LIMIT`; or several
inherited pipes each to its own log: `python -I logcap.py --fds LIMIT FD=LOG ...` (exits after the last).

Started by kernel.procs.start_capped with a lab process's output as stdin. When LOG reaches half
the limit it becomes LOG.1 (replacing the older half) and a new LOG starts, at a line's end, so
LOG.1 and LOG together hold the newest output, in whole lines, and never more than LIMIT bytes.
Exits when the process closes its output (it ended). Standard library only: it runs with -I,
outside netemu's environment.
"""

import os
import select
import signal
import sys
import time

PARTIAL_WAIT = 0.5  # seconds an unfinished line (a prompt, a progress bar) waits for its end before it is written


class CappedLog:
    """LOG and LOG.1, each at most `half` bytes (unless one line alone is longer)."""

    def __init__(self, path: str, half: int):
        self.path, self.half = path, half
        self.f = open(path, "ab", buffering=0)
        self.size = self.f.tell()

    def write(self, data: bytes) -> None:
        """Append `data`, rotating first at the last line end that still fits."""
        while data:
            room = self.half - self.size
            if len(data) <= room:
                self.f.write(data)
                self.size += len(data)
                return
            nl = data.rfind(b"\n", 0, max(room, 0))
            if nl >= 0:
                self.f.write(data[:nl + 1])
                data = data[nl + 1:]
            elif self.size == 0:  # one line longer than half the limit: cut it
                self.f.write(data[:self.half])
                data = data[self.half:]
            self.rotate()

    def rotate(self) -> None:
        """LOG becomes LOG.1; a new, empty LOG follows."""
        self.f.close()
        os.replace(self.path, self.path + ".1")
        self.f = open(self.path, "ab", buffering=0)
        self.size = 0


def main() -> None:
    if sys.argv[1] == "--fds":  # logcap.py --fds LIMIT FD=LOG ...: one pump for several processes
        half = max(int(sys.argv[2]) // 2, 4096)
        streams = {int(fd): CappedLog(log, half) for fd, log in (a.split("=", 1) for a in sys.argv[3:])}
    else:
        half = max(int(sys.argv[2]) // 2, 4096)
        streams = {sys.stdin.fileno(): CappedLog(sys.argv[1], half)}
    # The process and this pump die together at `down`; until then a TERM must not lose buffered output.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    pump(streams, half)


def pump(streams: dict[int, CappedLog], half: int) -> None:
    """Copy each fd to its log until every one has reached end of file."""
    pending = {fd: b"" for fd in streams}  # each stream's unfinished last line, held so a rotation never splits it
    since: dict[int, float] = {}  # when each held line was last added to
    while streams:
        timeout = max(0.0, min(since.values()) + PARTIAL_WAIT - time.monotonic()) if since else None
        ready = select.select(list(streams), [], [], timeout)[0]
        now = time.monotonic()
        for fd in [fd for fd, t in since.items() if now - t >= PARTIAL_WAIT and fd not in ready]:
            streams[fd].write(pending[fd])
            pending[fd] = b""
            del since[fd]
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                streams.pop(fd).write(pending.pop(fd))
                since.pop(fd, None)
                os.close(fd)
                continue
            data = pending[fd] + chunk
            end = data.rfind(b"\n") + 1
            if end == 0 and len(data) < half:
                pending[fd], since[fd] = data, now
                continue
            if end == 0:
                end = len(data)
            streams[fd].write(data[:end])
            pending[fd] = data[end:]
            if pending[fd]:
                since[fd] = now
            else:
                since.pop(fd, None)


if __name__ == "__main__":
    main()
