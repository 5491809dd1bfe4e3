"""The command line as a user meets it: exit codes, messages, help (no root needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from netemu.cli import main

ROOT = Path(__file__).parent.parent


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_validate_ok_and_bad():
    ok = run("validate", str(ROOT / "topologies" / "two-routers.yaml"))
    assert ok.exit_code == 0 and "valid: lab 'two-routers', 6 nodes, 5 links" in ok.output
    bad = run("validate", str(ROOT / "tests" / "golden" / "errors" / "unknown-keys.yaml"))
    assert bad.exit_code == 2
    assert "unknown-keys.yaml:4: nodes.h1.rotes: unknown key (hint: did you mean 'routes'?)" in bad.output


def test_missing_file_is_a_usage_error():
    res = run("validate", "/nonexistent/lab.yaml")
    assert res.exit_code == 2 and "file not found" in res.output


def test_plan_prints_numbered_operations():
    res = run("plan", str(ROOT / "topologies" / "minimal.yaml"))
    assert res.exit_code == 0
    lines = res.output.splitlines()
    assert lines[0].startswith("# lab minimal:")
    assert lines[1].strip() == "1  ip netns add minimal-a  # node a; lo up; hostname a (own UTS namespace)"


@pytest.mark.parametrize("cmd", [["up", str(ROOT / "topologies" / "minimal.yaml")], ["down", "minimal"],
                                 ["status"], ["exec", "minimal", "a", "--", "true"], ["shell", "minimal", "a"]])
def test_without_root_one_clear_sentence(cmd, monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    res = run(*cmd)
    assert res.exit_code == 1
    assert "needs root" in res.output and "sudo" in res.output and "Traceback" not in res.output


def test_every_command_has_help_with_an_example():
    for name, cmd in main.commands.items():
        res = run(name, "--help")
        assert res.exit_code == 0, name
        assert cmd.help and ("Example" in cmd.help), f"{name} has no example in its help"


def test_down_needs_a_target():
    res = run("down")
    assert res.exit_code == 2


def test_help_and_hints_say_sudo_only_where_it_is_needed():
    """As root (the only way `up` runs) hints have no `sudo`; help examples are written as root types them."""
    import pathlib

    import netemu

    cli = pathlib.Path(netemu.__file__).parent / "cli"
    offenders = [f"{p.name}:{n}" for p in cli.glob("*.py") for n, line in enumerate(p.read_text().splitlines(), 1)
                 if "sudo netemu" in line and "ssh" not in line]
    assert offenders == []
    readme = (pathlib.Path(netemu.__file__).parent.parent / "README.md").read_text().splitlines()
    assert [l for l in readme if "sudo netemu" in l and "ssh" not in l] == []
