"""The scenario API without root: registry, requirements, undo bookkeeping, report, charts, CLI."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner
from conftest import ROOT, TOPOLOGIES

from netemu.cli.run import run as run_cmd
from netemu.errors import UsageError
from netemu.parse import load_topology
from netemu.scenarios import Context, RequirementError, Result, Scenario, Setup, load, plots, registry, report, stats
from netemu.scenarios.runner import RunOptions, check_requirements, resolve_roles, resolve_topology

EXAMPLE = ROOT / "examples" / "my_scenario.py"


# --- registry -------------------------------------------------------------------------------
def test_builtins_are_listed_with_descriptions():
    names = [n for n, _ in registry.describe_builtins()]
    assert names == ["pmtud", "nagle", "tfo", "congestion"]
    assert all(d for _, d in registry.describe_builtins())


def test_load_builtin_and_user_file():
    assert load("pmtud").name == "pmtud"
    user = load(str(EXAMPLE))
    assert isinstance(user, Scenario) and user.name == "ping-rtt"


def test_load_errors(tmp_path):
    with pytest.raises(UsageError, match="unknown scenario 'nope'"):
        load("nope")
    with pytest.raises(UsageError, match="not found"):
        load(str(tmp_path / "missing.py"))
    two = tmp_path / "two.py"
    two.write_text("from netemu.scenarios import Scenario\nclass A(Scenario): pass\nclass B(Scenario): pass\n")
    with pytest.raises(UsageError, match="2 Scenario subclasses"):
        load(str(two))
    broken = tmp_path / "broken.py"
    broken.write_text("import nonexistent_module_xyz\n")
    with pytest.raises(UsageError, match="importing it failed"):
        load(str(broken))


def test_topology_paths_resolve(tmp_path):
    text, source = registry.topology_text(load("nagle"))
    assert "name: nagle" in text and source.endswith("topologies/nagle.yaml")
    user = tmp_path / "s.py"
    (tmp_path / "mine.yaml").write_text("name: mine\nnodes: {a: {}}\n")
    user.write_text("from netemu.scenarios import Scenario\nclass S(Scenario):\n    topology = 'mine.yaml'\n")
    assert registry.topology_text(load(str(user)))[0].startswith("name: mine")


# --- topology, roles, requirements: all before anything is touched ---------------------------
def test_lab_name_override_renames_the_topology():
    topo, text, _ = resolve_topology(load("nagle"), RunOptions(lab_name="zz-1"))
    assert topo.name == "zz-1" and "name: zz-1" in text


def test_roles_defaults_overrides_and_errors():
    topo = load_topology(str(TOPOLOGIES / "pmtud.yaml"))
    s = load("pmtud")
    assert resolve_roles(s, topo, {}) == {"client": "sender", "server": "receiver"}
    assert resolve_roles(s, topo, {"client": "r1"})["client"] == "r1"
    with pytest.raises(UsageError, match="has no role 'sender'"):
        resolve_roles(s, topo, {"sender": "r1"})
    with pytest.raises(RequirementError, match="has no node 'bob'"):
        resolve_roles(s, topo, {"server": "bob"})


@pytest.mark.parametrize("name", ["pmtud", "nagle", "tfo"])
def test_builtins_accept_their_own_topology(name):
    s = load(name)
    topo, _, _ = resolve_topology(s, RunOptions())
    check_requirements(s, Setup(topo, resolve_roles(s, topo, {}), {}))


def test_pmtud_refuses_a_path_without_a_narrower_hop():
    s = load("pmtud")
    topo = load_topology(str(TOPOLOGIES / "nagle.yaml"))
    setup = Setup(topo, resolve_roles(s, topo, {"client": "client", "server": "server"}), {})
    with pytest.raises(RequirementError) as e:
        check_requirements(s, setup)
    assert "no hop narrower than the sender's own link (1500)" in str(e.value)
    assert "nothing for path MTU discovery to find" in str(e.value)


def test_pmtud_on_reverse_direction_finds_r2():
    from netemu.scenarios.builtin.pmtud import usable_paths

    s = load("pmtud")
    topo = load_topology(str(TOPOLOGIES / "pmtud.yaml"))
    found, skipped = usable_paths(Setup(topo, resolve_roles(s, topo, {"client": "receiver", "server": "sender"}), {}))
    assert {f: p.narrowest().node for f, p in found.items()} == {4: "r2", 6: "r2"} and skipped == []


# --- the context's bookkeeping with a fake lab (no kernel) -----------------------------------
class FakeHandle:
    def __init__(self, name, log):
        self.name, self.ns, self.log = name, f"lab-{name}", log
        self.values = {"net.ipv4.tcp_fastopen": "1"}
        self.model = None

    def run(self, argv, timeout=60, input=None):
        self.log.append((self.name, tuple(argv), input))
        return subprocess.CompletedProcess(argv, 0, "", "")

    def sysctl(self, key):
        return self.values.get(key, "0")

    def set_sysctl(self, key, value):
        old = self.sysctl(key)
        self.values[key] = str(value)
        self.log.append((self.name, "sysctl", key, str(value)))
        return old


class FakeLab:
    def __init__(self):
        self.log = []
        self.handles = {}

    def node(self, name):
        return self.handles.setdefault(name, FakeHandle(name, self.log))


def fake_context():
    topo = load_topology(str(TOPOLOGIES / "nagle.yaml"))
    lab = FakeLab()
    result = Result("t", "", topo.name, None, {"client": "client", "server": "server"}, True)
    return Context(lab, Setup(topo, {"client": "client", "server": "server"}, {"quick": True}), result), lab


def test_case_flushes_first_and_restores_after():
    ctx, lab = fake_context()
    client = ctx.node("client")
    with ctx.case("one") as case:
        client.set_sysctl("net.ipv4.tcp_fastopen", 3)
        client.iptables(["OUTPUT -p icmp -j DROP"])
        assert client.sysctl("net.ipv4.tcp_fastopen") == "3"
        case.record(x=1)
    assert client.sysctl("net.ipv4.tcp_fastopen") == "1"
    flushes = [e for e in lab.log if len(e) == 3 and e[1][:2] in (("ip", "-4"), ("ip", "-6"), ("ip", "tcp_metrics"))]
    assert {e[0] for e in flushes} == {"client", "server"}  # every namespace, before the case
    restores = [e for e in lab.log if len(e) == 3 and e[1][0] == "iptables-restore"]
    assert "-A OUTPUT -p icmp -j DROP -m comment --comment netemu-scenario" in restores[0][2]
    assert "-D OUTPUT -p icmp -j DROP -m comment --comment netemu-scenario" in restores[1][2]
    assert ctx.result.case("one").fields == {"x": 1}


def test_error_in_a_case_is_a_failed_check_and_the_run_goes_on():
    ctx, _lab = fake_context()
    client = ctx.node("client")
    with ctx.case("bad"):
        client.set_sysctl("net.ipv4.tcp_mtu_probing", 1)
        raise ValueError("boom")
    with ctx.case("good"):
        ctx.check("fine", True, "ok")
    assert client.sysctl("net.ipv4.tcp_mtu_probing") == "0"
    assert [(c.name, c.passed) for c in ctx.result.checks] == [("case bad ran", False), ("fine", True)]
    assert "ValueError: boom" in ctx.result.case("bad").error
    assert not ctx.result.passed


def test_run_level_changes_are_undone_at_close_in_reverse_order():
    ctx, _lab = fake_context()
    server = ctx.node("server")
    server.set_sysctl("net.ipv4.tcp_fastopen", 3)
    server.set_sysctl("net.ipv4.tcp_fastopen", 515)
    ctx.close()
    assert server.sysctl("net.ipv4.tcp_fastopen") == "1"


# --- report, charts, stats -------------------------------------------------------------------
def sample_result() -> Result:
    ctx, _ = fake_context()
    with ctx.case("c1", "first case") as case:
        case.record(p50_ms=44.0, requests=10)
        case.note("a note <with> markup")
    ctx.record(path_mtu=1400)
    ctx.check("a | pipe", True, "fine")
    ctx.check("b", False, "not fine")
    ctx.table("T", ["a", "b"], [[1.23456, None], [True, "x"]])
    ctx.note("explained")
    ctx.picture("p.svg", plots.bars("t", [("s", 1.0), ("u", None)], "ms"), "caption")
    return ctx.result


def test_report_directory_contents(tmp_path):
    r = sample_result()
    report.write(r, tmp_path / "rep")
    d = tmp_path / "rep"
    assert sorted(p.name for p in d.iterdir()) == ["p.svg", "report.html", "report.md", "results.json"]
    data = json.loads((d / "results.json").read_text())
    assert data["results"]["path_mtu"] == 1400 and data["passed"] is False
    assert data["cases"]["c1"]["p50_ms"] == 44.0
    assert data["checks"][1] == {"name": "b", "passed": False, "reason": "not fine", "case": None}
    html = (d / "report.html").read_text()
    assert "a note &lt;with&gt; markup" in html and '<img src="p.svg"' in html
    md = (d / "report.md").read_text()
    assert "| **FAIL** | b | not fine |" in md and "a \\| pipe" not in md or "a | pipe" in md
    ET.fromstring((d / "p.svg").read_text())


def test_text_summary_has_tables_and_verdicts():
    text = report.format_text(sample_result())
    assert "PASS  a | pipe: fine" in text and "FAIL  b: not fine" in text
    assert "1.235" in text and "FAIL 1/2 checks passed" in text


def test_percentiles():
    assert stats.percentile([], 50) is None
    assert stats.percentile([5.0], 99) == 5.0
    assert stats.percentile([1, 2, 3, 4], 50) == 2.5
    s = stats.summary(list(range(1, 101)))
    assert s["p50_ms"] == 50.5 and s["max_ms"] == 100 and s["requests"] == 100


# --- CLI ---------------------------------------------------------------------------------------
def test_cli_list_and_help():
    r = CliRunner().invoke(run_cmd, ["--list"])
    assert r.exit_code == 0 and r.output.split("\n")[0].startswith("pmtud ")
    r = CliRunner().invoke(run_cmd, ["--help"])
    assert r.exit_code == 0 and "--lab NAME" in r.output and "netemu run --list" in r.output


def test_cli_usage_errors():
    r = CliRunner().invoke(run_cmd, [])
    assert r.exit_code == 2 and "name a scenario" in r.output
    r = CliRunner().invoke(run_cmd, ["pmtud", "--node", "oops"])
    assert r.exit_code == 2 and "expected ROLE=NODE" in r.output
    r = CliRunner().invoke(run_cmd, ["nope"])
    assert r.exit_code == 2 and "unknown scenario" in r.output


def test_run_needs_root_and_says_so(monkeypatch):
    from netemu.errors import NotRootError
    from netemu.scenarios import run

    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(NotRootError, match="'netemu run' needs root"):
        run(load("tfo"), RunOptions(lab_name="never-created"))
