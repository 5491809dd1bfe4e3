"""Registration of the DNS feature: owns the top-level `dns:` key and the node key `resolver:`.

The feature's modules (dnslib, zone building) are imported only when a topology uses DNS, so labs
without it start fast.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from ..features import Feature, Step

if TYPE_CHECKING:
    from ..errors import Issue
    from ..model import Topology
    from ..ops import Op
    from ..source import Source
    from .spec import DnsSpec


def parse(src: Source, topo: Topology) -> tuple[DnsSpec | None, list[Issue]]:
    """Validate the DNS section, then make sure every derived zone can actually be served."""
    from . import parse as dns_parse
    from .zonedata import check

    spec, issues = dns_parse.parse(src, topo)
    if spec is not None:
        for origin, why in check(spec).items():
            issues.append(src.issue(("dns", "zones"), f"zone {origin} cannot be served: {why}"))
        if any(not i.warning for i in issues):
            spec = None
    return spec, issues


def plan(topo: Topology, spec: DnsSpec) -> list[Op]:
    """Zone files, resolver configuration and the DNS server processes."""
    from . import plan as dns_plan

    return dns_plan.plan(topo, spec)


def derive_resolv_conf(ctx) -> None:
    """Each client's /etc/resolv.conf points at its resolver (replacing the core's, in the model)."""
    import dataclasses

    from ..derive.etc import with_file
    from .plan import resolv_conf

    spec = ctx.feature("dns")
    if spec is None:
        return
    uses = dict(spec.client_resolver)
    conf = {node: resolv_conf(ctx.topo.name, uses.get(node), addrs) for node, addrs in spec.clients}
    nodes = tuple(with_file(n, "resolv.conf", conf[n.name]) if n.name in conf else n for n in ctx.topo.nodes)
    ctx.topo = dataclasses.replace(ctx.topo, nodes=nodes)


def preflight(topo: Topology, spec: DnsSpec) -> list[str]:
    """What this machine lacks to run the lab's DNS."""
    if importlib.util.find_spec("dnslib") is None:
        return ["the DNS servers need the Python package dnslib: pip install dnslib"]
    return []


FEATURE = Feature(
    name="dns",
    top_keys=frozenset({"dns"}),
    node_keys=frozenset({"resolver"}),
    parse=parse,
    plan=plan,
    preflight=preflight,
    steps=(Step("dns-resolv-conf", "derive", 450, derive_resolv_conf),),
)
