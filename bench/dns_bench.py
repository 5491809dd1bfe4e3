"""Benchmark netemu's DNS servers over veths: dnsperf throughput, and resolver latency next to Unbound.

Run as root from the repository:  sudo python3 bench/dns_bench.py [--seconds 10]
Brings up a small lab (root, com., bob.com. and ten more zones, a resolver, a client), runs dnsperf
from the client for each target and prints queries/s; then sends the same question list, 16 in
flight, to netemu's resolver and to Unbound (started in the client's namespace, same root hints),
cold (empty caches) and warm, in rounds; prints latency percentiles (median of rounds), each round's
netemu/Unbound ratios and their median, and the resolver process's CPU time per question; takes the lab down
again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import time
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
{more}
  resolvers: [res]
"""
NAMES = [f"h{i}" for i in range(20)]
ZONES = [f"z{i}.com." for i in range(10)]  # served by bob too: cold questions need a referral each
INFLIGHT = 16


def latency_questions() -> list[tuple[str, str]]:
    """The latency corpus: hosts, missing names, several types, across eleven zones."""
    qs = [(f"{h}.bob.com.", t) for h in NAMES for t in ("A", "AAAA", "MX")]
    qs += [(f"nope{i}.bob.com.", "A") for i in range(20)]
    qs += [(f"{n}{z}", t) for z in ZONES for n in ("www.", "mail.", "", "x.") for t in ("A", "MX", "TXT")]
    random.Random(10).shuffle(qs)
    return qs


async def _one(addr: str, name: str, qtype: str) -> tuple[float | None, int]:
    from dnslib import EDNS0, QTYPE, DNSHeader, DNSQuestion, DNSRecord

    loop = asyncio.get_running_loop()
    q = DNSRecord(DNSHeader(id=random.getrandbits(16), rd=1), q=DNSQuestion(name, getattr(QTYPE, qtype)))
    q.add_ar(EDNS0(udp_len=1232))
    data = bytes(q.pack())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setblocking(False)
        s.connect((addr, 53))
        start = time.perf_counter()
        await loop.sock_sendall(s, data)
        try:
            reply = await asyncio.wait_for(loop.sock_recv(s, 65535), 4.0)
        except TimeoutError:
            return None, -1
        return (time.perf_counter() - start) * 1000, reply[3] & 0xF


async def _latencies(addr: str, questions: list[tuple[str, str]]) -> list[tuple[float | None, int]]:
    todo = iter(questions)
    out: list[tuple[float | None, int]] = []

    async def worker() -> None:
        for name, qtype in todo:
            out.append(await _one(addr, name, qtype))

    await asyncio.gather(*(worker() for _ in range(INFLIGHT)))
    return out


def latency_client(addr: str) -> int:
    """Inside the client namespace: ask the corpus, print {p50, p90, p99, ok, n} of successful answers."""
    res = asyncio.run(_latencies(addr, latency_questions()))
    ok = sorted(ms for ms, rcode in res if ms is not None and rcode in (0, 3))  # NOERROR, NXDOMAIN
    q = statistics.quantiles(ok, n=100) if len(ok) > 1 else [float("nan")] * 99
    print(json.dumps({"n": len(res), "ok": len(ok), "p50": statistics.median(ok) if ok else float("nan"),
                      "p90": q[89], "p99": q[98]}))
    return 0


def latency(ns: str, addr: str) -> dict:
    """Run the latency client in `ns` against the resolver at `addr`."""
    out = subprocess.run(["ip", "netns", "exec", ns, sys.executable, __file__, "--latency-client", addr],
                         capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(out.stdout)


def cpu_seconds(lab: str, node: str) -> float:
    """User + system CPU time so far of netemu's DNS server process on `node` (its PID is in the ready file)."""
    pid = int(Path(f"/run/netemu/{lab}/dns/{node}.ready").read_text())
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (fields 14, 15)


def start_unbound(lab: str, ns: str, addr: str, d: Path) -> subprocess.Popen:
    """Unbound in `ns` on `addr` with the lab's root hints and an empty cache; waits until it answers."""
    from netemu.dns.reference import unbound_conf

    conf = unbound_conf(lab, d, addr, "10.99.0.0/24", ("num-threads: 1",))
    proc = subprocess.Popen(["ip", "netns", "exec", ns, "unbound", "-d", "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(100):
        probe = subprocess.run(["ip", "netns", "exec", ns, "dig", f"@{addr}", "+time=1", "+tries=1", "com.", "NS"],
                               capture_output=True, text=True)
        if "status: NOERROR" in probe.stdout:
            break
        time.sleep(0.1)
    return proc


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM a process this script started, and reap it."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
    proc.wait(timeout=10)


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


def report_latency(lat: dict[str, list[dict]], rounds: int) -> bool:
    """Print percentiles (median of rounds), each round's netemu/Unbound ratio and their median; True when the
    median of the per-round p50 ratios is within 2x in both phases."""
    n = len(latency_questions())
    print(f"resolver latency, {n} questions, {INFLIGHT} in flight, successful answers, median of {rounds} rounds (ms):")
    print(f"  {'':14} {'p50':>7} {'p90':>7} {'p99':>7}  answered")
    for phase in ("cold", "warm"):
        for who in ("netemu", "Unbound"):
            runs = lat[f"{who} {phase}"]
            v = {k: statistics.median(r[k] for r in runs) for k in ("p50", "p90", "p99")}
            ok_n = f"{sum(r['ok'] for r in runs)}/{sum(r['n'] for r in runs)}"
            print(f"  {who + ' ' + phase:14} {v['p50']:7.2f} {v['p90']:7.2f} {v['p99']:7.2f}  {ok_n}")
    print("  netemu / Unbound, each round measured side by side (p50 ratio; p90, p99 in brackets):")
    medians = {}
    for phase in ("cold", "warm"):
        ours, theirs = lat[f"netemu {phase}"], lat[f"Unbound {phase}"]
        ratios = {k: [a[k] / b[k] for a, b in zip(ours, theirs)] for k in ("p50", "p90", "p99")}
        medians[phase] = statistics.median(ratios["p50"])
        rows = ", ".join(f"{p50:.2f}x ({p90:.1f}, {p99:.1f})"
                         for p50, p90, p99 in zip(ratios["p50"], ratios["p90"], ratios["p99"]))
        print(f"    {phase}: {rows}")
        print(f"    {phase}: median of rounds {medians[phase]:.2f}x (p50), "
              f"{statistics.median(ratios['p90']):.2f}x (p90), {statistics.median(ratios['p99']):.2f}x (p99)")
    lat_ok = all(r <= 2.0 for r in medians.values())
    print("target (median of the per-round p50 ratios within 2x of Unbound):", "met" if lat_ok else "NOT met")
    return lat_ok


def main() -> int:
    """Bring the lab up, measure both servers, take it down; exit 1 when below 10k qps or over 2x Unbound."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=10, help="length of each dnsperf run (default 10)")
    ap.add_argument("--latency-client", metavar="ADDR", help=argparse.SUPPRESS)
    ap.add_argument("--latency-only", action="store_true", help="skip dnsperf, measure latency only")
    ap.add_argument("--rounds", type=int, default=5, help="latency rounds, each from empty caches (default 5)")
    args = ap.parse_args()
    if args.latency_client:
        return latency_client(args.latency_client)
    if os.geteuid() != 0 or (shutil.which("dnsperf") is None and not args.latency_only):
        print("needs root and dnsperf (apt-get install dnsperf)", file=sys.stderr)
        return 2
    from netemu.apply import down
    from netemu.lab import Lab
    from netemu.parse import topology_from_text

    name = f"dlb-{secrets.token_hex(3)}"  # dl: the DNS-latency prefix
    records = ", ".join([f'"{h} A 192.0.2.{i + 1}"' for i, h in enumerate(NAMES)] + ['"@ MX 10 h0"'])
    more = "".join(f'    {z}: {{servers: [{{node: bob, name: ns.{z}}}], records: ["www A 192.0.2.80", '
                   f'"mail A 192.0.2.25", "@ MX 10 mail", "@ TXT hello"]}}\n' for z in ZONES)
    text = TOPOLOGY.format(name=name, records=records, more=more.rstrip("\n"))
    Lab.up(topology_from_text(text, "<bench>"), text)
    client = f"{name}-client"
    auth = res = None
    lat: dict[str, list[dict]] = {}
    cpu: dict[str, float] = {}  # the resolver process's CPU seconds per phase, all rounds
    try:
        if not args.latency_only:
            queries = "".join(f"{h}.bob.com A\n" for h in NAMES) + "nope.bob.com A\nbob.com MX\n"
            subprocess.run(["ip", "netns", "exec", client, "dig", "@10.99.0.53", "+short", "-f", "/dev/stdin"],
                           input=queries, capture_output=True, text=True, check=True)  # warm
            print(f"DNS benchmark: dnsperf for {args.seconds} s each, 4 clients, 200 outstanding, UDP over veths")
            print("  authoritative (bob.com. server, AA answers, NXDOMAIN and NODATA mixed in):")
            auth = dnsperf(client, "10.99.0.4", queries, args.seconds)
            print("  resolver, cache hits (same names, warmed first):")
            res = dnsperf(client, "10.99.0.53", queries, args.seconds)
        if shutil.which("unbound"):
            from netemu.dns.trace import flush

            for r in range(args.rounds):  # both caches emptied each round; cold and warm interleaved
                with tempfile.TemporaryDirectory() as d:
                    flush(name, "res")
                    unbound = start_unbound(name, client, "10.99.0.100", Path(d))
                    order = [("netemu", "10.99.0.53"), ("Unbound", "10.99.0.100")]
                    if r % 2:  # who goes first alternates, so neither always meets the other's leftovers
                        order.reverse()
                    try:
                        for phase in ("cold", "warm"):
                            for label, addr in order:
                                before = cpu_seconds(name, "res")
                                lat.setdefault(f"{label} {phase}", []).append(latency(client, addr))
                                if label == "netemu":
                                    cpu[phase] = cpu.get(phase, 0.0) + cpu_seconds(name, "res") - before
                    finally:
                        stop(unbound)
    finally:
        down(name)
    ok = True
    if auth is not None and res is not None:
        print(f"authoritative: {auth:,.0f} queries/s")
        print(f"resolver cache hits: {res:,.0f} queries/s")
        ok = auth >= 10_000 and res >= 10_000
        print("target (>= 10,000 queries/s each):", "met" if ok else "NOT met")
    if lat:
        lat_ok = report_latency(lat, args.rounds)
        n = len(latency_questions()) * args.rounds
        print("netemu resolver CPU time per question (process CPU over all rounds): "
              + ", ".join(f"{phase} {cpu[phase] / n * 1e6:.0f} us" for phase in ("cold", "warm")))
        ok = ok and lat_ok
    elif args.rounds:
        print("latency next to Unbound skipped: unbound is not installed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
