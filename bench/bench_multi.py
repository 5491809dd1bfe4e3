#!/usr/bin/env python3
"""Benchmark: one lab on 1 vs K simulated machines (tests/multi/sim.py), same kernel (as root).

    python bench/bench_multi.py [--nodes 1000] [--machines 4] [--repeat 1]

The lab: a chain of routers, each with a switch and its hosts (`routing: static`), NODES nodes in all.
Each run: `netemu up FILE --hosts INV` and `netemu down LAB` from the coordinator namespace, on an
inventory of 1 machine, then of K. Printed: wall time of up and down, the coordinator's own CPU
time (its Python and its ssh clients), each machine's time to apply its part, and the cut links.
All machines share this host's kernel and 2 cores: expect overhead, not speed-up. The overhead per
machine and per cut link is (up_K - up_1) / (K - 1) and (up_K - up_1) / cut.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "multi"))
from sim import Sim  # noqa: E402


def lab_text(name: str, nodes: int, per_lan: int = 48) -> str:
    """Routers in a chain, each with a LAN switch of hosts: `nodes` nodes (±1)."""
    lans = max(1, round(nodes / (per_lan + 2)))
    hosts = nodes - 2 * lans
    out = [f"name: {name}", "routing: static", "nodes:"]
    links = ["links:"]
    for r in range(lans):
        out += [f"  r{r}: {{kind: router}}", f"  s{r}: {{kind: switch}}"]
        links.append(f"  - endpoints: [r{r}, s{r}]")
        if r:
            links.append(f"  - endpoints: [r{r - 1}, r{r}]")
    for h in range(hosts):
        out.append(f"  h{h}: {{kind: host}}")
        links.append(f"  - endpoints: [h{h}, s{h % lans}]")
    return "\n".join(out + links) + "\n"


def last_host(nodes: int, per_lan: int = 48) -> int:
    """A host of the last LAN of lab_text(…, nodes): hosts are dealt to LANs in turn."""
    lans = max(1, round(nodes / (per_lan + 2)))
    hosts = nodes - 2 * lans
    return max(h for h in range(hosts) if h % lans == lans - 1)


def timed(sim: Sim, *args: str) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall seconds, CPU seconds of the coordinator and its children, result)."""
    started = time.monotonic()
    proc = sim.coordinator_popen(*args)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, subprocess.CompletedProcess(args, proc.returncode, out, err)


def run(machines: int, nodes: int, work: Path) -> dict:
    sim = Sim(f"bm{secrets.token_hex(2)}", machines, work / f"k{machines}").up()
    try:
        name = f"bm-{secrets.token_hex(2)}"
        path = sim.dir / "lab.yaml"
        path.write_text(lab_text(name, nodes))
        plan = sim.coordinator("plan", str(path), "--hosts", str(sim.inventory), "--json")
        cut = len(json.loads(plan.stdout)["cut"]) if plan.returncode == 0 else None
        up_wall, up_cpu, up = timed(sim, "up", str(path), "--hosts", str(sim.inventory))
        if up.returncode != 0:
            raise SystemExit(f"up failed on {machines} machines:\n{up.stdout}\n{up.stderr}")
        parts = [line.strip() for line in up.stdout.splitlines() if line.strip().startswith("m")]
        far = sim.coordinator("exec", name, f"h{last_host(nodes)}", "--", "ip", "-4", "-o", "addr", "show", "eth0")
        address = far.stdout.split()[3].split("/")[0]
        ping = sim.coordinator("exec", name, "h0", "--", "ping", "-c", "1", "-W", "3", address)
        parts.append(f"ping h0 -> h{last_host(nodes)} ({address}), first and last LAN: "
                     + ("answered" if ping.returncode == 0 else "NO ANSWER"))
        down_wall, down_cpu, down = timed(sim, "down", name)
        if down.returncode != 0:
            raise SystemExit(f"down failed:\n{down.stdout}\n{down.stderr}")
        return {"machines": machines, "cut": cut, "up": up_wall, "up_cpu": up_cpu, "down": down_wall,
                "down_cpu": down_cpu, "parts": parts}
    finally:
        sim.down()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--machines", type=int, default=4)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (it builds namespaces and runs sshd in them)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-multi-") as tmp:
        rows = [run(k, args.nodes, Path(tmp)) for k in (1, args.machines)]
    print(f"lab of {args.nodes} nodes (routers, switches, hosts; routing: static)")
    print(f"{'machines':>8} {'cut links':>9} {'up s':>7} {'down s':>7} {'coordinator CPU s (up/down)':>28}")
    for r in rows:
        print(f"{r['machines']:>8} {r['cut']:>9} {r['up']:>7.2f} {r['down']:>7.2f} "
              f"{r['up_cpu']:>18.2f} / {r['down_cpu']:.2f}")
        for p in r["parts"]:
            print(f"{'':>10}{p}")
    one, many = rows
    extra = many["up"] - one["up"]
    k = many["machines"]
    print(f"overhead of {k} machines on one kernel: up {extra:+.2f} s ({extra / (k - 1):+.2f} s per added machine"
          + (f", {extra / many['cut']:+.3f} s per cut link" if many["cut"] else "") + f"); down "
          f"{many['down'] - one['down']:+.2f} s; coordinator CPU per machine {many['up_cpu'] / k:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
