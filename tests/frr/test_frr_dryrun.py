"""One `vtysh -C` checks every router's FRR configuration; an error names the router, the file and the line."""

from __future__ import annotations

import subprocess

import pytest

from conftest import needs_root, unique_name
from netemu.frr.dryrun import check, document, explain
from netemu.frr.ops import CheckConfigs
from netemu.frr.install import locate
from netemu.ops import RunCommand, StartProcess
from netemu.parse import topology_from_text
from netemu.plan import build

from frr_labs import BGP, RING, needs_frr


def test_one_dry_run_for_the_whole_lab_and_none_per_daemon():
    text = RING.replace("r2: {kind: router}", 'r2: {kind: router, frr: ["router ospf", " passive-interface eth9"]}')
    plan = build(topology_from_text(text, "t.yaml"))
    checks = [op for op in plan.ops if isinstance(op, CheckConfigs)]
    assert len(checks) == 1
    labels = [label for label, _, _ in checks[0].parts]
    assert labels[:3] == ["r1 zebra.conf", "r1 ospfd.conf", "r1 ospf6d.conf"] and "r2 frr: lines" in labels
    assert len(labels) == 4 * 3 + 2  # r2 runs staticd too (for `ip route` lines its frr: may hold)
    assert not [op for op in plan.ops if isinstance(op, RunCommand) and "-C" in op.argv]
    first_start = next(i for i, op in enumerate(plan.ops) if isinstance(op, StartProcess))
    assert plan.ops.index(checks[0]) < first_start  # nothing starts before the check


def test_an_error_line_is_named_by_its_part_and_its_own_line():
    doc, where = document([("r1 ospfd.conf", "hostname r1", "router ospf\n ospf router-id 1.1.1.1\n"),
                           ("r2 frr: lines", "hostname r2", "interface eth0\n bad line\n")])
    assert doc.splitlines() == ["hostname r1", "router ospf", " ospf router-id 1.1.1.1", "hostname r2",
                                "interface eth0", " bad line"]
    out = explain("line 6: % Unknown command[6]:  bad line\nline 3: % Unknown command[41]:  x\n", where)
    assert out.splitlines() == ["r2 frr: lines, line 2: % Unknown command[6]:  bad line",
                                "r1 ospfd.conf, line 2: % Unknown command[41]:  x"]


@pytest.fixture
def namespace():
    needs_root()
    needs_frr()
    ns = unique_name("frr-dry")
    subprocess.run(["ip", "netns", "add", ns], check=True)
    yield ns
    subprocess.run(["ip", "netns", "del", ns], check=True)


def _check(ns: str, tmp_path, files: list[tuple[str, str, str]]) -> None:
    parts = []
    for i, (label, reset, text) in enumerate(files):
        path = tmp_path / f"{i}.conf"
        path.write_text(text)
        parts.append((label, reset, str(path)))
    check(None, CheckConfigs(ns, (locate().vtysh, "-C", "-f", "/dev/stdin"), tuple(parts)))


def test_every_generated_config_passes(namespace, tmp_path):
    for text in (RING, BGP):
        frr = topology_from_text(text, "t.yaml").feature("frr")
        _check(namespace, tmp_path, [(f"{r.node} {d}", f"hostname {r.node}", conf)
                                     for r in frr.routers for d, conf in r.configs])


def test_each_part_is_checked_from_the_top_level_not_inside_the_block_the_part_before_ended_in(namespace,
                                                                                               tmp_path):
    ospfd = "hostname r1\nrouter ospf\n ospf router-id 1.1.1.1\n"
    # valid only inside `router ospf`: as a file of its own (how vtysh -f applies extra lines) it fails
    extra = "network 10.0.0.0/8 area 0\n"
    _check(namespace, tmp_path, [("r1 ospfd.conf", "", ospfd + extra)])  # inside the block: accepted
    with pytest.raises(RuntimeError) as e:
        _check(namespace, tmp_path, [("r1 ospfd.conf", "hostname r1", ospfd), ("r1 frr: lines", "hostname r1", extra)])
    assert "r1 frr: lines, line 1: % Unknown command" in str(e.value) and "network 10.0.0.0/8" in str(e.value)


def test_frr_directories_are_made_only_inside_the_labs_own(tmp_path):
    from types import SimpleNamespace

    from netemu.frr import dirs
    from netemu.frr.ops import OwnedDirs

    made = []
    runner = SimpleNamespace(lab=SimpleNamespace(path=tmp_path / "lab"), mkdirs=made.append)
    for bad in ("/etc/frr", str(tmp_path / "lab-other" / "x"), str(tmp_path / "lab" / ".." / "x")):
        with pytest.raises(RuntimeError, match="not inside the lab's directory"):
            dirs.make(runner, OwnedDirs("lab-r1", (bad,), "root"))
    assert made == []
