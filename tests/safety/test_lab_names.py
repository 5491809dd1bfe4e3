"""Every command that takes a LAB (or reads one from a file) applies the lab-name rule of `validate`
before touching anything: `netemu down ..` once deleted all of /run (tested in a scratch run dir)."""

from __future__ import annotations

import os

import click
import pytest
from conftest import netemu

from netemu.cli import main
from netemu.cli.labarg import LabArg

BAD = ["..", ".", "a/b", "../x", "", "UPPER", "x" * 40, "lab\n", "lab-", "a b"]


@pytest.fixture
def scratch(tmp_path):
    """A scratch NETEMU_RUN_DIR inside a directory holding a canary that no command may touch."""
    run_dir = tmp_path / "run" / "netemu"
    run_dir.mkdir(parents=True, mode=0o755)
    (run_dir / "other-lab").mkdir(mode=0o755)
    (run_dir / "other-lab" / "journal.jsonl").write_text("")
    canary = tmp_path / "run" / "canary"
    canary.write_text("keep me")
    env = dict(os.environ, NETEMU_RUN_DIR=str(run_dir))
    yield run_dir, canary, env
    assert canary.read_text() == "keep me"
    assert (run_dir / "other-lab" / "journal.jsonl").exists()


COMMANDS = [
    ["down", "{}"], ["status", "{}"], ["exec", "{}", "h1", "--", "true"], ["shell", "{}", "h1"],
    ["link", "{}"], ["check", "{}"], ["dns", "trace", "{}", "h1", "example.com"], ["dns", "flush", "{}", "h1"],
    ["run", "pmtud", "--lab", "{}"], ["run", "pmtud", "--lab-name", "{}"],
]


@pytest.mark.parametrize("bad", BAD, ids=repr)
@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_bad_lab_name_is_exit_2_with_one_sentence(cmd, bad, scratch):
    run_dir, _, env = scratch
    res = netemu(*[a.format(bad) for a in cmd], env=env, timeout=60)
    assert res.returncode == 2, (res.stdout, res.stderr)
    # `down` also takes a topology file: 'a/b' is a path to it, which does not exist
    assert "is not a safe lab name" in res.stderr or (cmd[0] == "down" and "/" in bad and ": no such file" in res.stderr)
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert sorted(p.name for p in run_dir.iterdir()) == ["other-lab"]


@pytest.mark.parametrize("bad", ["..", ".", "x/../.."])
def test_down_of_a_file_whose_name_is_bad_is_refused(bad, scratch, tmp_path):
    run_dir, _, env = scratch
    topo = tmp_path / "t.yaml"
    topo.write_text(f"name: '{bad}'\nnodes: {{}}\nlinks: []\n")
    res = netemu("down", str(topo), env=env)
    assert res.returncode == 2, res.stderr
    assert "is not a safe lab name" in res.stderr
    assert sorted(p.name for p in run_dir.iterdir()) == ["other-lab"]


def _lab_params(cmd: click.Command, path: str = ""):
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            yield from _lab_params(sub, f"{path} {name}")
        return
    for p in cmd.params:
        if p.name in ("lab", "lab_name"):
            yield f"{path.strip()} {p.name}", p


def test_every_lab_parameter_of_every_command_uses_the_one_resolver():
    """A future command taking a LAB must resolve it through LabArg (it is caught here if not)."""
    found = list(_lab_params(main))
    assert len(found) >= 10
    plain = [where for where, p in found if not isinstance(p.type, LabArg)]
    assert plain == []


def test_the_library_refuses_a_bad_name_too():
    """Code that builds a lab's path without the CLI (scenarios, features) meets the same rule."""
    from netemu.errors import UsageError
    from netemu.labdir import LabDir, locked

    for bad in ("..", "a/b", ""):
        with pytest.raises(UsageError, match="is not a safe lab name"):
            LabDir(bad)
        with pytest.raises(UsageError, match="is not a safe lab name"), locked(bad):
            pass
