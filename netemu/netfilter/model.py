"""The parsed `nat:` and `firewall:` settings of each node: frozen, validated, resolved."""

from __future__ import annotations

from dataclasses import dataclass

from ..model import IPAddress, IPNetwork

BACKENDS = ("auto", "nft", "legacy")
MODES = ("stateful", "stateless")
POLICIES = ("accept", "drop")
ICMP_POLICIES = ("allow", "drop-echo", "drop-all")
CHAINS = ("input", "forward", "output")
PROTOS = ("tcp", "udp", "icmp", "any")

PortRange = tuple[int, int]  # (first, last); a single port is (p, p)


def overlaps(prefix: IPNetwork, first: IPAddress, last: IPAddress) -> bool:
    """Whether the address range first..last shares any address with `prefix`."""
    return prefix.version == first.version and not (last < prefix[0] or first > prefix[-1])


@dataclass(frozen=True)
class Masquerade:
    """Rewrite the source of packets leaving `out` to that interface's own address."""

    out: str
    sources: tuple[IPNetwork, ...]  # empty: every source
    family: int
    where: str  # YAML path, for rule comments in the rendered file


@dataclass(frozen=True)
class Snat:
    """Rewrite the source of packets from `sources` to an address of a pool."""

    sources: tuple[IPNetwork, ...]
    first: IPAddress
    last: IPAddress
    out: str | None
    family: int
    where: str

    @property
    def to_text(self) -> str:
        """The pool as iptables writes it: one address or `first-last`."""
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"

    def contains(self, address: IPAddress) -> bool:
        """Whether `address` is in the pool."""
        return address.version == self.first.version and self.first <= address <= self.last


@dataclass(frozen=True)
class PortForward:
    """Destination NAT of one public port to an inside address and port."""

    protos: tuple[str, ...]  # "tcp" and/or "udp"
    public: IPAddress | None  # None: any address of the node reached through `iface`
    port: int
    inside: IPAddress
    inside_port: int
    iface: str | None
    family: int
    where: str


@dataclass(frozen=True)
class OneToOne:
    """A public address mapped to a private one in both directions (static NAT)."""

    public: IPAddress
    private: IPAddress
    iface: str | None
    family: int
    where: str


@dataclass(frozen=True)
class Nat:
    """Every address translation of one node."""

    masquerade: tuple[Masquerade, ...] = ()
    snat: tuple[Snat, ...] = ()
    port_forwards: tuple[PortForward, ...] = ()
    one_to_one: tuple[OneToOne, ...] = ()

    def postrouting(self, family: int) -> list[OneToOne | Snat | Masquerade]:
        """The source rewrites of `family` in the order POSTROUTING tries them (first match wins):
        1:1 outbound, snat, masquerade. The rules and the model's path walk both follow this."""
        return [x for x in (*self.one_to_one, *self.snat, *self.masquerade) if x.family == family]


@dataclass(frozen=True)
class AllowRule:
    """One allow rule of a firewall; an empty tuple means "any"."""

    chains: tuple[str, ...]
    proto: str  # tcp, udp, icmp or any
    dports: tuple[PortRange, ...]
    sports: tuple[PortRange, ...]
    sources: tuple[IPNetwork, ...]
    dests: tuple[IPNetwork, ...]
    iface_in: str | None
    iface_out: str | None
    where: str


@dataclass(frozen=True)
class Firewall:
    """A node's packet filter: default policies, ICMP policy and allow rules."""

    mode: str = "stateful"
    input: str = "accept"
    forward: str = "accept"
    output: str = "accept"
    icmp: str = "allow"
    allow: tuple[AllowRule, ...] = ()
    clamp_mss: bool = False

    def policy(self, chain: str) -> str:
        """The default policy of `chain` ('input', 'forward' or 'output')."""
        return getattr(self, chain)


@dataclass(frozen=True)
class NodeNetfilter:
    """The NAT and firewall of one node."""

    node: str
    nat: Nat | None
    firewall: Firewall | None


@dataclass(frozen=True)
class NetfilterModel:
    """What the netfilter feature attaches to a Topology."""

    backend: str
    nodes: tuple[NodeNetfilter, ...]

    def node(self, name: str) -> NodeNetfilter | None:
        """The settings of node `name`, if it has any."""
        return next((n for n in self.nodes if n.node == name), None)
