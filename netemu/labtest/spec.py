"""The checks a topology declares in its `tests:` section, as parsed (frozen, line numbers kept)."""

from __future__ import annotations

from dataclasses import dataclass

from ..model import IPAddress, IPNetwork

KINDS = ("ping", "tcp", "resolve", "route")
DEFAULT_TIMEOUT = 10.0  # seconds after the lab came up; enough for static routes, not for OSPF/BGP
DEFAULT_RETRY = 1.0  # seconds between attempts


@dataclass(frozen=True)
class Check:
    """One declared check: what to try from where, what to expect, how long to keep trying.

    kind ping/tcp: `node` tries to reach `targets` (every address of a node, or one address), `port` for tcp.
    kind resolve: `node` asks its resolver for `name` (record `qtype`); `targets` = addresses it must get.
    kind route: `node` must have a route to `prefix` (via `via`, out of `dev` when given).
    `expect_pass` False turns the check into an absence check (no answer, no route), retried the same way.
    """

    name: str
    kind: str
    node: str
    targets: tuple[IPAddress, ...] = ()
    target_text: str = ""  # as written: a node name or an address
    port: int | None = None
    qname: str = ""
    qtype: str = "A"
    prefix: IPNetwork | None = None
    via: IPAddress | None = None
    dev: str | None = None
    expect_pass: bool = True
    timeout: float = DEFAULT_TIMEOUT
    retry: float = DEFAULT_RETRY
    description: str = ""
    line: int | None = None

    def what(self) -> str:
        """One line saying what the check tries, for reports."""
        if self.kind == "ping":
            return f"{self.node} pings {self.target_text}"
        if self.kind == "tcp":
            return f"{self.node} connects to {self.target_text} port {self.port}/tcp"
        if self.kind == "resolve":
            want = ", ".join(map(str, self.targets)) or "any address"
            return f"{self.node} resolves {self.qname} {self.qtype} to {want}"
        extra = "".join(f" {k} {v}" for k, v in (("via", self.via), ("dev", self.dev)) if v is not None)
        return f"{self.node} has a route to {self.prefix}{extra}"


@dataclass(frozen=True)
class TestsSpec:
    """Every declared check, in file order."""

    checks: tuple[Check, ...]

    def names(self) -> list[str]:
        """The checks' names, in file order."""
        return [c.name for c in self.checks]
