"""Kernel operations as pure data: what `netemu plan` prints and `apply` performs."""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass

# Consecutive RunCommand/StartProcess ops with the same non-empty `batch` do not depend on each other:
# `apply` may run such commands concurrently and start such processes together, then wait for all.

KINDS: dict[str, type[Op]] = {}  # every kind of operation, core and features', by class name


def register(cls: type[Op]) -> type[Op]:
    """Class decorator: make an Op subclass known to `from_json` (and so to journals and tests)."""
    if KINDS.get(cls.__name__, cls) is not cls:
        raise ValueError(f"two kinds of operation are called {cls.__name__}")
    KINDS[cls.__name__] = cls
    return cls


@dataclass(frozen=True)
class Op:
    """Base of all operations; `text()` reads like the equivalent iproute2 command."""

    def text(self) -> str:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def body(self) -> str | None:
        """The text the operation feeds in (a file's content, a command's stdin), if any."""
        return None

    def to_json(self) -> dict:
        """A JSON-ready dict with the operation's kind."""
        return {"op": type(self).__name__, **asdict(self)}


@register
@dataclass(frozen=True)
class CreateNamespace(Op):
    """A named network namespace (visible to `ip netns`) for one node, loopback up."""

    ns: str
    node: str

    def text(self) -> str:
        return f"ip netns add {self.ns}  # node {self.node}; lo up; hostname {self.node} (own UTS namespace)"


@register
@dataclass(frozen=True)
class Sysctl(Op):
    """Write a per-namespace sysctl."""

    ns: str
    key: str
    value: str

    def text(self) -> str:
        return f"ip netns exec {self.ns} sysctl -w {self.key}={shlex.quote(self.value)}"


@register
@dataclass(frozen=True)
class CreateBridge(Op):
    """A Linux bridge (the switch), STP off and no forward delay so ports forward at once."""

    ns: str
    name: str
    mtu: int

    def text(self) -> str:
        return f"ip -n {self.ns} link add {self.name} mtu {self.mtu} type bridge stp_state 0 forward_delay 0"


@register
@dataclass(frozen=True)
class CreateVeth(Op):
    """A veth pair born with each end directly in its own namespace."""

    ns: str
    ifname: str
    mac: str
    peer_ns: str
    peer_ifname: str
    peer_mac: str
    mtu: int
    master: str | None = None  # bridge in `ns` to enslave `ifname` to
    peer_master: str | None = None

    def text(self) -> str:
        master = f" master {self.master}" if self.master else ""
        peer_master = f" (master {self.peer_master})" if self.peer_master else ""
        return (
            f"ip -n {self.ns} link add {self.ifname} address {self.mac} mtu {self.mtu}{master} type veth "
            f"peer name {self.peer_ifname} address {self.peer_mac} mtu {self.mtu} netns {self.peer_ns}{peer_master}"
        )


@register
@dataclass(frozen=True)
class AddAddress(Op):
    """An IPv4 or IPv6 address on an interface (IPv6 without duplicate address detection)."""

    ns: str
    ifname: str
    address: str

    def text(self) -> str:
        nodad = " nodad" if ":" in self.address else ""
        return f"ip -n {self.ns} addr add {self.address} dev {self.ifname}{nodad}"


@register
@dataclass(frozen=True)
class AddRoute(Op):
    """A static route."""

    ns: str
    family: int
    dst: str  # "default" or a prefix
    via: str | None = None
    dev: str | None = None
    metric: int | None = None

    def text(self) -> str:
        parts = [f"ip -{self.family} -n {self.ns} route add {self.dst}"]
        if self.via:
            parts.append(f"via {self.via}")
        if self.dev:
            parts.append(f"dev {self.dev}")
        if self.metric is not None:
            parts.append(f"metric {self.metric}")
        return " ".join(parts)


@register
@dataclass(frozen=True)
class AddNeighbour(Op):
    """A permanent neighbour entry: it does not count against the machine-wide gc_thresh3."""

    ns: str
    ifname: str
    address: str
    mac: str

    def text(self) -> str:
        return f"ip -n {self.ns} neigh replace {self.address} lladdr {self.mac} dev {self.ifname} nud permanent"


@register
@dataclass(frozen=True)
class LinkDir(Op):
    """A symlink the lab owns pointing at a directory it creates (e.g. /etc/netns/NS -> its run dir)."""

    path: str
    target: str

    def text(self) -> str:
        return f"ln -s {self.target} {self.path}"


@register
@dataclass(frozen=True)
class WriteFile(Op):
    """A file the lab owns (e.g. /etc/netns/NS/hosts), removed by `down`."""

    path: str
    content: str
    mode: int = 0o644

    def text(self) -> str:
        return f"write {self.path} ({len(self.content.splitlines())} lines)"

    def body(self) -> str | None:
        return self.content


@register
@dataclass(frozen=True)
class RunCommand(Op):
    """A command run to completion inside a namespace (e.g. iptables-restore, tc)."""

    ns: str
    argv: tuple[str, ...]
    stdin: str | None = None
    binds: tuple[tuple[str, str], ...] = ()  # (DIR, AT): DIR seen at AT by this command only
    batch: str = ""  # see the note on batches at the top

    def text(self) -> str:
        extra = f" <<< ({len(self.stdin.splitlines())} lines)" if self.stdin else ""
        return f"ip netns exec {self.ns} {shlex.join(self.argv)}{extra}{_binds_text(self.binds)}{_batch_text(self.batch)}"

    def body(self) -> str | None:
        return self.stdin


@register
@dataclass(frozen=True)
class StartProcess(Op):
    """A long-running process of the lab inside a namespace; its PID is journaled and killed by `down`.

    `ready` is how `up` knows it serves (see kernel.procs.wait_all_ready): ("tcp", PORT), ("udp", PORT),
    ("file", PATH), ("unix", PATH) or ("command", ARG, ...); `ready_file` is the short form of ("file", PATH).
    Without either, the process only has to be still running a moment after its start.
    """

    ns: str
    name: str  # unique within the lab; names the pidfile and the log
    argv: tuple[str, ...]
    ready_file: str | None = None  # wait until this file exists (the process writes it when serving)
    ready: tuple[str, ...] | None = None
    ready_timeout: float = 15.0
    env: tuple[tuple[str, str], ...] = ()  # added to netemu's own environment
    cwd: str | None = None
    binds: tuple[tuple[str, str], ...] = ()  # (DIR, AT): DIR seen at AT by this process only
    batch: str = ""  # see the note on batches at the top
    after: str = ""  # a process of the same batch that must be ready before this one is let run

    def probe(self) -> tuple[str, ...] | None:
        """The readiness probe, whichever way it was given."""
        return self.ready or (("file", self.ready_file) if self.ready_file else None)

    def text(self) -> str:
        env = "".join(f"{k}={shlex.quote(v)} " for k, v in self.env)
        cwd = f"cd {shlex.quote(self.cwd)} && " if self.cwd else ""
        probe = self.probe()
        ready = f"; ready: {' '.join(probe)} within {self.ready_timeout:g} s" if probe else ""
        after = f"; once {self.after} is ready" if self.after else ""
        return (f"{cwd}{env}ip netns exec {self.ns} {shlex.join(self.argv)} &  # process {self.name}{ready}"
                f"{after}{_binds_text(self.binds)}{_batch_text(self.batch)}")


def _batch_text(batch: str) -> str:
    return f"  [batch {batch}]" if batch else ""


def _binds_text(binds: tuple[tuple[str, str], ...]) -> str:
    return f"; sees {', '.join(f'{d} at {at}' for d, at in binds)}" if binds else ""


def from_json(d: dict) -> Op:
    """Rebuild an Op from `to_json()` output (any registered kind)."""
    d = dict(d)
    cls = KINDS[d.pop("op")]
    for key in ("argv", "ready"):
        if d.get(key) is not None:
            d[key] = tuple(d[key])
    for key in ("env", "binds"):
        if key in d:
            d[key] = tuple(tuple(kv) for kv in d[key])
    return cls(**d)
