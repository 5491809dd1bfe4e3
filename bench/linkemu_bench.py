#!/usr/bin/env python3
"""Benchmark link emulation: RTT precision (p50/p99) and throughput through the delay.

    sudo python3 bench/linkemu_bench.py [--delay 10ms] [--seconds 5] [--samples 300]

Builds a two-host lab (plus a second pair for the concurrent run) with DELAY each way, then:
  - RTT: ping -U (user-to-user), TCP handshakes, and UDP one-way delays (shared clock);
  - throughput: one TCP flow (iperf3 if installed, else Python), small UDP packets per second,
    and two delayed links at once (one delay-line process serves the whole lab);
  - the same TCP flow on an unimpaired link, as this machine's floor.
On a kernel without netem this measures the NFQUEUE fallback; NETEMU_LINKEMU_BACKEND forces one.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netemu.apply import down
from netemu.kernel import netns
from netemu.lab import Lab
from netemu.linkemu import caps, measure, units
from netemu.linkemu import status as lstatus
from netemu.parse import topology_from_text

TOPO = """
name: {name}
nodes: {{a: {{}}, b: {{}}, c: {{}}, d: {{}}, e: {{}}, f: {{}}}}
links:
  - endpoints: ["a:eth0 10.91.1.1/24", "b:eth0 10.91.1.2/24"]
    delay: {delay}
  - endpoints: ["c:eth0 10.91.2.1/24", "d:eth0 10.91.2.2/24"]
    delay: {delay}
  - endpoints: ["e:eth0 10.91.3.1/24", "f:eth0 10.91.3.2/24"]
"""


def pct(xs: list[float], p: float) -> float:
    """Percentile in ms of samples in seconds."""
    return (measure.percentile(xs, p) or float("nan")) * 1000


def ping_u(ns: str, dst: str, count: int) -> list[float]:
    out = subprocess.run(["ip", "netns", "exec", ns, "ping", "-U", "-n", "-c", str(count),
                          "-i", "0.01", dst], capture_output=True, text=True, check=False).stdout
    return [float(x) / 1000 for x in re.findall(r"time=([0-9.]+) ms", out)]


def tcp_rate(src: str, dst_ns: str, dst: str, seconds: float) -> float:
    if shutil.which("iperf3"):
        srv = subprocess.Popen(["ip", "netns", "exec", dst_ns, "iperf3", "-s", "-1", "-B", dst],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        try:
            res = subprocess.run(["ip", "netns", "exec", src, "iperf3", "-c", dst, "-t", str(seconds), "-O", "1",
                                  "-J"], capture_output=True, text=True, timeout=seconds + 30, check=False)
            return json.loads(res.stdout)["end"]["sum_received"]["bits_per_second"]
        finally:
            if srv.poll() is None:
                srv.terminate()
            srv.wait(timeout=10)
    return measure.goodput(src, dst_ns, dst, seconds=seconds)


def udp_pps(src: str, dst_ns: str, dst: str, seconds: float, rate: float | None) -> tuple[float, float]:
    """64-byte UDP datagrams per second offered (paced at `rate`, or flat out) and received."""
    with netns.entered(dst_ns):
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, 33, 32 << 20)  # SO_RCVBUFFORCE: the receiver must not be the bottleneck
    rx.bind((dst, 0))
    port = rx.getsockname()[1]
    with netns.entered(src):
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    got = [0]
    stop = threading.Event()

    def receive():
        rx.settimeout(0.2)
        while not stop.is_set():
            try:
                rx.recv(64)
                got[0] += 1
            except OSError:
                pass

    t = threading.Thread(target=receive, daemon=True)
    t.start()
    sent, data = 0, b"x" * 64
    start = nxt = time.monotonic()
    while time.monotonic() - start < seconds:
        for _ in range(10):
            tx.sendto(data, (dst, port))
        sent += 10
        if rate:
            nxt += 10 / rate
            time.sleep(max(0.0, nxt - time.monotonic()))
    time.sleep(0.5)
    stop.set()
    t.join()
    rx.close()
    tx.close()
    return sent / seconds, got[0] / seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--delay", default="10ms", help="one-way delay of the delayed links (default 10ms)")
    ap.add_argument("--seconds", type=float, default=5.0, help="duration of each throughput run")
    ap.add_argument("--samples", type=int, default=300, help="RTT samples per method")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (builds a lab of real namespaces)", file=sys.stderr)
        return 2
    delay_us, problem, _ = units.time_us(args.delay)
    if problem:
        print(f"--delay: {problem}", file=sys.stderr)
        return 2
    rtt = 2 * delay_us / 1000
    name = f"lemubench-{secrets.token_hex(2)}"
    Lab.up(topology_from_text(TOPO.format(name=name, delay=args.delay)))
    ns = lambda n: f"{name}-{n}"
    try:
        c = caps.probe()
        backend = lstatus.describe(name)["backend"]
        print(f"backend: {backend} (netem {'present' if c.netem else 'missing'}; "
              f"SCHED_FIFO {'yes' if c.realtime else 'no'}); {args.delay} each way, configured RTT {rtt:.1f} ms")
        pu = ping_u(ns("a"), "10.91.1.2", args.samples)
        print(f"RTT ping -U        n={len(pu):4d}  p50 {pct(pu, 50):7.3f}  p99 {pct(pu, 99):7.3f}  max {pct(pu, 100):7.3f} ms")
        hs = measure.handshake_rtts(ns("a"), ns("b"), "10.91.1.2", count=args.samples, pause=0.002)
        print(f"RTT TCP handshake  n={len(hs):4d}  p50 {pct(hs, 50):7.3f}  p99 {pct(hs, 99):7.3f}  max {pct(hs, 100):7.3f} ms")
        ow, _ = measure.one_way(ns("a"), ns("b"), "10.91.1.2", count=args.samples, interval=0.005, wait=0.3)
        print(f"one-way UDP        n={len(ow):4d}  p50 {pct(ow, 50):7.3f}  p99 {pct(ow, 99):7.3f}  max {pct(ow, 100):7.3f} ms"
              f"  (configured {delay_us / 1000:.3f})")
        floor = tcp_rate(ns("e"), ns("f"), "10.91.3.2", args.seconds)
        print(f"TCP, unimpaired link (floor):   {floor / 1e9:6.2f} Gbit/s")
        one = tcp_rate(ns("a"), ns("b"), "10.91.1.2", args.seconds)
        print(f"TCP, one delayed link:          {one / 1e9:6.2f} Gbit/s")
        both: dict[str, float] = {}
        threads = [threading.Thread(target=lambda k=k, s=s, d=d, a=a: both.__setitem__(k, tcp_rate(s, d, a, args.seconds)))
                   for k, s, d, a in (("ab", ns("a"), ns("b"), "10.91.1.2"), ("cd", ns("c"), ns("d"), "10.91.2.2"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(f"TCP, two delayed links at once: {both.get('ab', 0) / 1e9:6.2f} + {both.get('cd', 0) / 1e9:.2f} Gbit/s")
        for rate in (20000, None):
            offered, received = udp_pps(ns("a"), ns("b"), "10.91.1.2", 2.0, rate)
            print(f"UDP 64-byte datagrams, offered {offered / 1000:5.1f} k/s{' (flat out)' if rate is None else ''}: "
                  f"received {received / 1000:5.1f} k/s ({(1 - received / offered) * 100:.1f}% lost)")
        st = lstatus.describe(name)["delay_line"]
        late = sum(q.get("late_releases", 0) for q in st.get("queues", []))
        worst = max((q.get("worst_late_us", 0) for q in st.get("queues", [])), default=0)
        print(f"delay line: {late} release batch(es) more than 1 ms late, worst {worst / 1000:.2f} ms; "
              f"kernel overruns {st.get('overruns', 0)}")
    finally:
        down(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
