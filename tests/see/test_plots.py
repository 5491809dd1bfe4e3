"""The report charts (matplotlib): well-formed SVG, labelled axes with units, the failing case marked,
and matplotlib kept off the start-up path (no root)."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

from netemu.scenarios import plots


def _texts(svg: str) -> str:
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    return " ".join("".join(t.itertext()) for t in root.iter() if t.tag.endswith("text"))


def test_transfers_mark_the_black_hole_and_label_units():
    cases = [plots.Transfer("baseline", [(0.001, 0.0), (0.004, 0.5), (0.008, 1.05)], True, 0.008),
             plots.Transfer("black hole", [(0.001, 0.0), (1.5, 0.0)], False, 3.0, alarm=True),
             plots.Transfer("PLPMTUD", [(0.0, 0.0), (6.5, 0.0), (6.51, 1.05)], True, 6.51),
             plots.Transfer("stalled", [(0.0, 0.0), (0.5, 0.3)], False, 2.0)]
    text = _texts(plots.transfers("IPv4: a 1.0 MB transfer", cases, 1.05))
    assert "baseline: completed in 8 ms" in text and "PLPMTUD: completed in 6.51 s" in text
    assert "black hole: nothing acknowledged in 3.00 s" in text and "nothing acknowledged" in text
    assert "stalled: stalled at 0.30 MB after 2.00 s" in text
    # each panel has its own time unit: milliseconds for a fast transfer, seconds for a slow one
    assert "time since connect, ms" in text and "time since connect, s" in text and "MB acknowledged" in text


def test_transfer_of_the_black_hole_is_drawn_on_top():
    cases = [plots.Transfer("black hole", [(0.0, 0.0)], False, 3.0, alarm=True)]
    svg = plots.transfers("t", cases, 1.0)
    assert plots.ALARM.lower() in svg.lower()  # red, with the "X" marker for nothing acknowledged


def test_cdfs_are_small_multiples_with_medians():
    samples = {"default": [44.0, 44.1, 48.0], "nodelay": [0.05, 0.06, 0.1], "empty": []}
    text = _texts(plots.cdfs("latency", samples, "ms", mark=(40.0, "the 40 ms delayed-ACK minimum")))
    assert "default median 44.1 ms" in text and "nodelay median 0.06 ms" in text and "empty" not in text
    assert "latency, ms (log scale)" in text and "% of requests ≤ x" in text
    assert "dashed line: the 40 ms delayed-ACK minimum" in text


def test_bars_write_values_and_reference_lines():
    text = _texts(plots.bars("p50", [("default", 44.0), ("nodelay", 0.06), ("broken", None)], "ms", log=True,
                             marks=[(40.0, "40 ms delayed-ACK minimum")]))
    assert "44 ms" in text and "0.06 ms" in text and "n/a" in text and "ms (log scale)" in text
    assert "40 ms delayed-ACK minimum" in text


def test_per_connection_marks_the_first_and_the_round_trips():
    text = _texts(plots.per_connection("TTFB", {"no Fast Open": [41.0, 40.5, 40.7], "Fast Open": [41.0, 20.3]},
                                       "ms", refs=[(20.2, "1 RTT"), (40.4, "2 RTT")]))
    assert "no Fast Open" in text and "Fast Open" in text and "1st" in text
    assert "1 RTT" in text and "2 RTT" in text and "time to first byte, ms" in text and "connection number" in text


def test_matplotlib_is_not_imported_by_the_cli_or_the_scenarios_package():
    code = ("import sys, netemu.cli, netemu.cli.core, netemu.cli.run, netemu.scenarios, netemu.scenarios.runner\n"
            "import netemu.scenarios.builtin.pmtud, netemu.scenarios.builtin.nagle, netemu.scenarios.builtin.tfo\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
