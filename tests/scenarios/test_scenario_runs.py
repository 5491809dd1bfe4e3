"""The built-in scenarios on real namespaces (root): checks pass, JSON plausible, nothing left behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, TOPOLOGIES, host_snapshot, leftovers, needs_root, needs_tool, shipped, unique_name

from netemu.cli.run import run as run_cmd
from netemu.scenarios import RequirementError, RunOptions, load, run

pytestmark = pytest.mark.root


@pytest.fixture(autouse=True)
def _root():
    needs_root()
    needs_tool("tracepath", "tcpdump", "iptables-restore", "ip6tables-restore", "ping")


def run_quick(name: str, tmp_path: Path, **kw):
    lab = kw.pop("lab_name", None) or unique_name("sc")
    before = host_snapshot()
    result = run(load(name), RunOptions(quick=True, lab_name=lab, report_dir=str(tmp_path / lab), **kw))
    assert leftovers(lab) == []
    assert host_snapshot() == before
    failed = [f"{c.name}: {c.reason}" for c in result.checks if not c.passed]
    assert result.passed, f"{name} failed: {failed} {result.error or ''}"
    d = Path(result.report_dir)
    assert {"results.json", "report.html", "report.md"} <= {p.name for p in d.iterdir()}
    assert any(p.suffix == ".svg" for p in d.iterdir())
    return result, json.loads((d / "results.json").read_text())


def test_pmtud(tmp_path):
    _, data = run_quick("pmtud", tmp_path)
    r, cases = data["results"], data["cases"]
    assert r["path_mtu"] == r["expected_path_mtu"] == 1400
    assert r["path_mtu_v6"] == r["expected_path_mtu_v6"] == 1400
    assert r["tracepath_pmtu"] == 1400 and r["router"] == "r1"
    for sfx in ("", "_v6"):
        for case in ("baseline", "blackhole", "plpmtud", "clamp"):
            c = cases[case + sfx]
            assert {"completed", "seconds", "bytes", "final_mss"} <= set(c)
        assert cases["baseline" + sfx]["completed"] and cases["clamp" + sfx]["completed"]
        assert not cases["blackhole" + sfx]["completed"] and cases["blackhole" + sfx]["bytes"] == 0
        assert cases["plpmtud" + sfx]["completed"] and 1 < cases["plpmtud" + sfx]["recovery_seconds"] < 20
        assert cases["clamp" + sfx]["final_mss"] <= 1400 - (40 if sfx == "" else 60) - 12


def test_nagle(tmp_path):
    _, data = run_quick("nagle", tmp_path)
    cases = data["cases"]
    assert cases["default"]["p50_ms"] > 30 and cases["quickack-once"]["p50_ms"] > 30
    assert cases["nodelay"]["p50_ms"] < 5 and cases["nodelay"]["requests"] == 50
    for variant in ("quickack-every", "cork", "single-write", "route-quickack"):
        assert cases[variant]["p50_ms"] < 5 and cases[variant]["p99_ms"] is not None
    assert 40 <= data["results"]["stall_ms"] < 60
    sweep = [c for name, c in cases.items() if name.startswith("rtt-")]  # link emulation present here
    assert [c["added_rtt_ms"] for c in sweep] == [10, 40]
    for c in sweep:
        assert c["added_rtt_ms"] + 30 < c["stall_ms"] < c["added_rtt_ms"] + 60


def test_tfo_twice_in_a_row_under_one_name(tmp_path):
    lab = unique_name("sc")
    for _ in range(2):
        _, data = run_quick("tfo", tmp_path, lab_name=lab)
        r = data["results"]
        assert r["cookie_requested"] is True and r["syn_data_accepted"] > 0
        # the shipped link is delayed 10 ms each way: one handshake RTT (~20 ms) saved
        assert r["saving_measurable"] is True and r["added_rtt_ms"] == 20
        assert 18 < r["rtt_ms"] < 30 and 36 < r["ttfb_ms_without"] < 60 and 18 < r["ttfb_ms_with"] < 30
        assert 0.5 * r["rtt_ms"] < r["saving_ms"] < 1.5 * r["rtt_ms"]


def test_tfo_without_delay_checks_the_mechanism_only(tmp_path):
    _result, data = run_quick("tfo", tmp_path, topology=str(TOPOLOGIES / "nagle.yaml"))
    r = data["results"]
    assert r["saving_measurable"] is False and r["syn_data_accepted"] > 0 and r["ttfb_ms_with"] > 0
    assert any("No added delay: saving not measurable" in n for n in data["notes"])


def test_tfo_through_home_nat_and_cgnat_as_in_the_help(tmp_path):
    """`netemu run tfo --lab internet --client alice --server root`: alice's SYNs leave through two NATs."""
    _result, data = run_quick("tfo", tmp_path, topology=str(TOPOLOGIES / "internet.yaml"),
                              nodes={"client": "alice", "server": "root"})
    r = data["results"]
    assert r["path"].startswith("alice -eth0/1500-> home -eth1/1500-> isp ") and "isp snat 100.64.1.2" in r["path"]
    assert r["cookie_requested"] is True and r["syn_data_accepted"] > 0
    assert any(n.startswith("Measured through NAT") and "root sees alice as 203.0.113.16/29" in n for n in data["notes"])


def test_requirements_fail_before_anything_is_touched(tmp_path):
    lab = unique_name("sc")
    with pytest.raises(RequirementError, match="nothing for path MTU discovery to find"):
        run(load("pmtud"), RunOptions(topology=str(TOPOLOGIES / "nagle.yaml"), lab_name=lab,
                                      nodes={"client": "client", "server": "server"}, report_dir=str(tmp_path)))
    assert leftovers(lab) == [] and not any(tmp_path.iterdir())


def test_on_a_running_lab_with_chosen_nodes(tmp_path):
    from netemu.lab import Lab
    from netemu.parse import topology_from_text

    name = unique_name("sc")
    text = shipped("pmtud.yaml", name)
    Lab.up(topology_from_text(text, f"<{name}>"), text)
    try:
        result = run(load("tfo"), RunOptions(lab=name, quick=True, nodes={"client": "sender", "server": "receiver"},
                                             report_dir=str(tmp_path / "r")))
        assert result.passed, [c for c in result.checks if not c.passed]
        assert result.fields["path"] == "sender -eth0/1500-> r1 -eth1/1400-> r2 -eth1/1500-> receiver"
        lab = Lab.attach(name)  # still up, every sysctl back to its value
        assert lab.node("sender").sysctl("net.ipv4.tcp_fastopen") == "1"
        assert lab.node("receiver").sysctl("net.ipv4.tcp_fastopen") == "1"
    finally:
        Lab.attach(name).down()
    assert leftovers(name) == []


def test_user_example_scenario(tmp_path):
    _result, data = run_quick(str(ROOT / "examples" / "my_scenario.py"), tmp_path)
    assert data["cases"]["echo"]["requests"] == 5


def test_cli_json_and_exit_status(tmp_path):
    lab = unique_name("sc")
    r = CliRunner().invoke(run_cmd, ["tfo", "--quick", "--json", "--lab-name", lab, "--report-dir", str(tmp_path / "a")])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["passed"] and data["results"]["syn_data_accepted"] > 0
    failing = tmp_path / "failing.py"
    failing.write_text(
        "from netemu.scenarios import Scenario\n"
        "class Fails(Scenario):\n"
        "    name = 'fails'\n"
        "    topology = 'nagle.yaml'\n"
        "    roles = {'client': 'client'}\n"
        "    def run(self, ctx):\n"
        "        ctx.check('always fails', False, 'on purpose')\n")
    lab2 = unique_name("sc")
    r = CliRunner().invoke(run_cmd, [str(failing), "--lab-name", lab2, "--report-dir", str(tmp_path / "b")])
    assert r.exit_code == 1 and "FAIL  always fails: on purpose" in r.stdout
    assert leftovers(lab) == [] and leftovers(lab2) == []


def test_sigterm_mid_run_restores_and_tears_down(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    lab = unique_name("sc")
    before = host_snapshot()
    proc = subprocess.Popen([sys.executable, "-c", "from netemu.cli.run import run; run()", "pmtud", "--quick",
                             "--lab-name", lab, "--report-dir", str(tmp_path / "r")], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not leftovers(lab):
            time.sleep(0.1)
        time.sleep(2.5)  # somewhere in the cases, with rules and sysctls in place
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130 and "interrupted" in err
    assert leftovers(lab) == []
    assert host_snapshot() == before


def test_tfo_sees_delay_set_at_run_time(tmp_path):
    """Delay added with `netemu link … set` after `up` is what the scenario measures against, not the YAML's."""
    from netemu.lab import Lab
    from netemu.linkemu import runtime
    from netemu.parse import topology_from_text

    name = unique_name("sc")
    text = shipped("nagle.yaml", name)  # no delay written in the file
    Lab.up(topology_from_text(text, f"<{name}>"), text)
    try:
        runtime.set_impairment(name, "client:eth0", {"delay_us": 10_000}, "both")
        result = run(load("tfo"), RunOptions(lab=name, quick=True, report_dir=str(tmp_path / "r")))
        assert result.passed, [c for c in result.checks if not c.passed]
        data = json.loads((Path(result.report_dir) / "results.json").read_text())
        assert data["results"]["added_rtt_ms"] == 20
        assert data["results"]["saving_measurable"] is True
        assert not any("No added delay" in n for n in data["notes"])
        assert any(c["name"] == "saving ≈ one RTT" and c["passed"] for c in data["checks"])
    finally:
        Lab.attach(name).down()
    assert leftovers(name) == []


def test_congestion_control_on_a_long_lossy_path(tmp_path):
    needs_tool("iperf3")
    _result, data = run_quick("congestion", tmp_path)
    cases, r = data["cases"], data["results"]
    assert [cases[a]["algorithm"] for a in ("reno", "cubic", "bbr")] == ["reno", "cubic", "bbr"]
    assert r["loss_pct"] == 1.0 and r["added_rtt_ms"] == 100
    # the physics: Reno near the Mathis figure at the loss its segments met (~1.4 Mbit/s at the configured 1 %),
    # BBR near the 9.56 Mbit/s of payload the rate allows
    reno = cases["reno"]
    assert reno["retransmits"] > 0 and reno["segments"] > 0
    assert reno["loss_seen_pct"] == pytest.approx(100 * reno["retransmits"] / reno["segments"], rel=0.01)
    assert 0.2 <= reno["loss_seen_pct"] <= 3  # a few drops out of ~1,000 segments at a configured 1 %
    assert 0.5 * r["mathis_seen_mbit"] <= reno["goodput_mbit"] <= 2 * r["mathis_seen_mbit"]
    assert 1.2 <= r["mathis_mbit"] <= 1.6  # MSS 1448, RTT ~100 ms, p 1 %
    assert cases["bbr"]["goodput_mbit"] >= 2 * cases["cubic"]["goodput_mbit"]


def test_a_cut_link_on_the_path_is_refused_before_anything_runs(tmp_path):
    """The model's path crosses a link cut at run time (`netemu link … down`): said, not measured wrongly."""
    from netemu.lab import Lab
    from netemu.linkemu import runtime
    from netemu.parse import topology_from_text

    name = unique_name("sc")
    text = shipped("pmtud.yaml", name)
    Lab.up(topology_from_text(text, f"<{name}>"), text)
    try:
        runtime.set_admin(name, "r1:eth1", up=False)
        with pytest.raises(RequirementError, match=r"crosses r1:eth1 -- r2:eth0, which is cut"):
            run(load("tfo"), RunOptions(lab=name, quick=True, nodes={"client": "sender", "server": "receiver"},
                                        report_dir=str(tmp_path / "r")))
        runtime.set_admin(name, "r1:eth1", up=True)
        result = run(load("tfo"), RunOptions(lab=name, quick=True, nodes={"client": "sender", "server": "receiver"},
                                             report_dir=str(tmp_path / "r2")))
        assert result.passed, [c for c in result.checks if not c.passed]
    finally:
        Lab.attach(name).down()
    assert leftovers(name) == []
