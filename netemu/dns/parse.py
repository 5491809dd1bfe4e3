"""Validate the `dns:` section and the nodes' `resolver:` keys, collecting every problem with its line."""

from __future__ import annotations

import difflib
import ipaddress
import re
from typing import Any

from dnslib import QTYPE, RR, DNSLabel

from ..errors import Issue
from ..model import Node, Topology
from ..source import Source
from .spec import DEFAULT_TTL, TTL_MAX, DnsSpec, ResolverSpec, Server, ZoneSpec
from .zone import Key, deepest, key, under

TOP_KEYS = {"zones", "resolvers", "ttl"}
ZONE_KEYS = {"servers", "records", "ttl"}
SERVER_KEYS = {"node", "address", "name"}
TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "SRV", "PTR", "CAA")
RECORD_RE = re.compile(r"^(\S+)\s+(?:(\d+)\s+)?(?:IN\s+)?([A-Za-z][A-Za-z0-9]*)(?:\s+(.*))?$", re.IGNORECASE)
LABEL_RE = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
MAX_NAMESERVERS = 3  # glibc reads at most three nameserver lines


def zone_origin(text: Any) -> str | None:
    """`com`, `com.` or `COM.` → `com.`; `.` → `.`; None if not a valid domain name."""
    if not isinstance(text, str):
        return None
    name = text.strip().lower()
    if name in (".", ""):
        return "." if name == "." else None
    name = name.rstrip(".") + "."
    labels = name[:-1].split(".")
    if len(name) > 254 or not all(LABEL_RE.match(label) for label in labels):
        return None
    return name


def root_ns_name(index: int) -> str:
    """The default NS name of the index-th root server: a.root-servers.net., b.root-servers.net., …"""
    return f"{chr(ord('a') + index % 26)}{index // 26 or ''}.root-servers.net."


def ns_name(origin: str, index: int) -> str:
    """The default NS name of the index-th server of a zone: ns1.bob.com., ns2.bob.com., …"""
    return root_ns_name(index) if origin == "." else f"ns{index + 1}.{origin}"


def node_addresses(node: Node) -> list[str]:
    """The addresses a DNS process on `node` listens on and advertises (no link-local, no loopback)."""
    return [str(a.ip) for a in node.addresses() if not (a.ip.is_link_local or a.ip.is_loopback)]


# Types whose data holds domain names, where a lone '@' means the zone's apex (as in a master file).
NAME_DATA_TYPES = frozenset({"CNAME", "MX", "NS", "PTR", "SOA", "SRV"})


def expand_apex(rtype: str, data: str, origin: str) -> str:
    """`data` with every domain-name field written '@' replaced by the origin (dnslib reads it as '@.ORIGIN')."""
    if rtype not in NAME_DATA_TYPES:
        return data
    return " ".join(origin if token == "@" else token for token in data.split())


def qualify(rr: RR, data: str, origin: str) -> RR:
    """Complete a relative host name in SRV data (`@` already expanded, see expand_apex) with the origin
    (dnslib leaves `sipserver` at the root).

    dnslib already qualifies the names in CNAME, MX, NS, PTR and SOA data; SRV's target it does not.
    """
    if rr.rtype == QTYPE.SRV:
        target = data.split()[-1]
        if not target.endswith("."):
            rr.rdata.target = DNSLabel(f"{target}.{origin}" if origin != "." else f"{target}.")
    return rr


class _Parser:
    def __init__(self, src: Source, topo: Topology):
        self.src = src
        self.topo = topo
        self.nodes = {n.name: n for n in topo.nodes}
        self.issues: list[Issue] = []

    def err(self, path: tuple, message: str, hint: str | None = None) -> None:
        self.issues.append(self.src.issue(path, message, hint))

    def unknown_keys(self, path: tuple, mapping: dict, allowed: set) -> None:
        for k in mapping:
            if k not in allowed:
                close = difflib.get_close_matches(str(k), sorted(allowed), n=1, cutoff=0.7)
                self.err(path + (k,), "unknown key", f"did you mean '{close[0]}'?" if close else
                         f"allowed here: {', '.join(sorted(allowed))}")

    def ttl(self, path: tuple, value: Any, default: int) -> int:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= TTL_MAX:
            self.err(path, f"TTL must be a whole number of seconds 0..{TTL_MAX}, got {value!r}")
            return default
        return value

    def node_ref(self, path: tuple, name: Any, what: str) -> Node | None:
        if not isinstance(name, str) or name not in self.nodes:
            close = difflib.get_close_matches(str(name), sorted(self.nodes), n=1, cutoff=0.7)
            self.err(path, f"unknown node {name!r} as {what}", f"did you mean '{close[0]}'?" if close else None)
            return None
        node = self.nodes[name]
        if node.is_switch:
            self.err(path, f"{name} is a switch; a {what} must be a host or router with an address")
            return None
        return node

    # --- top level -----------------------------------------------------------------------
    def parse(self) -> DnsSpec | None:
        raw = self.src.data.get("dns")
        path = ("dns",)
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            self.err(path, "must be a mapping with 'zones' and 'resolvers'")
            raw = {}
        self.unknown_keys(path, raw, TOP_KEYS)
        default_ttl = self.ttl(path + ("ttl",), raw.get("ttl"), DEFAULT_TTL)
        resolvers = self.resolvers(raw.get("resolvers"))
        resolver_nodes = {r.node for r in resolvers}
        zones = self.zones(raw.get("zones"), default_ttl, resolver_nodes)
        if resolvers and not any(z.origin == "." for z in zones) and not self.issues:
            self.err(path + ("resolvers",), "resolvers start from the root: define the zone '.' with its servers")
        clients, client_resolver = self.clients({r.node: r for r in resolvers})
        if any(not i.warning for i in self.issues):
            return None
        if not zones and not resolvers and not clients:
            return None
        return DnsSpec(tuple(zones), tuple(resolvers), tuple(clients.items()), tuple(client_resolver.items()))

    def resolvers(self, raw: Any) -> list[ResolverSpec]:
        path = ("dns", "resolvers")
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.err(path, "must be a list of node names, e.g. [isp-dns]")
            return []
        out = []
        for i, name in enumerate(raw):
            node = self.node_ref(path + (i,), name, "resolver")
            if node is None:
                continue
            addrs = node_addresses(node)
            if not addrs:
                self.err(path + (i,), f"resolver node {name} has no address to listen on")
            elif name in {r.node for r in out}:
                self.err(path + (i,), f"{name} is listed twice")
            else:
                out.append(ResolverSpec(name, tuple(addrs)))
        return out

    # --- zones ---------------------------------------------------------------------------
    def zones(self, raw: Any, default_ttl: int, resolver_nodes: set[str]) -> list[ZoneSpec]:
        path = ("dns", "zones")
        if raw is None:
            return []
        if not isinstance(raw, dict):
            self.err(path, "must be a mapping of zone name to settings, e.g. {'bob.com.': {servers: [bob-dns]}}")
            return []
        parsed: list[tuple[tuple, ZoneSpec, list[tuple[tuple, RR]]]] = []
        seen: dict[str, str] = {}
        for name, spec in raw.items():
            zpath = path + (name,)
            origin = zone_origin(name)
            if origin is None:
                self.err(zpath, f"{name!r} is not a valid zone name", "write it like 'bob.com.' (or '.' for the root)")
                continue
            if origin in seen:
                self.err(zpath, f"zone {origin} is defined twice (also as {seen[origin]!r})")
                continue
            seen[origin] = name
            if spec is None:
                spec = {}
            if not isinstance(spec, dict):
                self.err(zpath, "must be a mapping with 'servers' and optionally 'records' and 'ttl'")
                continue
            self.unknown_keys(zpath, spec, ZONE_KEYS)
            ttl = self.ttl(zpath + ("ttl",), spec.get("ttl"), default_ttl)
            servers = self.servers(zpath + ("servers",), spec.get("servers"), origin, resolver_nodes)
            records = self.records(zpath + ("records",), spec.get("records"), origin, ttl)
            parsed.append((zpath, ZoneSpec(origin, tuple(servers), ttl, ()), records))
        origins = {key(z.origin): z.origin for _, z, _ in parsed}
        out = []
        for zpath, zone, records in parsed:
            lines, soa = self.check_records(zpath, zone, records, origins)
            out.append(ZoneSpec(zone.origin, zone.servers, zone.ttl, tuple(lines), soa))
        return out

    def servers(self, path: tuple, raw: Any, origin: str, resolver_nodes: set[str]) -> list[Server]:
        if raw is None or raw == []:
            self.err(path, f"zone {origin} has no server", "add 'servers: [NODE]' naming the node(s) that serve it")
            return []
        if not isinstance(raw, list):
            self.err(path, "must be a list of node names (or {node, address, name} mappings)")
            return []
        out: list[Server] = []
        for i, item in enumerate(raw):
            ipath = path + (i,)
            address = name = None
            if isinstance(item, dict):
                self.unknown_keys(ipath, item, SERVER_KEYS)
                node = self.node_ref(ipath + ("node",), item.get("node"), "DNS server")
                address, name = item.get("address"), item.get("name")
            else:
                node = self.node_ref(ipath, item, "DNS server")
            if node is None:
                continue
            if node.name in resolver_nodes:
                self.err(ipath, f"{node.name} is a resolver; a node is either a resolver or an authoritative server",
                         "both would listen on port 53 of the same addresses")
                continue
            if any(s.node == node.name for s in out):
                self.err(ipath, f"{node.name} is listed twice")
                continue
            if address is not None:
                try:
                    addrs = [str(ipaddress.ip_address(address))]
                except ValueError:
                    self.err(ipath + ("address",), f"{address!r} is not an IP address")
                    continue
            else:
                addrs = node_addresses(node)
                if not addrs:
                    self.err(ipath, f"server node {node.name} has no address", "give it an address on a link")
                    continue
            if name is not None:
                ns = zone_origin(name)
                if ns is None or ns == ".":
                    self.err(ipath + ("name",), f"{name!r} is not a valid host name")
                    continue
            else:
                ns = ns_name(origin, len(out))
            out.append(Server(node.name, ns, tuple(addrs)))
        return out

    def records(self, path: tuple, raw: Any, origin: str, ttl: int) -> list[tuple[tuple, RR]]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.err(path, "must be a list of strings such as 'www A 203.0.113.10'")
            return []
        out = []
        for i, text in enumerate(raw):
            rr = self.record(path + (i,), text, origin, ttl)
            if rr is not None:
                out.append((path + (i,), rr))
        return out

    def record(self, path: tuple, text: Any, origin: str, ttl: int) -> RR | None:
        example = "write 'OWNER [TTL] TYPE DATA', e.g. 'www A 203.0.113.10' or '@ MX 10 mail'"
        m = RECORD_RE.match(text.strip()) if isinstance(text, str) else None
        if m is None:
            self.err(path, f"cannot read record {text!r}", example)
            return None
        owner, rttl, rtype, data = m.group(1), m.group(2), m.group(3).upper(), m.group(4) or ""
        if rtype not in TYPES:
            self.err(path, f"unsupported record type {rtype!r}", f"use one of {', '.join(TYPES)}; {example}")
            return None
        if "*" in owner and not (owner == "*" or owner.startswith("*.")) or "*" in owner[1:]:
            self.err(path, f"owner {owner!r}: '*' is a wildcard only as the whole leftmost label",
                     "write '*' or '*.NAME' (RFC 4592)")
            return None
        if owner.startswith("*") and rtype in ("NS", "SOA"):
            self.err(path, f"a wildcard cannot own {rtype} records (RFC 4592 §4.2)")
            return None
        if rttl is not None:
            ttl = int(rttl)
            if ttl > TTL_MAX:
                self.err(path, f"TTL {ttl} out of range 0..{TTL_MAX}")
                return None
        if not data.strip():
            self.err(path, f"{rtype} record without data", example)
            return None
        full = expand_apex(rtype, data, origin)
        try:
            rrs = RR.fromZone(f"{owner} {ttl} IN {rtype} {full}", origin=DNSLabel(origin))
        except Exception as e:  # noqa: BLE001 - dnslib raises many kinds for bad rdata
            self.err(path, f"cannot read {rtype} data {data!r}: {e}", example)
            return None
        if len(rrs) != 1:
            self.err(path, "one record per line")
            return None
        return qualify(rrs[0], full, origin)

    def check_records(self, zpath: tuple, zone: ZoneSpec, records: list[tuple[tuple, RR]],
                      origins: dict[Key, str]) -> tuple[list[str], str | None]:
        """Records outside the zone or under a child zone, CNAME conflicts, apex NS, SOA placement."""
        okey = key(zone.origin)
        server_names = {key(s.name) for s in zone.servers}
        lines: list[str] = []
        soa = None
        owners: dict[Key, list[tuple[tuple, int]]] = {}
        rrsets: dict[tuple[Key, int], list[tuple[tuple, int]]] = {}
        for path, rr in records:
            owner = key(rr.rname)
            if not under(owner, okey):
                self.err(path, f"{rr.rname} is outside zone {zone.origin}",
                         "use a name relative to the zone (www) or one ending in the zone's name")
                continue
            home = deepest(owner, origins)
            if home != okey:
                self.err(path, f"{rr.rname} belongs to zone {origins[home]}, delegated from {zone.origin}",
                         f"put the record under zones.{origins[home]!r}")
                continue
            if rr.rtype == QTYPE.SOA:
                if owner != okey:
                    self.err(path, "an SOA record belongs at the zone apex '@'")
                elif soa is not None:
                    self.err(path, "a second SOA record")
                else:
                    soa = str(rr)
                continue
            if rr.rtype == QTYPE.NS and owner == okey:
                self.err(path, "the apex NS records come from 'servers:'", "list the server nodes there instead")
                continue
            if rr.rtype == QTYPE.CNAME and (owner == okey or owner in server_names):
                self.err(path, f"{rr.rname} cannot be a CNAME: it holds the zone's SOA/NS or a server's address")
                continue
            owners.setdefault(owner, []).append((path, rr.rtype))
            rrsets.setdefault((owner, rr.rtype), []).append((path, rr.ttl))
            lines.append(str(rr))
        for (owner, rtype), entries in rrsets.items():
            first_path, first_ttl = entries[0]
            for rpath, ttl in entries[1:]:
                if ttl != first_ttl:  # RFC 2181 §5.2
                    self.err(rpath, f"TTL {ttl} differs from TTL {first_ttl} of the other "
                             f"{QTYPE.get(rtype)} record of {DNSLabel(list(owner))} ({self._where(first_path)})",
                             "the records of one name and type form a set with one TTL (RFC 2181 §5.2)")
        for owner, entries in owners.items():
            cnames = [p for p, t in entries if t == QTYPE.CNAME]
            if cnames and len(entries) > 1:
                first = entries[0][0]
                self.err(cnames[-1] if cnames[-1] != first else entries[1][0],
                         f"duplicate owner {DNSLabel(list(owner))}: a CNAME owner can have no other record",
                         f"see {self._where(first)}")
        return lines, soa

    def _where(self, path: tuple) -> str:
        line = self.src.line(path)
        return f"line {line}" if line is not None else "the other record"

    # --- nodes' resolver key -------------------------------------------------------------
    def clients(self, resolvers: dict[str, ResolverSpec]) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
        clients: dict[str, tuple[str, ...]] = {}
        uses: dict[str, str] = {}
        for r in resolvers.values():  # a resolver node asks itself
            clients[r.node] = r.addresses[:MAX_NAMESERVERS]
            uses[r.node] = r.node
        for node in self.topo.nodes:
            extra = dict(node.extra)
            if "resolver" not in extra:
                continue
            path = ("nodes", node.name, "resolver")
            raw = extra["resolver"]
            items = raw if isinstance(raw, list) else [raw]
            addrs: list[str] = []
            for i, item in enumerate(items):
                ipath = path + (i,) if isinstance(raw, list) else path
                if isinstance(item, str) and item in resolvers:
                    addrs += resolvers[item].addresses
                    if node.name not in resolvers:
                        uses.setdefault(node.name, item)
                    continue
                try:
                    addrs.append(str(ipaddress.ip_address(item)))
                    continue
                except (ValueError, TypeError):
                    pass
                if isinstance(item, str) and item in self.nodes:
                    self.err(ipath, f"{item} is not a resolver", "list it under dns.resolvers, or give an address")
                else:
                    self.err(ipath, f"{item!r} is neither a resolver node nor an IP address",
                             f"resolvers: {', '.join(sorted(resolvers)) or 'none defined under dns.resolvers'}")
            if node.is_switch:
                self.err(path, "a switch has no resolv.conf")
            clients[node.name] = tuple(dict.fromkeys(addrs))[:MAX_NAMESERVERS]
        return clients, uses


def parse(src: Source, topo: Topology) -> tuple[DnsSpec | None, list[Issue]]:
    """The feature's parse hook: (model or None, issues)."""
    parser = _Parser(src, topo)
    spec = parser.parse()
    return spec, parser.issues
