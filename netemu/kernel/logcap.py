"""Copy stdin to a log file kept under a size limit: `python -I logcap.py LOG LIMIT`.

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
    path, limit = sys.argv[1], int(sys.argv[2])
    half = max(limit // 2, 4096)
    # The process and this pump die together at `down`; until then a TERM must not lose buffered output.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log = CappedLog(path, half)
    fd = sys.stdin.fileno()
    pending = b""  # the unfinished last line, held so a rotation never splits it
    while True:
        if pending and not select.select([fd], [], [], PARTIAL_WAIT)[0]:
            log.write(pending)
            pending = b""
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            log.write(pending)
            return
        data = pending + chunk
        end = data.rfind(b"\n") + 1
        if end == 0 and len(data) < half:
            pending = data
            continue
        if end == 0:
            end = len(data)
        log.write(data[:end])
        pending = data[end:]


if __name__ == "__main__":
    main()
