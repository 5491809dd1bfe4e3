"""What a machine does for its part of a multi-machine lab (run there by `netemu part …` over ssh)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
from importlib import metadata

from .. import apply as apply_mod
from ..kernel import netns
from ..labdir import LabDir
from ..ops import from_json
from ..parse import topology_from_text
from ..plan import Plan
from . import ops as _ops  # noqa: F401  (registers CreateVxlan for from_json)
from .feature import Multi


def version() -> str:
    """This netemu's version (the coordinator requires the same everywhere)."""
    try:
        return metadata.version("netemu")
    except metadata.PackageNotFoundError:
        from .. import __version__

        return __version__


def _ip_json(args: list[str]) -> list:
    res = subprocess.run(["ip", "-j", *args], capture_output=True, text=True)
    try:
        return json.loads(res.stdout or "[]")
    except ValueError:
        return []


def _udp_ports_in_use() -> set[int]:
    ports = set()
    for name in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = open(name).read().splitlines()[1:]
        except OSError:
            continue
        ports |= {int(line.split()[1].rsplit(":", 1)[1], 16) for line in lines if line.strip()}
    return ports


def _vxlan_works() -> str | None:
    # A scratch network namespace (unshare --net) that disappears with the command: nothing stays.
    res = subprocess.run(["unshare", "--net", "ip", "link", "add", "vxprobe", "type", "vxlan", "id", "1",
                          "dstport", "4789", "local", "127.0.0.1"], capture_output=True, text=True)
    return None if res.returncode == 0 else (res.stderr.strip() or f"exit status {res.returncode}")


def check(req: dict) -> dict:
    """Facts and problems of this machine for the lab in `req` (creates nothing)."""
    problems = []
    if os.geteuid() != 0:
        problems.append("netemu does not run as root there (use ansible_user: root or sudo without a password)")
    lab = req["lab"]
    if LabDir(lab).exists():
        problems.append(f"lab {lab!r} is already up there (run 'netemu down {lab}' on it)")
    taken = [ns for ns in req.get("namespaces", []) if netns.exists(ns)]
    if taken:
        problems.append(f"namespaces already exist: {', '.join(taken[:5])}")
    why = _vxlan_works()
    if why:
        problems.append(f"the kernel cannot make VXLAN devices: {why}")
    if req.get("port") in _udp_ports_in_use():
        problems.append(f"UDP port {req['port']} (the lab's VXLAN port) is in use")
    local = req.get("address")
    mine = {a.get("local") for link in _ip_json(["addr"]) for a in link.get("addr_info", [])}
    if local and local not in mine:
        problems.append(f"underlay address {local} is not an address of this machine")
    mtus = {}
    links = {link["ifname"]: link.get("mtu") for link in _ip_json(["link"])}
    for peer in req.get("peers", []):
        route = _ip_json(["route", "get", peer])
        dev = route[0].get("dev") if route else None
        if dev is None:
            problems.append(f"no route to {peer} (another machine's underlay address)")
            continue
        mtus[peer] = route[0].get("mtu") or links.get(dev) or 1500
    return {"version": version(), "problems": problems, "mtu": mtus}


def _watch_stdin(done: threading.Event) -> None:
    """If the coordinator goes away (ssh closes our stdin) before we finish, roll back like on SIGTERM."""
    sys.stdin.read()
    if not done.is_set():
        os.kill(os.getpid(), 15)


def up(req: dict) -> dict:
    """Build this machine's part of the lab from the coordinator's request; journal and rollback as `up`."""
    topo = topology_from_text(req["topology"], req.get("source"))
    pins = topo.feature("multi").pins if topo.feature("multi") else ()
    part = Multi(pins, req["machine"], req["port"])
    topo = dataclasses.replace(topo, features=tuple((k, v) for k, v in topo.features if k != "multi")
                               + (("multi", part),))
    plan = Plan(topo.name, tuple(from_json(op) for op in req["ops"]))
    done = threading.Event()
    threading.Thread(target=_watch_stdin, args=(done,), daemon=True).start()
    res = apply_mod.up(topo, plan, req["topology"])
    done.set()
    LabDir(topo.name).write_meta(machine=req["machine"], coordinator=req.get("coordinator"))
    return {"ops": res.ops, "seconds": round(res.seconds, 3)}


def pairs(lab: str, req: dict) -> dict:
    """All-pairs pings from this machine's hosts in `req["sources"]` to every host of the lab (JSON)."""
    from ..lab import Lab
    from ..labtest import pairs as pairs_mod
    from ..labtest import probe
    from ..labtest.runner import default_timeout, lab_started

    handle = Lab.attach(lab)
    probe.need("fping", "traceroute")
    timeout = req.get("timeout")
    deadline = lab_started(lab) + (default_timeout(handle) if timeout is None else float(timeout))
    sources = [s for s in req.get("sources") or [] if netns.exists(handle.topology.namespace(s))]
    report = pairs_mod.run(handle.topology, deadline, sources=sources)
    return {"hosts": list(report.hosts), "seconds": round(report.seconds, 3),
            "pairs": [p.to_json() for p in report.pairs]}


def converge(lab: str, timeout: float) -> dict:
    """Wait until the routing of this machine's routers has converged (each machine waits for its own)."""
    from ..lab import Lab, converge as wait_all

    topo = Lab.attach(lab).topology
    frr = topo.feature("frr")
    if frr is not None:  # only the routers whose namespaces are here: the others are other machines' to ask
        mine = dataclasses.replace(frr, routers=tuple(r for r in frr.routers if netns.exists(topo.namespace(r.node))))
        topo = dataclasses.replace(topo, features=tuple((k, mine if k == "frr" else v) for k, v in topo.features))
    return {"converged": [name for name, _ in wait_all(topo, timeout)]}


def fib(lab: str, node: str) -> dict:
    """NODE's kernel FIB on this machine, for the coordinator's path walk (see fib_of)."""
    from ..lab import Lab

    return fib_of(Lab.attach(lab).node(node).ns)


def fib_of(ns: str) -> dict:
    """The kernel FIB of namespace `ns` as {"routes": [netemu.kernel.fib.to_json …]}; {"routes": null}
    when the namespace is not (or no longer) on this machine."""
    from ..kernel import fib as fib_mod

    try:
        return {"routes": [fib_mod.to_json(r) for r in fib_mod.read(ns)]}
    except FileNotFoundError:  # the lab went down meanwhile
        return {"routes": None}


# Before `down`: a TCP connection between machines (a BGP session across VXLAN) whose process is killed is
# left orphaned, retransmitting its FIN to a peer the other machine has already removed; the orphan holds
# its namespace, and with it the lab's VXLAN socket in the machine's namespace, for minutes. Orphans of
# the lab's namespaces give up after one retry instead.
QUIESCE = {"net/ipv4/tcp_orphan_retries": "1", "net/ipv4/tcp_fin_timeout": "1"}


def quiesce(lab: str) -> dict:
    """Make this machine's namespaces of LAB let go of their TCP connections at once when `down` kills them."""
    from ..lab import Lab

    try:
        topo = Lab.attach(lab).topology
    except Exception:  # noqa: BLE001 - nothing (left) to quiesce: `down` says what there is
        return {"namespaces": 0}
    done = 0
    for node in topo.nodes:
        ns = topo.namespace(node.name)
        if not netns.exists(ns):
            continue
        try:
            with netns.entered(ns):  # /proc/sys/net is the namespace of the thread that opens it
                for key, value in QUIESCE.items():
                    with open(f"/proc/sys/{key}", "w") as f:
                        f.write(value)
            done += 1
        except OSError:
            continue
    return {"namespaces": done}
