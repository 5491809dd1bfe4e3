"""Differential test: netemu's authoritative server against BIND 9 and NSD, netemu's resolver against Unbound.

All three authoritative servers load the zone lines netemu derives and run in the same namespace
(BIND and NSD on other ports); a generated corpus (tests/dns/dns_corpus.py) goes to each. netemu's
reply must equal BIND's or NSD's on rcode, flags, answer and authority, and its additional section
may hold only records one of them also adds; every other difference must be listed, with its reason,
in tests/dns/differential_allowed.txt (and every listed line must still be needed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import leftovers, needs_root, needs_tool, unique_name
from dns_corpus import Question, corpus, differences, load_allowed, names_of
from dns_helpers import same
from dnslib import DNSRecord

from netemu.apply import down
from netemu.dns import decode, reference
from netemu.lab import Lab
from netemu.parse import topology_from_text

pytestmark = pytest.mark.root

HERE = Path(__file__).parent
TOPOLOGY = """
name: {name}
nodes:
  lan: {{kind: switch}}
  root: {{}}
  tld: {{}}
  ex: {{}}
  sub: {{}}
  res: {{}}
  client: {{resolver: res}}
links:
  - endpoints: ["root:eth0 10.54.0.2/24", lan]
  - endpoints: ["tld:eth0 10.54.0.3/24", lan]
  - endpoints: ["ex:eth0 10.54.0.4/24", lan]
  - endpoints: ["sub:eth0 10.54.0.5/24", lan]
  - endpoints: ["res:eth0 10.54.0.53/24", lan]
  - endpoints: ["client:eth0 10.54.0.100/24", lan]
dns:
  zones:
    .: {{servers: [root]}}
    com.: {{servers: [tld]}}
    org.:
      servers: [tld]
      records: ["www.shop 60 A 198.51.100.80"]
    ex.com.:
      servers: [ex]
      ttl: 300
      records:
        - www A 192.0.2.1
        - www AAAA 2001:db8::1
        - alias CNAME www
        - chain1 CNAME chain2
        - chain2 CNAME www
        - far CNAME www.shop.org.
        - dangling CNAME nope.ex.com.
        - tosub CNAME www.sub
        - "@ MX 10 mail"
        - "@ TXT \\"v=spf1 -all\\""
        - "@ CAA 0 issue \\"ca.example\\""
        - mail A 192.0.2.25
        - mail AAAA 2001:db8::25
        - _sip._udp SRV 10 5 5060 sipserver
        - sipserver A 192.0.2.5
        - ptr PTR www
        - a.b.c A 192.0.2.3
        - "*.wild A 192.0.2.99"
        - "*.wild TXT wildtext"
        - host.wild A 192.0.2.7
        - deep.x.wild A 192.0.2.8
        - "*.cn CNAME www"
    sub.ex.com.:
      servers: [sub]
      records: ["www A 192.0.2.10"]
  resolvers: [res]
"""
EX = "10.54.0.4"
BIND_PORT, NSD_PORT = 5301, 5302
PY = sys.executable


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    needs_root()
    needs_tool("dig")
    name = unique_name("dnsd")
    text = TOPOLOGY.format(name=name)
    Lab.up(topology_from_text(text, f"<{name}>"), text)
    procs: list[subprocess.Popen] = []
    yield name, procs, tmp_path_factory.mktemp("diff")
    for p in procs:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
    down(name)
    assert leftovers(name) == [], f"lab {name} left {leftovers(name)}"


def _start(lab: str, node: str, argv: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(["ip", "netns", "exec", f"{lab}-{node}", *argv], stdout=open(log, "w"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _ask_all(lab: str, node: str, addr: str, port: int, questions: list[Question], tmp: Path, tag: str) -> list[dict]:
    cpath, opath = tmp / f"{tag}-corpus.json", tmp / f"{tag}-out.json"
    cpath.write_text(json.dumps([q.__dict__ for q in questions]))
    subprocess.run(["ip", "netns", "exec", f"{lab}-{node}", PY, str(HERE / "dns_corpus.py"), "ask", addr, str(port),
                    str(cpath), str(opath)], check=True, timeout=120, env={**os.environ, "PYTHONPATH": str(HERE)})
    _fast_parser_agrees(json.loads(Path(f"{opath}.raw").read_text()), tag)
    return json.loads(opath.read_text())


def _fast_parser_agrees(raw: list[str | None], tag: str) -> None:
    """Every real reply (netemu, BIND, NSD, Unbound) reads the same through netemu's fast parser as through dnslib."""
    for text in raw:
        if text is None:
            continue
        data = bytes.fromhex(text)
        fast = decode.parse(data)
        assert fast is not None, f"{tag}: the fast parser fell back on a real reply {text}"
        assert same(fast, DNSRecord.parse(data)), f"{tag}: the fast parser disagrees with dnslib on {text}"


def _wait_answering(lab: str, node: str, addr: str, port: int, tmp: Path, what: str, log: Path) -> None:
    probe = [Question("ex.com.", "SOA", rd=True)]
    for _ in range(100):
        if _ask_all(lab, node, addr, port, probe, tmp, f"probe{port}")[0]["rcode"] == 0:
            return
        time.sleep(0.1)
    pytest.fail(f"{what} did not start: {log.read_text()[-2000:]}")


def _bind(lab: str, node: str, tmp: Path) -> subprocess.Popen:
    d = tmp / "bind"
    d.mkdir()
    conf = reference.named_conf(lab, node, d, [EX], BIND_PORT, minimal=False)
    return _start(lab, node, ["named", "-g", "-n", "1", "-c", str(conf)], d / "log")


def _nsd(lab: str, node: str, tmp: Path) -> subprocess.Popen:
    d = tmp / "nsd"
    d.mkdir()
    return _start(lab, node, ["nsd", "-d", "-c", str(reference.nsd_conf(lab, node, d, EX, NSD_PORT))], d / "log")


def _check(questions, ours, refs, allowed_file: Path) -> None:
    allowed = load_allowed(allowed_file)
    problems, used = [], set()
    for i, q in enumerate(questions):
        p, u = differences(q, ours[i], {name: r[i] for name, r in refs.items()}, allowed)
        problems += p
        used |= u
    unused = [f"{a.pattern} | {a.field}" for a in allowed if a not in used]
    if os.environ.get("NETEMU_DIFF_OUT"):  # to review every difference when changing the allowed list
        Path(os.environ["NETEMU_DIFF_OUT"]).write_text("\n".join(problems) + "\n")
    assert not problems, f"{len(problems)} unexplained differences:\n" + "\n".join(problems[:40])
    assert not unused, f"allowed differences no longer seen (remove them from {allowed_file.name}): {unused}"


def test_authoritative_matches_bind_or_nsd(lab):
    name, procs, tmp = lab
    needs_tool("named", "nsd")
    procs.append(_bind(name, "ex", tmp))
    procs.append(_nsd(name, "ex", tmp))
    _wait_answering(name, "ex", EX, BIND_PORT, tmp, "BIND", tmp / "bind" / "log")
    _wait_answering(name, "ex", EX, NSD_PORT, tmp, "NSD", tmp / "nsd" / "log")
    zone = json.loads(Path(f"/run/netemu/{name}/dns/ex.json").read_text())["zones"]["ex.com."]
    questions = corpus(zone, "ex.com.")
    assert len(questions) > 400
    ours = _ask_all(name, "ex", EX, 53, questions, tmp, "netemu")
    refs = {"bind": _ask_all(name, "ex", EX, BIND_PORT, questions, tmp, "bind"),
            "nsd": _ask_all(name, "ex", EX, NSD_PORT, questions, tmp, "nsd")}
    _check(questions, ours, refs, HERE / "differential_allowed.txt")


def _unbound(lab: str, tmp: Path) -> subprocess.Popen:
    d = tmp / "unbound"
    d.mkdir()
    conf = reference.unbound_conf(lab, d, "10.54.0.100", "10.54.0.0/24", ("minimal-responses: yes",))
    return _start(lab, "client", ["unbound", "-d", "-c", str(conf)], d / "log")


def resolver_corpus(zones: dict[str, list[str]]) -> list[Question]:
    """Names of every zone (and the extra ones) × the types a client asks, with recursion desired."""
    names = sorted({n for origin, lines in zones.items() if origin != "." for n in names_of(lines, origin)})
    types = ("A", "AAAA", "MX", "TXT", "CNAME", "NS", "SOA", "DS", "SRV", "ANY")
    return [Question(n, t, rd=True) for n in names for t in types] + [Question("www.ex.com.", "A", tcp=True, rd=True)]


def _without_ttl(summary: dict) -> dict:
    out = dict(summary)
    for field in ("answer", "authority", "additional"):
        out[field] = sorted(" ".join(rr.split()[:1] + rr.split()[2:]) for rr in summary.get(field, []))
    return out


def test_resolver_matches_unbound(lab):
    name, procs, tmp = lab
    needs_tool("unbound")
    procs.append(_unbound(name, tmp))
    _wait_answering(name, "client", "10.54.0.100", 53, tmp, "Unbound", tmp / "unbound" / "log")
    zones = {}
    for node in ("root", "tld", "ex", "sub"):
        zones |= json.loads(Path(f"/run/netemu/{name}/dns/{node}.json").read_text())["zones"]
    questions = resolver_corpus(zones)
    ours = [_without_ttl(s) for s in _ask_all(name, "client", "10.54.0.53", 53, questions, tmp, "res")]
    theirs = [_without_ttl(s) for s in _ask_all(name, "client", "10.54.0.100", 53, questions, tmp, "unb")]
    _check(questions, ours, {"unbound": theirs}, HERE / "differential_allowed_resolver.txt")


def test_a_reply_mixing_two_servers_fields_matches_neither():
    """BIND's rcode with NSD's answer is no server's reply: the comparison takes rcode, flags and answer together."""
    q = Question("x.ex.com.", "A")
    base = {"rcode": "NOERROR", "flags": "qr aa", "answer": [], "authority": [], "additional": [], "do": False}
    bind = {**base, "rcode": "NXDOMAIN"}
    nsd = {**base, "answer": ["x.ex.com. 300 A 192.0.2.1"]}
    mixed = {**base, "rcode": "NXDOMAIN", "answer": ["x.ex.com. 300 A 192.0.2.1"]}
    assert differences(q, bind, {"bind": bind, "nsd": nsd}, [])[0] == []
    problems, _ = differences(q, mixed, {"bind": bind, "nsd": nsd}, [])
    assert len(problems) == 1 and "match no single server" in problems[0]
