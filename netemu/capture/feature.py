"""The capture feature: `capture:` on a node (all or some of its interfaces) or on a link (one end).

Captures start right after the links and addresses exist, before NAT, DNS and services, so the
files hold a lab's traffic from its first packet. They are written under the lab's run dir
(captures/) and `down --keep-captures DIR` keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..features import Feature

if TYPE_CHECKING:
    from ..errors import Issue
    from ..model import Topology
    from ..ops import Op
    from ..source import Source

PREFIX = "capture-"  # process names of the topology's captures (down --keep-captures stops these first)


@dataclass(frozen=True)
class NodeCapture:
    """One capture file: a node's interfaces."""

    node: str
    interfaces: tuple[str, ...]
    file: str  # the name under captures/

    @property
    def process(self) -> str:
        """The lab's name for the capture process."""
        return PREFIX + self.file.rsplit(".", 1)[0]


@dataclass(frozen=True)
class Captures:
    """Every capture a topology asks for."""

    captures: tuple[NodeCapture, ...]


def parse(src: Source, topo: Topology) -> tuple[Captures | None, list[Issue]]:
    """`capture: true | [IF, …]` on nodes; `capture: true | NODE` on links."""
    issues: list[Issue] = []
    out: list[NodeCapture] = []
    nodes = src.data.get("nodes") or {}
    for node in topo.nodes:
        raw = nodes.get(node.name)
        if not isinstance(raw, dict) or "capture" not in raw:
            continue
        value, path = raw["capture"], ("nodes", node.name, "capture")
        names = [i.name for i in node.interfaces]
        if value is True:
            if names:
                out.append(NodeCapture(node.name, tuple(names), f"{node.name}.pcapng"))
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            unknown = [v for v in value if v not in names]
            if unknown:
                issues.append(src.issue(path, f"{node.name} has no interface {', '.join(unknown)} "
                                              f"(it has {', '.join(names) or 'none'})"))
            else:
                file = f"{node.name}.pcapng" if len(value) > 1 else f"{node.name}-{value[0]}.pcapng"
                out.append(NodeCapture(node.name, tuple(value), file))
        elif value is not False:
            issues.append(src.issue(path, f"must be true (every interface) or a list of interfaces, got {value!r}"))
    for link in topo.links:
        raw = (src.data.get("links") or [])[link.index]
        if not isinstance(raw, dict) or "capture" not in raw:
            continue
        value, path = raw["capture"], ("links", link.index, "capture")
        ends = {link.a.node: link.a, link.b.node: link.b}
        if value is True:
            # The first end that is not a switch (a switch port sees the same frames, but "h1-eth0" says more).
            end = next((e for e in (link.a, link.b) if not topo.node(e.node).is_switch), link.a)
        elif isinstance(value, str) and value in ends:
            end = ends[value]
        else:
            if value is not False:
                issues.append(src.issue(path, f"must be true or the node of the end to capture at "
                                              f"({' or '.join(ends)}), got {value!r}"))
            continue
        cap = NodeCapture(end.node, (end.name,), f"{end.node}-{end.name}.pcapng")
        if cap not in out:
            out.append(cap)
    if not out or any(not i.warning for i in issues):
        return None, issues
    return Captures(tuple(out)), issues


def capture_dir(lab: str) -> str:
    """Where a lab's topology captures are written."""
    from ..labdir import LabDir

    return str(LabDir(lab).path / "captures")


def plan(topo: Topology, model: Captures) -> list[Op]:
    """One dumpcap per capture file, ready once it has created its file."""
    from ..ops import StartProcess, WriteFile
    from .command import FILE_LIMIT_KB, Capture

    # Creates (and journals) the directory the capture tools write into.
    ops: list[Op] = [WriteFile(f"{capture_dir(topo.name)}/README.txt",
                               f"Packets of lab {topo.name} from `netemu up` on, one pcapng file per capture "
                               f"(each packet names its interface); stopped at {FILE_LIMIT_KB // 1024} MiB.\n"
                               f"Keep them with: netemu down {topo.name} --keep-captures DIR\n")]
    for c in model.captures:
        path = f"{capture_dir(topo.name)}/{c.file}"
        argv = Capture(c.interfaces, write=path, limit_kb=FILE_LIMIT_KB).argv()
        ops.append(StartProcess(topo.namespace(c.node), c.process, tuple(argv), ready=("file", path)))
    return ops


def preflight(topo: Topology, model: Captures) -> list[str]:
    """dumpcap must be installed."""
    import shutil

    if shutil.which("dumpcap") is None:
        return ["capture: needs dumpcap (apt-get install tshark, or drop the topology's `capture:` keys)"]
    return []


FEATURE = Feature(
    name="capture",
    node_keys=frozenset({"capture"}),
    link_keys=frozenset({"capture"}),
    parse=parse,
    plan=plan,
    preflight=preflight,
)
