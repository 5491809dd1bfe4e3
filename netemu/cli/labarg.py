"""The one place a LAB on the command line is resolved: a name, or the topology file it came from."""

from __future__ import annotations

import os

import click

from ..errors import UsageError
from ..names import check_lab


def resolve_lab(arg: str, from_file: bool = False) -> str:
    """The lab name `arg` stands for, checked by the same rule as `validate` (BadLabName: exit 2).

    With `from_file`, an existing file (or anything that looks like a path) is read for its `name:`
    and only that; the name read is checked the same way.
    """
    looks_like_file = (os.path.lexists(arg) and not os.path.isdir(arg)) or "/" in arg or arg.endswith((".yaml", ".yml"))
    if from_file and looks_like_file:
        from ..source import load

        if not os.path.lexists(arg):
            raise UsageError(f"{arg}: no such file (give a lab name, or the topology file the lab came from)")
        data = load(arg).data
        name = data.get("name")
        if not isinstance(name, str):
            raise UsageError(f"{arg} has no lab name")
        return check_lab(name)
    return check_lab(arg)


class LabArg(click.ParamType):
    """A click type for LAB arguments and options; every command taking a lab uses it."""

    name = "LAB"

    def __init__(self, from_file: bool = False):
        self.from_file = from_file

    def convert(self, value, param, ctx) -> str:
        if value is None:
            return value
        return resolve_lab(value, self.from_file)  # a NetemuError: the group prints one sentence, exit 2


LAB = LabArg()
LAB_OR_FILE = LabArg(from_file=True)
