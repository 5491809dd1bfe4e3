"""Which sysctls a node may set: only those that live in its own network namespace."""

from __future__ import annotations

import os
import re

from .errors import clip

PROC_SYS = "/proc/sys"
PART_RE = re.compile(r"[A-Za-z0-9_-]+")  # one component of a sysctl name: never '', '.', '..' or a '/'
# Most net sysctls are C ints (proc_dointvec: at most INT_MAX) or unsigned ints; these few are longs.
LONG_SYSCTLS = ("net.ipv4.tcp_comp_sack_delay_ns", "net.ipv4.tcp_comp_sack_slack_ns")
INT_RANGE = (-(2**31), 2**32 - 1)
LONG_RANGE = (-(2**63), 2**64 - 1)

# Prefixes whose entries are per network namespace (kernel.md: a new namespace starts
# from kernel defaults for these, not from the host's values).
PER_NAMESPACE_PREFIXES = (
    "net.ipv4.",
    "net.ipv6.",
    "net.netfilter.",
    "net.mptcp.",
    "net.unix.max_dgram_qlen",
    "net.core.somaxconn",
    "net.core.xfrm_",
)

# Under those prefixes, these are global (or read-only / absent) in a child namespace.
NOT_PER_NAMESPACE = (
    "net.ipv4.tcp_mem",
    "net.ipv4.udp_mem",
    "net.ipv4.neigh.default.gc_thresh",
    "net.ipv6.neigh.default.gc_thresh",
    "net.ipv4.tcp_available_congestion_control",
    "net.ipv4.tcp_allowed_congestion_control",
    "net.ipv6.route.max_size",
    "net.netfilter.nf_conntrack_max",
    "net.netfilter.nf_conntrack_buckets",
)


def normalise(key: str) -> str:
    """Accept both `net.ipv4.x` and `net/ipv4/x`."""
    return key.replace("/", ".").strip(".")


def problem(key: str) -> str | None:
    """Why `key` cannot be set per node, or None (checked against this kernel's /proc/sys when it has one)."""
    shown = clip(repr(key), 80)
    if not isinstance(key, str) or not all(PART_RE.fullmatch(p) for p in re.split(r"[./]", key.strip("./"))):
        return (f"{shown} is not a sysctl name: parts of letters, digits, '_' and '-' separated by '.' or '/' "
                "(no empty part, no '..')")
    k = normalise(key)
    if not k.startswith("net."):
        return f"{key!r} is not a network sysctl; only per-namespace net.* sysctls can be set on a node"
    if any(k.startswith(p) for p in NOT_PER_NAMESPACE):
        return f"{key!r} is global to the machine (not per network namespace); netemu never changes the host"
    if not any(k.startswith(p) for p in PER_NAMESPACE_PREFIXES):
        return f"{key!r} is not a per-namespace sysctl (allowed: net.ipv4.*, net.ipv6.*, net.netfilter.*, net.core.somaxconn, …)"
    return _missing(k)


def _missing(k: str) -> str | None:
    """Why sysctl `k` does not exist on this kernel, or None (also when this machine cannot tell)."""
    parts = k.split(".")
    # net.ipv4.conf.IF.x / net.ipv6.neigh.IF.x: the node's interfaces do not exist here; every
    # interface has the entries of `default`
    if len(parts) >= 5 and parts[2] in ("conf", "neigh"):
        parts[3] = "default"
    family_dir = os.path.join(PROC_SYS, *parts[:2])
    if not os.path.isdir(family_dir):
        return None  # e.g. net.netfilter before nf_conntrack is loaded: `up` loads it, validate cannot tell
    path = os.path.join(PROC_SYS, *parts)
    if not os.path.isfile(path):
        return f"{k!r} does not exist on this kernel (no {path})"
    return None


def value_problem(key: str, value: object) -> str | None:
    """Why `value` cannot be written to sysctl `key`, or None: one line of numbers or words, each
    number within the range the kernel accepts."""
    words = value if isinstance(value, list) else [value]
    if not words or not all(isinstance(w, (str, int, float, bool)) for w in words):
        return "value must be a number, string or list of numbers"
    text = value_text(value)
    if not text.strip() or any(c in text for c in "\n\r\0"):
        return f"value {clip(repr(text), 60)} must be one line of text"
    low, high = LONG_RANGE if normalise(key) in LONG_SYSCTLS else INT_RANGE
    for w in text.split():
        if re.fullmatch(r"-?[0-9]+", w) and not low <= int(w) <= high:
            return f"value {clip(w, 40)} is out of range: the kernel accepts {low}..{high} here"
    return None


def proc_path(key: str) -> str:
    """The /proc/sys file of a sysctl (a dot inside an interface name is not supported)."""
    return "/proc/sys/" + normalise(key).replace(".", "/")


def value_text(value: object) -> str:
    """A YAML scalar as the kernel expects it (booleans as 1/0, lists space-separated)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return str(value)
