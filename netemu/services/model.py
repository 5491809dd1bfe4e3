"""The services of a lab as validated data: what runs where, how `up` knows it serves, in what order."""

from __future__ import annotations

import sys
from dataclasses import dataclass

DEFAULT_READY_TIMEOUT = 15.0


@dataclass(frozen=True)
class Service:
    """One program started in a node by `up`, stopped by `down`."""

    node: str
    name: str
    argv: tuple[str, ...]
    ready: tuple[str, ...] | None = None  # see ops.StartProcess
    ready_timeout: float = DEFAULT_READY_TIMEOUT
    after: tuple[tuple[str, str], ...] = ()  # (node, service) started (and ready) before this one
    env: tuple[tuple[str, str], ...] = ()
    cwd: str | None = None
    builtin: str | None = None

    @property
    def process(self) -> str:
        """The lab-wide process name: it names the journal entry and the log file."""
        return process_name(self.node, self.name)


def process_name(node: str, service: str) -> str:
    """NODE.SERVICE (a service name holds no '.')."""
    return f"{node}.{service}"


@dataclass(frozen=True)
class Services:
    """Every service of a lab, in the order `up` starts them (`after:` respected, else as written)."""

    services: tuple[Service, ...]


@dataclass(frozen=True)
class Builtin:
    """A server shipped with netemu, so common lessons need no script."""

    name: str
    port: int
    protos: tuple[str, ...]  # which protocols it may serve
    what: str

    def argv(self, node: str, port: int, proto: str) -> tuple[str, ...]:
        """Its command line."""
        if self.name == "iperf3":
            return ("iperf3", "--server", "--port", str(port), "--forceflush")
        return (sys.executable, "-m", "netemu.services.servers", self.name, "--port", str(port), "--proto", proto,
                "--node", node)

    def ready(self, port: int, proto: str) -> tuple[str, ...]:
        """Listening on its port is being ready (TCP when it serves TCP)."""
        return ("tcp" if proto in ("tcp", "both") else "udp", str(port))


BUILTINS: dict[str, Builtin] = {b.name: b for b in (
    Builtin("http", 80, ("tcp",), "a web page naming the node that answered and the client address it saw"),
    Builtin("iperf3", 5201, ("tcp",), "the iperf3 server (TCP and UDP tests, one client at a time)"),
    Builtin("echo", 7, ("tcp", "udp", "both"), "sends back what it receives (RFC 862)"),
    Builtin("discard", 9, ("tcp", "udp", "both"), "reads and drops what it receives (RFC 863)"),
)}
