"""The `netemu` command's entry point: signal handling first, then the (slow) imports, then the CLI.

Importing click, PyYAML and netemu's modules takes a noticeable fraction of a second; a Ctrl-C,
SIGTERM or SIGHUP in that time must stop the command before it creates anything, with one line
instead of a traceback, and never be lost.
"""

from __future__ import annotations

import signal
import sys

EXIT_INTERRUPTED = 130  # the shell's status for a command stopped by SIGINT


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(signum)


def main() -> None:
    """Run the command line."""
    # SIGINT already raises KeyboardInterrupt; SIGTERM and SIGHUP would kill the process outright.
    # `up` installs its own handlers (which roll back) before it creates anything.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupt)
    try:
        from .cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("interrupted (nothing was done)\n")
        sys.exit(EXIT_INTERRUPTED)
    cli_main()
