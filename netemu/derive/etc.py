"""The /etc files of each node (`Node.etc`): hosts and resolv.conf, which features may replace.

`ip netns exec` bind-mounts /etc/netns/NS/* over /etc/*; the plan writes exactly these files. A
feature that serves DNS replaces resolv.conf in its own derive step (no last-write-wins in the plan).
"""

from __future__ import annotations

import dataclasses

from ..features import Step
from ..model import Node, Topology

RESOLV_CONF = "# netemu: this lab has no DNS resolver, so nothing leaks to the host's.\noptions timeout:1 attempts:1\n"


def hosts_file(topo: Topology) -> str:
    """/etc/hosts for every node: each node's first IPv4 and IPv6 address by its name."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback", ""]
    for node in topo.nodes:
        named: set[int] = set()
        for iface in node.interfaces:
            for addr in iface.addresses:
                names = f"{node.name}-{iface.name}"
                if addr.version not in named:
                    names = f"{node.name} {names}"
                    named.add(addr.version)
                lines.append(f"{addr.ip}\t{names}")
    return "\n".join(lines) + "\n"


def with_file(node: Node, name: str, content: str) -> Node:
    """`node` with /etc/`name` set to `content` (replacing an earlier one)."""
    return dataclasses.replace(node, etc=tuple((n, c) for n, c in node.etc if n != name) + ((name, content),))


def files(ctx) -> None:
    """Every IP node gets the lab's hosts file and a resolv.conf that points nowhere."""
    topo: Topology = ctx.topo
    hosts = hosts_file(topo)
    nodes = tuple(n if n.is_switch else dataclasses.replace(n, etc=(("hosts", hosts), ("resolv.conf", RESOLV_CONF)))
                  for n in topo.nodes)
    ctx.topo = dataclasses.replace(topo, nodes=nodes)


STEPS = (Step("etc-files", "derive", 400, files, needs_core=False),)
