#!/usr/bin/env python3
"""Benchmark: netemu up/down against an `ip -batch` floor doing the same kernel work, in the same run.

    python bench/bench_up_down.py [--hosts 200] [--routers 50] [--repeat 3]    (as root)

Labs: a single switch with N hosts (one veth and one IPv4 address each) and a chain of M routers
(point-to-point /30 links, forwarding on, a route each way; the floor adds the same routes). The floor builds the same namespaces,
links, addresses and sysctls with `ip -batch` files (one `ip` process per namespace, as fast as
iproute2 goes) and removes them with one `ip -batch` of `netns del`. The machine is noisy: only the
ratios of this run mean anything. Targets: up <= 1.5x the floor; down within 0.5 s of the floor.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def star(name: str, hosts: int) -> tuple[str, dict]:
    nodes = "\n".join(f"  h{i}: {{}}" for i in range(hosts))
    links = "\n".join(f"  - endpoints: [\"h{i} {_host_ip(i)}/16\", sw]" for i in range(hosts))
    yaml = f"name: {name}\nneighbours: dynamic\nnodes:\n{nodes}\n  sw: {{kind: switch}}\nlinks:\n{links}\n"
    spec = {"switch": "sw", "hosts": [(f"h{i}", f"{_host_ip(i)}/16") for i in range(hosts)], "routers": []}
    return yaml, spec


def _host_ip(i: int) -> str:
    return str(ipaddress.ip_address("10.0.0.2") + i)


def chain(name: str, routers: int) -> tuple[str, dict]:
    nodes, links, spec_links = [], [], []
    for i in range(routers):
        routes = []
        if i > 0:
            routes.append(f"10.0.0.0/16 via {_p2p(i - 1, 1)}")
        if i < routers - 1:
            routes.append(f"10.1.0.0/16 via {_p2p(i, 2)}")
        nodes.append(f"  r{i}: {{kind: router, routes: {routes!r}}}".replace("'", '"'))
    for i in range(routers - 1):
        links.append(f"  - endpoints: [\"r{i} {_p2p(i, 1)}/30\", \"r{i + 1} {_p2p(i, 2)}/30\"]")
        spec_links.append((f"r{i}", f"{_p2p(i, 1)}/30", f"r{i + 1}", f"{_p2p(i, 2)}/30"))
    yaml = f"name: {name}\nneighbours: dynamic\nnodes:\n" + "\n".join(nodes) + "\nlinks:\n" + "\n".join(links) + "\n"
    return yaml, {"routers": [f"r{i}" for i in range(routers)], "links": spec_links}


def _p2p(i: int, host: int) -> str:
    return str(ipaddress.ip_address("10.200.0.0") + 4 * i + host)


def ip_batch(lines: list[str], ns: str | None = None) -> None:
    cmd = ["ip"] + (["-n", ns] if ns else []) + ["-batch", "-"]
    subprocess.run(cmd, input="\n".join(lines) + "\n", text=True, check=True, capture_output=True)


def floor_up(prefix: str, spec: dict) -> list[str]:
    """Build the same lab with ip -batch; returns the namespace names."""
    if "hosts" in spec:
        names = [f"{prefix}-{h}" for h, _ in spec["hosts"]] + [f"{prefix}-{spec['switch']}"]
        ip_batch([f"netns add {n}" for n in names])
        sw = f"{prefix}-{spec['switch']}"
        lines = ["link set lo up", "link add br0 type bridge stp_state 0 forward_delay 0", "link set br0 up"]
        for h, _ in spec["hosts"]:
            lines += [f"link add {h}-eth0 master br0 type veth peer name eth0 netns {prefix}-{h}",
                      f"link set {h}-eth0 up"]
        ip_batch(lines, sw)
        for h, addr in spec["hosts"]:
            ip_batch(["link set lo up", f"addr add {addr} dev eth0", "link set eth0 up"], f"{prefix}-{h}")
        return names
    names = [f"{prefix}-{r}" for r in spec["routers"]]
    ip_batch([f"netns add {n}" for n in names])
    per: dict[str, list[str]] = {n: ["link set lo up"] for n in names}
    count: dict[str, int] = {}
    for a, aa, b, ba in spec["links"]:
        ia, ib = count.get(a, 0), count.get(b, 0)
        count[a], count[b] = ia + 1, ib + 1
        per[f"{prefix}-{a}"] += [f"link add eth{ia} type veth peer name eth{ib} netns {prefix}-{b}",
                                 f"addr add {aa} dev eth{ia}", f"link set eth{ia} up"]
        per[f"{prefix}-{b}"] += [f"addr add {ba} dev eth{ib}", f"link set eth{ib} up"]
    routers = spec["routers"]
    for i, r in enumerate(routers):  # the same routes netemu's chain has
        if i > 0:
            per[f"{prefix}-{r}"].append(f"route add 10.0.0.0/16 via {_p2p(i - 1, 1)}")
        if i < len(routers) - 1:
            per[f"{prefix}-{r}"].append(f"route add 10.1.0.0/16 via {_p2p(i, 2)}")
    for n, lines in per.items():
        ip_batch(lines, n)
    for n in names:  # forwarding, as netemu sets on routers
        subprocess.run(["ip", "netns", "exec", n, "sysctl", "-qw", "net.ipv4.ip_forward=1",
                        "net.ipv6.conf.all.forwarding=1"], check=True)
    return names


def floor_down(names: list[str]) -> None:
    ip_batch([f"netns del {n}" for n in names])


def netemu(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "netemu", *args], check=True, capture_output=True, cwd=ROOT)


def timed(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def settle() -> None:
    # namespace teardown finishes asynchronously in the kernel; let it, so runs don't overlap
    time.sleep(1.5)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=200)
    ap.add_argument("--routers", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench_up_down.py builds real namespaces: run it as root", file=sys.stderr)
        return 1
    tag = f"b{os.getpid() % 10000}"
    cases = [(f"{args.hosts}-host switch", star(f"{tag}s", args.hosts)),
             (f"{args.routers}-router chain", chain(f"{tag}c", args.routers))]
    print(f"{'lab':<20} {'':>4} {'floor s':>8} {'netemu s':>9} {'ratio':>6}  target")
    for label, (yaml, spec) in cases:
        name = yaml.split("\n", 1)[0].split()[1]
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(yaml)
        ups, downs = {"floor": [], "netemu": []}, {"floor": [], "netemu": []}
        inside: list[float] = []
        try:
            for _ in range(args.repeat):
                t = time.perf_counter()
                names = floor_up(f"{tag}f", spec)
                ups["floor"].append(time.perf_counter() - t)
                downs["floor"].append(timed(floor_down, names))
                settle()
                ups["netemu"].append(timed(netemu, "up", f.name))
                inside.append(json.loads(Path(f"/run/netemu/{name}/lab.json").read_text())["up_seconds"])
                downs["netemu"].append(timed(netemu, "down", name))
                settle()
        finally:
            subprocess.run([sys.executable, "-m", "netemu", "down", name], capture_output=True, cwd=ROOT)
            os.unlink(f.name)
        fu, nu = statistics.median(ups["floor"]), statistics.median(ups["netemu"])
        fd, nd = statistics.median(downs["floor"]), statistics.median(downs["netemu"])
        up_ok = "ok" if nu <= 1.5 * fu else "MISSED"
        down_ok = "ok" if nd <= fd + 0.5 else "MISSED"
        print(f"{label:<20} {'up':>4} {fu:>8.2f} {nu:>9.2f} {nu / fu:>6.2f}  <= 1.5x  {up_ok}")
        print(f"{'':<20} {'down':>4} {fd:>8.2f} {nd:>9.2f} {nd / fd:>6.2f}  <= floor + 0.5 s  {down_ok}")
        print(f"{'':<20} {'':>4} {'':>8} {statistics.median(inside):>9.2f}  (netemu up without starting Python)")
    print("(medians of", args.repeat, "runs; netemu times include starting the CLI process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
