#!/usr/bin/env python3
"""Benchmark: derive + forwarding check of a big lab, all host pairs, both families (no root needed).

    python bench/bench_forwarding.py [--hosts 1000] [--lans 40] [--routers 10] [--repeat 3]

Lab: a ring of R routers (`routing: static`, nothing addressed by hand), H hosts spread over L
switched LANs hung off the routers, dual stack. Reports the time of the whole validation (parse,
automatic addressing, static routes, checks) and of the forwarding check alone (H*(H-1) host
pairs per family, both directions), plus how many pairs that covers. Target: all pairs of 1,000
hosts in a few seconds at most.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from netemu.forwarding.check import analyse, messages  # noqa: E402
from netemu.parse import topology_from_text  # noqa: E402


def lab(hosts: int, lans: int, routers: int) -> str:
    """The benchmark topology as YAML text."""
    nodes = [f"  r{i}: {{kind: router}}" for i in range(routers)]
    nodes += [f"  lan{i}: {{kind: switch}}" for i in range(lans)]
    nodes += [f"  h{i}: {{}}" for i in range(hosts)]
    links = [f"  - endpoints: [r{i}, r{(i + 1) % routers}]" for i in range(routers)]
    links += [f"  - endpoints: [r{i % routers}, lan{i}]" for i in range(lans)]
    links += [f"  - endpoints: [h{i}, lan{i % lans}]" for i in range(hosts)]
    return "name: bench\nrouting: static\nnodes:\n" + "\n".join(nodes) + "\nlinks:\n" + "\n".join(links) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--lans", type=int, default=40)
    ap.add_argument("--routers", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    text = lab(args.hosts, args.lans, args.routers)
    validate, check = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        topo = topology_from_text(text, "bench.yaml")
        t1 = time.perf_counter()
        report = analyse(topo)
        found = messages(report)
        t2 = time.perf_counter()
        validate.append(t1 - t0)
        check.append(t2 - t1)
    pairs = args.hosts * (args.hosts - 1)
    print(f"lab: {args.hosts} hosts on {args.lans} LANs, {args.routers} routers in a ring, dual stack, "
          f"{len(topo.links)} links")
    print(f"validate (parse, addressing, static routes, all checks incl. forwarding): "
          f"median {statistics.median(validate):.2f} s (runs: {', '.join(f'{v:.2f}' for v in validate)})")
    print(f"forwarding check alone: {pairs} host pairs x 2 families x 2 directions: "
          f"median {statistics.median(check):.2f} s (runs: {', '.join(f'{v:.2f}' for v in check)})")
    print(f"warnings from the forwarding check: {len(found)} (expected 0: routes are computed)")
    print(f"target: a few seconds at most: {'met' if statistics.median(validate) <= 5 else 'NOT met'}")


if __name__ == "__main__":
    main()
