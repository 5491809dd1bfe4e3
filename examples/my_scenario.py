#!/usr/bin/env python3
"""A user's own scenario: ICMP echo round trips, and what `icmp_echo_ignore_all` does to them.

Run it with:   sudo netemu run ./examples/my_scenario.py
or on a lab that is already up:   sudo netemu run ./examples/my_scenario.py --lab mylab --client a --server b

It shows the whole scenario API: a default topology (inline YAML here; a file path works too),
roles, a requirement checked before anything is touched, cases (learned state flushed first,
every change undone after), commands, sysctls, counters, a capture, records, checks, a table
and a picture. netemu brings the lab up and down and writes the report.
"""

from __future__ import annotations

import re
from typing import ClassVar

from netemu.scenarios import Context, Scenario, Setup, plots, stats


class PingRtt(Scenario):
    name = "ping-rtt"
    description = "ICMP echo RTT client -> server, and a server that ignores echo requests"
    topology = """
name: ping-rtt
nodes:
  client: {routes: [default via 10.1.0.1]}
  router: {kind: router}
  server: {routes: [default via 10.2.0.1]}
links:
  - endpoints: ["client 10.1.0.2/24", "router 10.1.0.1/24"]
  - endpoints: ["router 10.2.0.1/24", "server 10.2.0.2/24"]
"""
    roles: ClassVar[dict[str, str]] = {"client": "client", "server": "server"}

    def requirements(self, setup: Setup) -> list[str]:
        """Nothing runs unless the client can reach the server over IPv4 (from the model alone)."""
        if not setup.has_address("server", 4):
            return [f"{setup.node_name('server')} has no IPv4 address"]
        # the way there and the replies' way back (through any source NAT); a PathError is reported as a problem
        setup.reply_path("client", "server", 4)
        return []

    def run(self, ctx: Context) -> None:
        client, server = ctx.node("client"), ctx.node("server")
        target = str(server.address(4))
        count = 5 if ctx.quick else 20
        ctx.record(path=ctx.path("client", "server").describe())

        with ctx.case("echo", "the server answers") as case:
            before = server.netstat()
            capture = server.capture("icmp")
            rtts = ping(client, target, count)
            packets = capture.stop()
            seen = server.netstat()["Icmp.InEchos"] - before["Icmp.InEchos"]
            s = stats.summary(rtts)
            case.record(**s, echo_requests_seen=seen, captured=len(packets))
            ctx.check("every echo answered", len(rtts) == count, f"{len(rtts)} of {count} replies")
            ctx.check("server counted every request", seen == count, f"Icmp.InEchos +{seen} (namespace-local)")

        with ctx.case("ignored", "server sets net.ipv4.icmp_echo_ignore_all=1") as case:
            server.set_sysctl("net.ipv4.icmp_echo_ignore_all", 1)  # restored when the case ends
            rtts_ignored = ping(client, target, 3)
            case.record(replies=len(rtts_ignored))
            ctx.check("an ignoring server stays silent", not rtts_ignored, f"{len(rtts_ignored)} replies")
        ignore_all = server.sysctl("net.ipv4.icmp_echo_ignore_all")
        ctx.check("the sysctl was restored", ignore_all == "0", f"icmp_echo_ignore_all is {ignore_all} after the case")

        ctx.table("ICMP echo round trips", ["p50 ms", "p90 ms", "max ms", "replies"],
                  [[s["p50_ms"], s["p90_ms"], s["max_ms"], s["requests"]]])
        ctx.picture("rtt.svg", plots.per_connection("Echo round trips", {"ping": rtts}, "ms", what="round trip",
                                                       x_label="echo number"),
                    "Round trip per echo request")


def ping(node, target: str, count: int) -> list[float]:
    """RTTs (ms) of `count` echo requests, 0.05 s apart, each waiting at most 1 s."""
    out = node.run(["ping", "-n", "-c", str(count), "-i", "0.05", "-W", "1", target], timeout=count + 10,
                   check=False).stdout
    return [float(m) for m in re.findall(r"time=([\d.]+) ms", out)]
