"""The `netemu` command's entry point: signal handling first, then the (slow) imports, then the CLI.

Importing click, PyYAML and netemu's modules takes a noticeable fraction of a second. A Ctrl-C,
SIGTERM or SIGHUP in that time must stop the command before it creates anything, with one line
instead of a traceback, and never be lost: while the imports run, signals are only remembered
(an import interrupted half-way could leave a library half-initialised); right after, a remembered
one ends the command.
"""

from __future__ import annotations

import signal
import sys

EXIT_INTERRUPTED = 130  # the shell's status for a command stopped by SIGINT
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_pending: list[int] = []


def _remember(signum, frame) -> None:
    _pending.append(signum)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(signum)


# Installed as this module is imported: the console script and `python -m netemu` import it first.
for _sig in SIGNALS:
    signal.signal(_sig, _remember)


def main() -> None:
    """Run the command line."""
    from .cli import main as cli_main  # the slow part: signals are only remembered meanwhile

    try:
        # From here SIGINT raises KeyboardInterrupt (the CLI reports it); SIGTERM and SIGHUP too, instead of
        # killing the process outright. `up` installs its own handlers (which roll back) before any change.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _raise_interrupt)
        signal.signal(signal.SIGHUP, _raise_interrupt)
        if _pending:
            raise KeyboardInterrupt(_pending[0])
    except KeyboardInterrupt:
        sys.stderr.write("interrupted (nothing was done)\n")
        sys.exit(EXIT_INTERRUPTED)
    cli_main()
