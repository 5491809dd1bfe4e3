"""What is up: labs on this machine, and for one lab each node's interfaces, addresses, MTUs, routes."""

from __future__ import annotations

import time

from . import features
from . import journal as journal_mod
from .errors import NotFoundError
from .kernel import netns, procs
from .kernel.fib import RTM_F_CLONED
from .kernel.rtnl import IFF_UP
from .labdir import LabDir, all_labs, existing

_SCOPES = {0: "global", 200: "site", 253: "link", 254: "host"}

# Interface flags (linux/if.h), in the order `ip link` prints them.
IFF_RUNNING = 0x40
IFF_LOWER_UP = 0x10000
_IFF_NAMES = ((0x8, "LOOPBACK"), (0x2, "BROADCAST"), (0x10, "POINTOPOINT"), (0x1000, "MULTICAST"),
              (0x80, "NOARP"), (0x200, "ALLMULTI"), (0x100, "PROMISC"), (0x400, "MASTER"), (0x800, "SLAVE"),
              (IFF_UP, "UP"), (IFF_RUNNING, "RUNNING"), (IFF_LOWER_UP, "LOWER_UP"), (0x20000, "DORMANT"))

RTNH_F_DEAD = 0x1  # a next hop whose device is down (linux/rtnetlink.h)
USER_HZ = 100  # RTA_CACHEINFO's rta_expires counts clock ticks of USER_HZ, whatever the kernel's HZ

# Route types (linux/rtnetlink.h) other than unicast, named as `ip route` names them.
_ROUTE_TYPES = {2: "local", 3: "broadcast", 4: "anycast", 5: "multicast", 6: "blackhole", 7: "unreachable",
                8: "prohibit", 9: "throw", 10: "nat"}


def labs() -> list[dict]:
    """A summary per lab: name, state, node count, source file, age."""
    out = []
    for d in all_labs():
        meta = d.read_meta()
        created = journal_mod.read(d.journal)
        present = sum(1 for n in created.namespaces if netns.exists(n))
        out.append({
            "name": d.name,
            "state": meta.get("state", "unknown"),
            "nodes": len(meta.get("nodes", [])),
            "namespaces_present": present,
            "source": meta.get("source"),
            "description": _description(d),
            "age_seconds": round(time.time() - meta["created"]) if "created" in meta else None,
        })
    return out


def _description(d: LabDir) -> str:
    """The `description:` of the topology as it was at `up` ('' when none or unreadable)."""
    import yaml

    try:
        data = yaml.safe_load(d.topology_copy.read_text())
    except (OSError, yaml.YAMLError):
        return ""
    value = data.get("description") if isinstance(data, dict) else None
    return value if isinstance(value, str) else ""


def lab(name: str, node: str | None = None) -> dict:
    """Live state of one lab (or one node of it) read from the kernel, not from the YAML.

    Features add their part: text lines go under "feature_lines" (lab-wide, or the node's).
    """
    d = existing(name)
    meta = d.read_meta()
    created = journal_mod.read(d.journal)
    kinds = _kinds(d)
    nodes = []
    namespaces = [ns for ns in created.namespaces if node is None or ns == f"{name}-{node}"]
    if node is not None and not namespaces:
        raise NotFoundError(f"lab {name!r} has no node {node!r}")
    for ns in namespaces:
        entry = {"node": ns[len(name) + 1:], "kind": kinds.get(ns[len(name) + 1:], "?"), "namespace": ns}
        if not netns.exists(ns):
            entry["missing"] = True
            nodes.append(entry)
            continue
        with netns.dump_socket(ns) as ipr:  # dumps are rare here: pyroute2's parser is worth its cost
            links = ipr.get_links()  # one dump, so names and states come from the same instant
            names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in links}
            entry["interfaces"] = _interfaces(ipr, links, names)
            entry["routes"], entry["path_mtu_cache"] = _routes(ipr, names)
        nodes.append(entry)
    pumps = {r["pid"] for r in created.process_records if r.get("of")}  # log pumps: part of their process
    processes = [{"pid": pid, "name": created.process_names.get(pid, "?"), "running": procs.alive(pid, st)}
                 for pid, st in created.current_processes().items() if pid not in pumps]  # restarted: the new PID
    result = {"name": name, "state": meta.get("state", "unknown"), "source": meta.get("source"),
              "nodes": nodes, "processes": processes, "features": {}, "feature_lines": []}
    for feature in features.registered():
        if node is None and feature.lab_status is not None:
            data, text = feature.lab_status(name)
        elif node is not None and feature.node_status is not None and not nodes[0].get("missing"):
            data, text = feature.node_status(nodes[0]["namespace"])
        else:
            continue
        result["features"][feature.name] = data
        result["feature_lines"] += text
    return result


def _kinds(d: LabDir) -> dict[str, str]:
    try:
        from .parse import topology_from_text

        topo = topology_from_text(d.topology_copy.read_text())
        return {n.name: n.kind for n in topo.nodes}
    except Exception:  # the saved copy is only a hint; status reads the kernel
        return {}


def _interfaces(ipr, links: list, names: dict[int, str]) -> list[dict]:
    """Each interface but lo: state from its flags (see link_state), MTU, MAC, master, addresses."""
    addrs: dict[int, list[str]] = {}
    for a in ipr.get_addr():
        if a["scope"] == 253 and a["family"] == 10:
            continue  # IPv6 link-local: always there, noise in a summary
        # IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's on a point-to-point address
        local, addr = a.get_attr("IFA_LOCAL"), a.get_attr("IFA_ADDRESS")
        text = f"{local} peer {addr}" if local and addr and local != addr else (local or addr)
        addrs.setdefault(a["index"], []).append(f"{text}/{a['prefixlen']}")
    out = []
    for link in links:
        ifname = link.get_attr("IFLA_IFNAME")
        if ifname == "lo":
            continue
        master = link.get_attr("IFLA_MASTER")
        flags = link["flags"]
        out.append({
            "name": ifname,
            "state": link_state(flags),
            "admin_up": bool(flags & IFF_UP),
            "carrier": bool(flags & IFF_LOWER_UP),
            "operstate": link.get_attr("IFLA_OPERSTATE"),  # the kernel's RFC 2863 view: may lag, see link_state
            "flags": [n for bit, n in _IFF_NAMES if flags & bit],
            "mtu": link.get_attr("IFLA_MTU"),
            "mac": link.get_attr("IFLA_ADDRESS"),
            "addresses": addrs.get(link["index"], []),
            **({"master": names.get(master, master)} if master else {}),
        })
    return out


def link_state(flags: int) -> str:
    """UP, NO-CARRIER or DOWN from an interface's flags: admin state (IFF_UP) and carrier (IFF_LOWER_UP).

    Not IFLA_OPERSTATE, nor IFF_RUNNING (derived from it): the kernel's linkwatch updates those up to a
    second after the carrier changes, so right after `up` a working veth or bridge would read DOWN or UNKNOWN.
    """
    if not flags & IFF_UP:
        return "DOWN"
    return "UP" if flags & IFF_LOWER_UP else "NO-CARRIER"


def _routes(ipr, names: dict[int, str]) -> tuple[list[str], list[dict]]:
    """The main table (IPv4, then IPv6) as `ip route` writes it, short: [type] dst [via gw] [dev if];
    and apart from it, the learned path MTUs (see _exception)."""
    out: list[str] = []
    cached: list[dict] = []
    for family in (2, 10):
        for r in ipr.get_routes(family=family, table=254):
            dst = r.get_attr("RTA_DST")
            if r["flags"] & RTM_F_CLONED:
                # The dump includes the FIB's exceptions (`ip route show cache`): a PMTU the node learned
                # from an ICMP "too big" is cached per destination with a timer, it is not a /32 route. (IPv4
                # lists an exception once a lookup has used it, as `ip route show cache` does.)
                exception = _exception(r, dst, names)
                if exception is not None:
                    cached.append(exception)
                continue
            if family == 10 and dst and dst.startswith("fe80"):
                continue
            text = f"{dst}/{r['dst_len']}" if dst else "default"
            rtype = _ROUTE_TYPES.get(r["type"])
            if rtype:
                text = f"{rtype} {text}"
            if rtype in ("blackhole", "unreachable", "prohibit", "throw"):
                out.append(text)  # IPv6 gives these "dev lo": an artefact, nothing is sent there
                continue
            text += _nexthop(r.get_attr("RTA_GATEWAY"), r.get_attr("RTA_VIA"), r.get_attr("RTA_OIF"), names)
            for hop in r.get_attr("RTA_MULTIPATH") or ():
                text += " nexthop" + _nexthop(hop.get_attr("RTA_GATEWAY"), hop.get_attr("RTA_VIA"), hop["oif"],
                                              names)
                if hop["hops"]:
                    text += f" weight {hop['hops'] + 1}"
                if hop["flags"] & RTNH_F_DEAD:  # set at once when the device goes down (unlike linkdown)
                    text += " dead"
            out.append(text)
    return out, cached


def _exception(r, dst: str | None, names: dict[int, str]) -> dict | None:
    """A cached exception that holds a learned MTU: destination, MTU, seconds until it expires, next hop."""
    metrics = r.get_attr("RTA_METRICS")
    mtu = dict(metrics["attrs"]).get("RTAX_MTU") if metrics else None
    if mtu is None:
        return None  # a redirect or a plain clone: no path MTU to show
    info = r.get_attr("RTA_CACHEINFO") or {}
    expires = info.get("rta_expires")
    return {"destination": dst, "mtu": mtu,
            "expires_seconds": None if not expires else round(expires / USER_HZ),
            "via": r.get_attr("RTA_GATEWAY"), "dev": names.get(r.get_attr("RTA_OIF"))}


def _nexthop(gw: str | None, via: dict | None, oif: int | None, names: dict[int, str]) -> str:
    text = ""
    if gw:
        text += f" via {gw}"
    elif via:  # an IPv4 route through an IPv6 gateway (RFC 5549)
        text += f" via inet6 {via['addr']}"
    if oif:
        text += f" dev {names.get(oif, oif)}"
    return text
