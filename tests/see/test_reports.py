"""The scenario reports as a reader gets them (root): pictures of the results and of the path, the
machine facts behind the numbers, and the packet captures with what to look for in them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from markupsafe import escape
from conftest import leftovers, needs_root, needs_tool, unique_name

from netemu.scenarios import RunOptions, load, run

pytestmark = pytest.mark.root


@pytest.fixture(autouse=True)
def _root():
    needs_root()
    needs_tool("tracepath", "tcpdump", "iptables-restore", "ip6tables-restore", "ping", "dot")


def _report(name: str, tmp_path: Path) -> tuple[Path, dict, str]:
    lab = unique_name("see-r")
    result = run(load(name), RunOptions(quick=True, lab_name=lab, report_dir=str(tmp_path / lab)))
    assert leftovers(lab) == []
    assert result.passed, [f"{c.name}: {c.reason}" for c in result.checks if not c.passed]
    d = Path(result.report_dir)
    data = json.loads((d / "results.json").read_text())
    html = (d / "report.html").read_text()
    for picture in data["pictures"]:  # every picture is in the page and is well-formed SVG
        assert f'<img src="{picture}"' in html
        ET.fromstring((d / picture).read_bytes())
    assert "path.svg" in data["pictures"]
    machine = data["machine"]
    assert machine["kernel"] == os.uname().release and f"<td>{os.uname().release}</td>" in html
    assert set(machine["congestion_control"]) == set(data["nodes"].values())
    assert all(re.fullmatch(r"[a-z0-9_]+", cc) for cc in machine["congestion_control"].values())
    if machine["hz"]:
        assert f"{machine['hz']} (one tick = " in html
    for f in data["files"]:  # every capture exists, is linked, and says what to look for
        assert (d / f["filename"]).stat().st_size > 24  # more than a pcap file header
        assert f'<a href="{f["filename"]}">' in html and str(escape(f["look_for"])) in html
    return d, data, html


def _packets(pcap: Path) -> list[str]:
    return subprocess.run(["tcpdump", "-n", "-r", str(pcap)], capture_output=True, text=True).stdout.splitlines()


def test_pmtud_report(tmp_path):
    d, data, html = _report("pmtud", tmp_path)
    assert {"baseline_v4.pcap", "blackhole_v4.pcap"} <= {f["filename"] for f in data["files"]}
    assert any("need to frag (mtu 1400)" in p for p in _packets(d / "baseline_v4.pcap"))
    blackhole = _packets(d / "blackhole_v4.pcap")
    assert blackhole and not any("ICMP" in p for p in blackhole)  # the transfer's segments, and no error
    assert data["cases"]["baseline"]["pcap_too_big"] >= 1 and data["cases"]["blackhole"]["pcap_too_big"] == 0
    svg = (d / "timeline_v4.svg").read_text()
    assert "black hole: nothing acknowledged in" in svg and "time since connect" in svg
    assert "The machine behind the numbers" in html


def test_nagle_report(tmp_path):
    d, data, _ = _report("nagle", tmp_path)
    default = data["cases"]["default"]
    assert default["delayed_acks"] >= 1 and 40 <= default["delayed_ack_median_ms"] < 100
    assert any("length 0" in p for p in _packets(d / "default.pcap"))
    assert "latency, ms (log scale)" in (d / "latency_cdf.svg").read_text()


def test_tfo_report(tmp_path):
    d, data, _ = _report("tfo", tmp_path)
    packets = _packets(d / "tfo.pcap")
    assert any("cookiereq" in p for p in packets)
    assert any("Flags [S]," in p and "tfo  cookie" in p and not p.endswith("length 0") for p in packets)
    assert not data["machine"]["link_emulation"].startswith("none")  # tfo.yaml delays its link
    assert "time to first byte, ms" in (d / "ttfb.svg").read_text()
