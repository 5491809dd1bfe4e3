"""TCP congestion control per node: the `tcp:` key (lab-wide and per node), its plan and its preflight.

Every network namespace starts with the kernel's default algorithm (here the host's boot default,
e.g. BBR on one machine and CUBIC on a stock Debian or Ubuntu kernel): a lab that does not say which
one it uses silently inherits it, and loss-based and model-based algorithms give very different
figures on a lossy, long path. `tcp: {congestion: cubic}` makes the choice explicit.

The kernel's rules, which netemu follows rather than works around:
- `net.ipv4.tcp_congestion_control` is per namespace, but a child namespace may only choose an
  algorithm listed in the host's `net.ipv4.tcp_allowed_congestion_control` (else EPERM). netemu never
  changes the host, so such a choice is refused before anything is created, with what does work.
- An algorithm must be loaded (`tcp_available_congestion_control`); the module is loaded on the host.
- The per-route attribute `congctl` and the per-socket option TCP_CONGESTION (as root) are not bound by
  the allowed list. `tcp: {congestion: cubic, via: routes}` puts `congctl` on every route netemu installs
  in the node (its connected subnets included): connections the node opens then use the algorithm
  even where the host does not allow it as a namespace default. Routes a routing daemon learns later
  do not carry the attribute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .features import Feature
from .errors import Issue
from .ops import Op, RunCommand, Sysctl

if TYPE_CHECKING:
    from .model import Topology
    from .source import Source

KEY = "tcp"
SYSCTL = "net.ipv4.tcp_congestion_control"
PROC = "/proc/sys/net/ipv4"
# Names the kernel ships (net/ipv4/tcp_*.c); any other name is a typo, not a missing module.
KNOWN = ("bbr", "bic", "cdg", "cubic", "dctcp", "highspeed", "htcp", "hybla", "illinois", "lp", "nv", "reno",
         "scalable", "vegas", "veno", "westwood", "yeah")


@dataclass(frozen=True)
class Congestion:
    """The algorithm each IP node asked for (only nodes that ask, directly or through the lab-wide key)."""

    per_node: tuple[tuple[str, str, int | None], ...] = ()  # (node, algorithm, line)
    via_routes: frozenset[str] = frozenset()  # nodes that set it per route (`via: routes`), not by sysctl

    def of(self, node: str) -> str | None:
        """The algorithm `node` asked for, or None (the kernel's default)."""
        return next((a for n, a, _ in self.per_node if n == node), None)


def host_lists() -> tuple[list[str], list[str]]:
    """(available, allowed in child namespaces) on this machine, read-only from /proc; empty when unreadable."""
    out = []
    for name in ("tcp_available_congestion_control", "tcp_allowed_congestion_control"):
        try:
            with open(f"{PROC}/{name}") as f:
                out.append(f.read().split())
        except OSError:
            out.append([])
    return out[0], out[1]


def default_algorithm() -> str | None:
    """The algorithm a new namespace starts with on this machine (the host's), or None when unreadable."""
    try:
        with open(f"{PROC}/tcp_congestion_control") as f:
            return f.read().strip() or None
    except OSError:
        return None


def _one(src: Source, path: tuple, value: Any, issues: list[Issue]) -> tuple[str, bool] | None:
    """(algorithm, per route) of one `tcp:` mapping, or None."""
    if value is None:
        return None
    if not isinstance(value, dict):
        issues.append(src.issue(path, f"must be a mapping like {{congestion: cubic}}, got {str(value)[:60]!r}"))
        return None
    for k in sorted(set(value) - {"congestion", "via"}, key=str):
        issues.append(src.issue((*path, k), "unknown key", hint="allowed here: congestion, via"))
    via = value.get("via", "sysctl")
    if via not in ("sysctl", "routes"):
        issues.append(src.issue((*path, "via"), f"must be 'sysctl' or 'routes', got {str(via)[:40]!r}"))
    algo = value.get("congestion")
    if algo is None:
        return None
    if not isinstance(algo, str) or algo not in KNOWN:
        issues.append(src.issue((*path, "congestion"), f"unknown congestion control {str(algo)[:40]!r}",
                                hint=f"use one of {', '.join(KNOWN)}"))
        return None
    return algo, via == "routes"


def parse(src: Source, topo: Topology) -> tuple[Congestion, list[Issue]]:
    """Each IP node's algorithm: its own `tcp:` or else the lab-wide one; problems with file and line."""
    issues: list[Issue] = []
    data = src.data if isinstance(src.data, dict) else {}
    lab_wide = _one(src, (KEY,), data.get(KEY), issues)
    raw_nodes = data.get("nodes") if isinstance(data.get("nodes"), dict) else {}
    per_node, via_routes = [], set()
    for node in topo.nodes:
        raw = raw_nodes.get(node.name)
        own = _one(src, ("nodes", node.name, KEY), raw.get(KEY), issues) if isinstance(raw, dict) else None
        if own and node.is_switch:
            issues.append(src.issue(("nodes", node.name, KEY), "a switch has no TCP stack of its own",
                                    hint="set it on the hosts and routers"))
            continue
        chosen = own or (None if node.is_switch else lab_wide)
        if chosen:
            line = src.line(("nodes", node.name, KEY) if own else (KEY,))
            per_node.append((node.name, chosen[0], line))
            if chosen[1]:
                via_routes.add(node.name)
    model = Congestion(tuple(per_node), frozenset(via_routes))
    issues += _host_warnings(src, model)
    return model, issues


def _host_warnings(src: Source, model: Congestion) -> list[Issue]:
    """What this machine will refuse, as warnings at validate (`up` refuses it in preflight)."""
    available, allowed = host_lists()
    if not allowed:
        return []
    return [Issue("nodes." + node + "." + KEY if src.line(("nodes", node, KEY)) == line else KEY,
                  f"on this machine: {why}", line, warning=True)
            for node, line, why, _ in _refusals(model, available, allowed)]


def _refusals(model: Congestion, available: list[str], allowed: list[str]) -> list[tuple[str, int | None, str, str]]:
    """(first node, its line, why, every node asking) for each distinct refusal this machine gives."""
    out: dict[str, tuple[str, int | None, list[str]]] = {}
    for node, algo, line in model.per_node:
        why = _refusal(algo, available, allowed, node in model.via_routes)
        if why:
            out.setdefault(why, (node, line, []))[2].append(node)
    return [(node, line, why, ", ".join(nodes)) for why, (node, line, nodes) in out.items()]


def _refusal(algo: str, available: list[str], allowed: list[str], via_routes: bool) -> str | None:
    if algo not in available:
        return (f"congestion control {algo!r} is not loaded on this machine (available: {' '.join(available)}); "
                f"load it on the host with 'modprobe tcp_{algo}' (netemu never changes the host)")
    if algo not in allowed and not via_routes:
        return (f"{algo!r} is loaded, but lab namespaces may only use {' '.join(allowed)} (the host's "
                f"tcp_allowed_congestion_control, which netemu never changes): choose one of those, or write "
                f"'tcp: {{congestion: {algo}, via: routes}}' (route attribute congctl, not bound by that list)")
    return None


def plan(topo: Topology, model: Congestion) -> list[Op]:
    """A sysctl per node that asked for an algorithm; or, with `via: routes`, congctl on each of its routes."""
    ops: list[Op] = []
    for name, algo, _ in model.per_node:
        ns = topo.namespace(name)
        if name not in model.via_routes:
            ops.append(Sysctl(ns, SYSCTL, algo))
            continue
        node = topo.node(name)
        for iface in node.interfaces:
            for addr in iface.addresses:
                # the kernel's own route to a connected subnet, replaced by the same route plus the attribute
                # (IPv6: same metric 256, so `replace` matches it instead of adding a second one)
                extra = ["proto", "kernel", "scope", "link", "src", str(addr.ip)] if addr.version == 4 \
                    else ["proto", "kernel", "metric", "256"]
                ops.append(RunCommand(ns, ("ip", f"-{addr.version}", "route", "replace", str(addr.network),
                                           "dev", iface.name, *extra, "congctl", algo)))
        for route in node.routes:
            argv = ["ip", f"-{route.family}", "route", "replace", route.dst_text]
            if route.via is not None:
                argv += ["via", str(route.via)]
            if route.dev:
                argv += ["dev", route.dev]
            if route.metric is not None:
                argv += ["metric", str(route.metric)]
            ops.append(RunCommand(ns, (*argv, "congctl", algo)))
    return ops


def preflight(topo: Topology, model: Congestion) -> list[str]:
    """Algorithms this machine cannot give a lab namespace, refused before anything is created."""
    available, allowed = host_lists()
    if not available:
        return []
    return [f"{why} (asked by {nodes})" for _, _, why, nodes in _refusals(model, available, allowed or available)]


def node_algorithm(ns: str) -> str | None:
    """The algorithm a running node's namespace uses now, or None when it cannot be read."""
    from .kernel import procs

    try:
        res = procs.run(ns, ["sysctl", "-n", SYSCTL], timeout=10)
    except (OSError, ValueError):
        return None
    return res.stdout.strip() or None if res.returncode == 0 else None


def node_status(ns: str) -> tuple[dict, list[str]]:
    """The node's congestion control, for `netemu status LAB NODE`."""
    algo = node_algorithm(ns)
    if algo is None:
        return {}, []
    return {"congestion_control": algo}, [f"tcp congestion control: {algo}"]


FEATURE = Feature(
    name="tcp",
    top_keys=frozenset({KEY}),
    node_keys=frozenset({KEY}),
    parse=parse,
    plan=plan,
    preflight=preflight,
    node_status=node_status,
)
