"""Which sysctls a node may set: only those that live in its own network namespace."""

from __future__ import annotations

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
    """Why `key` cannot be set per node, or None."""
    k = normalise(key)
    if not k.startswith("net."):
        return f"{key!r} is not a network sysctl; only per-namespace net.* sysctls can be set on a node"
    if any(k.startswith(p) for p in NOT_PER_NAMESPACE):
        return f"{key!r} is global to the machine (not per network namespace); netemu never changes the host"
    if not any(k.startswith(p) for p in PER_NAMESPACE_PREFIXES):
        return f"{key!r} is not a per-namespace sysctl (allowed: net.ipv4.*, net.ipv6.*, net.netfilter.*, net.core.somaxconn, …)"
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
