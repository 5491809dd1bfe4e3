"""Rules for names that become file names, namespace names and interface names."""

from __future__ import annotations

import hashlib
import re

LAB_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")
NODE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,30}[a-z0-9])?$")
IFNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
IFNAMSIZ = 15  # the kernel's IFNAMSIZ (16) minus the terminating NUL


def lab_name_problem(name: object) -> str | None:
    """Why `name` cannot be a lab name, or None."""
    if not isinstance(name, str) or not LAB_RE.match(name):
        return (
            f"{name!r} is not a safe lab name: use 1-32 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return None


def node_name_problem(name: object) -> str | None:
    """Why `name` cannot be a node name, or None."""
    if not isinstance(name, str) or not NODE_RE.match(name):
        return (
            f"{name!r} is not a safe node name: use 1-32 lowercase letters, digits, '-' and '_', "
            "starting and ending with a letter or digit"
        )
    return None


def ifname_problem(name: str) -> str | None:
    """Why `name` cannot be an interface name, or None."""
    if len(name) > IFNAMSIZ:
        return f"interface name {name!r} is {len(name)} characters; the kernel allows at most {IFNAMSIZ}"
    if not IFNAME_RE.match(name) or name in (".", ".."):
        return f"interface name {name!r} may only hold letters, digits, '_', '.' and '-'"
    if name in ("lo", "br0"):
        return f"interface name {name!r} is reserved"
    return None


def mac_for(lab: str, node: str, ifname: str) -> str:
    """A stable, locally administered unicast MAC for an interface."""
    digest = hashlib.sha1(f"{lab}/{node}/{ifname}".encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])
