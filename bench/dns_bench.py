"""Benchmark netemu's DNS servers with dnsperf over veths: authoritative answers and resolver cache hits.

Run as root from the repository:  sudo python3 bench/dns_bench.py [--seconds 10]
Brings up a small lab (root, com., bob.com., a resolver, a client), runs dnsperf from the client
for each target, prints queries/s, and takes the lab down again.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOPOLOGY = """
name: {name}
nodes:
  lan: {{kind: switch}}
  root: {{}}
  tld: {{}}
  bob: {{}}
  res: {{}}
  client: {{resolver: res}}
links:
  - endpoints: ["root:eth0 10.99.0.2/24", lan]
  - endpoints: ["tld:eth0 10.99.0.3/24", lan]
  - endpoints: ["bob:eth0 10.99.0.4/24", lan]
  - endpoints: ["res:eth0 10.99.0.53/24", lan]
  - endpoints: ["client:eth0 10.99.0.100/24", lan]
dns:
  zones:
    .: {{servers: [root]}}
    com.: {{servers: [tld]}}
    bob.com.:
      servers: [bob]
      records: [{records}]
  resolvers: [res]
"""
NAMES = [f"h{i}" for i in range(20)]


def dnsperf(ns: str, server: str, queries: str, seconds: int) -> float:
    """Run dnsperf inside `ns`; return the queries per second it reports."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write(queries)
    try:
        out = subprocess.run(["ip", "netns", "exec", ns, "dnsperf", "-s", server, "-d", f.name, "-l", str(seconds),
                              "-c", "4", "-q", "200", "-t", "2"], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(f.name)
    m = re.search(r"Queries per second:\s+([\d.]+)", out)
    lost = re.search(r"Queries lost:\s+(\d+)", out)
    if m is None:
        raise RuntimeError(f"unexpected dnsperf output:\n{out}")
    print(f"    dnsperf: {m.group(0).strip()}, lost {lost.group(1) if lost else '?'}")
    return float(m.group(1))


def main() -> int:
    """Bring the lab up, measure both servers, take it down; exit 1 when below 10k qps."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=10, help="length of each dnsperf run (default 10)")
    args = ap.parse_args()
    if os.geteuid() != 0 or shutil.which("dnsperf") is None:
        print("needs root and dnsperf (apt-get install dnsperf)", file=sys.stderr)
        return 2
    from netemu.apply import down
    from netemu.lab import Lab
    from netemu.parse import topology_from_text

    name = f"dnsb-{secrets.token_hex(3)}"
    records = ", ".join(f'"{h} A 192.0.2.{i + 1}"' for i, h in enumerate(NAMES))
    text = TOPOLOGY.format(name=name, records=records)
    Lab.up(topology_from_text(text, "<bench>"), text)
    try:
        client = f"{name}-client"
        queries = "".join(f"{h}.bob.com A\n" for h in NAMES) + "nope.bob.com A\nbob.com MX\n"
        subprocess.run(["ip", "netns", "exec", client, "dig", "@10.99.0.53", "+short", "-f", "/dev/stdin"],
                       input=queries, capture_output=True, text=True, check=True)  # warm
        print(f"DNS benchmark: dnsperf for {args.seconds} s each, 4 clients, 200 outstanding, UDP over veths")
        print("  authoritative (bob.com. server, AA answers, NXDOMAIN and NODATA mixed in):")
        auth = dnsperf(client, "10.99.0.4", queries, args.seconds)
        print("  resolver, cache hits (same names, warmed first):")
        res = dnsperf(client, "10.99.0.53", queries, args.seconds)
    finally:
        down(name)
    print(f"authoritative: {auth:,.0f} queries/s")
    print(f"resolver cache hits: {res:,.0f} queries/s")
    ok = auth >= 10_000 and res >= 10_000
    print("target (>= 10,000 queries/s each):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
