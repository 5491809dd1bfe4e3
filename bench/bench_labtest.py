#!/usr/bin/env python3
"""Benchmark: `netemu test LAB` (all pairs, both families) against one `ping -c 1` per pair, same run.

    python bench/bench_labtest.py [--hosts 120] [--routers 8] [--sample 200]    (as root)

Lab: a chain of R routers, each with a switched LAN of HOSTS/R hosts, dual stack, every route
written. `netemu test` pings every host's addresses from every other host (HOSTS x (HOSTS-1) x 2);
the baseline runs `ip netns exec NS ping -c 1` for a random sample of the same pairs one after
another, as a script would, and is extrapolated to all pairs. The machine is noisy: only the
ratio of this run means anything.

Keep LANs at 15 hosts or fewer (HOSTS/R): netemu installs permanent neighbour entries for segments of
up to 16 nodes; on bigger LANs hosts resolve each other by ARP, and all pairs of 120 hosts overflow
the kernel's neighbour table, which is global to the machine (gc_thresh3): netemu test then reports
those pings as failed, truthfully, and other labs on the machine suffer meanwhile.
"""

from __future__ import annotations

import argparse
import random
import secrets
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from netemu.apply import down  # noqa: E402
from netemu.lab import Lab  # noqa: E402
from netemu.labtest import pairs  # noqa: E402
from netemu.parse import topology_from_text  # noqa: E402


def topology(name: str, hosts: int, routers: int) -> str:
    """YAML of the chain of routers with a LAN each (LAN i: 10.i.0.0/16, 2001:db8:i::/64)."""
    nodes, links = [], []
    for r in range(routers):
        routes = []
        for lan in range(routers):
            if lan != r:
                side, peer = (r - 1, 1) if lan < r else (r, 2)  # the link towards it, the neighbour's end
                gw4, gw6 = f"10.250.{side}.{peer}", f"2001:db8:250:{side}::{peer}"
                routes += [f"10.{lan}.0.0/16 via {gw4}", f"2001:db8:{lan}::/64 via {gw6}"]
        nodes.append(f"  r{r}: {{kind: router, routes: {routes!r}}}".replace("'", '"'))
        nodes.append(f"  lan{r}: {{kind: switch}}")
        links.append(f'  - endpoints: ["r{r}:eth0 10.{r}.0.1/16 2001:db8:{r}::1/64", lan{r}]')
        if r < routers - 1:
            links.append(f'  - endpoints: ["r{r}:eth1 10.250.{r}.1/24 2001:db8:250:{r}::1/64", '
                         f'"r{r + 1}:eth2 10.250.{r}.2/24 2001:db8:250:{r}::2/64"]')
    for h in range(hosts):
        r = h % routers
        nodes.append(f'  h{h}: {{kind: host, routes: ["default via 10.{r}.0.1", "default via 2001:db8:{r}::1"]}}')
        links.append(f'  - endpoints: ["h{h}:eth0 10.{r}.1.{h // routers + 2}/16 '
                     f'2001:db8:{r}::{h // routers + 2:x}/64", lan{r}]')
    return f"name: {name}\nnodes:\n" + "\n".join(nodes) + "\nlinks:\n" + "\n".join(links) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=120)
    ap.add_argument("--routers", type=int, default=8)
    ap.add_argument("--sample", type=int, default=200)
    args = ap.parse_args()
    name = f"labtest-bench-{secrets.token_hex(2)}"
    topo = topology_from_text(topology(name, args.hosts, args.routers), "<bench>")
    t0 = time.monotonic()
    lab = Lab.up(topo)
    try:
        print(f"lab {name}: {args.hosts} hosts, {args.routers} routers, up in {time.monotonic() - t0:.1f} s")
        t0 = time.monotonic()
        report = pairs.run(lab.topology, deadline=time.time() + 30)
        took = time.monotonic() - t0
        n = len(report.pairs)
        print(f"netemu test: {n} pings ({n - len(report.failures)} answered) in {took:.2f} s "
              f"= {n / took:.0f} pings/s")
        rng = random.Random(1)
        sample = rng.sample(list(report.pairs), min(args.sample, n))
        t0 = time.monotonic()
        ok = 0
        for p in sample:
            res = subprocess.run(["ip", "netns", "exec", lab.topology.namespace(p.src), "ping", f"-{p.address.version}",
                                  "-c", "1", "-W", "1", str(p.address)], capture_output=True)
            ok += res.returncode == 0
        per = (time.monotonic() - t0) / len(sample)
        print(f"baseline, one ping per pair: {len(sample)} pings ({ok} answered) at {per * 1000:.1f} ms each "
              f"-> {per * n:.1f} s for all {n}; netemu test is {per * n / took:.1f}x faster")
    finally:
        down(name)


if __name__ == "__main__":
    main()
