"""The validated `dns:` section: zones with their servers and records, resolvers, and which resolver each node uses."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TTL = 3600
NEGATIVE_TTL = 300  # SOA MINIMUM of the default SOA: how long NXDOMAIN/NODATA are cached
TTL_MAX = 2**31 - 1  # RFC 2181 §8


@dataclass(frozen=True)
class Server:
    """A node serving a zone: the NS name it gets and the addresses that go into glue and A records."""

    node: str
    name: str  # absolute NS name, e.g. ns1.bob.com.
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class ZoneSpec:
    """One zone as written: origin, servers, default TTL and the user's records (zone-file lines, absolute)."""

    origin: str  # absolute, lower-case: ".", "com.", "bob.com."
    servers: tuple[Server, ...]
    ttl: int
    records: tuple[str, ...]
    soa: str | None = None  # a user SOA line replacing the default


@dataclass(frozen=True)
class ResolverSpec:
    """A node running the recursive resolver."""

    node: str
    addresses: tuple[str, ...]  # where it listens (every address of the node)


@dataclass(frozen=True)
class DnsSpec:
    """The feature's parsed model attached to the Topology as `dns`."""

    zones: tuple[ZoneSpec, ...]
    resolvers: tuple[ResolverSpec, ...]
    clients: tuple[tuple[str, tuple[str, ...]], ...]  # node → nameserver addresses for its resolv.conf
    client_resolver: tuple[tuple[str, str], ...]  # node → the resolver node it uses (for `dns trace`)

    def zone(self, origin: str) -> ZoneSpec | None:
        """The zone with this origin, if any."""
        return next((z for z in self.zones if z.origin == origin), None)

    def server_nodes(self) -> list[str]:
        """Nodes that run an authoritative server, in first-mention order."""
        return list(dict.fromkeys(s.node for z in self.zones for s in z.servers))
