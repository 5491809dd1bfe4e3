#!/usr/bin/env python3
"""Benchmark: how fast FRR labs converge, what `up` costs with routing daemons, their memory.

    python bench/bench_frr.py [--routers 10] [--big 50] [--repeat 1]    (as root, FRR installed)

Labs (no address written: netemu numbers them): a ring of N routers with a chord across it and a host
at each end, run with `routing: ospf`; topologies/bgp.yaml (three ASes, OSPF inside one); and a ring of
M routers built with `routing: static` and with `routing: ospf` in the same run. Printed: the time
`up` reports from the last daemon start to convergence, the whole `up` wall time, the floor the
configured timers set (hello + SPF delay where `up` ends on the FIBs matching netemu's prediction, hello
+ the 1 s stability window where it must watch them instead), the daemons' memory (RSS) per router, the
CPU one router's daemons use to start alone, and for the big OSPF ring where the time went and how much
CPU its daemons had used by the end of `up`. Targets: the N-router AS converges <= 5 s after its last
daemon started; up of the M-router OSPF lab <= 2x the static one + the floor.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from netemu.frr.converge import STABLE  # noqa: E402
from netemu.frr.spec import Timers  # noqa: E402

SPF_DELAY_MS = int(re.search(r"timers throttle spf (\d+)",
                             (ROOT / "netemu/frr/templates/ospfd.conf.j2").read_text()).group(1))
CONVERGED = re.compile(r"routing converged ([\d.]+) s after the daemons started")


def ring(name: str, routers: int, protocol: str) -> str:
    """A ring of routers, one chord across it, a host on r0 and one half way round."""
    nodes = [f"  r{i}: {{kind: router}}" for i in range(routers)] + ["  h1: {kind: host}", "  h2: {kind: host}"]
    links = [f"  - endpoints: [r{i}, r{(i + 1) % routers}]" for i in range(routers)]
    links.append(f"  - endpoints: [r0, r{routers // 2}]") if routers > 3 else None
    links += ["  - endpoints: [h1, r0]", f"  - endpoints: [h2, r{routers // 2}]"]
    return (f"name: {name}\nrouting: {protocol}\nnodes:\n" + "\n".join(nodes) + "\nlinks:\n"
            + "\n".join(links) + "\n")


def netemu(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netemu", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout)


HZ = os.sysconf("SC_CLK_TCK")


@dataclass
class Daemons:
    """The lab's FRR daemons as `up` left them."""

    rss: float = 0.0  # MiB per router
    routers: int = 0
    count: int = 0
    cpu: float = 0.0  # seconds of CPU (all threads) used so far, start-up included
    first: float | None = None  # seconds since boot when the first / last daemon started
    last: float | None = None


def frr_processes(lab: str):
    """(PID, node, daemon's program name) of each of the lab's FRR daemons, from /proc."""
    marker = f"/run/netemu/{lab}/frr/".encode()
    for pid in filter(str.isdigit, (p.name for p in Path("/proc").iterdir())):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if marker in cmd:
            yield pid, cmd.split(marker, 1)[1].split(b"/", 1)[0].decode(), Path(cmd.split(b"\0")[0].decode()).name


def started(text: str, name: str, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    """`up` of the topology text as lab `name` (the bench stops if it fails)."""
    path = tmp / f"{name}.yaml"
    path.write_text(re.sub(r"^name: .*$", f"name: {name}", text, count=1, flags=re.M))
    res = netemu("up", str(path), *args)
    if res.returncode != 0:
        netemu("down", name)
        raise SystemExit(f"up {name} failed:\n{res.stdout}\n{res.stderr}")
    return res


def daemons(lab: str) -> Daemons:
    """RSS per router, CPU and start times of the lab's FRR daemons (from /proc)."""
    per: dict[str, int] = {}
    out = Daemons()
    starts = []
    for pid, node, _ in frr_processes(lab):
        try:
            rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                       if line.startswith("VmRSS:"))
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (OSError, StopIteration):
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        out.cpu += (int(fields[11]) + int(fields[12])) / HZ
        starts.append(int(fields[19]) / HZ)
        out.count += 1
        per[node] = per.get(node, 0) + rss
    out.rss, out.routers = (statistics.mean(per.values()) / 1024 if per else 0.0), len(per)
    out.first, out.last = (min(starts), max(starts)) if starts else (None, None)
    return out


def startup_cpu(name: str, tmp: Path) -> dict[str, float]:
    """Milliseconds of CPU each FRR daemon of an OSPF router uses to start, measured on a lab of one router
    with nobody to talk to (every thread's scheduler time, /proc/PID/task/*/schedstat)."""
    started(f"name: {name}\nrouting: ospf\nnodes:\n  r0: {{kind: router}}\n  h1: {{kind: host}}\nlinks:\n"
            f"  - endpoints: [h1, r0]\n", name, tmp)
    time.sleep(0.5)
    out: dict[str, float] = {}
    for pid, _, program in frr_processes(name):
        try:
            out[program] = sum(int((task / "schedstat").read_text().split()[0])
                               for task in Path(f"/proc/{pid}/task").iterdir()) / 1e6
        except OSError:
            continue
    netemu("down", name)
    return out


def uptime() -> float:
    return float(Path("/proc/uptime").read_text().split()[0])


@dataclass
class Up:
    """One `up`: its wall time, what it reported, and its daemons."""

    wall: float
    converged: float | None
    predicted: bool  # converged by the FIBs matching the prediction (no stability window)
    daemons: Daemons
    started: float  # seconds since boot when `up` began


def up(text: str, name: str, tmp: Path) -> Up:
    """Bring the lab up and down again, measuring."""
    time.sleep(3)  # the previous lab's daemons have finished exiting (their clean-up is CPU too)
    t0, boot0 = time.monotonic(), uptime()
    res = started(text, name, tmp, "--wait-timeout", "120")
    wall = time.monotonic() - t0
    m = CONVERGED.search(res.stdout)
    d = daemons(name)
    netemu("down", name)
    return Up(wall, float(m.group(1)) if m else None, "as the topology predicts" in res.stdout, d, boot0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--routers", type=int, default=10)
    ap.add_argument("--big", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--prefix", default="frr-bench", help="start of the labs' names")
    ap.add_argument("--big-only", action="store_true", help="only the static/OSPF comparison of the big ring")
    args = ap.parse_args()
    t = Timers()
    # An adjacency needs a hello from each side (the first goes out at start, the next one a hello
    # interval later if the neighbour was not listening yet), then OSPF's SPF delay. Where the FIBs cannot
    # be predicted (BGP), `up` also watches them stay unchanged for STABLE s.
    spf = SPF_DELAY_MS / 1000
    floors = {True: t.hello + spf, False: t.hello + STABLE}
    print(f"timers: OSPF hello {t.hello} s dead {t.dead} s, SPF delay {SPF_DELAY_MS} ms, BGP keepalive {t.keepalive} s "
          f"hold {t.hold} s; floor from the timers = hello + SPF delay = {floors[True]:.2f} s where the FIBs match "
          f"the prediction (OSPF), hello + FIB stability window {STABLE} s = {floors[False]:.1f} s otherwise")
    cores = os.cpu_count() or 1
    bgp = (ROOT / "topologies" / "bgp.yaml").read_text()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        alone = startup_cpu(f"{args.prefix}-one", tmp)
        per_router = sum(alone.values())
        print("CPU one OSPF router's daemons use to start and settle, alone (its namespace entry included): "
              + ", ".join(f"{k} {v:.0f} ms" for k, v in sorted(alone.items())) + f" = {per_router:.0f} ms", flush=True)
        small = [(f"{args.routers}-router OSPF AS", ring("x", args.routers, "ospf"), f"{args.prefix}-as"),
                 ("3-AS BGP (topologies/bgp.yaml)", bgp, f"{args.prefix}-bgp")]
        for label, text, name in [] if args.big_only else small:
            for _ in range(args.repeat):
                u = up(text, name, tmp)
                conv = u.converged
                print(f"{label:<34} converged {conv:5.1f} s after the last daemon started "
                      f"(target <= 5 s: {'ok' if conv is not None and conv <= 5 else 'MISSED'}); up took "
                      f"{u.wall:5.1f} s; FRR RSS {u.daemons.rss:5.1f} MiB per router ({u.daemons.routers} routers)",
                      flush=True)
        for _ in range(args.repeat):
            static = up(ring("x", args.big, "static"), f"{args.prefix}-static", tmp).wall
            u = up(ring("x", args.big, "ospf"), f"{args.prefix}-big", tmp)
            floor = floors[u.predicted]
            limit = 2 * static + floor
            dm = u.daemons
            print(f"{args.big}-router ring: up with routing: static {static:5.1f} s, with routing: ospf {u.wall:5.1f} s "
                  f"(converged {u.converged:.1f} s after the last daemon started"
                  f"{', FIBs as predicted' if u.predicted else ''}; target <= 2 x static + floor = "
                  f"{limit:.1f} s: {'ok' if u.wall <= limit else 'MISSED'}); FRR RSS {dm.rss:.1f} MiB per router",
                  flush=True)
            if dm.first is not None:
                print(f"    where the time went: {dm.first - u.started:.1f} s before the first daemon started, "
                      f"{dm.last - dm.first:.1f} s starting {dm.count} daemons, {u.wall - (dm.last - u.started):.1f} s "
                      f"from the last start to the end of up. By then the daemons had used {dm.cpu:.1f} s of CPU (their "
                      f"start, routing and answers to netemu), at least {dm.cpu / cores:.1f} s on this machine's {cores} "
                      f"cores, against {limit - static:.1f} s the target leaves beyond the static lab's whole up",
                      flush=True)

if __name__ == "__main__":
    main()
