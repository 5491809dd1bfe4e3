"""What a derive or check step works on: the document, the model so far, the problems found."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..errors import Issue
from ..model import Topology
from ..source import PathKey, Source


class Context:
    """The state passed from step to step; a derive step assigns a new `topo`."""

    def __init__(self, src: Source, topo: Topology, issues: list[Issue], core_ok: bool):
        self.src = src
        self.topo = topo
        self.issues = issues
        self.core_ok = core_ok

    def err(self, path: PathKey, message: str, hint: str | None = None) -> None:
        """Record an error at `path` of the document."""
        self.issues.append(self.src.issue(path, message, hint))

    def warn(self, path: PathKey, message: str, hint: str | None = None) -> None:
        """Record a warning at `path` of the document."""
        self.issues.append(self.src.issue(path, message, hint, warning=True))

    def feature(self, name: str) -> Any:
        """The parsed (and possibly derived) model of a feature, or None."""
        return self.topo.feature(name)

    def set_feature(self, name: str, model: Any) -> None:
        """Replace (or attach) the model of a feature."""
        rest = tuple((n, m) for n, m in self.topo.features if n != name)
        self.topo = dataclasses.replace(self.topo, features=rest + ((name, model),))
