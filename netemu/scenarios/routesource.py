"""Which routes each node forwards by, for the path walk: the model's, or the kernel's.

A host's routes and a static router's are in the model. A router whose routes a routing daemon
installs (FRR, `routing: ospf|bgp`) has none there: what it forwards by exists only in its kernel
once the lab is up and routing has converged. For such a router the walk reads the FIB of its
namespace (netemu.kernel.fib) and hands it to the same lookup, so one lookup rule decides for
every node. Each FIB is read once per walk (`Routes` is made per question asked).

On a lab brought up across machines from here (netemu.multi) a router's namespace is on its machine:
its FIB is read there (the machine's agent, or `netemu part fib`), and each node is the lab's own, whose
links cut between machines have the MTU VXLAN carries (what the kernel sends by, not the file's).
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import NetemuError
from ..kernel import netns
from ..model import Node, Topology


def dynamic(topo: Topology, node: str) -> bool:
    """Whether `node`'s routes come from a routing daemon (FRR) at run time, not from the model."""
    frr = topo.feature("frr")
    router = getattr(frr, "router", None)  # the derived FrrLab (None without `routing: ospf|bgp`)
    return router is not None and router(node) is not None


def any_dynamic(topo: Topology) -> bool:
    """Whether some node of the topology learns its routes at run time."""
    return any(dynamic(topo, n.name) for n in topo.nodes)


class Routes:
    """The nodes of a topology with the routes they forward by now (live FIBs where routes are dynamic)."""

    def __init__(self, topo: Topology, live: bool = True):
        """`live=False`: the model's routes only, whatever runs (checking a topology never reads a lab)."""
        self.topo = topo
        self._nodes: dict[str, Node] = {}
        self._live = live
        self._across = _across(topo) if live else None

    def node(self, name: str) -> Node:
        """The node, its routes replaced by its kernel FIB when a daemon installs them and the lab is up."""
        found = self._nodes.get(name)
        if found is None:
            found = self.topo.node(name)
            if self._across is not None:
                found = self._across.topology.node(name)  # with the MTU of each link cut between machines
            if self.live(name):
                routes = self._fib(name)
                if routes is not None:  # None: the lab went down meanwhile, nothing is known
                    found = replace(found, routes=routes)
            self._nodes[name] = found
        return found

    def _fib(self, name: str):
        if self._across is not None:
            return self._across.node(name).fib()
        from ..kernel import fib

        try:
            return fib.read(self.topo.namespace(name))
        except FileNotFoundError:
            return None

    def live(self, name: str) -> bool:
        """Whether `name`'s routes are dynamic and the lab is up: its namespace exists on this machine, or
        the lab is up across machines from here (the node is on its machine)."""
        if not self._live or not dynamic(self.topo, name):
            return False
        return self._across is not None or netns.exists(self.topo.namespace(name))

    def unknown(self, name: str) -> str:
        """Why the model knows no route of `name`, for an error message ('' when it should know them)."""
        if not dynamic(self.topo, name) or self.live(name):
            return ""
        protocol = self.topo.routing.protocol.upper()
        return (f" (its routes come from {protocol} at run time: they are known once lab {self.topo.name} is up "
                f"and has converged)")


def _across(topo: Topology):
    """The handle of lab `topo.name` when it is up across machines from here and has topo's nodes, else None."""
    from ..multi.nodes import RemoteLab

    if not RemoteLab.known(topo.name):
        return None
    try:
        lab = RemoteLab.attach(topo.name)
    except NetemuError:
        return None
    mine = {n.name for n in lab.topology.nodes}
    return lab if all(n.name in mine for n in topo.nodes) else None
