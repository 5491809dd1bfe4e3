"""Where a failing path stops: traceroute run inside the source node, read against the model.

traceroute says which hop answered last (or which one sent "unreachable"); the topology model
(the routes as written) says why, when it can: a router without a route there or back.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from ..model import IPAddress, Topology
from ..scenarios import paths
from .probe import TraceHop, traceroute

# traceroute's annotations (man traceroute): what the hop that sent the ICMP error means by it
FLAGS = {
    "!N": "network unreachable (it has no route there)",
    "!H": "host unreachable (nobody answers ARP/neighbour discovery for it)",
    "!X": "communication administratively prohibited (a firewall rejects it)",
    "!P": "protocol unreachable",
    "!F": "fragmentation needed",
    "!S": "source route failed",
}
MAX_HOPS = 16
_ICMP_NOTE = re.compile(r"^ICMP (.+) from (\S+)$")


@dataclass(frozen=True)
class Stop:
    """The hop where a path stops: its node (None if unknown), its address, and why, in words."""

    node: str | None
    address: str | None
    reason: str
    trace: tuple[str, ...] = ()  # traceroute's hops as "1 r1 10.0.1.1", "2 *"
    model: str | None = None  # what the model says is wrong, None when it sees no problem

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {"node": self.node, "address": self.address, "reason": self.reason, "trace": list(self.trace),
                "model": self.model}


def owners(topo: Topology) -> dict[IPAddress, str]:
    """Every address of the lab and the node that has it."""
    return {a.ip: n.name for n in topo.nodes for a in n.addresses()}


def locate(topo: Topology, src: str, dst: IPAddress, names: dict[IPAddress, str], note: str = "") -> Stop:
    """Trace from `src` to `dst` inside the lab and say where and why the path stops.

    `note` is what the failed ping itself saw (fping's "ICMP Network Unreachable from 10.0.1.1"):
    first-hand evidence, used before traceroute's, whose own errors routers may rate-limit away.
    """
    model = explain(topo, src, dst, names)

    def who(addr: IPAddress) -> str:
        return named(addr, names)

    if note.startswith("cannot send"):
        return Stop(src, None, f"{src} itself has no route to {dst}", (), model)
    # A path is at most as long as the lab has routers; fewer probes also spend fewer of the ICMP
    # errors routers rate-limit per destination host.
    max_hops = min(MAX_HOPS, 2 + sum(1 for n in topo.nodes if n.kind == "router"))
    hops, error = traceroute(topo.namespace(src), dst, max_hops)
    trace = tuple(_hop_text(h, names) for h in hops)
    if m := _ICMP_NOTE.match(note):
        sender = ipaddress.ip_address(m.group(2))
        if not any(h.address for h in hops):
            trace = ()  # the router's errors were rate-limited away: nothing worth showing
        return Stop(names.get(sender), str(sender), f"{who(sender)} answers {m.group(1)}", trace, model)
    if not hops:
        if "unreachable" in error.lower():
            return Stop(src, None, f"{src} itself has no route to {dst}", trace, model)
        return Stop(None, None, f"traceroute failed: {error or 'no output'}", trace, model)
    flagged = next((h for h in hops if h.flag and h.address is not None), None)
    if flagged is not None:
        meaning = FLAGS.get(flagged.flag, f"unreachable ({flagged.flag})")
        return Stop(names.get(flagged.address), str(flagged.address), f"{who(flagged.address)} answers {meaning}",
                    trace, model)
    if any(h.address == dst for h in hops):
        return Stop(names.get(dst), str(dst), f"traceroute reaches {who(dst)}, so the path works for UDP: "
                    "ICMP echo (or its reply) is filtered on the way", trace, model)
    answered = [h for h in hops if h.address is not None]
    if not answered:
        return Stop(src, None, f"nothing answers, not even the first hop: {src}'s next hop does not forward "
                    f"towards {dst}, or cannot send back to {src}", trace, model)
    last = answered[-1]
    return Stop(names.get(last.address), str(last.address),
                f"stops after hop {last.ttl}, {who(last.address)}: nothing answers beyond it (the next hop has no "
                f"route onwards, or no route back to {src})", trace, model)


def named(addr: IPAddress, names: dict[IPAddress, str]) -> str:
    """`r1 (10.0.1.1)` for an address of the lab, the bare address otherwise (e.g. a NAT's public one)."""
    return f"{names[addr]} ({addr})" if addr in names else str(addr)


def sender_named(note: str, names: dict[IPAddress, str]) -> str:
    """fping's "ICMP Network Unreachable from 10.0.1.1" with the sender's node: "... from r1 (10.0.1.1)"."""
    m = _ICMP_NOTE.match(note)
    return f"ICMP {m.group(1)} from {named(ipaddress.ip_address(m.group(2)), names)}" if m else note


def explain(topo: Topology, src: str, dst: IPAddress, names: dict[IPAddress, str]) -> str | None:
    """What the model (routes as written) finds wrong on the way to `dst` and back, or None."""
    if dst not in names:
        return None  # an address only NAT gives meaning to: the model's walk does not follow DNAT
    try:
        forward = paths.derive(topo, src, dst)
    except paths.PathError as e:
        return f"on the way there: {e}"
    try:
        paths.reply(topo, forward)
    except paths.PathError as e:
        return f"on the way back: {e}"
    return None


def _hop_text(h: TraceHop, names: dict[IPAddress, str]) -> str:
    if h.address is None:
        return f"{h.ttl} *"
    return " ".join(x for x in (str(h.ttl), names.get(h.address, ""), str(h.address), h.flag) if x)
