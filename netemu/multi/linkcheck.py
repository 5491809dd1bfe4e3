"""`netemu check` of an impaired link between machines, from the coordinator: the round trip across it.

Each machine measures the links it holds both ends of (linkemu.check, TCP handshakes between two of its
namespaces). A link between machines has its two ends on two machines, so no process sees both: its
round trip is measured with `ping -U` (user-to-user time: the fallback holds packets where they are
received, which a plain ping from a link's end would not all see) from one end's node to the other's
address, against the same ping to that node's own loopback (the machine's share). Rates are not
measured across machines.
"""

from __future__ import annotations

import re
import statistics

from ..linkemu.check import TOLERANCE, _addr, _probe_path
from ..linkemu.model import Impairment
from .nodes import RemoteLab

COUNT = 15
SLACK_MS = 1.0  # per delayed hop: timers of a busy machine fire late (one machine measures its own; here two)
TIME = re.compile(r"time=([0-9.]+) ms")


def _rtts(lab: RemoteLab, node: str, address: str) -> list[float]:
    res = lab.node(node).run(["ping", "-U", "-n", "-c", str(COUNT), "-i", "0.2", "-W", "2", address], timeout=60)
    return [float(m.group(1)) for m in TIME.finditer(res.stdout)]


def measure(lab: RemoteLab, index: int) -> dict:
    """The check of link `index` (a dict shaped like linkemu.check.LinkCheck's, with `machine`)."""
    state = lab.live_state() or {"links": []}
    link = next((x for x in state["links"] if x["index"] == index), None)
    a, b = (lab.topology.links[index].a, lab.topology.links[index].b)
    out = {"link": index, "path": f"{a.node}:{a.name} -- {b.node}:{b.name}", "rtt_expected_ms": None,
           "rtt_ms": None, "rtt_base_ms": None, "rates": [], "warnings": [], "skipped": None, "machine": None}
    found = _probe_path(state, link) if link else None
    pair = _addr(found[0], found[1]) if found else None
    if link is None or not found or not pair:
        out["skipped"] = "no pair of IP addresses on a common subnet across this link"
        return out
    if link.get("admin", "up") != "up":
        out["skipped"] = "link is down"
        return out
    p, q, hops = found
    machines = [lab.placement[p["node"]], lab.placement[q["node"]]]
    out["path"] = f"{p['node']}:{p['ifname']} -> {q['node']}:{q['ifname']}"
    out["machine"] = " -> ".join(machines)
    links = {x["index"]: x for x in state["links"]}
    imps = [Impairment.from_json(links[i]["dirs"][d]) for i, d in hops] + \
        [Impairment.from_json(links[i]["dirs"][1 - d]) for i, d in hops]
    expected = sum(i.delay_us for i in imps) / 1000
    samples = _rtts(lab, p["node"], pair[1])
    base = _rtts(lab, p["node"], "127.0.0.1")
    out["rtt_expected_ms"] = expected
    if not samples:
        out["warnings"].append("no ping was answered")
        return out
    rtt, own = statistics.median(samples), statistics.median(base) if base else 0.0
    out["rtt_ms"], out["rtt_base_ms"] = round(rtt, 3), round(own, 3)
    added = rtt - own
    slack = SLACK_MS * sum(1 for i in imps if i.delays)
    if expected > 0 and abs(added - expected) > TOLERANCE * expected + slack:
        out["warnings"].append(f"RTT {rtt:.1f} ms (ping -U): {added:.1f} ms added to the machine's own {own:.1f} ms, "
                               f"configured {expected:.1f} ms ({(added / expected - 1) * 100:+.0f}%)")
    for i, d in hops:
        for direction in (d, 1 - d):
            imp = Impairment.from_json(links[i]["dirs"][direction])
            if imp.bandwidth:
                sender, receiver = links[i]["ends"][direction], links[i]["ends"][1 - direction]
                out["rates"].append({"from": f"{sender['node']}:{sender['ifname']}",
                                     "to": f"{receiver['node']}:{receiver['ifname']}",
                                     "skipped": "rates are not measured across machines yet"})
    return out
