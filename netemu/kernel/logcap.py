"""Copy stdin to a log file kept under a size limit: `python -I logcap.py LOG LIMIT`.

Started by kernel.procs.start_capped with a lab process's output as stdin. When LOG reaches half
the limit it becomes LOG.1 (replacing the older half) and a new LOG starts, so LOG and LOG.1
together hold the newest output and never more than LIMIT bytes. Exits when the process closes
its output (it ended). Standard library only: it runs with -I, outside netemu's environment.
"""

import os
import signal
import sys


def main() -> None:
    path, limit = sys.argv[1], int(sys.argv[2])
    half = max(limit // 2, 4096)
    # The process and this pump die together at `down`; until then a TERM must not lose buffered output.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log = open(path, "ab", buffering=0)
    size = log.tell()
    stdin = sys.stdin.buffer.raw
    while True:
        chunk = stdin.read(65536)
        if not chunk:
            break
        while chunk:
            room = half - size
            if room <= 0:
                log.close()
                os.replace(path, path + ".1")
                log = open(path, "ab", buffering=0)
                size = 0
                room = half
            cut = room
            if len(chunk) > room:  # rotate at a line's end, so every line kept is whole
                nl = chunk.rfind(b"\n", 0, room)
                if nl >= 0:
                    cut = nl + 1
                elif size > 0:
                    size = half  # the next line does not fit: rotate now
                    continue
                # else: one line longer than half the limit, cut where the limit says
            part, chunk = chunk[:cut], chunk[cut:]
            log.write(part)
            size += len(part)


if __name__ == "__main__":
    main()
