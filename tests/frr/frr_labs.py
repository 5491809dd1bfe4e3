"""Topologies and helpers shared by the FRR tests."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from conftest import ROOT, netemu

# A ring of four routers (examples/ring.yaml); r1-r4 costs 5, so h1 -> h2 (behind r3) goes r1-r4-r3 until
# that link is cut.
RING = (ROOT / "examples" / "ring.yaml").read_text()

BGP = (ROOT / "topologies" / "bgp.yaml").read_text()


def needs_frr() -> None:
    """Skip, with the reason, unless FRR's daemons can run here."""
    from netemu.frr import install

    problems = install.problems({"ospfd", "ospf6d", "bgpd"})
    if problems:
        pytest.skip("needs FRR: " + "; ".join(problems))


def write(tmp_path: Path, text: str, name: str) -> str:
    """The topology text under lab name `name`, as a file."""
    from conftest import renamed

    path = tmp_path / f"{name}.yaml"
    path.write_text(renamed(text, name))
    return str(path)


def vtysh_json(lab: str, node: str, command: str) -> dict:
    """A vtysh command's JSON answer, run the way a user would (netemu exec … -- vtysh)."""
    res = netemu("exec", lab, node, "--", "vtysh", "-c", command, check=True)
    return json.loads(res.stdout)


def route_via(lab: str, node: str, dst: str) -> str:
    """The next hop the kernel of `node` uses towards `dst` (`ip route get`)."""
    res = netemu("exec", lab, node, "--", "ip", "-j", "route", "get", dst, check=True)
    return json.loads(res.stdout)[0].get("gateway", "")


def poll(check, timeout: float, interval: float = 0.2):
    """Call `check` until it returns something truthy; that value, or the last one after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def lab_processes(lab: str) -> list[str]:
    """Processes whose command line names the lab's run directory (FRR daemons, vtysh)."""
    marker = f"/run/netemu/{lab}/".encode()
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if marker in cmd:
            text = cmd.replace(b"\0", b" ").decode(errors="replace")
            out.append(f"{pid}: {text[:120]}")
    return out


def have_vtysh() -> bool:
    return shutil.which("vtysh") is not None
