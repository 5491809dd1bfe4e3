#!/usr/bin/env python3
"""Benchmark: how fast FRR labs converge, what `up` costs with routing daemons, their memory.

    python bench/bench_frr.py [--routers 10] [--big 50] [--repeat 1]    (as root, FRR installed)

Labs (no address written: netemu numbers them): a ring of N routers with a chord across it and a host
at each end, run with `routing: ospf`; topologies/bgp.yaml (three ASes, OSPF inside one); and a ring of
M routers built with `routing: static` and with `routing: ospf` in the same run. Printed: the time
`up` reports from the last daemon start to convergence, the whole `up` wall time, the floor the
configured timers set, and the daemons' memory (RSS) per router. Targets: the N-router AS converges
<= 5 s after its last daemon started; up of the M-router OSPF lab <= 2x the static one + the floor.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from netemu.frr.converge import STABLE  # noqa: E402
from netemu.frr.spec import Timers  # noqa: E402

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


def rss_per_router(lab: str) -> tuple[float, int]:
    """(MiB of RSS per router, routers) summed over the lab's FRR daemons."""
    marker = f"/run/netemu/{lab}/frr/".encode()
    per: dict[str, int] = {}
    for pid in filter(str.isdigit, (p.name for p in Path("/proc").iterdir())):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            if marker not in cmd:
                continue
            node = cmd.split(marker, 1)[1].split(b"/", 1)[0].decode()
            rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                       if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            continue
        per[node] = per.get(node, 0) + rss
    return (statistics.mean(per.values()) / 1024 if per else 0.0), len(per)


def up(text: str, name: str, tmp: Path) -> tuple[float, float | None, float, int]:
    """(wall seconds of `up`, reported convergence seconds, RSS MiB per router, routers)."""
    path = tmp / f"{name}.yaml"
    path.write_text(re.sub(r"^name: .*$", f"name: {name}", text, count=1, flags=re.M))
    t0 = time.monotonic()
    res = netemu("up", str(path), "--wait-timeout", "120")
    wall = time.monotonic() - t0
    if res.returncode != 0:
        netemu("down", name)
        raise SystemExit(f"up {name} failed:\n{res.stdout}\n{res.stderr}")
    m = CONVERGED.search(res.stdout)
    rss, routers = rss_per_router(name)
    netemu("down", name)
    return wall, float(m.group(1)) if m else None, rss, routers


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
    # interval later if the neighbour was not listening yet); `up` then watches the FIBs for STABLE s.
    floor = t.hello + STABLE
    print(f"timers: OSPF hello {t.hello} s dead {t.dead} s, BGP keepalive {t.keepalive} s hold {t.hold} s; "
          f"floor from the timers = hello {t.hello} s + FIB stability window {STABLE} s = {floor:.1f} s")
    bgp = (ROOT / "topologies" / "bgp.yaml").read_text()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rows = []
        small = [(f"{args.routers}-router OSPF AS", ring("x", args.routers, "ospf"), f"{args.prefix}-as"),
                 ("3-AS BGP (topologies/bgp.yaml)", bgp, f"{args.prefix}-bgp")]
        for label, text, name in [] if args.big_only else small:
            for _ in range(args.repeat):
                wall, conv, rss, routers = up(text, name, tmp)
                rows.append((label, wall, conv, rss, routers))
                print(f"{label:<34} converged {conv:5.1f} s after the last daemon started "
                      f"(target <= 5 s: {'ok' if conv is not None and conv <= 5 else 'MISSED'}); up took "
                      f"{wall:5.1f} s; FRR RSS {rss:5.1f} MiB per router ({routers} routers)", flush=True)
        for _ in range(args.repeat):
            static, _, _, _ = up(ring("x", args.big, "static"), f"{args.prefix}-static", tmp)
            ospf, conv, rss, routers = up(ring("x", args.big, "ospf"), f"{args.prefix}-big", tmp)
            limit = 2 * static + floor
            print(f"{args.big}-router ring: up with routing: static {static:5.1f} s, with routing: ospf {ospf:5.1f} s "
                  f"(converged {conv:.1f} s after the last daemon started; target <= 2 x static + floor = "
                  f"{limit:.1f} s: {'ok' if ospf <= limit else 'MISSED'}); FRR RSS {rss:.1f} MiB per router",
                  flush=True)


if __name__ == "__main__":
    main()
