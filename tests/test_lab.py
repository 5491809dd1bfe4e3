"""Real labs on real namespaces: build, reach across routers, tear down without a trace (root)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, host_snapshot, leftovers, needs_root, netemu, shipped, unique_name

pytestmark = pytest.mark.root


@pytest.fixture(autouse=True)
def _root():
    needs_root()


def ns_run(ns: str, *argv: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, timeout=timeout)


def test_two_routers_end_to_end(lab_text):
    before = host_snapshot()
    lab = lab_text(shipped("two-routers.yaml"))
    # ping across both routers, IPv4 and IPv6
    assert ns_run(f"{lab}-h1", "ping", "-c", "2", "-W", "2", "10.0.2.2").returncode == 0
    assert ns_run(f"{lab}-h1", "ping", "-6", "-c", "2", "-W", "2", "2001:db8:2::2").returncode == 0
    # the switched LAN works, by name through the lab's hosts file
    assert ns_run(f"{lab}-h2", "ping", "-c", "1", "-W", "2", "h3").returncode == 0
    # MTUs on both ends of the narrow link, as the kernel reports them
    for node in ("r1", "r2"):
        out = subprocess.run(["ip", "-n", f"{lab}-{node}", "-o", "link", "show", "eth1"], capture_output=True,
                             text=True).stdout
        assert " mtu 1400 " in out
    # routes present; forwarding on routers only
    assert "10.0.2.0/24 via 10.0.12.2" in subprocess.run(["ip", "-n", f"{lab}-r1", "route"], capture_output=True,
                                                          text=True).stdout
    assert ns_run(f"{lab}-r1", "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip() == "1"
    assert ns_run(f"{lab}-h1", "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip() == "0"
    assert ns_run(f"{lab}-h2", "sysctl", "-n", "net.ipv4.tcp_fastopen").stdout.strip() == "3"
    # the path MTU is discovered: tracepath ends at 1400
    assert "pmtu 1400" in ns_run(f"{lab}-h1", "tracepath", "-n", "10.0.2.2").stdout
    # status reads the kernel
    st = json.loads(netemu("status", lab, "--json", check=True).stdout)
    r1 = next(n for n in st["nodes"] if n["node"] == "r1")
    assert {i["name"]: i["mtu"] for i in r1["interfaces"]} == {"eth0": 1500, "eth1": 1400}
    assert "10.0.12.1/30" in next(i for i in r1["interfaces"] if i["name"] == "eth1")["addresses"]
    # the host namespace was not touched
    assert host_snapshot() == before


def test_cli_up_exec_down_and_exit_codes(tmp_path):
    name = unique_name()
    path = tmp_path / "lab.yaml"
    path.write_text(shipped("minimal.yaml", name))
    before = host_snapshot()
    try:
        up = netemu("up", str(path), check=True)
        assert f"lab {name} is up: 2 nodes, 1 link," in up.stdout
        again = netemu("up", str(path))
        assert again.returncode == 1 and "already up" in again.stderr and f"netemu down {name}" in again.stderr
        ping = netemu("exec", name, "a", "--", "ping", "-c", "1", "-W", "2", "b")
        assert ping.returncode == 0 and "1 received" in ping.stdout
        assert netemu("exec", name, "a", "--", "sh", "-c", "exit 7").returncode == 7
        assert netemu("exec", name, "nosuch", "--", "true").returncode == 2  # bad input, not the command's 1
        assert netemu("status", name, "nosuch").returncode == 2 and netemu("status", name + "x").returncode == 2
        missing = netemu("exec", name, "a", "--", "no-such-command-xyz")
        assert missing.returncode == 127 and "no-such-command-xyz: command not found" in missing.stderr
        piped = subprocess.run([sys.executable, "-m", "netemu", "shell", name, "b"], input="ip -br addr show eth0\n",
                               capture_output=True, text=True, cwd=ROOT, timeout=20)
        assert piped.returncode == 0 and "10.0.0.2/24" in piped.stdout and "job control" not in piped.stderr
        # down works after the file is deleted (it reads the journal, not the YAML)
        path.unlink()
    finally:
        down = netemu("down", name)
    assert down.returncode == 0 and f"lab {name} removed" in down.stdout
    assert leftovers(name) == []
    assert host_snapshot() == before
    assert "not up" in netemu("down", name).stdout  # idempotent
    typo = netemu("down", str(path) + "x")  # a mistyped file is not silently taken for a lab name
    assert typo.returncode == 2 and "no such file" in typo.stderr


def test_down_by_file_after_the_file_was_edited(tmp_path):
    name = unique_name()
    path = tmp_path / "lab.yaml"
    path.write_text(shipped("two-routers.yaml", name))
    netemu("up", str(path), check=True)
    path.write_text(f"name: {name}\nnodes: {{only: {{}}}}\n")  # edited: different nodes now
    assert netemu("down", str(path)).returncode == 0
    assert leftovers(name) == []


def test_last_down_leaves_no_run_dir(tmp_path):
    from netemu.labdir import CACHE_DIR, RUN_DIR, all_labs

    if all_labs():
        pytest.skip(f"other labs are up ({', '.join(d.name for d in all_labs())}): /run/netemu must stay")
    from netemu.linkemu import caps

    if not caps.probe(fresh=True).rate:
        pytest.skip("this kernel has no tbf qdisc: a rate-limited link cannot be built here")
    name = unique_name()
    path = tmp_path / "lab.yaml"
    # a rate-limited link makes `up` consult the kernel's link-emulation capabilities (cached per boot)
    path.write_text(f"name: {name}\nnodes: {{a: {{}}, b: {{}}}}\n"
                    "links: [{endpoints: [\"a 10.9.9.1/30\", \"b 10.9.9.2/30\"], bandwidth: 10mbit}]\n")
    netemu("up", str(path), check=True)
    assert (CACHE_DIR / "linkemu-caps.json").is_file()
    assert netemu("down", name).returncode == 0
    assert not RUN_DIR.exists(), sorted(p.name for p in RUN_DIR.iterdir())
    assert "not up" in netemu("down", name).stdout  # idempotent, and still leaves nothing
    assert not RUN_DIR.exists(), sorted(p.name for p in RUN_DIR.iterdir())


def test_invalid_file_creates_nothing(tmp_path):
    name = unique_name()
    path = tmp_path / "bad.yaml"
    path.write_text(f"name: {name}\nnodes: {{a: {{}}, b: {{}}}}\nlinks:\n  - endpoints: [\"a 10.0.0.1/24\", \"c\"]\n")
    res = netemu("up", str(path))
    assert res.returncode == 2 and "unknown node 'c'" in res.stderr
    assert leftovers(name) == []


@pytest.mark.parametrize("fail_at", [1, 20, 45, 57])  # 57: after some /etc/netns links exist
def test_failure_half_way_rolls_back(tmp_path, fail_at):
    name = unique_name()
    path = tmp_path / "lab.yaml"
    path.write_text(shipped("two-routers.yaml", name))
    before = host_snapshot()
    res = netemu("up", str(path), "--fail-at", str(fail_at))
    assert res.returncode == 1
    assert f"step '{fail_at}/" in res.stderr and "failure injected" in res.stderr
    assert "everything created was removed" in res.stderr
    assert leftovers(name) == []
    assert host_snapshot() == before


def test_stale_etc_netns_entry_is_refused_and_left_alone(tmp_path):
    name = unique_name()
    path = tmp_path / "lab.yaml"
    path.write_text(shipped("minimal.yaml", name))
    stale = Path(f"/etc/netns/{name}-b")
    stale.mkdir(parents=True)
    (stale / "hosts").write_text("someone else's\n")
    try:
        res = netemu("up", str(path))
        assert res.returncode == 1 and str(stale) in res.stderr and "already exist" in res.stderr, res.stderr
        assert (stale / "hosts").read_text() == "someone else's\n"
        assert leftovers(name) == [str(stale)]  # only what was there before
    finally:
        (stale / "hosts").unlink()
        stale.rmdir()


def test_kernel_failure_names_the_step_and_rolls_back(tmp_path):
    name = unique_name()
    path = tmp_path / "lab.yaml"
    # a sysctl that passes validation but that this kernel refuses (the value is out of range)
    text = shipped("minimal.yaml", name).replace("a: {kind: host}", "a: {kind: host, sysctls: {net.ipv4.ip_default_ttl: 999}}")
    path.write_text(text)
    res = netemu("up", str(path))
    assert res.returncode == 1
    assert "net.ipv4.ip_default_ttl=999" in res.stderr and "EINVAL" in res.stderr
    assert leftovers(name) == []


def _big_lab(name: str, hosts: int) -> str:
    nodes = "\n".join(f"  h{i}: {{}}" for i in range(hosts))
    links = "\n".join(f"  - endpoints: [\"h{i} 10.{i // 250}.{i % 250}.1/8\", sw]" for i in range(hosts))
    return f"name: {name}\nnodes:\n{nodes}\n  sw: {{kind: switch}}\nlinks:\n{links}\n"


def _journal_lines(name: str) -> int:
    try:
        return Path(f"/run/netemu/{name}/journal.jsonl").read_text().count('"netns"')
    except OSError:
        return 0


def _start_up_and_wait(tmp_path, name: str, hosts: int = 400) -> subprocess.Popen:
    path = tmp_path / "big.yaml"
    path.write_text(_big_lab(name, hosts))
    proc = subprocess.Popen([sys.executable, "-m", "netemu", "up", str(path)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while _journal_lines(name) < 30 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.002)
    return proc


def test_kill_9_during_up_then_down_cleans_up(tmp_path):
    name = unique_name()
    proc = _start_up_and_wait(tmp_path, name)
    state = json.loads(Path(f"/run/netemu/{name}/lab.json").read_text())["state"]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert state == "creating", "up finished before it could be killed; the test proves nothing"
    assert any(n.startswith(name + "-") for n in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                                               text=True).stdout.split())
    # what the user sees next: up, exec and status say the lab died half-way and how to clean up
    again = netemu("up", str(tmp_path / "big.yaml"))
    assert again.returncode == 1 and "did not finish coming up" in again.stderr, again.stderr
    assert f"netemu down {name}" in again.stderr
    res = netemu("exec", name, "h0", "--", "true")
    assert res.returncode == 1 and "did not finish coming up" in res.stderr, res.stderr
    res = netemu("down", name)
    assert res.returncode == 0
    assert leftovers(name) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_during_up_rolls_back(tmp_path, sig):
    name = unique_name()
    proc = _start_up_and_wait(tmp_path, name)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode in (1, 130), err
    assert "interrupted" in err and "removed" in err
    assert leftovers(name) == []


def test_two_labs_side_by_side_do_not_interfere(lab_text):
    # the same addresses in both labs: namespaces keep them apart
    a = lab_text(shipped("minimal.yaml"))
    b = lab_text(shipped("minimal.yaml"))
    for lab in (a, b):
        assert ns_run(f"{lab}-a", "ping", "-c", "1", "-W", "2", "10.0.0.2").returncode == 0
    from netemu.apply import down

    down(a)
    assert ns_run(f"{b}-a", "ping", "-c", "1", "-W", "2", "10.0.0.2").returncode == 0
    assert leftovers(a) == []


def test_down_kills_processes_started_in_the_lab(lab_text):
    lab = lab_text(shipped("minimal.yaml"))
    proc = subprocess.Popen(["ip", "netns", "exec", f"{lab}-b", "sleep", "300"])
    time.sleep(0.2)
    from netemu.apply import down

    down(lab)
    assert proc.wait(timeout=5) != 0  # killed by down
    assert leftovers(lab) == []


def test_mtu_chain_path_mtu_both_families(lab_text):
    lab = lab_text(shipped("mtu-chain.yaml"))
    assert "pmtu 1280" in ns_run(f"{lab}-src", "tracepath", "-n", "10.0.5.2").stdout
    assert "pmtu 1280" in ns_run(f"{lab}-src", "tracepath", "-6", "-n", "2001:db8:5::2").stdout
    big = ns_run(f"{lab}-src", "ping", "-c", "1", "-W", "2", "-M", "do", "-s", "1472", "10.0.5.2")
    assert "mtu=1280" in big.stdout + big.stderr or "mtu = 1280" in big.stdout + big.stderr
