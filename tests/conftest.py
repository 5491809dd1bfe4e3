"""Shared fixtures: root/tool checks that skip with a reason, unique labs, and leak checks."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOPOLOGIES = ROOT / "topologies"


def is_root() -> bool:
    """Whether tests can create network namespaces."""
    return os.geteuid() == 0


def needs_root() -> None:
    """Skip (with the reason printed) unless we are root with `ip netns` working."""
    if not is_root():
        pytest.skip("needs root: real network namespaces are created")
    if shutil.which("ip") is None:
        pytest.skip("needs iproute2's `ip` (apt-get install iproute2)")


def needs_tool(*names: str) -> None:
    """Skip with the reason unless every tool is installed."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (installed by vagrant/provision.sh --test)")


def unique_name(prefix: str = "t") -> str:
    """A lab name no other test run uses."""
    return f"{prefix}-{secrets.token_hex(3)}"


def netemu(*args: str, timeout: float = 120, check: bool = False, **kw) -> subprocess.CompletedProcess:
    """Run the netemu CLI as a user would (a separate process)."""
    res = subprocess.run([sys.executable, "-m", "netemu", *args], capture_output=True, text=True, timeout=timeout,
                         cwd=ROOT, **kw)
    if check and res.returncode != 0:
        raise AssertionError(f"netemu {' '.join(args)} exited {res.returncode}:\n{res.stdout}\n{res.stderr}")
    return res


def _run(cmd: list[str]) -> str:
    return subprocess.run(cmd, capture_output=True, text=True).stdout


def host_snapshot() -> dict:
    """The host namespace's own state, which netemu must never change."""
    snap = {
        "links": _run(["ip", "-o", "link", "show"]),
        "routes4": _run(["ip", "-4", "route", "show", "table", "all"]),
        "routes6": _run(["ip", "-6", "route", "show", "table", "all"]),
        "rules": _run(["ip", "rule", "show"]),
    }
    for tool in ("iptables-save", "ip6tables-save"):
        if shutil.which(tool):
            # counters change with any traffic; compare rules only
            snap[tool] = "\n".join(l for l in _run([tool]).splitlines() if not l.startswith(("#", ":")))
    return snap


def leftovers(lab: str) -> list[str]:
    """Anything of lab `lab` still on the machine (namespaces, /etc/netns, /run/netemu, processes)."""
    out = [f"netns {n}" for n in _run(["ip", "netns", "list"]).split() if n.startswith(lab + "-")]
    etc = Path("/etc/netns")
    if etc.is_dir():
        out += [f"/etc/netns/{p.name}" for p in etc.iterdir() if p.name.startswith(lab + "-")]
    if Path(f"/run/netemu/{lab}").exists():
        out.append(f"/run/netemu/{lab}")
    return out


@pytest.fixture
def lab_text():
    """Bring up labs from YAML text under unique names; each is removed and leak-checked afterwards.

    Usage: name = lab_text(yaml_text)  -> the lab's name (already up); the text's `name:` is replaced.
    """
    needs_root()
    names: list[str] = []

    def up(text: str, prefix: str = "t") -> str:
        from netemu.lab import Lab
        from netemu.parse import topology_from_text

        name = unique_name(prefix)
        text = renamed(text, name)
        names.append(name)
        Lab.up(topology_from_text(text, f"<{name}>"), text)
        return name

    yield up
    from netemu.apply import down

    for name in names:
        down(name)
        assert leftovers(name) == [], f"lab {name} left {leftovers(name)}"


def renamed(text: str, new_name: str) -> str:
    """Topology text with its lab name replaced, so tests never clash with a user's lab."""
    return re.sub(r"^name: .*$", f"name: {new_name}", text, count=1, flags=re.MULTILINE)


def shipped(name: str, new_name: str = "renamed-by-fixture") -> str:
    """A shipped topology's text under another lab name."""
    return renamed((TOPOLOGIES / name).read_text(), new_name)
