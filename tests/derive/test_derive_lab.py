"""Real namespaces: a lab with no address and no route written (topologies/campus.yaml) works.

Every host reaches every other host in IPv4 and IPv6, along a shortest path: the TTL (hop limit) of
each echo reply shows how many routers the reply crossed, compared with a shortest path computed
here, independently of netemu, from the links and their costs.
"""

from __future__ import annotations

import heapq
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import yaml

from netemu.parse import topology_from_text
from conftest import TOPOLOGIES, renamed


def routers_on_shortest_path(doc: dict, src: str, dst: str) -> int:
    """Routers crossed from `src` to `dst`: Dijkstra on link costs; only routers and switches relay."""
    kinds = {n: (spec or {}).get("kind", "host") for n, spec in doc["nodes"].items()}
    adj: dict[str, list[tuple[str, int]]] = {n: [] for n in kinds}
    for link in doc["links"]:
        a, b = (e.split()[0].split(":")[0] for e in link["endpoints"])
        cost = link.get("cost", 1)
        adj[a].append((b, cost if kinds[a] == "router" else 0))
        adj[b].append((a, cost if kinds[b] == "router" else 0))
    best = {src: (0, 0)}
    heap = [(0, 0, src)]
    while heap:
        dist, routers, node = heapq.heappop(heap)
        if node == dst:
            return routers
        if node != src and kinds[node] == "host":
            continue
        for nxt, cost in adj[node]:
            cand = (dist + cost, routers + (kinds[nxt] == "router"))
            if nxt not in best or cand < best[nxt]:
                best[nxt] = cand
                heapq.heappush(heap, (cand[0], cand[1], nxt))
    raise AssertionError(f"no path {src} -> {dst}")


def ping(ns: str, address: str) -> int | None:
    """The TTL of the echo reply, or None when there was none (three tries)."""
    res = subprocess.run(["ip", "netns", "exec", ns, "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", address],
                         capture_output=True, text=True, timeout=30)
    m = re.search(r"ttl=(\d+)", res.stdout)
    return int(m.group(1)) if m else None


def test_campus_every_host_reaches_every_host_on_shortest_paths(lab_text):
    text = (TOPOLOGIES / "campus.yaml").read_text()
    doc = yaml.safe_load(text)
    name = lab_text(text, prefix="derive")
    topo = topology_from_text(renamed(text, name))
    hosts = [n for n in topo.nodes if n.kind == "host"]
    jobs = []
    for a in hosts:
        for b in hosts:
            if a is b:
                continue
            for addr in b.addresses():
                jobs.append((a.name, b.name, addr.version, str(addr.ip)))
    assert {j[2] for j in jobs} == {4, 6} and len(jobs) == len(hosts) * (len(hosts) - 1) * 2
    with ThreadPoolExecutor(8) as pool:
        ttls = list(pool.map(lambda j: ping(f"{name}-{j[0]}", j[3]), jobs))
    failed = [j for j, ttl in zip(jobs, ttls) if ttl is None]
    assert not failed, f"no reply: {failed}"
    wrong = [(j, 64 - ttl, routers_on_shortest_path(doc, j[1], j[0])) for j, ttl in zip(jobs, ttls)
             if 64 - ttl != routers_on_shortest_path(doc, j[1], j[0])]
    assert not wrong, f"(pair, routers crossed by the reply, shortest): {wrong}"
    # every router's derived loopbacks (on `lo`, routed by the computed routes) answer from every host
    loops = [(h.name, str(a.ip)) for h in hosts for r in topo.nodes if r.kind == "router" for a in r.loopbacks]
    assert len(loops) == len(hosts) * sum(n.kind == "router" for n in topo.nodes) * 2
    with ThreadPoolExecutor(8) as pool:
        answered = list(pool.map(lambda j: ping(f"{name}-{j[0]}", j[1]), loops))
    assert all(ttl is not None for ttl in answered), [j for j, t in zip(loops, answered) if t is None]
