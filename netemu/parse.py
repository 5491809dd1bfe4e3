"""Turn a topology file into the validated, derived Topology, collecting every problem.

The stages live elsewhere (netemu.derive.pipeline): the core reads the document (netemu.core),
derive steps compute addresses, routes and files, features parse and derive, checks run last.
"""

from __future__ import annotations

from .model import Topology
from .source import Source, load, parse_text


def from_source(src: Source) -> Topology:
    """Validate and derive a loaded document; raise TopologyError listing every problem."""
    from .derive.pipeline import run

    return run(src)


def load_topology(path: str) -> Topology:
    """Load, validate and derive a topology file."""
    return from_source(load(path))


def topology_from_text(text: str, filename: str | None = None) -> Topology:
    """Validate and derive topology YAML given as text."""
    return from_source(parse_text(text, filename))
