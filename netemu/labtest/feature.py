"""Registration of the `tests:` feature: it owns the top-level key, validates it, and builds nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..features import Feature

if TYPE_CHECKING:
    from ..errors import Issue
    from ..model import Topology
    from ..source import Source
    from .spec import TestsSpec


def parse(src: Source, topo: Topology) -> tuple[TestsSpec | None, list[Issue]]:
    """The declared checks (see netemu/labtest/parse.py)."""
    from . import parse as tests_parse

    return tests_parse.parse(src, topo)


FEATURE = Feature(name="tests", top_keys=frozenset({"tests"}), parse=parse)
