"""Turn one node's NAT and firewall settings into iptables rules (pure data, per address family)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model import IPNetwork, Node
from .model import AllowRule, Firewall, Nat, NodeNetfilter, OneToOne, PortRange, Snat

BUILTIN_CHAINS = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
}
TABLE_ORDER = ("mangle", "nat", "filter")

# ICMPv6 neighbour discovery (router/neighbour solicitation and advertisement): without it IPv6 cannot even
# find the next hop, so no ICMP policy ever drops it.
NDP_TYPES = ("router-solicitation", "router-advertisement", "neighbour-solicitation", "neighbour-advertisement")


@dataclass(frozen=True)
class Rule:
    """One `-A CHAIN MATCH -j TARGET` line; `why` becomes a comment line above it."""

    chain: str
    match: str
    target: str
    why: str = ""


@dataclass
class Table:
    """One iptables table: policies of its built-in chains and its rules in order."""

    name: str
    policies: dict[str, str] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)

    @property
    def chains(self) -> list[tuple[str, str]]:
        """(chain, policy) for every built-in chain of the table."""
        return [(c, self.policies.get(c, "ACCEPT")) for c in BUILTIN_CHAINS[self.name]]

    def add(self, chain: str, match: str, target: str, why: str = "") -> None:
        """Append a rule."""
        self.rules.append(Rule(chain, " ".join(match.split()), target, why))


def families_of(node: Node, nf: NodeNetfilter) -> list[int]:
    """Address families that need rules: those NAT uses, plus every family of the node's addresses if filtered."""
    fams: set[int] = set()
    if nf.nat is not None:
        nat = nf.nat
        fams |= {x.family for x in (*nat.masquerade, *nat.snat, *nat.port_forwards, *nat.one_to_one)}
    if nf.firewall is not None:
        fams |= {a.version for a in node.addresses()} or {4}
    return sorted(fams)


def build(node: Node, nf: NodeNetfilter, family: int) -> list[Table]:
    """The tables (in restore order) holding every rule of `nf` for IPv`family`; empty if none."""
    tables: dict[str, Table] = {}
    if nf.nat is not None:
        nat = _nat(nf.nat, family)
        if nat.rules:
            tables["nat"] = nat
    if nf.firewall is not None:
        fw = nf.firewall
        if fw.clamp_mss:
            mangle = Table("mangle")
            mangle.add("FORWARD", "-p tcp -m tcp --tcp-flags SYN,RST SYN", "TCPMSS --clamp-mss-to-pmtu",
                       "clamp_mss: shrink the MSS of forwarded SYNs to the path MTU (cures PMTUD black holes)")
            tables["mangle"] = mangle
        flt = _filter(node, nf, fw, family)
        if flt.rules or set(flt.policies.values()) != {"ACCEPT"}:
            tables["filter"] = flt
    return [tables[t] for t in TABLE_ORDER if t in tables]


# --- nat ---------------------------------------------------------------------------------
def _nat(nat: Nat, family: int) -> Table:
    t = Table("nat")
    for f in nat.port_forwards:
        if f.family != family:
            continue
        for proto in f.protos:
            inside = _host_port(f.inside, f.inside_port)
            t.add("PREROUTING", f"{_iface('-i', f.iface)} {_dst_addr(f.public)} -p {proto} -m {proto} --dport {f.port}",
                  f"DNAT --to-destination {inside}", f"{f.where}: port forward {proto}/{f.port} -> {inside}")
    for o in nat.one_to_one:
        if o.family == family:
            t.add("PREROUTING", f"{_iface('-i', o.iface)} -d {_host(o.public)}",
                  f"DNAT --to-destination {o.private}", f"{o.where}: 1:1 inbound {o.public} -> {o.private}")
    for x in nat.postrouting(family):
        if isinstance(x, OneToOne):
            t.add("POSTROUTING", f"{_iface('-o', x.iface)} -s {_host(x.private)}",
                  f"SNAT --to-source {x.public}", f"{x.where}: 1:1 outbound {x.private} -> {x.public}")
        elif isinstance(x, Snat):
            persistent = " --persistent" if x.first != x.last else ""
            for src in x.sources:
                t.add("POSTROUTING", f"-s {src} {_iface('-o', x.out)}", f"SNAT --to-source {x.to_text}{persistent}",
                      f"{x.where}: source NAT {src} -> {x.to_text}")
        else:
            for src in x.sources or (None,):
                t.add("POSTROUTING", f"{'-s ' + str(src) if src else ''} -o {x.out}", "MASQUERADE",
                      f"{x.where}: masquerade {src or 'everything'} out of {x.out}")
    return t


def _host(address) -> str:
    return f"{address}/{address.max_prefixlen}"


def _dst_addr(address) -> str:
    return f"-d {_host(address)}" if address is not None else ""


def _host_port(address, port: int) -> str:
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"


def _iface(flag: str, name: str | None) -> str:
    return f"{flag} {name}" if name else ""


# --- filter ------------------------------------------------------------------------------
def _filter(node: Node, nf: NodeNetfilter, fw: Firewall, family: int) -> Table:
    t = Table("filter", {c.upper(): fw.policy(c).upper() for c in ("input", "forward", "output")})
    icmp = "icmp" if family == 4 else "ipv6-icmp"
    type_flag = "--icmp-type" if family == 4 else "--icmpv6-type"
    stateful = fw.mode == "stateful"
    for chain in ("INPUT", "FORWARD", "OUTPUT"):
        drop_policy = t.policies[chain] == "DROP"
        if not drop_policy and fw.icmp == "allow":
            continue  # everything is accepted here: allow rules would change nothing
        if chain != "FORWARD":
            flag = "-i" if chain == "INPUT" else "-o"
            t.add(chain, f"{flag} lo", "ACCEPT", "loopback traffic is always allowed")
        if family == 6 and fw.icmp == "drop-all":  # other policies accept ICMPv6 before any drop
            for ndp in NDP_TYPES:
                t.add(chain, f"-p {icmp} -m {icmp} {type_flag} {ndp}", "ACCEPT", "IPv6 neighbour discovery")
        if fw.icmp == "drop-all":
            why = "icmp: drop-all" + (" (this drops the 'frag needed' errors this node generates)"
                                      if chain == "OUTPUT" else "")
            t.add(chain, f"-p {icmp}", "DROP", why)
        elif fw.icmp == "drop-echo":
            for kind in ("echo-request", "echo-reply"):
                t.add(chain, f"-p {icmp} -m {icmp} {type_flag} {kind}", "DROP", f"icmp: drop-echo ({kind})")
        if stateful:
            t.add(chain, "-m conntrack --ctstate RELATED,ESTABLISHED", "ACCEPT",
                  "stateful: replies and related traffic of allowed connections")
        if fw.icmp != "drop-all" and drop_policy:
            t.add(chain, f"-p {icmp}", "ACCEPT", f"icmp: {fw.icmp}")
        if chain == "FORWARD" and drop_policy and nf.nat is not None:
            for f in nf.nat.port_forwards:
                if f.family != family:
                    continue
                for proto in f.protos:
                    state = "-m conntrack --ctstate DNAT" if stateful else ""
                    t.add(chain, f"-d {_host(f.inside)} -p {proto} -m {proto} --dport {f.inside_port} {state}",
                          "ACCEPT", f"{f.where}: let the port forward through")
                    if not stateful:
                        t.add(chain, f"-s {_host(f.inside)} -p {proto} -m {proto} --sport {f.inside_port}",
                              "ACCEPT", f"{f.where}: stateless, so its replies need their own rule")
        for rule in fw.allow:
            if chain.lower() in rule.chains:
                for match in _rule_matches(rule, family):
                    t.add(chain, match, "ACCEPT", rule.where)
    return t


def _rule_matches(rule: AllowRule, family: int) -> list[str]:
    """The match strings of one allow rule for one family (one per source × destination × port)."""
    sources = _for_family(rule.sources, family)
    dests = _for_family(rule.dests, family)
    if sources is None or dests is None:
        return []
    proto = rule.proto
    if proto == "icmp":
        proto = "icmp" if family == 4 else "ipv6-icmp"
    out = []
    for src in sources:
        for dst in dests:
            for dport in rule.dports or (None,):
                for sport in rule.sports or (None,):
                    parts = [_iface("-i", rule.iface_in), _iface("-o", rule.iface_out)]
                    parts += [f"-s {src}" if src else "", f"-d {dst}" if dst else ""]
                    if proto != "any":
                        parts.append(f"-p {proto}")
                        if dport or sport:
                            parts.append(f"-m {proto}")
                    if sport:
                        parts.append(f"--sport {_ports(sport)}")
                    if dport:
                        parts.append(f"--dport {_ports(dport)}")
                    out.append(" ".join(p for p in parts if p))
    return out


def _for_family(prefixes: tuple[IPNetwork, ...], family: int) -> list[IPNetwork | None] | None:
    """Prefixes of `family`; [None] (any) when none were given; None when all are of the other family."""
    if not prefixes:
        return [None]
    mine = [p for p in prefixes if p.version == family]
    return mine or None


def _ports(r: PortRange) -> str:
    return str(r[0]) if r[0] == r[1] else f"{r[0]}:{r[1]}"
