"""The differential test's corpus: generated questions, a client that records replies, and the comparison.

Used by tests/dns/test_dns_differential.py; also run as a script inside a lab namespace:
    python dns_corpus.py ask ADDRESS PORT CORPUS.json OUT.json
which sends every question of the corpus (UDP or TCP as each says) and writes one summary per reply.
"""

from __future__ import annotations

import fnmatch
import json
import random
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from dnslib import EDNS0, QTYPE, DNSHeader, DNSLabel, DNSQuestion, DNSRecord

TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "SRV", "PTR", "CAA", "DS", "ANY", "NSEC", "RRSIG")
# Names of a zone that are interesting beyond its owners: missing, below missing, below a cut, wildcard matches.
EXTRA_LABELS = ("nope", "x.nope", "zz.wild", "a.b.wild", "x.host.wild", "other.x.wild", "q.cn", "www.sub",
                "deep.x.sub", "y")


@dataclass(frozen=True)
class Question:
    """One query of the corpus and how it is sent."""

    name: str
    qtype: str
    edns: int | None = 0  # EDNS version, None = no OPT
    payload: int = 1232
    do: bool = False
    tcp: bool = False
    rd: bool = False

    def label(self) -> str:
        """How the question is named in failures and in the allowed-differences file."""
        how = "tcp" if self.tcp else "udp"
        edns = "noedns" if self.edns is None else f"edns{self.edns}/{self.payload}" + ("/do" if self.do else "")
        return f"{self.name} {self.qtype} {how} {edns}" + (" rd" if self.rd else "")


def names_of(zone_lines: list[str], origin: str) -> list[str]:
    """Every owner of the zone, its empty non-terminals, and the EXTRA_LABELS under the origin."""
    owners = {line.split()[0].lower() for line in zone_lines if line.strip()}
    out = set(owners)
    for name in owners:
        labels = name.rstrip(".").split(".")
        for i in range(1, len(labels)):
            parent = ".".join(labels[i:]) + "."
            if parent.endswith(origin) and len(parent) >= len(origin):
                out.add(parent)
    out |= {f"{label}.{origin}" for label in EXTRA_LABELS}
    return sorted(out)


def corpus(zone_lines: list[str], origin: str, seed: int = 14) -> list[Question]:
    """Every name × every type with default EDNS, then variants: case, no EDNS, small buffers, DO, TCP, BADVERS."""
    rng = random.Random(seed)
    names = names_of(zone_lines, origin)
    out = [Question(n, t) for n in names for t in TYPES]
    for n in names:
        mixed = "".join(c.upper() if rng.random() < 0.5 else c for c in n)
        out.append(Question(mixed, rng.choice(("A", "TXT", "MX", "ANY"))))
        out.append(Question(n, rng.choice(TYPES[:10]), edns=None))
        out.append(Question(n, rng.choice(("A", "ANY", "TXT")), payload=512))
        out.append(Question(n, rng.choice(TYPES[:10]), do=True))
        out.append(Question(n, rng.choice(("A", "ANY", "TXT", "MX")), tcp=True))
    out += [Question(origin, "SOA", edns=1), Question(f"www.{origin}", "A", edns=1, tcp=True),
            Question("www.example.net.", "A"), Question(origin, "ANY", edns=None)]
    return out


def _section(rrs) -> list[str]:
    return sorted(f"{str(rr.rname).lower()} {rr.ttl} {QTYPE.get(rr.rtype)} {rr.rdata.toZone().lower()}"
                  for rr in rrs if rr.rtype != QTYPE.OPT)


def summary(data: bytes | None) -> dict:
    """What the comparison looks at in a reply (names lower-cased, sections sorted)."""
    if data is None:
        return {"rcode": "timeout"}
    msg = DNSRecord.parse(data)
    opt = [rr for rr in msg.ar if rr.rtype == QTYPE.OPT]
    rcode = msg.header.rcode | ((opt[0].ttl >> 24) << 4 if opt else 0)
    h = msg.header
    return {"rcode": rcode, "flags": [f for f in ("aa", "tc", "rd", "ra", "ad", "cd") if getattr(h, f)],
            "opt": bool(opt), "do": bool(opt and opt[0].ttl & 0x8000),
            "answer": _section(msg.rr), "authority": _section(msg.auth), "additional": _section(msg.ar)}


def ask(addr: str, port: int, q: Question, timeout: float = 2.0) -> bytes | None:
    """Send one question and return the raw reply (None after `timeout`)."""
    msg = DNSRecord(DNSHeader(id=random.getrandbits(16), rd=int(q.rd)), q=DNSQuestion(DNSLabel(q.name), getattr(QTYPE, q.qtype)))
    if q.edns is not None:
        msg.add_ar(EDNS0(udp_len=q.payload, version=q.edns, flags="do" if q.do else ""))
    data = bytes(msg.pack())
    kind = socket.SOCK_STREAM if q.tcp else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.settimeout(timeout)
        try:
            s.connect((addr, port))
            if q.tcp:
                s.sendall(len(data).to_bytes(2, "big") + data)
                head = _exactly(s, 2)
                return _exactly(s, int.from_bytes(head, "big"))
            s.send(data)
            while True:
                reply = s.recv(65535)
                if reply[:2] == data[:2]:
                    return reply
        except (TimeoutError, OSError):
            return None


def _exactly(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise OSError("connection closed")
        buf += chunk
    return buf


# --- comparison -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Allowed:
    """One line of the allowed-differences file: a question pattern, the field, and why it may differ."""

    pattern: str  # fnmatch pattern on Question.label()
    field: str  # rcode, flags, answer, authority, additional
    why: str


def load_allowed(path: Path) -> list[Allowed]:
    """Parse `PATTERN | FIELD | WHY` lines (# comments and blank lines ignored)."""
    out = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pattern, field, why = (part.strip() for part in line.split("|", 2))
        out.append(Allowed(pattern, field, why))
    return out


def differences(q: Question, ours: dict, refs: dict[str, dict], allowed: list[Allowed]) -> tuple[list[str], set]:
    """Fields where netemu matches none of the references and no allowed line covers it; and the lines used."""
    problems, used = [], set()
    fields = ("rcode", "flags", "answer")
    if ours.get("rcode") == "timeout":
        return [f"{q.label()}: netemu did not answer"], used
    # rcode, flags and answer together must be one reference's: BIND's rcode with NSD's answer is no
    # server's behaviour. Checked field by field first, to name the field when one matches nobody.
    mixed = (all(any(ours.get(f) == ref.get(f) for ref in refs.values()) for f in fields)
             and not any(all(ours.get(f) == ref.get(f) for f in fields) for ref in refs.values()))
    if mixed:
        problems.append(f"{q.label()}: rcode/flags/answer match no single server: netemu "
                        f"{[ours.get(f) for f in fields]} vs "
                        + ", ".join(f"{n} {[r.get(f) for f in fields]}" for n, r in refs.items()))
    for field in (*fields, "authority", "additional", "do"):
        mine = ours.get(field)
        theirs = {name: ref.get(field) for name, ref in refs.items()}
        if field == "additional":  # optional data: netemu may add less, never something no reference adds
            pool = {rr for v in theirs.values() if v for rr in v}
            ok = set(mine or []) <= pool
        else:
            ok = any(mine == v for v in theirs.values())
        if ok:
            continue
        kind = field
        if field == "authority" and any(_drop_ns(mine) == _drop_ns(v) for v in theirs.values()):
            kind = "authority:NS"  # only the (optional) NS set in authority differs
        rule = next((a for a in allowed if a.field == kind and fnmatch.fnmatchcase(q.label(), a.pattern)), None)
        if rule is not None:
            used.add(rule)
            continue
        problems.append(f"{q.label()}: {kind} netemu {mine} vs " + ", ".join(f"{n} {v}" for n, v in theirs.items()))
    return problems, used


def _drop_ns(rrs: list[str] | None) -> list[str]:
    return [rr for rr in rrs or [] if rr.split()[2] != "NS"]


def main(argv: list[str]) -> int:
    """Script entry: `ask ADDRESS PORT CORPUS.json OUT.json` (the raw replies, in hex, go to OUT.json.raw)."""
    if len(argv) != 5 or argv[0] != "ask":
        print(__doc__, file=sys.stderr)
        return 2
    addr, port = argv[1], int(argv[2])
    questions = [Question(**q) for q in json.loads(Path(argv[3]).read_text())]
    replies = [ask(addr, port, q) for q in questions]
    Path(argv[4]).write_text(json.dumps([summary(r) for r in replies]))
    Path(argv[4] + ".raw").write_text(json.dumps([r.hex() if r is not None else None for r in replies]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
