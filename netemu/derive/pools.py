"""Address pools: the default ranges and the `addressing:` key that overrides them.

    addressing:
      lan:      {ipv4: 10.128.0.0/9, prefix: 24, ipv6: "fd00:128::/32", prefix6: 64}
      p2p:      {ipv4: 10.254.0.0/16, prefix: 30, ipv6: "fd00:254::/32", prefix6: 64}
      loopback: {ipv4: 10.255.0.0/16, ipv6: "fd00:255::/64"}     # /32 and /128 each
      ipv6: false        # single stack (IPv4 only) everywhere; `ipv4: false` for IPv6 only
    addressing: false    # no automatic addresses at all

The defaults are private (RFC 1918) and unique-local (RFC 4193) ranges: they never collide with
the documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) the
shipped topologies use for "public" space.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..core.reader import Reader
from ..model import IPNetwork

KINDS = ("lan", "p2p", "loopback")
DEFAULTS: dict[str, dict[int, tuple[str, int]]] = {
    "lan": {4: ("10.128.0.0/9", 24), 6: ("fd00:128::/32", 64)},
    "p2p": {4: ("10.254.0.0/16", 30), 6: ("fd00:254::/32", 64)},
    "loopback": {4: ("10.255.0.0/16", 32), 6: ("fd00:255::/64", 128)},
}


@dataclass(frozen=True)
class Pool:
    """Subnets of length `prefixlen` carved out of `network`."""

    network: IPNetwork
    prefixlen: int

    @property
    def count(self) -> int:
        """How many subnets the pool holds."""
        return 1 << (self.prefixlen - self.network.prefixlen)

    def subnet(self, index: int) -> IPNetwork:
        """The subnet number `index` (0-based)."""
        size = 1 << (self.network.max_prefixlen - self.prefixlen)
        base = int(self.network.network_address) + index * size
        return ipaddress.ip_network((base, self.prefixlen))


Pools = dict[str, dict[int, Pool]]  # kind -> family -> pool (a family absent = not numbered)


def read(r: Reader, raw) -> Pools | None:
    """The pools in force: defaults overridden by `addressing:`; None when `addressing: false`."""
    if raw is False:
        return None
    pools: Pools = {k: {f: Pool(ipaddress.ip_network(n), p) for f, (n, p) in fams.items()}
                    for k, fams in DEFAULTS.items()}
    if raw is None or raw is True:
        return pools
    if not isinstance(raw, dict):
        r.err(("addressing",), "must be a mapping of pools (lan, p2p, loopback, ipv4, ipv6) or false")
        return pools
    r.unknown_keys(("addressing",), raw, set(KINDS) | {"ipv4", "ipv6"})
    for family, key in ((4, "ipv4"), (6, "ipv6")):
        if key in raw:
            if raw[key] is not False:
                r.err(("addressing", key), f"only 'false' is allowed here (no IPv{family} anywhere); "
                      f"set a pool's range under lan/p2p/loopback")
            else:
                for fams in pools.values():
                    fams.pop(family, None)
    for kind in KINDS:
        spec = raw.get(kind)
        if spec is None:
            continue
        path = ("addressing", kind)
        if not isinstance(spec, dict):
            r.err(path, "must be a mapping such as {ipv4: 10.1.0.0/16, prefix: 24, ipv6: 'fd00:1::/48'}")
            continue
        r.unknown_keys(path, spec, {"ipv4", "ipv6", "prefix", "prefix6"} if kind != "loopback" else {"ipv4", "ipv6"})
        for family, key, len_key in ((4, "ipv4", "prefix"), (6, "ipv6", "prefix6")):
            if spec.get(key) is False:
                pools[kind].pop(family, None)
                continue
            if key not in spec and (len_key not in spec or family not in pools[kind]):
                continue
            current = pools[kind].get(family) or Pool(ipaddress.ip_network(DEFAULTS[kind][family][0]),
                                                       DEFAULTS[kind][family][1])
            network = current.network
            if key in spec:
                try:
                    network = ipaddress.ip_network(str(spec[key]), strict=True)
                    if network.version != family:
                        raise ValueError(f"is not an IPv{family} prefix")
                except ValueError as e:
                    r.err(path + (key,), f"{spec[key]!r}: {e}", f"e.g. {DEFAULTS[kind][family][0]}")
                    continue
            length = current.prefixlen
            if len_key in spec and kind != "loopback":
                length = spec[len_key]
            top = 30 if family == 4 and kind == "lan" else (31 if family == 4 else 127)
            if kind == "loopback":
                length = network.max_prefixlen
            elif isinstance(length, bool) or not isinstance(length, int) or not network.prefixlen <= length <= top:
                r.err(path + (len_key,), f"must be a prefix length {network.prefixlen}..{top} for {network}, "
                      f"got {length!r}")
                continue
            if network.prefixlen > length:
                r.err(path + (key,), f"{network} is smaller than one /{length} subnet")
                continue
            pools[kind][family] = Pool(network, length)
    return pools
