"""Typed errors of netemu; the CLI turns them into messages and exit codes."""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2

MESSAGE_LIMIT = 300  # characters of one value, list or hint shown in a message (a 5 MB `kind:` is not echoed)
ISSUES_SHOWN = 100  # problems listed for one file; the count of the rest follows


def clip(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """`text` cut to about `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


@dataclass(frozen=True)
class Issue:
    """One problem in a topology file: where it is and what is wrong."""

    path: str
    message: str
    line: int | None = None
    hint: str | None = None
    warning: bool = False

    def __post_init__(self) -> None:
        # Messages quote the user's values and hints list names: keep each bounded.
        object.__setattr__(self, "path", clip(self.path, 120))
        object.__setattr__(self, "message", clip(self.message))
        if self.hint is not None:
            object.__setattr__(self, "hint", clip(self.hint))

    def render(self, filename: str | None) -> str:
        """Format as `file:line: path: message (hint)`."""
        where = filename or "<topology>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        if self.warning:
            text = f"{where}: warning: {self.path}: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class NetemuError(Exception):
    """Base of every error netemu raises on purpose."""

    exit_code = EXIT_RUNTIME


class UsageError(NetemuError):
    """The user asked for something that cannot be done as asked."""

    exit_code = EXIT_USAGE


class TopologyError(UsageError):
    """A topology file is invalid; carries every problem found at once."""

    def __init__(self, filename: str | None, issues: list[Issue]):
        self.filename = filename
        self.issues = [i for i in issues if not i.warning]
        self.warnings = [i for i in issues if i.warning]
        lines = [i.render(filename) for i in self.issues[:ISSUES_SHOWN]]
        if len(self.issues) > ISSUES_SHOWN:
            lines.append(f"… and {len(self.issues) - ISSUES_SHOWN} more problem(s)")
        super().__init__(f"{len(self.issues)} problem(s) in {filename or 'topology'}:\n" + "\n".join(lines))


class NotRootError(NetemuError):
    """A command that needs root (it enters, reads or changes network namespaces) was run without it."""

    # what each command does that needs root; others get the general reason
    _WHY = {"up": "create network namespaces", "run": "build its lab's network namespaces",
            "down": "remove network namespaces", "doctor": "probe the kernel in a throwaway namespace"}

    def __init__(self, command: str):
        why = self._WHY.get(command.split()[0], "enter the lab's network namespaces")
        super().__init__(
            f"'netemu {command}' needs root to {why}; run it with sudo "
            f"(validate and plan work without root)."
        )


class LabError(NetemuError):
    """A lab is missing, already up, or in a state that forbids the request."""


class NotFoundError(LabError):
    """A lab, node or interface named on the command line does not exist (bad input: exit 2).

    Exit 2 also keeps `netemu exec` unambiguous: 1 could be the command's own status.
    """

    exit_code = EXIT_USAGE


class KernelError(NetemuError):
    """A kernel operation failed; says which step and why."""

    def __init__(self, step: str, reason: str):
        self.step = step
        self.reason = reason
        super().__init__(f"step '{step}' failed: {reason}")


class MissingFeatureError(NetemuError):
    """This kernel or machine lacks something the topology needs."""
