"""`netemu run` refusals: each one a usage sentence before anything is brought up or measured."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, TOPOLOGIES, leftovers, needs_root, shipped, unique_name

from netemu.cli.run import run as run_cmd
from netemu.errors import LabError, UsageError
from netemu.parse import load_topology
from netemu.scenarios import RequirementError, RunOptions, Setup, load, run
from netemu.scenarios.runner import check_requirements, prepare_report_dir, resolve_roles

EXAMPLE = ROOT / "examples" / "my_scenario.py"
# the internet lab with its BGP routes written as static routes (the model-only walk needs them there;
# tests/test_internet.py walks the shipped BGP lab's live FIBs)
INTERNET = load_topology(str(Path(__file__).with_name("internet-static.yaml")))


def internet_setup(name: str, **roles: str) -> tuple:
    s = load(name)
    return s, Setup(INTERNET, resolve_roles(s, INTERNET, roles), {})


# --- no root needed --------------------------------------------------------------------------
def test_report_dir_that_cannot_be_created_names_the_path_and_why(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("")
    with pytest.raises(UsageError, match=f"cannot write the report to {afile}/sub: {afile} is not a directory"):
        prepare_report_dir(str(afile / "sub"))
    with pytest.raises(UsageError, match=r"cannot write the report to /proc/nope: cannot create a directory in /proc"):
        prepare_report_dir("/proc/nope")
    d, created = prepare_report_dir(str(tmp_path / "a" / "b"))
    assert created and d.is_dir() and not any(d.iterdir())  # the write test leaves nothing behind
    assert prepare_report_dir(str(d)) == (d, False)


def test_non_root_is_told_before_anything_else(monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    r = CliRunner().invoke(run_cmd, ["pmtud"])
    assert r.exit_code == 1 and r.output.startswith("error: 'netemu run' needs root"), r.output
    assert "running" not in r.output


@pytest.mark.parametrize("name", ["tfo", "nagle", "pmtud"])
def test_builtins_accept_a_client_behind_nat_and_a_public_server(name):
    server = "cloud" if name == "pmtud" else "root"  # pmtud needs the 1400-byte tunnel on the way
    s, setup = internet_setup(name, client="alice", server=server)
    check_requirements(s, setup)
    assert setup.added_rtt_ms("client", "server") == 0  # no link emulation in the internet lab


def test_server_behind_destination_nat_is_a_requirement_error_saying_so():
    s, setup = internet_setup("tfo", client="alice", server="web")
    with pytest.raises(RequirementError) as e:
        check_requirements(s, setup)
    assert e.value.problems == [e.value.problems[0]] and e.value.problems[0].startswith(
        "alice cannot reach web (10.20.0.80) by a routed path: it is behind NAT (cloud maps 192.0.2.80 to it, 1:1)")


# --- root: the CLI as a user runs it; nothing may be brought up -------------------------------
@pytest.fixture
def lab_name():
    needs_root()
    name = unique_name("sc")
    yield name
    assert leftovers(name) == []


def test_bad_report_dir_is_refused_before_the_lab_comes_up(tmp_path, lab_name):
    afile = tmp_path / "afile"
    afile.write_text("")
    for bad, why in ((afile / "sub", f"{afile} is not a directory"), ("/proc/nope", "cannot create a directory in /proc")):
        r = CliRunner().invoke(run_cmd, ["tfo", "--quick", "--lab-name", lab_name, "--report-dir", str(bad)])
        assert r.exit_code == 2, r.output
        assert r.output.splitlines()[-1] == f"error: cannot write the report to {bad}: {why}" + (
            " (No such file or directory)" if str(bad).startswith("/proc") else "")
        assert "Traceback" not in r.output and leftovers(lab_name) == []


def test_inline_topology_is_named_not_printed(tmp_path, lab_name):
    r = CliRunner().invoke(run_cmd, [str(EXAMPLE), "--lab-name", lab_name, "--report-dir", "/proc/nope"])
    assert r.exit_code == 2
    assert r.output.splitlines()[0] == f"running ping-rtt on its built-in topology as lab {lab_name} …"
    assert "nodes:" not in r.output and len(r.output.splitlines()) == 2


def test_unreachable_through_nat_is_one_usage_error(tmp_path, lab_name):
    r = CliRunner().invoke(run_cmd, ["tfo", "-t", str(Path(__file__).with_name("internet-static.yaml")), "--lab-name", lab_name,
                                     "--client", "alice", "--server", "web", "--report-dir", str(tmp_path / "r")])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "  - alice cannot reach web (10.20.0.80) by a routed path: it is behind NAT" in r.output
    assert "e.g. alice and isp-resolver, root or tld-com" in r.output
    assert not (tmp_path / "r").exists()


def test_lab_already_up_suggests_the_options_that_exist(tmp_path, lab_text):
    name = lab_text(shipped("pmtud.yaml"), prefix="sc")
    with pytest.raises(LabError) as e:
        run(load("pmtud"), RunOptions(lab_name=name, quick=True, report_dir=str(tmp_path / "r")))
    assert str(e.value) == (f"lab {name!r} is already up: run on it with --lab {name}, bring up a separate copy "
                            f"with --lab-name NAME, or take it down with 'netemu down {name}'")
    assert not (tmp_path / "r").exists()
    help_text = CliRunner().invoke(run_cmd, ["--help"]).output
    assert "--lab NAME" in help_text and "--lab-name NAME" in help_text
