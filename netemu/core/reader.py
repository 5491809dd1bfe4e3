"""The shared base of the core's readers: where problems are collected (never raised)."""

from __future__ import annotations

import difflib

from ..errors import Issue
from ..source import PathKey, Source


class Reader:
    """Collects every problem found in a document, with its path and line."""

    def __init__(self, src: Source, issues: list[Issue] | None = None):
        self.src = src
        self.issues: list[Issue] = [] if issues is None else issues

    def err(self, path: PathKey, message: str, hint: str | None = None) -> None:
        """Record an error at `path`."""
        self.issues.append(self.src.issue(path, message, hint))

    def warn(self, path: PathKey, message: str, hint: str | None = None) -> None:
        """Record a warning at `path`."""
        self.issues.append(self.src.issue(path, message, hint, warning=True))

    def unknown_keys(self, path: PathKey, mapping: dict, allowed: set) -> None:
        """Report every key of `mapping` not in `allowed`, suggesting the closest one."""
        for key in mapping:
            if key not in allowed:
                close = closest(key, allowed)
                self.err(path + (key,), "unknown key", f"did you mean '{close}'?" if close else
                         f"allowed here: {', '.join(sorted(allowed))}")


def closest(word: str, options: set) -> str | None:
    """The option most like `word`, if one is close enough."""
    m = difflib.get_close_matches(str(word), sorted(map(str, options)), n=1, cutoff=0.75)
    return m[0] if m else None
