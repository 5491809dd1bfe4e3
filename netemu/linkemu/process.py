"""The delay-line process of a lab: its name and command line."""

from __future__ import annotations

import sys
from pathlib import Path

DELAYLINE = str(Path(__file__).with_name("delayline.py"))
PROCESS = "linkemu-delay"


def delayline_argv(state_file: str) -> tuple[str, ...]:
    """The command line of a lab's delay-line process."""
    return (sys.executable, DELAYLINE, state_file)
