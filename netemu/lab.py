"""A handle on a lab that is up: its topology and its nodes, for status, exec and scenarios."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import apply as apply_mod
from . import sysctls
from .errors import LabError, NotFoundError, clip
from .kernel import netns, procs
from .labdir import existing
from .model import Node, Topology
from .parse import topology_from_text
from .plan import build


@dataclass(frozen=True)
class NodeHandle:
    """One node of a running lab: run commands inside its namespace, read and write its sysctls."""

    lab: str
    model: Node
    ns: str

    @property
    def name(self) -> str:
        return self.model.name

    def run(self, argv: list[str], timeout: float = 60, input: str | None = None,
            check: bool = False) -> subprocess.CompletedProcess:
        """Run argv inside the node to completion (output captured as text)."""
        res = procs.run(self.ns, argv, input, timeout)
        if check and res.returncode != 0:
            raise LabError(f"{self.name}: {' '.join(argv)} exited {res.returncode}: {res.stderr.strip()[:500]}")
        return res

    def popen(self, argv: list[str], **kwargs) -> subprocess.Popen:
        """Start argv inside the node in the background; the caller stops it (down kills it anyway)."""
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        kwargs.setdefault("text", True)
        return subprocess.Popen(procs.ns_argv(self.ns, argv), **kwargs)

    def sysctl(self, key: str) -> str:
        """Read a sysctl as the node sees it."""
        with netns.entered(self.ns), open(sysctls.proc_path(key)) as f:
            return f.read().strip()

    def set_sysctl(self, key: str, value: object) -> str:
        """Write a sysctl in the node's namespace; returns the previous value."""
        old = self.sysctl(key)
        with netns.entered(self.ns), open(sysctls.proc_path(key), "w") as f:
            f.write(sysctls.value_text(value))
        return old


class Lab:
    """A lab that is up on this machine."""

    def __init__(self, topology: Topology):
        self.topology = topology
        self.name = topology.name

    @classmethod
    def up(cls, topology: Topology, topology_text: str | None = None, wait: float | None = 60.0) -> Lab:
        """Build `topology` and return its handle, once its routing has converged (unless `wait` is None)."""
        apply_mod.up(topology, build(topology), topology_text)
        lab = cls(topology)
        if wait is not None:
            try:
                converge(topology, wait)
            except BaseException:
                lab.down()
                raise
        return lab

    @classmethod
    def attach(cls, name: str) -> Lab:
        """The handle of lab `name`, which must be up (its topology as it was at `up`)."""
        d = existing(name)
        why = d.unfinished()
        if why:
            raise LabError(why)
        try:
            text = d.topology_copy.read_text()
        except OSError:
            raise LabError(f"lab {name!r} has no saved topology; run 'netemu down {name}' and up it again") from None
        return cls(topology_from_text(text, d.read_meta().get("source")))

    def node(self, name: str) -> NodeHandle:
        """The handle of node `name`."""
        try:
            model = self.topology.node(name)
        except KeyError:
            raise NotFoundError(f"lab {self.name!r} has no node {clip(repr(name), 60)} "
                                f"(nodes: {clip(', '.join(n.name for n in self.topology.nodes), 200)})") from None
        return NodeHandle(self.name, model, self.topology.namespace(name))

    def down(self) -> None:
        """Remove the lab."""
        apply_mod.down(self.name)


def converge(topo: Topology, timeout: float, started: Callable[[str, float], None] | None = None) -> list[tuple[str, Any]]:
    """Wait until every feature that settles after `up` has (routing converged): [(feature, its result)].

    `started(feature, timeout)` is called before each wait (the CLI says what it waits for).
    """
    from . import features

    out = []
    for feature in features.registered():
        model = topo.feature(feature.name)
        if feature.converge is not None and model is not None:
            if started:
                started(feature.name, timeout)
            out.append((feature.name, feature.converge(topo, model, timeout)))
    return out
