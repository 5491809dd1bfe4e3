"""The DNS hierarchy in real namespaces, checked with software nobody here wrote: dig, getent, Unbound, BIND 9."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import leftovers, needs_root, needs_tool, renamed, unique_name
from dns_helpers import BIG, stop_dns_server

from netemu.apply import down
from netemu.cli.dns import dns as dns_cli
from netemu.dns import reference
from netemu.lab import Lab
from netemu.parse import topology_from_text

pytestmark = pytest.mark.root

LAB_YAML = (Path(__file__).parent / "lab.yaml").read_text()
ROOT_A, TLD_COM, BOB_DNS, RESOLVER, ALICE = "10.53.0.2", "10.53.0.4", "10.53.0.6", "10.53.0.53", "10.53.0.100"
# Questions whose answers must be the same whoever resolves or serves them.
QUESTIONS = [("www.bob.com", "A"), ("www.bob.com", "AAAA"), ("alias.bob.com", "A"), ("shop.bob.com", "A"),
             ("nope.bob.com", "A"), ("www.bob.com", "MX"), ("bob.com", "MX"), ("bob.com", "TXT"),
             ("mail.bob.com", "A"), ("www.shop.org", "A"), ("nothing.org", "A"), ("bob.com", "NS")]


def _running(prefix: str):
    """A lab that is up for the fixture's lifetime: (name, pids of daemons the test starts by hand)."""
    needs_tool("dig")
    needs_root()
    name = unique_name(prefix)
    text = renamed(LAB_YAML, name).replace('"big TXT \\"BIG\\""', "'big TXT " + BIG + "'")
    Lab.up(topology_from_text(text, f"<{name}>"), text)
    pids: list[int] = []
    yield name, pids
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for pid in pids:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    down(name)
    assert leftovers(name) == [], f"lab {name} left {leftovers(name)}"


@pytest.fixture(scope="module")
def lab():
    """One lab shared by the read-only checks."""
    yield from _running("dnst")


@pytest.fixture
def own_lab():
    """A lab for a test that stops servers."""
    yield from _running("dnsf")


def dig(lab: str, node: str, *args: str) -> str:
    res = subprocess.run(["ip", "netns", "exec", f"{lab}-{node}", "dig", "+tries=1", "+time=4", *args],
                         capture_output=True, text=True, timeout=30)
    return res.stdout + res.stderr


def flags(out: str) -> set[str]:
    m = re.search(r";; flags: ([a-z ]+);", out)
    return set(m.group(1).split()) if m else set()


def status(out: str) -> str:
    m = re.search(r"status: (\w+)", out)
    return m.group(1) if m else "none"


def answers(out: str) -> list[tuple[str, ...]]:
    """Records of the answer and authority sections without TTLs, sorted."""
    rows = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 5 and not line.startswith(";") and parts[2] == "IN":
            rows.append((parts[0].lower(), parts[3], " ".join(parts[4:])))
    return sorted(rows)


def outcome(lab: str, server: str, name: str, qtype: str) -> tuple:
    out = dig(lab, "alice", f"@{server}", name, qtype, "+noall", "+comments", "+answer", "+authority")
    return status(out), answers(out)


def test_referrals_without_recursion_at_root_and_tld(lab):
    name, _ = lab
    out = dig(name, "alice", f"@{ROOT_A}", "+norec", "www.bob.com")
    assert status(out) == "NOERROR" and "aa" not in flags(out) and "ra" not in flags(out)
    assert re.search(r"^com\.\s+\d+\s+IN\s+NS\s+ns1\.com\.$", out, re.MULTILINE)
    assert re.search(r"^ns1\.com\.\s+\d+\s+IN\s+A\s+10\.53\.0\.4$", out, re.MULTILINE)  # glue
    out = dig(name, "alice", f"@{TLD_COM}", "+norec", "www.bob.com")
    assert "aa" not in flags(out) and "ANSWER: 0" in out and "ns2.bob.com." in out
    out = dig(name, "alice", f"@{BOB_DNS}", "+norec", "www.bob.com")
    assert "aa" in flags(out) and re.search(r"^www\.bob\.com\.\s+300\s+IN\s+A\s+203\.0\.113\.10$", out, re.MULTILINE)


def test_tcp_keepopen_noedns_and_badvers(lab):
    name, _ = lab
    out = dig(name, "alice", f"@{BOB_DNS}", "+norec", "+tcp", "www.bob.com")
    assert "(TCP)" in out and "203.0.113.10" in out
    out = dig(name, "alice", f"@{BOB_DNS}", "+norec", "+tcp", "+keepopen", "www.bob.com", "alias.bob.com",
              "nope.bob.com", "bob.com", "MX")
    assert [m for m in re.findall(r"status: (\w+)", out)] == ["NOERROR", "NOERROR", "NXDOMAIN", "NOERROR"]
    out = dig(name, "alice", f"@{BOB_DNS}", "+norec", "+noedns", "www.bob.com")
    assert "OPT PSEUDOSECTION" not in out and "203.0.113.10" in out
    out = dig(name, "alice", f"@{BOB_DNS}", "+norec", "+edns=1", "+noednsneg", "www.bob.com")
    assert status(out) == "BADVERS" and "EDNS: version: 0" in out


def test_big_answer_truncated_over_udp_and_complete_over_tcp(lab):
    name, _ = lab
    out = dig(name, "alice", f"@{BOB_DNS}", "+norec", "+ignore", "big.bob.com", "TXT")
    assert "tc" in flags(out) and "ANSWER: 0" in out and "QUERY: 1" in out and "OPT PSEUDOSECTION" in out
    out = dig(name, "alice", f"@{BOB_DNS}", "+norec", "big.bob.com", "TXT")
    assert "Truncated, retrying in TCP mode" in out and "ANSWER: 1" in out
    out = dig(name, "alice", "big.bob.com", "TXT")  # through the resolver: it fetched it over TCP itself
    assert "ANSWER: 1" in out and "ra" in flags(out)


def test_resolver_answers_negative_and_cname_across_zones(lab):
    name, _ = lab
    out = dig(name, "alice", "nope.bob.com")
    assert status(out) == "NXDOMAIN" and re.search(r"^bob\.com\.\s+\d+\s+IN\s+SOA", out, re.MULTILINE)
    assert {"ra", "rd"} <= flags(out) and "aa" not in flags(out)
    out = dig(name, "alice", "www.bob.com", "MX")
    assert status(out) == "NOERROR" and "ANSWER: 0" in out and "SOA" in out
    out = dig(name, "alice", "shop.bob.com")
    assert "CNAME\twww.shop.org." in out and "198.51.100.80" in out


def test_dig_trace_and_getent_from_a_host(lab):
    name, _ = lab
    out = dig(name, "alice", "+trace", "www.bob.com")
    assert "a.root-servers.net." in out and "ns1.com." in out
    assert re.search(r"^www\.bob\.com\.\s+300\s+IN\s+A\s+203\.0\.113\.10", out, re.MULTILINE)
    res = subprocess.run(["ip", "netns", "exec", f"{name}-alice", "getent", "ahostsv4", "www.bob.com"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0 and "203.0.113.10" in res.stdout


def test_trace_command_shows_each_server_and_cache_hits(lab):
    name, _ = lab
    runner = CliRunner()
    res = runner.invoke(dns_cli, ["trace", name, "alice", "shop.bob.com", "--fresh"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert "shop.bob.com. A via alice's resolver isp-dns, starting from empty cache (--fresh)" == lines[0]
    assert re.search(r"^  1 .* root-\w 10\.53\.0\.\d \[\.\] .* referral to com\.", lines[2])
    # QNAME minimisation: the root is asked for "com." only, the TLD for "bob.com." only (0x20 mixes the case)
    assert re.search(r"^  1\s+com\. A ", lines[2], re.IGNORECASE)
    assert any(re.search(r"^  2\s+bob\.com\. A ", line, re.IGNORECASE) for line in lines)
    assert any(s != s.lower() for s in re.findall(r"^  \d\s+(\S+)", res.output, re.MULTILINE))  # 0x20 case
    assert any(re.search(r"tld-org 10\.53\.0\.5 \[org\.\] .* referral to shop\.org\.", line) for line in lines)
    assert lines[-2:] == ["  shop.bob.com. 300 CNAME www.shop.org.", "  www.shop.org. 60 A 198.51.100.80"]
    res = runner.invoke(dns_cli, ["trace", name, "alice", "shop.bob.com"])
    assert "0 upstream queries, 2 cache hits" in res.output
    res = runner.invoke(dns_cli, ["trace", name, "root-a", "x.com"])
    assert res.exit_code != 0 and "uses no netemu resolver" in str(res.exception)


def test_unbound_through_netemu_servers_gives_identical_answers(lab, tmp_path):
    name, pids = lab
    needs_tool("unbound")
    conf = reference.unbound_conf(name, tmp_path, ALICE, "10.53.0.0/24", ("qname-minimisation-strict: yes",))
    argv = ["ip", "netns", "exec", f"{name}-alice", "unbound", "-d", "-c", str(conf)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pids.append(proc.pid)
    for _ in range(50):
        if "NOERROR" in dig(name, "alice", f"@{ALICE}", "+time=1", "bob.com", "SOA"):
            break
        time.sleep(0.1)
    for qname, qtype in QUESTIONS:
        ours, theirs = outcome(name, RESOLVER, qname, qtype), outcome(name, ALICE, qname, qtype)
        assert ours == theirs, f"{qname} {qtype}: netemu {ours} != unbound {theirs}"
        assert ours[0] in ("NOERROR", "NXDOMAIN")


def _named_config(name: str, node: str, tmp: Path) -> Path:
    cfg = json.loads(Path(f"/run/netemu/{name}/dns/{node}.json").read_text())
    d = tmp / node
    d.mkdir()
    return reference.named_conf(name, node, d, [a for a in cfg["listen"] if ":" not in a])


def test_netemu_resolver_through_bind_servers_gives_identical_answers(own_lab, tmp_path):
    name, pids = own_lab
    needs_tool("named")
    before = {q: outcome(name, RESOLVER, *q) for q in QUESTIONS}
    index = json.loads(Path(f"/run/netemu/{name}/dns/index.json").read_text())
    nodes = sorted({n for servers in index["zones"].values() for n in servers})
    for node in nodes:
        conf = _named_config(name, node, tmp_path)
        stop_dns_server(name, node)
        proc = subprocess.Popen(["ip", "netns", "exec", f"{name}-{node}", "named", "-g", "-n", "1", "-c", str(conf)],
                                stdout=open(tmp_path / f"{node}.log", "w"), stderr=subprocess.STDOUT)
        pids.append(proc.pid)
    for _ in range(100):
        if all("running" in (tmp_path / f"{n}.log").read_text() for n in nodes):
            break
        time.sleep(0.1)
    out = dig(name, "alice", f"@{ROOT_A}", "+norec", "www.bob.com")
    assert "ns1.com." in out and "aa" not in flags(out)
    assert CliRunner().invoke(dns_cli, ["flush", name, "alice"]).exit_code == 0
    for q in QUESTIONS:
        after = outcome(name, RESOLVER, *q)
        assert after == before[q], f"{q}: via BIND {after} != via netemu {before[q]}"


def test_failover_and_lame_delegation(own_lab):
    name, _ = own_lab
    stop_dns_server(name, "root-a")
    stop_dns_server(name, "bob-dns")
    start = time.monotonic()
    out = dig(name, "alice", "www.bob.com")
    assert status(out) == "NOERROR" and "203.0.113.10" in out and time.monotonic() - start < 2
    res = CliRunner().invoke(dns_cli, ["trace", name, "alice", "alias.bob.com", "--fresh"])
    assert "bob-dns2 10.53.0.7 [bob.com.]" in res.output and "NOERROR" in res.output
    start = time.monotonic()
    out = dig(name, "alice", "www.lame.com")  # delegated to 10.53.0.99, where nobody is
    assert status(out) == "SERVFAIL" and time.monotonic() - start < 3
