"""Registration of the DNS feature: owns the top-level `dns:` key and the node key `resolver:`."""

from __future__ import annotations

import importlib.util

from ..errors import Issue
from ..features import Feature
from ..model import Topology
from ..source import Source
from . import parse as dns_parse
from . import plan as dns_plan
from .spec import DnsSpec
from .zonedata import check


def parse(src: Source, topo: Topology) -> tuple[DnsSpec | None, list[Issue]]:
    """Validate the DNS section, then make sure every derived zone can actually be served."""
    spec, issues = dns_parse.parse(src, topo)
    if spec is not None:
        for origin, why in check(spec).items():
            issues.append(src.issue(("dns", "zones"), f"zone {origin} cannot be served: {why}"))
        if any(not i.warning for i in issues):
            spec = None
    return spec, issues


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
    plan=dns_plan.plan,
    preflight=preflight,
)
