"""What is up: labs on this machine, and for one lab each node's interfaces, addresses, MTUs, routes."""

from __future__ import annotations

import time

from . import features
from . import journal as journal_mod
from .errors import LabError
from .kernel import netns, procs
from .labdir import LabDir, all_labs

_SCOPES = {0: "global", 200: "site", 253: "link", 254: "host"}


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
            "age_seconds": round(time.time() - meta["created"]) if "created" in meta else None,
        })
    return out


def lab(name: str, node: str | None = None) -> dict:
    """Live state of one lab (or one node of it) read from the kernel, not from the YAML.

    Features add their part: text lines go under "feature_lines" (lab-wide, or the node's).
    """
    d = LabDir(name)
    if not d.exists():
        up = ", ".join(x.name for x in all_labs()) or "none"
        raise LabError(f"no lab named {name!r} is up (labs up: {up})")
    meta = d.read_meta()
    created = journal_mod.read(d.journal)
    kinds = _kinds(d)
    from pyroute2 import IPRoute  # the full pyroute2 (~100 ms to import) only where dumps are parsed

    nodes = []
    namespaces = [ns for ns in created.namespaces if node is None or ns == f"{name}-{node}"]
    if node is not None and not namespaces:
        raise LabError(f"lab {name!r} has no node {node!r}")
    for ns in namespaces:
        entry = {"node": ns[len(name) + 1:], "kind": kinds.get(ns[len(name) + 1:], "?"), "namespace": ns}
        if not netns.exists(ns):
            entry["missing"] = True
            nodes.append(entry)
            continue
        with netns.entered(ns):
            ipr = IPRoute()  # dumps are rare here: pyroute2's parser is worth its cost
        try:
            entry["interfaces"] = _interfaces(ipr)
            entry["routes"] = _routes(ipr)
        finally:
            ipr.close()
        nodes.append(entry)
    processes = [{"pid": pid, "name": created.process_names.get(pid, "?"), "running": procs.alive(pid, st)}
                 for pid, st in created.processes.items()]
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


def _interfaces(ipr) -> list[dict]:
    addrs: dict[int, list[str]] = {}
    for a in ipr.get_addr():
        if a["scope"] == 253 and a["family"] == 10:
            continue  # IPv6 link-local: always there, noise in a summary
        addrs.setdefault(a["index"], []).append(f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}")
    out = []
    names = {}
    for link in ipr.get_links():
        names[link["index"]] = link.get_attr("IFLA_IFNAME")
    for link in ipr.get_links():
        ifname = link.get_attr("IFLA_IFNAME")
        if ifname == "lo":
            continue
        master = link.get_attr("IFLA_MASTER")
        out.append({
            "name": ifname,
            "state": link.get_attr("IFLA_OPERSTATE"),
            "mtu": link.get_attr("IFLA_MTU"),
            "mac": link.get_attr("IFLA_ADDRESS"),
            "addresses": addrs.get(link["index"], []),
            **({"master": names.get(master, master)} if master else {}),
        })
    return out


def _routes(ipr) -> list[str]:
    out = []
    names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
    for family in (2, 10):
        for r in ipr.get_routes(family=family, table=254):
            dst = r.get_attr("RTA_DST")
            if family == 10 and dst and dst.startswith("fe80"):
                continue
            text = f"{dst}/{r['dst_len']}" if dst else "default"
            if gw := r.get_attr("RTA_GATEWAY"):
                text += f" via {gw}"
            if oif := r.get_attr("RTA_OIF"):
                text += f" dev {names.get(oif, oif)}"
            out.append(text)
    return out
