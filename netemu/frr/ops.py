"""The FRR feature's own kind of operation: one dry run of every router's configuration files."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from ..ops import Op, register


@register
@dataclass(frozen=True)
class CheckConfigs(Op):
    """Check configuration files with `vtysh -C` in one process; nothing starts if a line is wrong.

    Each part is checked as if it were a file of its own: it is preceded by `reset`, a line only the
    top configuration level knows (so whatever block the part before ended in is left), and an error
    is reported with its part's label and line (see netemu.frr.dryrun).
    """

    ns: str
    argv: tuple[str, ...]  # vtysh -C, reading the parts on its standard input
    parts: tuple[tuple[str, str, str], ...]  # (label, reset line, path of the file)

    def text(self) -> str:
        return (f"ip netns exec {self.ns} {shlex.join(self.argv)} < ({len(self.parts)} configuration files)"
                f"  # dry run: {', '.join(label for label, _, _ in self.parts[:4])}"
                f"{' …' if len(self.parts) > 4 else ''}")


@register
@dataclass(frozen=True)
class OwnedDirs(Op):
    """Directories of the lab, made if missing and given to FRR's user: its daemons drop root and write
    their pid files, sockets and state there (`down` removes them with the lab's run directory)."""

    ns: str  # the router's namespace: nothing runs there, but a lab across machines makes them on its machine
    paths: tuple[str, ...]
    user: str

    def text(self) -> str:
        return f"install -d -o {self.user} -g {self.user} {shlex.join(self.paths)}  # router of {self.ns}"
