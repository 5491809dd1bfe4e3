"""`netemu dns trace|flush` on bad input, without root, and on labs that cannot answer: one sentence, right exit code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, TOPOLOGIES, is_root, netemu, unique_name
from dns_helpers import stop_dns_server

from netemu.dns.trace import check_name, check_qtype
from netemu.errors import UsageError

LAB_YAML = (Path(__file__).parent / "lab.yaml").read_text()
TYPES_HINT = "(e.g. A, AAAA, MX, TXT, NS, CNAME, SOA)"


def one_error(res: subprocess.CompletedProcess) -> str:
    """The single error sentence a failed command printed (and nothing else)."""
    assert "Traceback" not in res.stderr, res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert res.stdout == ""
    return lines[0]


# --- input checked before anything else: no root, no lab, no network needed ---------------------------------

@pytest.mark.parametrize("qtype", ["BOGUS", "A6X", "TYPE", "MX2", "1.5", "TYPE-1", "²"])
def test_unknown_record_type_is_exit_2_with_examples(qtype):
    res = netemu("dns", "trace", unique_name("nolab"), "alice", "www.bob.com", qtype)
    assert res.returncode == 2
    assert one_error(res) == f"error: unknown record type {qtype!r} {TYPES_HINT}"


@pytest.mark.parametrize("qtype", ["99999", "TYPE999", "53"])  # 53: dnslib's table maps it back to 55
def test_numeric_type_netemu_cannot_ask_is_exit_2(qtype):
    res = netemu("dns", "trace", unique_name("nolab"), "alice", "www.bob.com", qtype)
    assert res.returncode == 2
    assert one_error(res) == f"error: record type {qtype!r} is not one netemu's resolver knows {TYPES_HINT}"


@pytest.mark.parametrize("qtype", ["OPT", "axfr", "IXFR", "TSIG", "41"])
def test_types_that_are_not_questions_are_refused(qtype):
    res = netemu("dns", "trace", unique_name("nolab"), "alice", "www.bob.com", qtype)
    assert res.returncode == 2
    assert "cannot be asked of a resolver" in one_error(res)


@pytest.mark.parametrize(("given", "mnemonic"), [("A", "A"), ("mx", "MX"), ("15", "MX"), ("TYPE28", "AAAA"),
                                                 ("type16", "TXT"), ("ANY", "ANY"), ("65", "HTTPS")])
def test_record_types_by_name_or_number(given, mnemonic):
    assert check_qtype(given) == mnemonic


LONG_LABEL = "a" * 64
LONG_NAME = ".".join(["a" * 63] * 4)  # 4 * 64 + 1 = 257 bytes on the wire


@pytest.mark.parametrize(("name", "why"), [
    ("bad..name", "empty label"),
    (".bob.com", "empty label"),
    ("www.bob.com..", "empty label"),
    ("..", "empty label"),
    ("", "it is empty (the root is '.')"),
    (f"{LONG_LABEL}.com", f"label {LONG_LABEL[:16]!r}… is longer than 63 bytes"),
])
def test_malformed_name_is_exit_2_before_any_lookup(name, why):
    res = netemu("dns", "trace", unique_name("nolab"), "alice", name)
    assert res.returncode == 2
    assert one_error(res) == f"error: invalid domain name {name!r}: {why}"


def test_name_longer_than_255_bytes_is_refused():
    res = netemu("dns", "trace", unique_name("nolab"), "alice", LONG_NAME)
    assert res.returncode == 2
    assert "257 bytes long, more than DNS allows (255)" in one_error(res)


@pytest.mark.parametrize(("name", "absolute"), [("www.bob.com", "www.bob.com."), ("www.bob.com.", "www.bob.com."),
                                                (".", "."), ("_dmarc.bob.com", "_dmarc.bob.com."),
                                                ("bücher.de", "bücher.de."), (".".join(["a" * 63] * 3 + ["a" * 61]),
                                                                              ".".join(["a" * 63] * 3 + ["a" * 61]) + ".")])
def test_valid_names(name, absolute):
    assert check_name(name) == absolute


def test_bad_name_in_library_call_is_a_usage_error():
    with pytest.raises(UsageError, match="empty label"):
        check_name("a..b")


# --- without root: the standard sentence, the same exit code as every other command --------------------------

def as_nobody(*args: str) -> subprocess.CompletedProcess:
    """Run netemu as user nobody (needs root to switch, and setpriv)."""
    if not is_root():
        pytest.skip("needs root to switch to user nobody (as non-root, run the commands directly)")
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv (util-linux)")
    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m",
                           "netemu", *args], check=False, capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


@pytest.mark.parametrize("args", [("dns", "flush", "x", "y"), ("dns", "trace", "x", "y", "www.bob.com"),
                                  ("dns", "trace", "x", "y", "www.bob.com", "MX", "--fresh")])
def test_without_root_says_needs_root_like_exec(args):
    reference = as_nobody("exec", "x", "y", "--", "true")
    res = as_nobody(*args)
    assert res.returncode == reference.returncode != 0
    command = " ".join(args[:2])
    assert one_error(res).startswith(f"error: 'netemu {command}' needs root to ")
    assert one_error(reference).split(" needs root ")[1] == one_error(res).split(" needs root ")[1]


def test_without_root_bad_input_is_still_exit_2():
    res = as_nobody("dns", "trace", "x", "y", "bad..name")
    assert res.returncode == 2 and one_error(res) == "error: invalid domain name 'bad..name': empty label"
    res = as_nobody("dns", "trace", "x", "y", "www.bob.com", "BOGUS")
    assert res.returncode == 2 and one_error(res) == f"error: unknown record type 'BOGUS' {TYPES_HINT}"


# --- with root: labs and nodes that are not there, or cannot answer ---------------------------------------------

@pytest.mark.root
@pytest.mark.parametrize("args", [("flush",), ("trace", "www.bob.com")])
def test_lab_not_up_is_reported_as_exec_reports_it(args):
    if not is_root():
        pytest.skip("needs root: without it the root check comes first")
    lab = unique_name("nolab")
    reference = netemu("exec", lab, "alice", "--", "true")
    res = netemu("dns", args[0], lab, "alice", *args[1:])
    assert res.returncode == reference.returncode != 0
    assert one_error(res) == one_error(reference)
    assert f"no lab named {lab!r} is up" in res.stderr


@pytest.mark.root
def test_dns_lab_errors_and_numeric_type(lab_text):
    name = lab_text(LAB_YAML, prefix="dnse")
    # a node the lab does not have: exactly what `netemu exec` says, with its exit code
    reference = netemu("exec", name, "nobody", "--", "true")
    for args in (("trace", name, "nobody", "x.com"), ("flush", name, "nobody")):
        res = netemu("dns", *args)
        assert res.returncode == reference.returncode != 0
        assert one_error(res) == one_error(reference)
    # a node that exists but uses no resolver
    for args in (("trace", name, "root-a", "x.com"), ("flush", name, "lan")):
        res = netemu("dns", *args)
        assert res.returncode == 2
        assert "uses no netemu resolver" in one_error(res) and "nodes with one: alice, isp-dns" in res.stderr
    # a type given by number is asked as its name
    res = netemu("dns", "trace", name, "alice", "bob.com", "15", "--fresh")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0].startswith("bob.com. MX via alice's resolver isp-dns")
    assert "bob.com. 300 MX 10 mail.bob.com." in res.stdout
    # the resolver stopped: a runtime failure (1), naming the resolver
    stop_dns_server(name, "isp-dns")
    for args in (("trace", name, "alice", "www.bob.com"), ("flush", name, "alice")):
        res = netemu("dns", *args)
        assert res.returncode == 1
        assert one_error(res).startswith("error: resolver isp-dns is not running (no control socket ")


@pytest.mark.root
def test_lab_without_dns_is_one_sentence(lab_text):
    name = lab_text((TOPOLOGIES / "minimal.yaml").read_text(), prefix="dnsn")  # hosts a and b, no 'dns:'
    for args in (("trace", name, "a", "www.bob.com"), ("flush", name, "b")):
        res = netemu("dns", *args)
        assert res.returncode == 2
        assert one_error(res) == f"error: lab {name!r} has no DNS (its topology has no 'dns:' section)"
