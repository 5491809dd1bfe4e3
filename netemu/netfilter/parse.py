"""Parse and validate the `nat:` and `firewall:` keys of nodes (and the top-level `netfilter:`)."""

from __future__ import annotations

from typing import Any

from ..errors import Issue
from ..model import IPAddress, IPNetwork, Node, Topology
from ..source import PathKey, Source, fmt_path
from .model import (
    BACKENDS,
    CHAINS,
    ICMP_POLICIES,
    MODES,
    POLICIES,
    PROTOS,
    AllowRule,
    Firewall,
    Masquerade,
    Nat,
    NetfilterModel,
    NodeNetfilter,
    OneToOne,
    PortForward,
    Snat,
    overlaps,
)
from .values import Reader

TOP_KEYS = ("backend",)
NAT_KEYS = ("masquerade", "snat", "port_forwards", "one_to_one")
MASQ_KEYS = ("out", "from")
SNAT_KEYS = ("from", "to", "out")
FORWARD_KEYS = ("proto", "public", "inside", "outside")
ONE_TO_ONE_KEYS = ("public", "private", "outside")
FIREWALL_KEYS = ("mode", "input", "forward", "output", "icmp", "allow", "clamp_mss")
RULE_KEYS = ("chain", "proto", "port", "sport", "from", "to", "in", "out")

BLACK_HOLE = ("drops every ICMP message, including the 'fragmentation needed' (IPv6: 'packet too big') errors "
              "this node generates or forwards: paths through it with a smaller MTU become PMTUD black holes, "
              "where large packets vanish without an error")
BLACK_HOLE_HINT = "use 'drop-echo' to block only ping, or 'clamp_mss: true' to keep TCP working"
BLACK_HOLE_CLAMPED_HINT = ("'clamp_mss: true' keeps TCP working through it; UDP, ICMP and pings with DF set still "
                           "vanish: use 'drop-echo' to block only ping")


def parse(src: Source, topo: Topology) -> tuple[NetfilterModel | None, list[Issue]]:
    """Read every node's `nat:`/`firewall:`; return the model (None if no node has any) and issues."""
    p = _Parser(src, topo)
    backend = p.backend()
    nodes = [n for n in (p.node(node) for node in topo.nodes) if n is not None]
    if not nodes:
        return None, p.issues
    return NetfilterModel(backend, tuple(nodes)), p.issues


class _Parser(Reader):
    """Validates one topology's netfilter settings against its already valid core."""

    def __init__(self, src: Source, topo: Topology):
        super().__init__(src)
        self.topo = topo
        # every address in the lab → "node:interface"
        self.owner: dict[IPAddress, str] = {
            a.ip: f"{n.name}:{i.name}" for n in topo.nodes for i in n.interfaces for a in i.addresses
        }

    def backend(self) -> str:
        raw = self.src.data.get("netfilter")
        spec = self.mapping(("netfilter",), raw, TOP_KEYS, "netfilter: {backend: nft}")
        if not spec:
            return "auto"
        return self.choice(("netfilter", "backend"), spec.get("backend"), BACKENDS, "auto")

    def node(self, node: Node) -> NodeNetfilter | None:
        extra = dict(node.extra)
        if "nat" not in extra and "firewall" not in extra:
            return None
        path: PathKey = ("nodes", node.name)
        if node.is_switch:
            key = "nat" if "nat" in extra else "firewall"
            self.err(path + (key,), f"{node.name!r} is a switch (a bridge): it has no IP layer to filter or translate",
                     "put NAT and firewalls on a router or host")
            return None
        nat = self.nat(path + ("nat",), node, extra["nat"]) if "nat" in extra else None
        fw = self.firewall(path + ("firewall",), node, extra["firewall"]) if "firewall" in extra else None
        if nat is None and fw is None:
            return None
        return NodeNetfilter(node.name, nat, fw)

    # --- NAT ---------------------------------------------------------------------------
    def nat(self, path: PathKey, node: Node, raw: Any) -> Nat | None:
        spec = self.mapping(path, raw, NAT_KEYS, "nat: {masquerade: eth1}")
        if spec is None:
            return None
        masq = [self.masquerade(p, node, v) for p, v in self.items(path + ("masquerade",), spec.get("masquerade"))]
        snat = [self.snat(p, node, v) for p, v in self.items(path + ("snat",), spec.get("snat"))]
        fwds = [self.port_forward(p, node, v) for p, v in self.items(path + ("port_forwards",),
                                                                      spec.get("port_forwards"))]
        o2o = [self.one_to_one(p, node, v) for p, v in self.items(path + ("one_to_one",), spec.get("one_to_one"))]
        nat = Nat(
            tuple(m for m in masq if m is not None),
            tuple(s for s in snat if s is not None),
            tuple(f for f in fwds if f is not None),
            tuple(o for o in o2o if o is not None),
        )
        self.nat_conflicts(nat)
        return nat

    def family_of(self, path: PathKey, prefixes: tuple[IPNetwork, ...]) -> int | None:
        families = {p.version for p in prefixes}
        if len(families) > 1:
            self.err(path, "mixes IPv4 and IPv6 prefixes", "write one entry per address family")
            return None
        return families.pop() if families else None

    def masquerade(self, path: PathKey, node: Node, raw: Any) -> Masquerade | None:
        if isinstance(raw, str):
            raw = {"out": raw}
        spec = self.mapping(path, raw, MASQ_KEYS, "masquerade: {out: eth1, from: 192.168.1.0/24}")
        if spec is None:
            return None
        if "out" not in spec:
            self.err(path, "masquerade needs 'out': the interface whose address replaces the source")
            return None
        out = self.interface(path + ("out",), node, spec["out"])
        sources = self.prefixes(path + ("from",), spec.get("from"))
        family = self.family_of(path + ("from",), sources)
        if out is None:
            return None
        iface = node.interface(out)
        have = {a.version for a in iface.addresses}
        if family is None:
            family = 4 if 4 in have or not have else 6
        if family not in have:
            self.err(path + ("out",), f"interface {out!r} has no IPv{family} address to masquerade as",
                     "give it an address on its link, or use snat with an explicit address")
            return None
        return Masquerade(out, sources, family, fmt_path(path))

    def pool(self, path: PathKey, raw: Any) -> tuple[IPAddress, IPAddress] | None:
        """An SNAT pool: an address, a range `A-B` or a prefix (its usable addresses)."""
        text = str(raw).strip() if raw is not None else ""
        if not text:
            self.err(path, "snat needs 'to': an address, a range A-B or a prefix")
            return None
        if "-" in text:
            a_text, _, b_text = text.partition("-")
            a, b = self.address(path, a_text), self.address(path, b_text)
            if a is None or b is None:
                return None
            if a.version != b.version:
                self.err(path, f"range {text!r} mixes IPv4 and IPv6")
                return None
            if a > b:
                self.err(path, f"range {text!r} runs backwards", f"write {b}-{a}")
                return None
            return a, b
        if "/" in text:
            net = self.prefix(path, text)
            if net is None:
                return None
            # A pool is routed to the NAT router, not on a shared subnet: every address of it is usable.
            return net[0], net[-1]
        a = self.address(path, text)
        return None if a is None else (a, a)

    def snat(self, path: PathKey, node: Node, raw: Any) -> Snat | None:
        spec = self.mapping(path, raw, SNAT_KEYS, "snat: {from: 100.64.0.0/10, to: 203.0.113.16/29, out: eth1}")
        if spec is None:
            return None
        if "from" not in spec:
            self.err(path, "snat needs 'from': the inside prefixes whose source it rewrites",
                     "use masquerade to rewrite everything leaving an interface")
        sources = self.prefixes(path + ("from",), spec.get("from"))
        family = self.family_of(path + ("from",), sources)
        pool = self.pool(path + ("to",), spec.get("to"))
        out = self.interface(path + ("out",), node, spec.get("out"))
        if pool is None or not sources or ("out" in spec and out is None):
            return None
        first, last = pool
        if family is not None and first.version != family:
            self.err(path + ("to",), f"pool is IPv{first.version} but 'from' is IPv{family}")
            return None
        for i, prefix in enumerate(sources):
            if overlaps(prefix, first, last):
                where = path + ("from",) + ((i,) if isinstance(spec.get("from"), list) else ())
                self.err(path + ("to",), f"pool {spec['to']} overlaps the inside prefix {prefix}",
                         f"inside prefixes are at {fmt_path(where)}; the pool must be outside them, or replies "
                         "would be routed back inside")
        taken = sorted((a, who) for a, who in self.owner.items()
                       if first.version == a.version and first <= a <= last and not who.startswith(node.name + ":"))
        for a, who in taken:
            self.err(path + ("to",), f"pool address {a} belongs to {who}",
                     "a NAT pool must hold addresses nobody else uses")
        if not taken:
            self.pool_on_link(path + ("to",), first, last)
        return Snat(sources, first, last, out, first.version, fmt_path(path))

    def pool_on_link(self, path: PathKey, first: IPAddress, last: IPAddress) -> None:
        """Warn when a pool sits in a connected subnet: neighbours would ARP for it and nobody answers."""
        for n in self.topo.nodes:
            for i in n.interfaces:
                for a in i.addresses:
                    if first == last == a.ip:
                        return  # SNAT to the node's own address
                    if overlaps(a.network, first, last):
                        self.warn(path, f"the pool lies in {a.network}, the subnet of {n.name}:{i.name}: "
                                        "neighbours there will ask for pool addresses by ARP and nobody answers",
                                  "route a prefix of its own to the NAT router instead")
                        return

    def public_address(self, path: PathKey, node: Node, address: IPAddress) -> bool:
        who = self.owner.get(address)
        if who is not None and not who.startswith(node.name + ":"):
            self.err(path, f"address {address} belongs to {who}, so packets to it never reach {node.name!r}",
                     "use an address of this node, of its NAT pool, or one routed to it")
            return False
        return True

    def inside_address(self, path: PathKey, address: IPAddress) -> bool:
        if address not in self.owner:
            hint = "translate to an address of one of the nodes"
            if address.version == 6:
                hint += "; an IPv6 address with a port is written [ADDRESS]:PORT"
            self.err(path, f"address {address} is not in the lab", hint)
            return False
        return True

    def port_forward(self, path: PathKey, node: Node, raw: Any) -> PortForward | None:
        spec = self.mapping(path, raw, FORWARD_KEYS,
                            "{proto: tcp, public: 100.64.1.2:8080, inside: 192.168.1.10:80, outside: eth1}")
        if spec is None:
            return None
        protos = []
        for p, v in self.items(path + ("proto",), spec.get("proto", "tcp")):
            if v not in ("tcp", "udp"):
                self.err(p, f"{v!r} cannot be forwarded", "a port forward is for tcp, udp or [tcp, udp]")
            elif v not in protos:
                protos.append(v)
        for key in ("public", "inside"):
            if key not in spec:
                self.err(path, f"a port forward needs '{key}'",
                         "e.g. {public: 100.64.1.2:8080, inside: 192.168.1.10:80}")
        outside = self.interface(path + ("outside",), node, spec.get("outside"))
        public = self.address_port(path + ("public",), spec["public"], need_port=True) if "public" in spec else None
        inside = self.address_port(path + ("inside",), spec["inside"], need_port=False) if "inside" in spec else None
        if public is None or inside is None or not protos or ("outside" in spec and outside is None):
            return None
        (pub_addr, port), (in_addr, in_port) = public, inside
        if in_addr is None:
            self.err(path + ("inside",), "needs the inside address", "e.g. 192.168.1.10:80")
            return None
        if pub_addr is None and outside is None:
            self.err(path + ("public",), "a bare port needs 'outside': the interface the forward listens on",
                     "or write the public address, e.g. 100.64.1.2:8080")
            return None
        ok = self.inside_address(path + ("inside",), in_addr)
        if pub_addr is not None:
            ok = self.public_address(path + ("public",), node, pub_addr) and ok
            if pub_addr.version != in_addr.version:
                self.err(path + ("inside",), f"is IPv{in_addr.version} but the public address is IPv{pub_addr.version}")
                ok = False
        if not ok:
            return None
        return PortForward(tuple(protos), pub_addr, port, in_addr, in_port or port, outside, in_addr.version,
                           fmt_path(path))

    def one_to_one(self, path: PathKey, node: Node, raw: Any) -> OneToOne | None:
        spec = self.mapping(path, raw, ONE_TO_ONE_KEYS, "{public: 192.0.2.80, private: 10.20.0.80}")
        if spec is None:
            return None
        for key in ("public", "private"):
            if key not in spec:
                self.err(path, f"1:1 NAT needs '{key}'", "e.g. {public: 192.0.2.80, private: 10.20.0.80}")
        outside = self.interface(path + ("outside",), node, spec.get("outside"))
        public = self.address(path + ("public",), spec["public"]) if "public" in spec else None
        private = self.address(path + ("private",), spec["private"]) if "private" in spec else None
        if public is None or private is None or ("outside" in spec and outside is None):
            return None
        ok = self.public_address(path + ("public",), node, public)
        ok = self.inside_address(path + ("private",), private) and ok
        if public.version != private.version:
            self.err(path, f"maps IPv{public.version} {public} to IPv{private.version} {private}")
            ok = False
        return OneToOne(public, private, outside, public.version, fmt_path(path)) if ok else None

    def nat_conflicts(self, nat: Nat) -> None:
        seen: dict[tuple, str] = {}
        for f in nat.port_forwards:
            for proto in f.protos:
                key = (proto, f.public, f.port, f.iface)
                if key in seen:
                    self.err(_path_of(f.where), f"{proto} port {f.port} is already forwarded at {seen[key]}")
                seen[key] = f.where
        publics: dict[IPAddress, str] = {}
        privates: dict[IPAddress, str] = {}
        for o in nat.one_to_one:
            if o.public in publics:
                self.err(_path_of(o.where) + ("public",), f"{o.public} is already mapped at {publics[o.public]}")
            if o.private in privates:
                self.err(_path_of(o.where) + ("private",), f"{o.private} is already mapped at {privates[o.private]}")
            publics[o.public] = o.where
            privates[o.private] = o.where
        for f in nat.port_forwards:
            if f.public in publics:
                self.err(_path_of(f.where) + ("public",),
                         f"{f.public} is a 1:1 address (at {publics[f.public]}); every port of it already goes to "
                         "the private address")

    # --- firewall ----------------------------------------------------------------------
    def firewall(self, path: PathKey, node: Node, raw: Any) -> Firewall | None:
        spec = self.mapping(path, raw, FIREWALL_KEYS, "firewall: {input: drop, allow: [{proto: tcp, port: 80}]}")
        if spec is None:
            return None
        mode = self.choice(path + ("mode",), spec.get("mode"), MODES, "stateful")
        policies = {c: self.choice(path + (c,), spec.get(c), POLICIES, "accept") for c in CHAINS}
        icmp = self.choice(path + ("icmp",), spec.get("icmp"), ICMP_POLICIES, "allow")
        clamp = self.flag(path + ("clamp_mss",), spec.get("clamp_mss"))
        if icmp == "drop-all":
            self.warn(path + ("icmp",), BLACK_HOLE, BLACK_HOLE_CLAMPED_HINT if clamp else BLACK_HOLE_HINT)
        if node.kind != "router" and "forward" in spec:
            self.warn(path + ("forward",), f"{node.name!r} is a {node.kind}: it forwards nothing, so this has no effect")
        default_chains = ("input", "forward") if node.kind == "router" else ("input",)
        rules = [self.rule(p, node, v, default_chains) for p, v in self.items(path + ("allow",), spec.get("allow"))]
        return Firewall(mode, policies["input"], policies["forward"], policies["output"], icmp,
                        tuple(r for r in rules if r is not None), clamp)

    def rule(self, path: PathKey, node: Node, raw: Any, default_chains: tuple[str, ...]) -> AllowRule | None:
        spec = self.mapping(path, raw, RULE_KEYS, "{proto: tcp, port: [80, 443], from: 0.0.0.0/0}")
        if spec is None:
            return None
        before = len(self.issues)
        chains = tuple(dict.fromkeys(self.choice(p, v, CHAINS, "input")
                                     for p, v in self.items(path + ("chain",), spec.get("chain"))))
        chains = chains or default_chains
        proto = self.choice(path + ("proto",), spec.get("proto"), PROTOS, "any")
        dports = self.port_ranges(path + ("port",), spec.get("port")) or ()
        sports = self.port_ranges(path + ("sport",), spec.get("sport")) or ()
        if (dports or sports) and proto not in ("tcp", "udp"):
            key = "port" if dports else "sport"
            self.err(path + (key,), f"ports need proto tcp or udp (proto is {proto!r})", "add 'proto: tcp'")
        sources = self.prefixes(path + ("from",), spec.get("from"))
        dests = self.prefixes(path + ("to",), spec.get("to"))
        if {p.version for p in sources} and {p.version for p in dests} and \
                not {p.version for p in sources} & {p.version for p in dests}:
            self.err(path, "'from' and 'to' are of different address families")
        iface_in = self.interface(path + ("in",), node, spec.get("in"))
        iface_out = self.interface(path + ("out",), node, spec.get("out"))
        if iface_in and "output" in chains:
            self.err(path + ("in",), "'in' cannot match in the output chain: locally sent packets have no input "
                                     "interface")
        if iface_out and "input" in chains:
            self.err(path + ("out",), "'out' cannot match in the input chain: packets for this node have no "
                                      "output interface", "use chain: forward")
        if len(self.issues) > before and any(not i.warning for i in self.issues[before:]):
            return None
        return AllowRule(chains, proto, dports, sports, sources, dests, iface_in, iface_out, fmt_path(path))


def _path_of(where: str) -> PathKey:
    """Turn 'nodes.r1.nat.snat[0]' back into a path tuple (for line lookups)."""
    out: list = []
    for part in where.replace("]", "").split("."):
        name, *indexes = part.split("[")
        out.append(name)
        out.extend(int(i) for i in indexes)
    return tuple(out)
