"""What the derive stage added to a topology, as text (`netemu plan`, golden tests)."""

from __future__ import annotations

from ..model import Topology


def derived(topo: Topology) -> dict:
    """JSON-ready: automatic addresses, loopbacks and computed routes per node (empty when none)."""
    out: dict = {}
    for node in topo.nodes:
        entry: dict = {}
        auto = {i.name: [str(a) for a in i.auto] for i in node.interfaces if i.auto}
        if auto:
            entry["addresses"] = auto
        if node.loopbacks:
            entry["loopbacks"] = [str(a) for a in node.loopbacks]
        routes = [r.text for r in node.routes if r.origin != "written"]
        if routes:
            entry["routes"] = routes
        if entry:
            out[node.name] = entry
    return out


def derived_lines(topo: Topology) -> list[str]:
    """One line per node and interface with what netemu numbered or computed."""
    data = derived(topo)
    if not data:
        return []
    lines = [f"derived (routing: {topo.routing.protocol}):"]
    width = max(len(n) for n in data)
    for name, entry in data.items():
        for ifname, addrs in entry.get("addresses", {}).items():
            lines.append(f"  {name:<{width}}  {ifname:<6} {' '.join(addrs)}")
        if "loopbacks" in entry:
            lines.append(f"  {name:<{width}}  {'lo':<6} {' '.join(entry['loopbacks'])}")
        for text in entry.get("routes", ()):
            lines.append(f"  {name:<{width}}  route  {text}")
    return lines
