"""`netemu status LAB NODE` for a router: OSPF neighbours, BGP sessions, the routes each protocol installed."""

from __future__ import annotations

from ..labdir import RUN_DIR
from .query import ask

PROTOCOLS = ("ospf", "ospf6", "bgp", "static")


def _find(ns: str) -> tuple[str, str, list[str]] | None:
    """(lab, node, daemons) of the router whose namespace is `ns`, from the lab's run directory."""
    for d in RUN_DIR.glob("*/frr/*"):
        lab, node = d.parent.parent.name, d.name
        if f"{lab}-{node}" == ns:
            return lab, node, sorted(p.stem for p in d.glob("*.conf") if p.stem not in ("vtysh", "extra"))
    return None


def node_status(ns: str) -> tuple[dict, list[str]]:
    """A JSON-ready dict and text lines; both empty for a node that runs no FRR."""
    found = _find(ns)
    if found is None:
        return {}, []
    lab, node, daemons = found
    a = ask(ns, lab, node, daemons, ["ospf", "ospf6", "bgp", "routes4", "routes6"])
    ospf = _ospf(a.get("ospf"), a.get("ospf6"))
    bgp = _bgp(a.get("bgp"))
    routes = _routes(a.get("routes4")) + _routes(a.get("routes6"))
    lines = [f"  FRR: {', '.join(daemons)} (vtysh: netemu exec {lab} {node} -- vtysh)"]
    if "ospfd" in daemons or "ospf6d" in daemons:
        lines.append(f"  OSPF neighbours: {len(ospf) or 'none'}")
        lines += [f"    {n['version']:<6} {n['neighbour']:<16} {n['state']:<16} {n['interface']:<10} up {n['uptime']}"
                  for n in ospf]
    if "bgpd" in daemons:
        lines.append(f"  BGP sessions: {len(bgp) or 'none'}")
        lines += [f"    {s['peer']:<26} AS{s['remote_as']:<10} {s['state']:<12} up {s['uptime']:<10} "
                  f"{s['prefixes']} prefixes received" for s in bgp]
    lines.append(f"  routes from routing protocols: {len(routes) or 'none'}")
    lines += [f"    {r['protocol']:<6} {r['prefix']:<24} {' '.join(r['via'])}" for r in routes]
    return {"daemons": daemons, "ospf_neighbours": ospf, "bgp_sessions": bgp, "protocol_routes": routes}, lines


def _ospf(v2: object, v3: object) -> list[dict]:
    out = []
    for rid, entries in (v2 or {}).get("neighbors", {}).items() if isinstance(v2, dict) else ():
        for e in entries if isinstance(entries, list) else [entries]:
            out.append({"version": "ospfv2", "neighbour": rid, "state": e.get("nbrState", "?"),
                        "interface": str(e.get("ifaceName", "?")).split(":")[0],
                        "uptime": _ms(e.get("upTime") or e.get("nbrUpTime") or e.get("upTimeInMsec"))})
    for e in (v3 or {}).get("neighbors", []) if isinstance(v3, dict) else ():
        out.append({"version": "ospfv3", "neighbour": e.get("neighborId", "?"), "state": e.get("state", "?"),
                    "interface": e.get("interfaceName", "?"), "uptime": e.get("duration", "?")})
    return out


def _ms(v: object) -> str:
    if isinstance(v, int):
        return f"{v / 1000:.0f}s"
    return str(v) if v is not None else "?"


def _bgp(answer: object) -> list[dict]:
    out = []
    for peer, v in (answer or {}).items() if isinstance(answer, dict) else ():
        if not isinstance(v, dict):
            continue
        received = sum(af.get("acceptedPrefixCounter", 0) for af in v.get("addressFamilyInfo", {}).values()
                       if isinstance(af, dict))
        out.append({"peer": peer, "remote_as": v.get("remoteAs"), "state": v.get("bgpState"),
                    "uptime": v.get("bgpTimerUpString", "-") if v.get("bgpState") == "Established" else "-",
                    "prefixes": received, "description": v.get("nbrDesc", "")})
    return out


def _routes(answer: object) -> list[dict]:
    out = []
    for prefix, entries in (answer or {}).items() if isinstance(answer, dict) else ():
        for e in entries:
            if e.get("protocol") in PROTOCOLS and e.get("selected"):
                via = [h.get("ip") or h.get("interfaceName", "?") for h in e.get("nexthops", []) if h.get("active")]
                out.append({"prefix": prefix, "protocol": e["protocol"], "via": via,
                            "installed": bool(e.get("installed"))})
    return out
