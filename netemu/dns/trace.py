"""`netemu dns trace`: ask a lab's resolver, over its control socket, to resolve a name and report every step."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field

from ..errors import LabError, NetemuError, UsageError
from .plan import INDEX, dns_dir
from .resolver import Step


@dataclass
class Trace:
    """A resolution as the resolver performed it: the steps, the final answer, and who the addresses are."""

    lab: str
    node: str  # the node whose resolver was used
    resolver: str  # the resolver node
    name: str
    qtype: str
    fresh: bool
    rcode: str
    answer: list[str]
    authority: list[str]
    ms: float
    steps: list[Step]
    names: dict[str, str] = field(default_factory=dict)  # address → node


def _index(lab: str) -> dict:
    path = dns_dir(lab) / INDEX
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise LabError(f"lab {lab!r} is not up, or has no DNS (no 'dns:' section)") from None
    except (OSError, ValueError) as e:
        raise LabError(f"cannot read {path}: {e}") from None


def _request(path: str, req: dict, timeout: float) -> dict:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
        sock.sendall(json.dumps(req).encode() + b"\n")
        data = sock.makefile("rb").readline()
    except (FileNotFoundError, ConnectionRefusedError):
        raise LabError(f"the resolver is not running (no control socket {path})") from None
    except TimeoutError:
        raise LabError(f"the resolver did not answer within {timeout:g} s") from None
    finally:
        sock.close()
    resp = json.loads(data or b"{}")
    if "error" in resp:
        raise NetemuError(f"the resolver failed: {resp['error']}")
    return resp


def resolver_of(index: dict, node: str) -> str:
    """The resolver node that `node` uses (itself when it is a resolver)."""
    if node in index["resolvers"]:
        return node
    used = index["clients"].get(node)
    if used is None:
        choices = ", ".join(sorted(set(index["resolvers"]) | set(index["clients"]))) or "none"
        raise UsageError(f"node {node!r} uses no netemu resolver of lab {index['lab']!r} (nodes with one: {choices})")
    return used


def trace(lab: str, node: str, name: str, qtype: str = "A", fresh: bool = False, timeout: float = 15.0) -> Trace:
    """Resolve `name` through the resolver `node` uses; `fresh` starts from an empty cache (the full path)."""
    from dnslib import QTYPE

    if not hasattr(QTYPE, qtype.upper()):
        raise UsageError(f"unknown record type {qtype!r} (e.g. A, AAAA, MX, TXT, NS, CNAME, SOA)")
    index = _index(lab)
    resolver = resolver_of(index, node)
    control = index["resolvers"][resolver]["control"]
    resp = _request(control, {"op": "trace", "name": name, "type": qtype.upper(), "fresh": fresh}, timeout)
    return Trace(lab, node, resolver, name if name.endswith(".") else name + ".", qtype.upper(), fresh,
                 resp["rcode"], resp["answer"], resp["authority"], resp["ms"],
                 [Step(**s) for s in resp["steps"]], index.get("names", {}))


def flush(lab: str, node: str) -> str:
    """Empty the cache of the resolver `node` uses; returns that resolver's name."""
    index = _index(lab)
    resolver = resolver_of(index, node)
    _request(index["resolvers"][resolver]["control"], {"op": "flush"}, 5.0)
    return resolver


def render(t: Trace) -> str:
    """The trace as a table a person reads top to bottom."""
    where = f"{t.node}'s resolver {t.resolver}" if t.node != t.resolver else f"resolver {t.resolver}"
    cache = "empty cache (--fresh)" if t.fresh else "its cache"
    lines = [f"{t.name} {t.qtype} via {where}, starting from {cache}"]
    rows = []
    n = 0
    for s in t.steps:
        question = "  " * s.depth + f"{s.qname} {s.qtype}"
        if s.server == "cache":
            asked, time_text = "cache", ""
        else:
            n += 1
            who = t.names.get(s.server, "")
            asked = f"{who + ' ' if who else ''}{s.server}" + (f" [{s.zone}]" if s.zone else "")
            time_text = f"{s.ms:.1f} ms" + (" tcp" if s.transport == "tcp" else "")
        result = f"{s.outcome} {s.detail}".strip()
        rows.append((str(n) if s.server not in ("cache", "-") else "-", question, asked, time_text, result))
    head = ("#", "question", "asked [zone]", "time", "result")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(4)]
    for r in [head, *rows]:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4])
    queries = sum(1 for s in t.steps if s.server not in ("cache", "-"))
    hits = sum(1 for s in t.steps if s.server == "cache")
    lines.append(f"{t.rcode} in {t.ms:.1f} ms: {queries} upstream quer{'y' if queries == 1 else 'ies'}, "
                 f"{hits} cache hit{'' if hits == 1 else 's'}")
    lines += [f"  {rr}" for rr in t.answer]
    lines += [f"  (authority) {rr}" for rr in t.authority]
    return "\n".join(lines)
