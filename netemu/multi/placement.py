"""Which machine each node runs on: the topology's `host:` keys, or automatic placement.

Automatic placement balances node counts and minimises the links cut between machines with
networkx's Kernighan–Lin bisection (`networkx.algorithms.community.kernighan_lin_bisection`),
applied recursively: k machines are split into two groups, the nodes in proportion, and each
half again, until every group is one machine. Kernighan–Lin swaps pairs of nodes, so the sizes
given by the first split are kept exactly; it is seeded, so a placement never changes between runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import UsageError
from ..model import Topology

SEED = 17  # Kernighan–Lin shuffles ties randomly: a fixed seed makes `plan` and `up` agree


@dataclass(frozen=True)
class Placement:
    """Node -> machine, and the links whose ends are on two machines."""

    machine_of: tuple[tuple[str, str], ...]
    cut: tuple[int, ...]  # indexes into Topology.links
    how: str  # "host: keys" or "automatic (networkx Kernighan-Lin, recursive bisection)"

    def of(self, node: str) -> str:
        """The machine of `node`."""
        return dict(self.machine_of)[node]

    def nodes_on(self, machine: str) -> list[str]:
        """The nodes placed on `machine`, in topology order."""
        return [n for n, m in self.machine_of if m == machine]


def _graph(topo: Topology):
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(n.name for n in topo.nodes)
    for link in topo.links:
        a, b = link.a.node, link.b.node
        w = g.get_edge_data(a, b, {}).get("weight", 0)
        g.add_edge(a, b, weight=w + 1)
    return g


def _bisect(g, nodes: list[str], machines: Sequence[str], out: dict[str, str]) -> None:
    from networkx.algorithms.community import kernighan_lin_bisection

    if len(machines) == 1:
        out.update((n, machines[0]) for n in nodes)
        return
    left_m, right_m = machines[: len(machines) // 2], machines[len(machines) // 2:]
    want = round(len(nodes) * len(left_m) / len(machines))
    # Start from a breadth-first order, so the first guess is already made of neighbours.
    import networkx as nx

    sub = g.subgraph(nodes)
    order: list[str] = []
    for comp in sorted(nx.connected_components(sub), key=lambda c: -len(c)):
        start = min(comp, key=nodes.index)
        order += [start] + [v for _, v in nx.bfs_edges(sub, start, sort_neighbors=sorted)]
    left, right = set(order[:want]), set(order[want:])
    if left and right:
        a, b = kernighan_lin_bisection(sub, partition=(left, right), weight="weight", seed=SEED)
        left, right = (a, b) if len(a) == want else (b, a)  # sizes are kept; the order of the answer is not
    _bisect(g, [n for n in nodes if n in left], left_m, out)
    _bisect(g, [n for n in nodes if n in right], right_m, out)


def place(topo: Topology, machines: Sequence[str], pins: dict[str, str] | None = None) -> Placement:
    """Place every node: by `pins` (node -> machine, from `host:` keys) when given, else automatically."""
    pins = pins or {}
    if pins:
        problems = [f"node {n}: host {m!r} is not in the inventory (machines: {', '.join(machines)})"
                    for n, m in pins.items() if m not in machines]
        missing = [n.name for n in topo.nodes if n.name not in pins]
        if missing:
            problems.append(f"nodes without host: {', '.join(missing[:8])}{' …' if len(missing) > 8 else ''}; "
                            "give every node a host:, or none for automatic placement")
        if problems:
            raise UsageError("placement: " + "; ".join(problems))
        out, how = dict(pins), "host: keys of the topology"
    else:
        out = {}
        _bisect(_graph(topo), [n.name for n in topo.nodes], list(machines), out)
        how = "automatic (networkx Kernighan-Lin bisection, recursive)"
    cut = tuple(link.index for link in topo.links if out[link.a.node] != out[link.b.node])
    return Placement(tuple((n.name, out[n.name]) for n in topo.nodes), cut, how)
