"""`netemu dns trace`: ask a lab's resolver, over its control socket, to resolve a name and report every step."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field

from dnslib import QTYPE, DNSLabel

from ..errors import LabError, NetemuError, UsageError
from ..lab import Lab
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


EXAMPLE_TYPES = "e.g. A, AAAA, MX, TXT, NS, CNAME, SOA"
# Types that are not data a resolver can be asked for: a pseudo-record, zone transfers, transaction signatures.
NOT_QUESTIONS = frozenset({"OPT", "AXFR", "IXFR", "TKEY", "TSIG"})
MAX_LABEL = 63  # octets of one label (RFC 1035 2.3.4)
MAX_NAME = 255  # octets of a whole name on the wire, length bytes and the root's included


def check_qtype(qtype: str) -> str:
    """The mnemonic of a record type given as a name (MX), a number (15) or RFC 3597 style (TYPE15)."""
    text = qtype.strip().upper()
    number = text.removeprefix("TYPE")
    if number.isascii() and number.isdigit():
        mnemonic = QTYPE.forward.get(int(number))
        # dnslib's table names some numbers it cannot map back (53 reads as HIP, which is 55): refuse those too
        if mnemonic is None or QTYPE.reverse.get(mnemonic) != int(number):
            raise UsageError(f"record type {qtype!r} is not one netemu's resolver knows ({EXAMPLE_TYPES})")
        text = mnemonic
    if text not in QTYPE.reverse:
        raise UsageError(f"unknown record type {qtype!r} ({EXAMPLE_TYPES})")
    if text in NOT_QUESTIONS:
        raise UsageError(f"record type {text} cannot be asked of a resolver ({EXAMPLE_TYPES})")
    return text


def check_name(name: str) -> str:
    """`name` as an absolute domain name (trailing dot), or a UsageError saying what is wrong with it."""
    if name == ".":
        return name
    if not name:
        raise UsageError("invalid domain name '': it is empty (the root is '.')")
    labels = name.removesuffix(".").split(".")
    size = 1
    for label in labels:
        if not label:
            raise UsageError(f"invalid domain name {name!r}: empty label")
        try:
            encoded = label.encode("idna")
        except UnicodeError:
            if label.isascii():
                raise UsageError(f"invalid domain name {name!r}: label {label[:16]!r}… is longer than "
                                 f"{MAX_LABEL} bytes") from None
            raise UsageError(f"invalid domain name {name!r}: label {label!r} is not a valid "
                             f"internationalised (IDNA) label") from None
        size += len(encoded) + 1
    if size > MAX_NAME:
        raise UsageError(f"invalid domain name {name[:24]!r}…: {size} bytes long, more than DNS allows ({MAX_NAME})")
    try:
        DNSLabel(name)  # what the resolver will do with it
    except Exception:  # noqa: BLE001 - dnslib raises several kinds; the user needs only to know the name is bad
        raise UsageError(f"invalid domain name {name!r}") from None
    return name if name.endswith(".") else name + "."


def _index(lab: str, node: str) -> dict:
    """The lab's DNS index, after checking (as `netemu exec` does) that the lab is up and has `node`."""
    Lab.attach(lab).node(node)
    path = dns_dir(lab) / INDEX
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"lab {lab!r} has no DNS (its topology has no 'dns:' section)") from None
    except (OSError, ValueError) as e:
        raise LabError(f"cannot read {path}: {e}") from None


def _request(path: str, req: dict, timeout: float, resolver: str) -> dict:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
        sock.sendall(json.dumps(req).encode() + b"\n")
        data = sock.makefile("rb").readline()
    except (FileNotFoundError, ConnectionRefusedError):
        raise LabError(f"resolver {resolver} is not running (no control socket {path})") from None
    except TimeoutError:
        raise LabError(f"resolver {resolver} did not answer within {timeout:g} s") from None
    except OSError as e:
        raise LabError(f"cannot talk to resolver {resolver} over {path}: {e.strerror or e}") from None
    finally:
        sock.close()
    try:
        resp = json.loads(data or b"{}")
    except ValueError:
        raise LabError(f"resolver {resolver} sent an unreadable reply over {path}") from None
    if "error" in resp:
        raise NetemuError(f"resolver {resolver} failed: {resp['error']}")
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
    absolute, qtype = check_name(name), check_qtype(qtype)
    index = _index(lab, node)
    resolver = resolver_of(index, node)
    control = index["resolvers"][resolver]["control"]
    resp = _request(control, {"op": "trace", "name": absolute, "type": qtype, "fresh": fresh}, timeout, resolver)
    return Trace(lab, node, resolver, absolute, qtype, fresh,
                 resp["rcode"], resp["answer"], resp["authority"], resp["ms"],
                 [Step(**s) for s in resp["steps"]], index.get("names", {}))


def flush(lab: str, node: str) -> str:
    """Empty the cache of the resolver `node` uses; returns that resolver's name."""
    index = _index(lab, node)
    resolver = resolver_of(index, node)
    _request(index["resolvers"][resolver]["control"], {"op": "flush"}, 5.0, resolver)
    return resolver


def render(t: Trace) -> str:
    """The trace as a table a person reads top to bottom."""
    where = f"{t.node}'s resolver {t.resolver}" if t.node != t.resolver else f"resolver {t.resolver}"
    cache = "empty cache (--fresh)" if t.fresh else "its cache"
    lines = [f"{t.name} {t.qtype} via {where}, starting from {cache}"]
    rows = []
    n = 0
    for s in t.steps:
        question = "  " * s.depth + f"{s.sent or s.qname} {s.qtype}"
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
    if any(s.sent for s in t.steps):
        lines.append("  QNAME minimisation (RFC 9156): each server is asked for one label more than its zone only;")
        lines.append("  0x20: the case of the letters sent is random and must come back unchanged.")
    queries = sum(1 for s in t.steps if s.server not in ("cache", "-"))
    hits = sum(1 for s in t.steps if s.server == "cache")
    lines.append(f"{t.rcode} in {t.ms:.1f} ms: {queries} upstream quer{'y' if queries == 1 else 'ies'}, "
                 f"{hits} cache hit{'' if hits == 1 else 's'}")
    lines += [f"  {rr}" for rr in t.answer]
    lines += [f"  (authority) {rr}" for rr in t.authority]
    return "\n".join(lines)
