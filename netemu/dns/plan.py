"""The DNS feature's operations: config files, resolv.conf of each client, one server process per DNS node."""

from __future__ import annotations

import ipaddress
import json
import sys
from pathlib import Path

from ..labdir import RUN_DIR
from ..model import Topology
from ..ops import Op, StartProcess, WriteFile
from .parse import node_addresses
from .spec import DnsSpec
from .zonedata import build, hints_file, root_hints

INDEX = "index.json"


def dns_dir(lab: str) -> Path:
    """Where a lab's DNS configs, ready files and control sockets live."""
    return RUN_DIR / lab / "dns"


def control_socket(lab: str, node: str) -> Path:
    """The Unix socket of a resolver's trace/flush interface (reachable from any namespace)."""
    return dns_dir(lab) / f"{node}.sock"


def resolv_conf(lab: str, resolver: str | None, addresses: tuple[str, ...]) -> str:
    """A resolv.conf pointing only into the lab."""
    head = f"# netemu: DNS of lab {lab}" + (f" (resolver {resolver})" if resolver else "")
    return "\n".join([head, *(f"nameserver {a}" for a in addresses), "options timeout:2 attempts:2", ""])


def plan(topo: Topology, spec: DnsSpec) -> list[Op]:
    """Files first, then the authoritative servers, then the resolvers (they need nothing running to start)."""
    d = dns_dir(topo.name)
    zones = build(spec)
    hints = root_hints(spec)
    ops: list[Op] = []
    starts: list[Op] = []
    configs: dict[str, dict] = {}
    for z in spec.zones:
        for s in z.servers:
            cfg = configs.setdefault(s.node, {"node": s.node, "listen": node_addresses(topo.node(s.node)),
                                              "port": 53, "ready_file": str(d / f"{s.node}.ready"), "zones": {}})
            cfg["zones"][z.origin] = zones[z.origin]
    for r in spec.resolvers:
        families = sorted({ipaddress.ip_address(a).version for a in r.addresses})
        configs[r.node] = {"node": r.node, "listen": list(r.addresses), "port": 53,
                           "ready_file": str(d / f"{r.node}.ready"),
                           "control": str(control_socket(topo.name, r.node)),
                           "resolver": {"hints": [list(h) for h in hints], "families": families}}
    for node, cfg in configs.items():
        path = d / f"{node}.json"
        ops.append(WriteFile(str(path), json.dumps(cfg, indent=1) + "\n"))
        starts.append(StartProcess(topo.namespace(node), f"dns-{node}",
                                   (sys.executable, "-m", "netemu.dns.server", str(path)), cfg["ready_file"]))
    if hints:
        ops.append(WriteFile(str(d / "root.hints"), hints_file(spec)))
    ops.append(WriteFile(str(d / INDEX), json.dumps(index(topo, spec), indent=1) + "\n"))
    return ops + starts  # each client's resolv.conf is derived into the model (feature.derive_resolv_conf)


def index(topo: Topology, spec: DnsSpec) -> dict:
    """What `netemu dns trace` needs once the lab is up: resolvers, who uses which, address → node."""
    names = {}
    for n in topo.nodes:
        for a in node_addresses(n):
            names.setdefault(a, n.name)
    for z in spec.zones:
        for s in z.servers:
            for a in s.addresses:
                names.setdefault(a, s.node)
    return {
        "lab": topo.name,
        "resolvers": {r.node: {"control": str(control_socket(topo.name, r.node)), "addresses": list(r.addresses)}
                      for r in spec.resolvers},
        "clients": dict(spec.client_resolver),
        "names": names,
        "zones": {z.origin: [s.node for s in z.servers] for z in spec.zones},
    }
