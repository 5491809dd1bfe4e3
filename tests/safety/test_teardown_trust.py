"""Teardown trusts nothing it reads: planted symlinks and crafted journals in a scratch run directory
(and a scratch /etc/netns) must never lead it to delete, kill or unmount anything outside the lab."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from conftest import netemu, unique_name

from netemu import labdir, teardown as teardown_mod
from netemu.errors import LabError
from netemu.kernel import procs
from netemu.labdir import LabDir, locked
from netemu.teardown import teardown


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """(run dir, etc/netns dir, outside dir with victims) in tmp_path; labdir and teardown use them."""
    run = tmp_path / "run" / "netemu"
    run.mkdir(parents=True, mode=0o755)
    etc = tmp_path / "etc" / "netns"
    etc.mkdir(parents=True, mode=0o755)
    outside = tmp_path / "outside"
    outside.mkdir()
    for name in ("victim", "victim2", "victim3"):
        (outside / name).write_text("host data")
    (outside / "dir").mkdir()
    (outside / "dir" / "keep").write_text("host data")
    monkeypatch.setattr(labdir, "RUN_DIR", run)
    monkeypatch.setattr(teardown_mod, "ETC_NETNS", etc)
    return run, etc, outside


def _outside_intact(outside: Path) -> None:
    for name in ("victim", "victim2", "victim3"):
        assert (outside / name).read_text() == "host data", name
    assert (outside / "dir" / "keep").read_text() == "host data"


def _journal(path: Path, *records: dict) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def _lab(run: Path) -> LabDir:
    lab = LabDir(unique_name("safety"))
    lab.path.mkdir(mode=0o755)
    return lab


def _hostile_records(lab: LabDir, etc: Path, outside: Path) -> list[dict]:
    return [
        {"kind": "file", "path": str(outside / "victim")},
        {"kind": "file", "path": f"{lab.path}/../../../outside/victim2"},
        {"kind": "dir", "path": str(outside / "dir")},
        {"kind": "dir", "path": f"{etc}/../../outside/dir"},
        {"kind": "dir", "path": f"{etc}/{lab.name}-a/../../../outside/dir"},
        {"kind": "netns", "name": "someone-elses-ns"},
        {"kind": "netns", "name": f"{lab.name}-../../x"},
    ]


def test_a_lab_dir_that_is_a_symlink_is_refused(scratch):
    run, etc, outside = scratch
    evil = outside / "evil"
    evil.mkdir()
    name = unique_name("safety")
    _journal(evil / "journal.jsonl", *_hostile_records(LabDir(name), etc, outside))
    (run / name).symlink_to(evil)
    with pytest.raises(LabError, match="is a symbolic link"):
        teardown(LabDir(name))
    _outside_intact(outside)
    assert (evil / "journal.jsonl").exists() and (run / name).is_symlink()


def test_a_symlink_higher_up_the_path_is_refused(scratch, monkeypatch, tmp_path):
    run, etc, outside = scratch
    real = tmp_path / "real-run"
    real.mkdir(mode=0o755)
    link = tmp_path / "linked-run"
    link.symlink_to(real)
    monkeypatch.setattr(labdir, "RUN_DIR", link)
    lab = LabDir(unique_name("safety"))
    (real / lab.name).mkdir(mode=0o755)
    _journal(real / lab.name / "journal.jsonl", {"kind": "file", "path": str(outside / "victim")})
    with pytest.raises(LabError, match="linked-run is a symbolic link"):
        teardown(lab)
    _outside_intact(outside)


@pytest.mark.parametrize("how", ["group-writable", "world-writable", "other owner"])
def test_a_lab_dir_someone_else_could_have_written_is_refused(scratch, how):
    run, etc, outside = scratch
    lab = _lab(run)
    _journal(lab.journal, {"kind": "file", "path": str(outside / "victim")})
    if how == "other owner":
        if os.geteuid() != 0:
            pytest.skip("needs root to give the directory to another user")
        os.chown(lab.path, 65534, 65534)
    else:
        os.chmod(lab.path, 0o775 if how == "group-writable" else 0o757)
    with pytest.raises(LabError, match="writable by group or others|belongs to uid 65534"):
        teardown(lab)
    _outside_intact(outside)
    assert lab.path.is_dir()


def test_crafted_journal_records_outside_the_lab_are_ignored(scratch, monkeypatch):
    run, etc, outside = scratch
    lab = _lab(run)
    (lab.path / "link").symlink_to(outside)  # a link inside the run dir: a path through it leads outside
    deleted_ns: list[str] = []
    monkeypatch.setattr(teardown_mod.netns, "delete", lambda name: deleted_ns.append(name) or False)
    _journal(lab.journal, *_hostile_records(lab, etc, outside),
             {"kind": "file", "path": f"{lab.path}/link/victim3"},
             {"kind": "dir", "path": f"{lab.path}/link/dir"},
             {"kind": "netns", "name": f"{lab.name}-a"})
    removed = teardown(lab)
    _outside_intact(outside)
    assert deleted_ns == [f"{lab.name}-a"]  # only the lab's own namespace name was acted on
    assert not lab.path.exists()
    kept = "\n".join(removed.kept)
    assert "someone-elses-ns" in kept and "outside the lab" in kept


def test_a_process_is_killed_only_if_pid_start_time_and_namespace_match(scratch):
    run, etc, outside = scratch
    lab = _lab(run)
    host = subprocess.Popen(["sleep", "60"])  # an unrelated process in the host's namespace
    try:
        st = procs.start_time(host.pid)
        _journal(lab.journal,
                 {"kind": "netns", "name": f"{lab.name}-a"},
                 {"kind": "proc", "name": "no-start", "pid": host.pid, "start": None, "ns": f"{lab.name}-a"},
                 {"kind": "proc", "name": "wrong-start", "pid": host.pid, "start": (st or 0) + 1, "ns": f"{lab.name}-a"},
                 {"kind": "proc", "name": "wrong-ns", "pid": host.pid, "start": st, "ns": f"{lab.name}-a"},
                 {"kind": "proc", "name": "not-ours", "pid": host.pid, "start": st, "ns": "other-a"},
                 {"kind": "proc", "name": "init", "pid": 1, "start": procs.start_time(1), "ns": None})
        removed = teardown(lab)
        time.sleep(0.2)
        assert host.poll() is None, "an unrelated process was killed"
        assert removed.processes == 0
    finally:
        host.kill()
        host.wait()


def test_kill_all_never_signals_a_process_without_its_start_time():
    victim = subprocess.Popen(["sleep", "60"])
    try:
        procs.kill_all({victim.pid: None}, grace=0.1)
        time.sleep(0.1)
        assert victim.poll() is None
        assert procs.same(victim.pid, procs.start_time(victim.pid)) and not procs.same(victim.pid, None)
    finally:
        victim.kill()
        victim.wait()


def test_etc_netns_turned_into_a_directory_keeps_what_netemu_did_not_write(scratch):
    run, etc, outside = scratch
    lab = _lab(run)
    target = lab.path / "etc" / "files-1"
    target.mkdir(parents=True)
    (target / "hosts").write_text("10.0.0.1 a\n")
    mine = etc / f"{lab.name}-a"  # was netemu's link; someone made it a directory with files of their own
    mine.mkdir()
    (mine / "hosts").write_text("10.0.0.1 a\n")  # a copy of what netemu wrote
    (mine / "resolv.conf").write_text("nameserver 192.0.2.1\n")  # not netemu's
    theirs = etc / f"{lab.name}-b"  # netemu's name, but a link to somewhere else now
    theirs.symlink_to(outside / "dir")
    _journal(lab.journal,
             {"kind": "dir", "path": str(lab.path / "etc")},
             {"kind": "file", "path": str(target / "hosts")},
             {"kind": "file", "path": str(mine), "target": str(target)},
             {"kind": "file", "path": str(theirs), "target": str(target)})
    removed = teardown(lab)
    assert not (mine / "hosts").exists()
    assert (mine / "resolv.conf").read_text() == "nameserver 192.0.2.1\n"
    assert any(str(mine) in k and "resolv.conf" in k for k in removed.kept)
    assert not theirs.is_symlink()  # the link itself is netemu's name: removed, never followed
    _outside_intact(outside)


def test_dangling_symlink_at_the_lab_path_gives_a_clear_message(tmp_path):
    run = tmp_path / "run"
    run.mkdir(mode=0o755)
    name = unique_name("safety")
    (run / name).symlink_to(tmp_path / "nowhere")
    env = dict(os.environ, NETEMU_RUN_DIR=str(run))
    topo = tmp_path / "t.yaml"
    topo.write_text(f"name: {name}\nnodes: {{a: {{}}, b: {{}}}}\nlinks: [{{endpoints: [a 10.0.0.1/24, b 10.0.0.2/24]}}]\n")
    for cmd in (["down", name], ["status", name], ["up", str(topo)]):
        res = netemu(*cmd, env=env)
        if os.geteuid() != 0 and cmd[0] != "status":
            continue
        assert res.returncode in (1, 2), (cmd, res.stderr)
        assert "Traceback" not in res.stderr
        assert "is a symbolic link that leads nowhere" in res.stderr, (cmd, res.stderr)
    assert (run / name).is_symlink()


def test_the_lock_never_admits_two_holders(scratch):
    """A waiter that gets the lock on the file its previous holder unlinked must not run alongside
    a newcomer that locked the fresh file (the old lock did exactly that)."""
    name = unique_name("safety")
    inside = 0
    overlaps = 0
    guard = threading.Lock()

    def work():
        nonlocal inside, overlaps
        for _ in range(40):
            with locked(name, wait=30):
                with guard:
                    inside += 1
                    overlaps += inside > 1
                time.sleep(0.001)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == 0


def test_down_all_removes_the_trusted_labs_and_names_the_others(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root: down refuses without it")
    run = tmp_path / "run"
    run.mkdir(mode=0o755)
    good, bad = unique_name("safety"), unique_name("safety")
    (run / good).mkdir(mode=0o755)
    (run / good / "journal.jsonl").write_text("")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "journal.jsonl").write_text(json.dumps({"kind": "file", "path": str(tmp_path / "victim")}) + "\n")
    (tmp_path / "victim").write_text("host data")
    (run / bad).symlink_to(elsewhere)
    res = netemu("down", "--all", env=dict(os.environ, NETEMU_RUN_DIR=str(run)))
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert f"lab {good} removed" in res.stdout
    assert f"lab '{bad}'" in res.stderr and "is a symbolic link" in res.stderr
    assert not (run / good).exists() and (run / bad).is_symlink()
    assert (tmp_path / "victim").read_text() == "host data"
