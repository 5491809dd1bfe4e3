"""A process in a node of this machine, for the coordinator (`netemu part proc LAB NODE` over ssh).

stdin is the control channel: the first line is the request, JSON {"argv": [...], "input": TEXT|null};
each later line names a signal for the process (INT, TERM, KILL). When stdin closes (the coordinator
stopped it, or died, and ssh closed the session) the process is stopped: TERM, then KILL. The
process's stdout and stderr are this command's own, so they stream back over ssh as they come, and
its exit status is this command's.

An argv starting with PROBE (`netemu-probe NAME ARGS…`) runs netemu's probe NAME with this machine's
Python and this machine's netemu, whatever the coordinator's are.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading

PROBE = "netemu-probe"
GRACE = 2.0  # seconds between TERM and KILL when the coordinator goes away


def _control(child: subprocess.Popen, channel) -> None:
    """Pass each signal named on the channel to the child; at the channel's end, stop it."""
    for line in channel:
        name = line.strip().upper()
        sig = getattr(signal, f"SIG{name}", None)
        if isinstance(sig, signal.Signals):
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(sig)
    if child.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            child.terminate()
        try:
            child.wait(GRACE)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                child.kill()


def _feed(child: subprocess.Popen, text: str) -> None:
    with contextlib.suppress(OSError):
        child.stdin.write(text.encode())
        child.stdin.close()


def serve(lab: str, node: str) -> int:
    """Run the request read from stdin in NODE of LAB (this machine's part); returns its exit status."""
    from ..kernel import procs
    from ..lab import Lab
    from ..scenarios.nodes import probe_argv, probe_env

    req = json.loads(sys.stdin.readline() or "{}")
    argv = list(req.get("argv") or [])
    if not argv:
        print("netemu part proc: the request names no command", file=sys.stderr)
        return 2
    if argv[0] == PROBE:
        argv = probe_argv(argv[1], tuple(argv[2:]))
    handle = Lab.attach(lab).node(node)
    text = req.get("input")
    sys.stdout.flush()
    # stdout and stderr are inherited: the output reaches ssh without passing through this process.
    child = subprocess.Popen(procs.ns_argv(handle.ns, argv), env=probe_env(),
                             stdin=subprocess.PIPE if text is not None else subprocess.DEVNULL)
    if text is not None:
        threading.Thread(target=_feed, args=(child, text), daemon=True).start()
    threading.Thread(target=_control, args=(child, sys.stdin), daemon=True).start()
    code = child.wait()
    return code if code >= 0 else 128 - code
