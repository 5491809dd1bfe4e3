"""Turn a loaded topology document into a validated Topology, collecting every problem."""

from __future__ import annotations

import dataclasses
import ipaddress

from . import features, names, sysctls
from .errors import Issue, TopologyError
from .model import KINDS, Interface, Link, Node, Route, Topology
from .source import Source, fmt_path, load, parse_text

TOP_KEYS = {"name", "description", "neighbours", "nodes", "links"}
NEIGHBOUR_MODES = ("auto", "static", "dynamic")
NODE_KEYS = {"kind", "routes", "sysctls"}
LINK_KEYS = {"endpoints", "mtu"}
ENDPOINT_KEYS = {"node", "interface", "addresses"}
DEFAULT_MTU = 1500


@dataclasses.dataclass
class _Endpoint:
    node: str
    ifname: str | None
    addresses: list
    path: tuple


class _Parser:
    """Walks the document once; every check appends to self.issues instead of raising."""

    def __init__(self, src: Source):
        self.src = src
        self.issues: list[Issue] = []
        self._claimed: list[_Endpoint] = []  # named ends of links that are invalid for other reasons
        self.node_keys = NODE_KEYS | features.owned_keys("node")
        self.link_keys = LINK_KEYS | features.owned_keys("link")

    def err(self, path, message, hint=None):
        self.issues.append(self.src.issue(path, message, hint))

    def warn(self, path, message, hint=None):
        self.issues.append(self.src.issue(path, message, hint, warning=True))

    def unknown_keys(self, path, mapping: dict, allowed: set):
        for key in mapping:
            if key not in allowed:
                close = _closest(key, allowed)
                self.err(path + (key,), "unknown key", f"did you mean '{close}'?" if close else
                         f"allowed here: {', '.join(sorted(allowed))}")

    # --- top level -------------------------------------------------------------------
    def topology(self) -> Topology | None:
        data = self.src.data
        self.unknown_keys((), data, TOP_KEYS | features.owned_keys("top"))
        name = data.get("name")
        if name is None:
            self.err(("name",), "missing: every lab needs a name (it prefixes its namespaces)")
        elif (p := names.lab_name_problem(name)) is not None:
            self.err(("name",), p)
        description = data.get("description", "")
        if not isinstance(description, str):
            self.err(("description",), "must be a string")
            description = ""
        neighbours = data.get("neighbours", "auto")
        if neighbours not in NEIGHBOUR_MODES:
            self.err(("neighbours",), f"must be one of {', '.join(NEIGHBOUR_MODES)}, got {neighbours!r}",
                     "static installs permanent ARP/ND entries (needed by big labs: the kernel's neighbour "
                     "table limit is shared by all namespaces)")
        raw_nodes = data.get("nodes")
        if not isinstance(raw_nodes, dict) or not raw_nodes:
            self.err(("nodes",), "must be a non-empty mapping of node name to settings")
            raw_nodes = {}
        raw_links = data.get("links", [])
        if raw_links is None:
            raw_links = []
        if not isinstance(raw_links, list):
            self.err(("links",), "must be a list of links")
            raw_links = []

        kinds = {}
        for node_name, spec in raw_nodes.items():
            kinds[node_name] = self.node_kind(node_name, spec)

        links = [self.link(i, raw, kinds) for i, raw in enumerate(raw_links)]
        ifaces = self.interfaces(links, kinds, name if isinstance(name, str) else "lab")
        nodes = [self.node(n, raw_nodes[n], kinds[n], ifaces.get(n, [])) for n in raw_nodes]
        self.duplicate_addresses(nodes)
        self.segment_mtus(nodes, links)
        if any(not i.warning for i in self.issues):
            return None
        self.unreachable_ends(links)
        self.unanswered_gateways(nodes)
        topo_links = [
            Link(i, self._by_link[(i, 0)], self._by_link[(i, 1)], pair[2], pair[3])
            for i, pair in enumerate(links)
            if pair is not None
        ]
        return Topology(
            name=name,
            nodes=tuple(n for n in nodes if n is not None),
            links=tuple(topo_links),
            source=self.src.filename,
            description=description,
            neighbours=neighbours,
        )

    # --- nodes ------------------------------------------------------------------------
    def node_kind(self, name, spec) -> str | None:
        path = ("nodes", name)
        if (p := names.node_name_problem(name)) is not None:
            self.err(path, p)
        if spec is None:
            spec = {}
        if not isinstance(spec, dict):
            self.err(path, "must be a mapping such as {kind: host}")
            return None
        kind = spec.get("kind", "host")
        if kind not in KINDS:
            self.err(path + ("kind",), f"unknown kind {kind!r}", f"use one of {', '.join(KINDS)}")
            return None
        return kind

    def node(self, name, spec, kind, ifaces: list[Interface]) -> Node | None:
        path = ("nodes", name)
        if not isinstance(spec, dict):
            spec = {}
        self.unknown_keys(path, spec, self.node_keys)
        routes = self.routes(path, spec.get("routes"), kind, ifaces)
        sysctl_items = self.sysctls(path, spec.get("sysctls"), kind)
        if kind is None:
            return None
        extra = tuple((k, v) for k, v in spec.items() if k not in NODE_KEYS)
        return Node(name, kind, tuple(routes), tuple(sysctl_items), tuple(ifaces), extra)

    def routes(self, path, raw, kind, ifaces: list[Interface]) -> list[Route]:
        if raw is None:
            return []
        path = path + ("routes",)
        if not isinstance(raw, list):
            self.err(path, "must be a list of strings such as 'default via 10.0.1.1'")
            return []
        if kind == "switch" and raw:
            self.err(path, "a switch is a bridge and has no IP routes")
            return []
        out = []
        for i, text in enumerate(raw):
            route = self.route(path + (i,), text, ifaces)
            if route is not None:
                out.append(route)
        seen = {}
        for i, r in enumerate(out):
            key = (r.family, r.dst, r.metric)
            if key in seen:
                self.err(path + (i,), f"route to {r.dst_text} given twice (also {seen[key]!r})")
            seen[key] = r.text
        return out

    def route(self, path, text, ifaces: list[Interface]) -> Route | None:
        if not isinstance(text, str):
            self.err(path, "must be a string such as '10.0.2.0/24 via 10.0.12.2'")
            return None
        words = text.split()
        if not words:
            self.err(path, "empty route")
            return None
        dst_word, rest = words[0], words[1:]
        opts: dict[str, str] = {}
        while rest:
            if len(rest) < 2 or rest[0] not in ("via", "dev", "metric"):
                self.err(path, f"cannot read {text!r}", "forms: 'default via GW', 'PREFIX via GW', 'PREFIX dev IF', "
                         "optionally followed by 'dev IF' and 'metric N'")
                return None
            if rest[0] in opts:
                self.err(path, f"{rest[0]!r} given twice in {text!r}")
                return None
            opts[rest[0]] = rest[1]
            rest = rest[2:]
        via = None
        if "via" in opts:
            try:
                via = ipaddress.ip_address(opts["via"])
            except ValueError:
                self.err(path, f"gateway {opts['via']!r} is not an IP address")
                return None
        dst = None
        if dst_word not in ("default", "default4", "default6"):
            try:
                dst = ipaddress.ip_network(dst_word, strict=True)
            except ValueError as e:
                self.err(path, f"destination {dst_word!r} is not a prefix: {e}")
                return None
        if dst is not None:
            family = dst.version
        elif via is not None:
            family = via.version
        else:
            family = 6 if dst_word == "default6" else 4
        if via is not None and via.version != family:
            self.err(path, f"gateway {via} is IPv{via.version} but the destination is IPv{family}")
            return None
        if via is None and "dev" not in opts:
            self.err(path, f"route {text!r} needs 'via GATEWAY' or 'dev INTERFACE'")
            return None
        metric = None
        if "metric" in opts:
            try:
                metric = int(opts["metric"])
                if not 0 <= metric <= 2**32 - 1:
                    raise ValueError
            except ValueError:
                self.err(path, f"metric {opts['metric']!r} must be a whole number 0..4294967295")
                return None
        dev = opts.get("dev")
        names_here = {i.name for i in ifaces}
        if dev is not None and dev not in names_here:
            self.err(path, f"interface {dev!r} is not on this node", f"it has: {', '.join(sorted(names_here)) or 'none'}")
            return None
        if via is not None:
            candidates = [i for i in ifaces if dev is None or i.name == dev]
            own = [a for i in ifaces for a in i.addresses if a.ip == via]
            on_subnet = [i for i in candidates for a in i.addresses if a.version == via.version and via in a.network]
            if own:
                self.err(path, f"gateway {via} is this node's own address")
                return None
            if not on_subnet and not (via.version == 6 and via.is_link_local and dev is not None):
                subnets = sorted({str(a.network) for i in candidates for a in i.addresses})
                self.err(path, f"gateway {via} is not on any subnet connected to this node"
                         + (f" via {dev}" if dev else ""),
                         f"connected: {', '.join(subnets) or 'none'}")
                return None
        return Route(family, dst, via, dev, metric, text)

    def sysctls(self, path, raw, kind) -> list[tuple[str, str]]:
        if raw is None:
            return []
        path = path + ("sysctls",)
        if not isinstance(raw, dict):
            self.err(path, "must be a mapping such as {net.ipv4.tcp_fastopen: 3}")
            return []
        out = []
        for key, value in raw.items():
            if (p := sysctls.problem(key)) is not None:
                self.err(path + (key,), p)
                continue
            if (p := sysctls.value_problem(key, value)) is not None:
                self.err(path + (key,), p)
                continue
            out.append((sysctls.normalise(key), sysctls.value_text(value)))
        return out

    # --- links ------------------------------------------------------------------------
    def link(self, i, raw, kinds):
        path = ("links", i)
        if not isinstance(raw, dict):
            self.err(path, "must be a mapping with 'endpoints'")
            return None
        self.unknown_keys(path, raw, self.link_keys)
        eps = raw.get("endpoints")
        if not isinstance(eps, list) or len(eps) != 2:
            self.err(path + ("endpoints",), "must list exactly two endpoints",
                     "e.g. endpoints: [\"h1:eth0 10.0.1.2/24\", \"r1:eth0 10.0.1.1/24\"]")
            return None
        parsed = [self.endpoint(path + ("endpoints", j), e, kinds) for j, e in enumerate(eps)]
        mtu = raw.get("mtu", DEFAULT_MTU)
        mtu_ok = not isinstance(mtu, bool) and isinstance(mtu, int) and 68 <= mtu <= 65535
        if not mtu_ok:
            self.err(path + ("mtu",), f"must be a whole number 68..65535, got {mtu!r}")
        elif any(a.version == 6 for p in parsed if p for a in p.addresses) and mtu < 1280:
            self.err(path + ("mtu",), f"{mtu} is below 1280, the IPv6 minimum, and this link carries IPv6")
        if any(p is None for p in parsed):
            # keep the valid end: its interface name still counts when checking for reuse
            for p in parsed:
                if p is not None and p.ifname:
                    self._claimed.append(p)
            return None
        if parsed[0].node == parsed[1].node:
            self.err(path + ("endpoints",), f"both ends are on node {parsed[0].node!r}")
            return None
        extra = tuple((k, v) for k, v in raw.items() if k not in LINK_KEYS)
        return parsed[0], parsed[1], mtu if mtu_ok else DEFAULT_MTU, extra

    def endpoint(self, path, raw, kinds) -> _Endpoint | None:
        if isinstance(raw, str):
            words = raw.split()
            if not words:
                self.err(path, "empty endpoint")
                return None
            node, _, ifname = words[0].partition(":")
            addr_words = words[1:]
            if _ and not ifname:
                self.err(path, f"{words[0]!r} has an empty interface name")
                return None
            ifname = ifname or None
        elif isinstance(raw, dict):
            self.unknown_keys(path, raw, ENDPOINT_KEYS)
            node = raw.get("node")
            ifname = raw.get("interface")
            addr_words = raw.get("addresses", [])
            if isinstance(addr_words, str):
                addr_words = addr_words.split()
            if not isinstance(addr_words, list):
                self.err(path + ("addresses",), "must be a list of addresses with prefix length")
                return None
        else:
            self.err(path, "must be a string 'node[:interface] [address/len …]' or a mapping")
            return None
        if node not in kinds:
            known = ", ".join(sorted(map(str, kinds)))
            close = _closest(str(node), set(map(str, kinds)))
            self.err(path, f"unknown node {node!r}", f"did you mean '{close}'?" if close else f"nodes: {known}")
            return None
        kind = kinds[node]
        if kind == "switch":
            if ifname or addr_words:
                self.err(path, f"{node!r} is a switch: its endpoint is just its name (it has no addresses)")
                return None
        elif ifname is not None and (p := names.ifname_problem(str(ifname))) is not None:
            self.err(path, p)
            return None
        addresses = []
        for w in addr_words:
            try:
                iface = ipaddress.ip_interface(str(w))
            except ValueError:
                self.err(path, f"{w!r} is not an address with a prefix length (e.g. 10.0.1.2/24 or 2001:db8::2/64)")
                continue
            if "/" not in str(w):
                self.err(path, f"{w!r} needs a prefix length (e.g. {w}/{24 if iface.version == 4 else 64})")
                continue
            net = iface.network
            if iface.version == 4 and net.prefixlen < 31 and iface.ip in (net.network_address, net.broadcast_address):
                self.err(path, f"{w} is the {'network' if iface.ip == net.network_address else 'broadcast'} "
                               f"address of {net}")
                continue
            if iface.ip.is_loopback or iface.ip.is_multicast or iface.ip.is_unspecified:
                self.err(path, f"{w} cannot be assigned to an interface")
                continue
            addresses.append(iface)
        return _Endpoint(node, ifname, addresses, path)

    def interfaces(self, links, kinds, lab) -> dict[str, list[Interface]]:
        """Name interfaces (eth0, eth1… in link order where omitted) and check names are unique."""
        out: dict[str, list[Interface]] = {}
        used: dict[str, dict[str, tuple]] = {}
        self._by_link: dict = {}
        # explicit names first, so an omitted name never takes one written later
        ends = [ep for link in links if link is not None for ep in link[:2]] + self._claimed
        for ep in sorted(ends, key=lambda e: e.path):
            if ep.ifname:
                seen = used.setdefault(ep.node, {})
                if ep.ifname in seen:
                    self.err(ep.path, f"interface {ep.ifname!r} of {ep.node!r} is already used",
                             f"at {fmt_path(seen[ep.ifname])}")
                seen[ep.ifname] = ep.path
        counters: dict[str, int] = {}
        for i, link in enumerate(links):
            if link is None:
                continue
            a, b, mtu, _ = link
            for j, ep in enumerate((a, b)):
                other = (b, a)[j]
                if kinds.get(ep.node) == "switch":
                    name = self._port_name(used.setdefault(ep.node, {}), other, i)
                else:
                    name = ep.ifname
                    if name is None:
                        seen = used.setdefault(ep.node, {})
                        n = counters.get(ep.node, 0)
                        while f"eth{n}" in seen:
                            n += 1
                        name = f"eth{n}"
                        counters[ep.node] = n + 1
                        seen[name] = ep.path
                iface = Interface(ep.node, name, tuple(ep.addresses), mtu, names.mac_for(lab, ep.node, name), i)
                out.setdefault(ep.node, []).append(iface)
                self._by_link[(i, j)] = iface
        return out

    @staticmethod
    def _port_name(seen: dict, other: _Endpoint, link_index: int) -> str:
        name = f"{other.node}-{other.ifname or 'l' + str(link_index)}"
        if len(name) > names.IFNAMSIZ or name in seen or names.ifname_problem(name):
            name = f"p{link_index}"
        seen[name] = ()
        return name

    def duplicate_addresses(self, nodes):
        seen: dict = {}
        for n in nodes:
            if n is None:
                continue
            for iface in n.interfaces:
                for a in iface.addresses:
                    if a.ip in seen:
                        self.err(("links", iface.link), f"address {a.ip} of {n.name}:{iface.name} is also on {seen[a.ip]}")
                    else:
                        seen[a.ip] = f"{n.name}:{iface.name}"

    def unreachable_ends(self, links):
        """Warn about point-to-point links whose two ends share no subnet: they cannot talk directly."""
        for i, pair in enumerate(links):
            if pair is None:
                continue
            a, b = self._by_link[(i, 0)], self._by_link[(i, 1)]
            for version in (4, 6):
                mine = [x for x in a.addresses if x.version == version and not x.ip.is_link_local]
                theirs = [x for x in b.addresses if x.version == version and not x.ip.is_link_local]
                if mine and theirs and not any(x.ip in y.network or y.ip in x.network for x in mine for y in theirs):
                    self.warn(("links", i, "endpoints"),
                              f"{a.node} {', '.join(map(str, mine))} and {b.node} {', '.join(map(str, theirs))} "
                              f"share no subnet: they cannot reach each other over this link",
                              "give both ends addresses in one prefix")

    def unanswered_gateways(self, nodes):
        """Warn about gateways no node of the lab owns: the next hop's ARP/ND will go unanswered."""
        owned = {a.ip for n in nodes for i in n.interfaces for a in i.addresses}
        for node in nodes:
            for k, route in enumerate(node.routes):
                if route.via is not None and route.via not in owned and not route.via.is_link_local:
                    self.warn(("nodes", node.name, "routes", k),
                              f"no node of this lab has the gateway address {route.via}: "
                              f"packets on this route will not get past the first hop")

    def segment_mtus(self, nodes, links):
        """Ports of one switch must agree on MTU: a mismatch drops big frames silently, with no ICMP."""
        per_switch: dict[str, dict[int, int]] = {}
        for i, link in enumerate(links):
            if link is None:
                continue
            a, b, mtu, _ = link
            for ep in (a, b):
                if any(n is not None and n.name == ep.node and n.is_switch for n in nodes):
                    per_switch.setdefault(ep.node, {}).setdefault(mtu, i)
        for sw, mtus in per_switch.items():
            if len(mtus) > 1:
                first = sorted(mtus.items(), key=lambda kv: kv[1])
                desc = ", ".join(f"{m} at links[{i}]" for m, i in first)
                self.err(("links", first[1][1], "mtu"), f"links into switch {sw!r} have different MTUs ({desc})",
                         "a bridge drops frames larger than a port's MTU without any ICMP error; use one MTU per switch")


def _closest(word: str, options: set) -> str | None:
    import difflib

    m = difflib.get_close_matches(str(word), sorted(map(str, options)), n=1, cutoff=0.75)
    return m[0] if m else None


def from_source(src: Source) -> Topology:
    """Validate a loaded document; raise TopologyError listing every problem."""
    parser = _Parser(src)
    topo = parser.topology()
    issues = list(parser.issues)
    if topo is not None:
        attached = []
        for feature in features.registered():
            if feature.parse is None or not feature.used_by(src.data):
                continue  # a feature the file does not use attaches no model (and is not imported)
            model, found = feature.parse(src, topo)
            issues += found
            if model is not None:
                attached.append((feature.name, model))
        topo = dataclasses.replace(topo, features=tuple(attached))
    issues.sort(key=lambda i: (i.line or 0))  # stable: same-line issues keep their order
    if any(not i.warning for i in issues):
        raise TopologyError(src.filename, issues)
    return dataclasses.replace(topo, warnings=tuple(i.render(src.filename) for i in issues if i.warning))


def load_topology(path: str) -> Topology:
    """Load and validate a topology file."""
    return from_source(load(path))


def topology_from_text(text: str, filename: str | None = None) -> Topology:
    """Validate topology YAML given as text."""
    return from_source(parse_text(text, filename))
