"""Rules for names that become file names, namespace names and interface names."""

from __future__ import annotations

import hashlib
import re

from .errors import UsageError, clip

LAB_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")
NODE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,30}[a-z0-9])?$")
IFNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
IFNAMSIZ = 15  # the kernel's IFNAMSIZ (16) minus the terminating NUL


def lab_name_problem(name: object) -> str | None:
    """Why `name` cannot be a lab name, or None (the one rule for every lab name, from a file or a command line)."""
    # fullmatch, not match: `$` would accept a trailing newline ("lab\n")
    if not isinstance(name, str) or not LAB_RE.fullmatch(name):
        return (
            f"{clip(repr(name), 60)} is not a safe lab name: use 1-32 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return None


class BadLabName(UsageError):
    """A lab name that could lead outside netemu's own state (e.g. '..') or clash with its files."""


def check_lab(name: object) -> str:
    """`name` if it is a valid lab name, else BadLabName (exit 2, one sentence)."""
    problem = lab_name_problem(name)
    if problem is not None:
        raise BadLabName(problem)
    return name  # type: ignore[return-value]


def lab_namespace_problem(lab: str, ns: object) -> str | None:
    """Why `ns` cannot be a namespace of lab `lab` (LAB-NODE, NODE passing the node rule), or None."""
    if not isinstance(ns, str) or not ns.startswith(lab + "-") or node_name_problem(ns[len(lab) + 1:]):
        return f"{clip(repr(ns), 60)} is not a namespace of lab {lab!r} (LAB-NODE)"
    return None


def node_name_problem(name: object) -> str | None:
    """Why `name` cannot be a node name, or None."""
    if not isinstance(name, str) or not NODE_RE.fullmatch(name):
        return (
            f"{clip(repr(name), 60)} is not a safe node name: use 1-32 lowercase letters, digits, '-' and '_', "
            "starting and ending with a letter or digit"
        )
    return None


# Names the kernel refuses for a new interface (EINVAL: they are the /proc/sys/net/*/conf/ entries
# for every and for new interfaces) or that clash with a sysfs file of /sys/class/net once the bonding
# module is loaded; `lo` and `br0` are the names netemu itself gives a node's loopback and bridge.
RESERVED_IFNAMES = {
    "all": "the kernel reserves it (/proc/sys/net/ipv4/conf/all)",
    "default": "the kernel reserves it (/proc/sys/net/ipv4/conf/default)",
    "bonding_masters": "it clashes with /sys/class/net/bonding_masters when the bonding module is loaded",
    "lo": "every node's loopback interface has it",
    "br0": "netemu names a switch's bridge so",
}


def ifname_problem(name: str) -> str | None:
    """Why `name` cannot be an interface name, or None."""
    if len(name) > IFNAMSIZ:
        return f"interface name {clip(repr(name), 40)} is {len(name)} characters; the kernel allows at most {IFNAMSIZ}"
    if not IFNAME_RE.fullmatch(name) or name in (".", ".."):
        return f"interface name {name!r} may only hold letters, digits, '_', '.' and '-'"
    if name in RESERVED_IFNAMES:
        return f"interface name {name!r} is reserved: {RESERVED_IFNAMES[name]}"
    return None


def mac_for(lab: str, node: str, ifname: str) -> str:
    """A stable, locally administered unicast MAC for an interface."""
    digest = hashlib.sha1(f"{lab}/{node}/{ifname}".encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])
