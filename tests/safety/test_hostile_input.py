"""Hostile and broken topology files: each is refused with exit 2 and a bounded message naming the
file and line, quickly, without root (the corpus lives in tests/safety/corpus/)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, netemu

CORPUS = Path(__file__).parent / "corpus"
TIME_BOUND = 20.0  # seconds for one `validate` of a hostile file (the alias bomb took 38 s and 3 GB)


def _expected() -> list[tuple[str, int, str]]:
    rows = []
    for line in (CORPUS / "expected.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, number, pattern = (x.strip() for x in line.split("|", 2))
            rows.append((name, int(number), pattern))
    return rows


def _validate(path: str | Path) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    res = netemu("validate", str(path), timeout=60)
    return res, time.monotonic() - started


@pytest.mark.parametrize("name,line,pattern", _expected(), ids=[r[0] for r in _expected()])
def test_corpus_file_is_refused_with_file_line_and_reason(name, line, pattern):
    path = CORPUS / name
    res, seconds = _validate(path)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    assert re.search(rf"{re.escape(str(path))}:{line}: .*{pattern}", res.stderr), res.stderr
    assert seconds < TIME_BOUND


def test_every_corpus_file_has_an_expectation():
    listed = {r[0] for r in _expected()}
    assert listed == {p.name for p in CORPUS.glob("*.yaml")}


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_devices_are_refused_before_reading(device):
    res, seconds = _validate(device)
    assert res.returncode == 2
    assert f"{device}: is a character device; netemu reads topologies only from regular files" in res.stderr
    assert seconds < TIME_BOUND


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "topo.yaml"
    os.mkfifo(fifo)
    res, seconds = _validate(fifo)  # nobody ever writes: a blocking open would hang until the timeout
    assert res.returncode == 2
    assert "is a FIFO (named pipe)" in res.stderr
    assert seconds < TIME_BOUND


def test_file_over_16_mib_is_refused(tmp_path):
    big = tmp_path / "big.yaml"
    with open(big, "w") as f:
        f.write("name: safety-big\n# " + "x" * (16 * 1024 * 1024) + "\n")
    res, _ = _validate(big)
    assert res.returncode == 2
    assert "a topology may be at most 16 MiB" in res.stderr


def test_huge_value_is_not_echoed_whole(tmp_path):
    p = tmp_path / "huge.yaml"
    p.write_text("name: safety-x\nnodes:\n  h1: {kind: " + "k" * 5_000_000 + "}\n  h2: {}\nlinks: []\n")
    res, _ = _validate(p)
    assert res.returncode == 2
    assert re.search(r":3: nodes\.h1\.kind: unknown kind 'k+… \(\d+ more characters\)", res.stderr), res.stderr[:500]
    assert len(res.stderr) < 5_000


def test_hint_listing_every_node_is_cut(tmp_path):
    n = 20_000
    nodes = "".join(f"  n{i}: {{}}\n" for i in range(n))
    p = tmp_path / "many.yaml"
    p.write_text(f"name: safety-x\nnodes:\n{nodes}links:\n  - endpoints: [nosuch, n1]\n")
    res, _ = _validate(p)
    assert res.returncode == 2
    assert "unknown node 'nosuch'" in res.stderr
    assert "more characters)" in res.stderr
    assert len(res.stderr) < 5_000


def test_thousands_of_problems_are_counted_not_all_listed(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("name: safety-x\nnodes:\n" + "".join(f"  n{i}: {{kind: nope}}\n" for i in range(2000)) + "links: []\n")
    res, _ = _validate(p)
    assert res.returncode == 2
    assert "… and 1900 more problem(s)" in res.stderr
    assert res.stderr.count("unknown kind") == 100


def test_ctrl_c_while_importing_stops_with_one_line():
    """SIGINT during the slow imports (click, PyYAML, netemu's modules): exit 130 and one line, never a
    traceback and never ignored. `-X importtime` reports each finished import on stderr, so the signal
    is sent right after netemu's entry point is loaded, while the rest is still being imported."""
    p = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "netemu", "validate",
                          str(ROOT / "topologies" / "minimal.yaml")],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in p.stderr:
        seen.append(line)
        if line.rstrip().endswith("netemu.entry"):
            p.send_signal(signal.SIGINT)
            break
    out, err = p.communicate(timeout=30)
    assert any(x.rstrip().endswith("netemu.entry") for x in seen), "netemu.entry never imported"
    messages = [x for x in err.splitlines() if not x.startswith("import time:")]
    assert p.returncode == 130, (p.returncode, out, messages)
    assert messages == ["interrupted (nothing was done)"]
    assert "valid" not in out
