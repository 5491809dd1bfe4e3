"""Services, logs, hostnames and capture on real namespaces (root)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, leftovers, needs_root, needs_tool, netemu, renamed, shipped, unique_name

from netemu import journal
from netemu.kernel import procs
from netemu.labdir import LabDir

pytestmark = pytest.mark.root

TWO = """name: NAME
nodes:
  a:
{a}
  b:
{b}
links:
  - endpoints: ["a:eth0 10.0.0.1/24", "b:eth0 10.0.0.2/24"]
"""


@pytest.fixture(autouse=True)
def _root():
    needs_root()


def two(a: str = "    kind: host", b: str = "    kind: host") -> str:
    return TWO.format(a=a, b=b)


def marked(token: str) -> list[int]:
    """PIDs whose command line holds `token` (each test uses its own random token)."""
    out = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    if token.encode() in f.read() and running(int(entry.name), None):
                        out.append(int(entry.name))
            except OSError:
                continue
    return out


def running(pid: int, start: int | None) -> bool:
    """Still running (a zombie waiting for init to reap it runs nothing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return procs.alive(pid, start) and stat[stat.rindex(")") + 2] != "Z"


def run_in(lab: str, node: str, *argv: str) -> subprocess.CompletedProcess:
    return netemu("exec", lab, node, "--", *argv, timeout=30)


def test_start_order_readiness_env_cwd_and_hostname(lab_text, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    token = str(secrets.randbelow(10**8))
    # `second` is written first but waits for `first` (another node's service), whose readiness
    # file appears only 0.5 s after it starts; each records when it started.
    lab = lab_text(two(
        a=f"""    services:
      - name: second
        command: ["sh", "-c", "date +%s.%N > {out}/second.start; echo \\"$GREETING $(pwd) $(hostname)\\" > {out}/second.env; exec sleep 3000.{token}"]
        after: [b:first]
        env: {{GREETING: hello}}
        cwd: {tmp_path}""",
        b=f"""    services:
      - name: first
        command: ["sh", "-c", "date +%s.%N > {out}/first.start; sleep 0.5; date +%s.%N > {out}/first.ready; exec sleep 3000.{token}"]
        ready: {{file: {out}/first.ready}}
      - name: web
        builtin: http
        port: 8080"""), prefix="svc")
    first_ready = float((out / "first.ready").read_text())
    second_start = float((out / "second.start").read_text())
    assert second_start >= first_ready, (first_ready, second_start)
    assert (out / "second.env").read_text().split() == ["hello", str(tmp_path), "a"]
    # the http service was ready when `up` returned: the very first request is answered
    res = run_in(lab, "a", "curl", "-sS", "-m", "5", "http://10.0.0.2:8080/x")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[:2] == ["Hello from b!", res.stdout.splitlines()[1]]
    assert res.stdout.splitlines()[1].startswith("You are 10.0.0.1 port "), res.stdout
    # each node has its own hostname, seen by exec and by services; the host's is untouched
    assert [run_in(lab, n, "hostname").stdout.strip() for n in ("a", "b")] == ["a", "b"]
    assert os.uname().nodename not in ("a", "b")
    status = netemu("status", lab, timeout=30).stdout
    assert "b:web" in status and "running, ready" in status and "tcp port 8080 listening" in status, status
    assert len(marked(token)) == 2


def test_down_stops_every_process_and_releases_hostnames(tmp_path):
    needs_tool("curl")
    name = unique_name("svc")
    token = str(secrets.randbelow(10**8))
    path = tmp_path / "lab.yaml"
    path.write_text(renamed(two(a=f"""    services:
      - {{name: idle, command: "sleep 3000.{token}"}}
      - echo""", b=f"""    services:
      - {{name: stubborn, command: ["sh", "-c", "trap '' TERM; exec sleep 3000.{token}"]}}"""), name))
    try:
        netemu("up", str(path), check=True)
        created = journal.read(LabDir(name).journal)
        pids = dict(created.processes)
        assert len(marked(token)) == 2 and len(pids) >= 6  # 3 services and their 3 log pumps
        assert any(f"/run/netemu/{name}/uts/" in line for line in Path("/proc/mounts").read_text().splitlines())
    finally:
        res = netemu("down", name)
    assert res.returncode == 0, res.stderr
    assert not [p for p, st in pids.items() if running(p, st)]  # TERM, then KILL for the stubborn one
    assert marked(token) == []
    assert f"/run/netemu/{name}/" not in Path("/proc/mounts").read_text()
    assert leftovers(name) == []


@pytest.mark.parametrize("case", ["early-exit", "not-ready"])
def test_failing_service_rolls_up_back_with_its_message(tmp_path, case):
    name = unique_name("svc")
    token = str(secrets.randbelow(10**8))
    if case == "early-exit":
        svc = f"""      - {{name: ok, command: "sleep 3000.{token}"}}
      - {{name: bad, command: ["sh", "-c", "echo boom-{token} >&2; exit 3"], ready: {{tcp: 9000}}}}"""
        expected = ["process a.bad exited with status 3 before it was ready (tcp port 9000 listening)",
                    f"boom-{token}"]
    else:
        svc = f"""      - {{name: ok, command: "sleep 3000.{token}"}}
      - {{name: bad, command: ["sh", "-c", "echo waiting-{token}; exec sleep 3001.{token}"], ready: {{udp: 9000}},
         ready_timeout: 1}}"""
        expected = ["process a.bad not ready after 1 s (udp port 9000 listening never held)", f"waiting-{token}"]
    path = tmp_path / "lab.yaml"
    path.write_text(renamed(two(a=f"    services:\n{svc}"), name))
    res = netemu("up", str(path))
    assert res.returncode == 1, res.stdout + res.stderr
    for text in expected + ["everything created was removed"]:
        assert text in res.stderr, res.stderr
    assert marked(token) == [] and leftovers(name) == []


def test_logs_are_capped_and_keep_the_newest_output(lab_text):
    token = str(secrets.randbelow(10**8))
    # 3 MB of output (75000 lines of 41 bytes), then a last line: more than the 1 MiB kept
    lab = lab_text(two(a=f"""    services:
      - name: chatty
        command: ["sh", "-c", "yes 0123456789012345678901234567890123456789 | head -n 75000; echo last-{token}; exec sleep 3000.{token}"]"""),
                   prefix="svc")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        res = netemu("logs", lab, "a", "chatty", "-n", "1", timeout=30)
        if f"last-{token}" in res.stdout:
            break
        time.sleep(0.2)
    assert res.stdout == f"last-{token}\n", res.stdout + res.stderr
    log = LabDir(lab).logs / "a.chatty.log"
    kept = log.stat().st_size + Path(f"{log}.1").stat().st_size
    assert procs.LOG_LIMIT // 2 <= kept <= procs.LOG_LIMIT, kept
    everything = netemu("logs", lab, timeout=30).stdout
    assert everything.startswith(f"==> a.chatty in a ({log}) <==\n") and len(everything) <= procs.LOG_LIMIT + 200
    lines = everything.splitlines()[1:]
    # the log rotates at line ends: every line kept is whole
    assert set(lines[:-1]) == {"0123456789012345678901234567890123456789"} and lines[-1] == f"last-{token}"


def test_unknown_log_names_exit_2(lab_text):
    lab = lab_text(two(a="    services: [discard]"), prefix="svc")
    res = netemu("logs", lab, "b")
    assert res.returncode == 2 and "runs no process in node 'b' (nodes with processes: a)" in res.stderr
    res = netemu("logs", lab, "a", "nope")
    assert res.returncode == 2 and "has no process 'nope' (it has: discard)" in res.stderr


def start_capture(*args: str, stdout=subprocess.PIPE) -> subprocess.Popen:
    """`netemu capture …` in the background, returned once the tool says it listens."""
    proc = subprocess.Popen([sys.executable, "-m", "netemu", "capture", *args], stdout=stdout,
                            stderr=subprocess.PIPE, cwd=ROOT, text=stdout is not subprocess.PIPE or None)
    line = b""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and b"listening on" not in line and b"Capturing on" not in line:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
    assert b"listening on" in line or b"Capturing on" in line, line
    return proc


def test_capture_df_ping_shows_need_to_frag(lab_text, tmp_path):
    needs_tool("tcpdump", "ping")
    lab = lab_text(shipped("two-routers.yaml"), prefix="cap")
    pcap = tmp_path / "h1.pcap"
    # Resolve r1's MAC first: an ARP exchange can fail with ENOBUFS while other labs fill the machine-wide
    # neighbour table, and must not count among the two packets captured.
    for _ in range(5):
        if run_in(lab, "h1", "ping", "-c", "1", "-W", "1", "10.0.1.1").returncode == 0:
            break
        time.sleep(0.5)
    cap = start_capture(lab, "h1:eth0", "-w", str(pcap), "-c", "2", "--", "icmp")
    ping = run_in(lab, "h1", "ping", "-c", "1", "-W", "2", "-M", "do", "-s", "1472", "10.0.2.2")
    assert "mtu = 1400" in ping.stdout, ping.stdout
    assert cap.wait(timeout=20) == 0, cap.stderr.read()
    read = subprocess.run(["tcpdump", "-nr", str(pcap)], capture_output=True, text=True)
    assert read.returncode == 0, read.stderr
    assert "10.0.1.2 > 10.0.2.2: ICMP echo request" in read.stdout, read.stdout
    assert "10.0.1.1 > 10.0.1.2: ICMP 10.0.2.2 unreachable - need to frag (mtu 1400)" in read.stdout, read.stdout


def test_capture_to_stdout_streams_pcap(lab_text):
    needs_tool("tcpdump", "ping")
    lab = lab_text(shipped("two-routers.yaml"), prefix="cap")
    cap = start_capture(lab, "r1:eth1", "-w", "-", "-c", "2", "--", "icmp")
    run_in(lab, "h1", "ping", "-c", "1", "-W", "2", "10.0.2.2")
    data, _ = cap.communicate(timeout=20)
    assert cap.returncode == 0
    assert data[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4"), data[:16]  # the pcap magic, either byte order
    read = subprocess.run(["tcpdump", "-nr", "-"], input=data, capture_output=True)
    assert read.stdout.decode().count("ICMP echo") == 2, read


def test_capture_of_a_whole_node_names_each_interface(lab_text, tmp_path):
    needs_tool("dumpcap", "tshark", "ping")
    lab = lab_text(shipped("two-routers.yaml"), prefix="cap")
    pcapng = tmp_path / "r1.pcapng"
    cap = start_capture(lab, "r1", "-w", str(pcapng), "-c", "4", "--", "icmp")
    run_in(lab, "h1", "ping", "-c", "1", "-W", "2", "10.0.2.2")
    assert cap.wait(timeout=20) == 0, cap.stderr.read()
    read = subprocess.run(["tshark", "-r", str(pcapng), "-T", "fields", "-e", "frame.interface_name",
                           "-e", "icmp.type"], capture_output=True, text=True)
    rows = sorted(tuple(line.split("\t")) for line in read.stdout.splitlines())
    # the request and the reply, each seen entering and leaving r1
    assert rows == [("eth0", "0"), ("eth0", "8"), ("eth1", "0"), ("eth1", "8")], read.stdout + read.stderr


def test_topology_capture_is_kept_by_down(tmp_path):
    needs_tool("dumpcap", "tcpdump", "ping")
    name = unique_name("cap")
    text = shipped("two-routers.yaml", name).replace("    mtu: 1400\n", "    mtu: 1400\n    capture: r1\n", 1)
    path = tmp_path / "lab.yaml"
    path.write_text(text)
    keep = tmp_path / "kept"
    try:
        netemu("up", str(path), check=True)
        assert netemu("exec", name, "h1", "--", "ping", "-c", "2", "-i", "0.2", "-W", "2", "10.0.2.2").returncode == 0
    finally:
        res = netemu("down", name, "--keep-captures", str(keep))
    assert res.returncode == 0, res.stderr
    assert f"kept {keep}/r1-eth1.pcapng" in res.stdout, res.stdout
    read = subprocess.run(["tcpdump", "-nr", str(keep / "r1-eth1.pcapng"), "icmp"], capture_output=True, text=True)
    assert read.stdout.count("10.0.1.2 > 10.0.2.2: ICMP echo request") == 2, read.stdout + read.stderr
    assert leftovers(name) == []


def test_http_counts_uploads_of_any_size(lab_text, tmp_path):
    needs_tool("curl")
    lab = lab_text(two(b="    services: [http]"), prefix="svc")
    body = tmp_path / "body"
    body.write_bytes(os.urandom(3_000_001))
    res = run_in(lab, "a", "curl", "-sS", "-m", "20", "--data-binary", f"@{body}", "http://10.0.0.2/upload")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[-1] == "Received 3000001 bytes (POST).", res.stdout
    # a body of unknown length arrives chunked
    res = run_in(lab, "a", "sh", "-c", f"cat {body} | curl -sS -m 20 -T - http://10.0.0.2/put")
    assert res.stdout.splitlines()[-1] == "Received 3000001 bytes (PUT).", res.stdout + res.stderr


@pytest.mark.parametrize("where", ["h1:eth0", "r1"])
def test_ctrl_c_leaves_a_complete_capture_file(lab_text, tmp_path, where):
    needs_tool("tcpdump", "dumpcap", "tshark", "ping")
    import signal

    lab = lab_text(shipped("two-routers.yaml"), prefix="cap")
    out = tmp_path / "cap"
    cap = start_capture(lab, where, "-w", str(out), "--", "icmp")
    run_in(lab, "h1", "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.2.2")
    time.sleep(0.5)
    cap.send_signal(signal.SIGINT)  # what Ctrl-C sends: the capture tool itself gets it (netemu exec'd it)
    assert cap.wait(timeout=20) == 0, cap.stderr.read()
    read = subprocess.run(["tshark", "-r", str(out), "-T", "fields", "-e", "icmp.type"], capture_output=True,
                          text=True)
    assert read.returncode == 0, read.stderr  # no "cut short in the middle of a packet"
    per_interface = 2 if where == "r1" else 1
    assert read.stdout.split().count("8") == 3 * per_interface, read.stdout


def test_logs_follow_prints_new_lines(lab_text):
    lab = lab_text(two(a="""    services:
      - {name: ticker, command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.2; done"]}"""),
                   prefix="svc")
    follow = subprocess.Popen([sys.executable, "-m", "netemu", "logs", lab, "a", "ticker", "-f"], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        got = [follow.stdout.readline().strip() for _ in range(8)]
    finally:
        follow.terminate()
        follow.wait(timeout=10)
    ticks = [int(line.split("-")[1]) for line in got]
    assert all(line.startswith("tick-") for line in got), got
    assert ticks == list(range(ticks[0], ticks[0] + 8)), got  # what was there, then each new line as it came


def test_http_serves_downloads_of_a_chosen_size(lab_text):
    needs_tool("curl")
    lab = lab_text(two(b="    services: [http]"), prefix="svc")
    res = run_in(lab, "a", "curl", "-sS", "-m", "20", "-o", "/dev/null", "-w", "%{size_download} %{http_code}",
                 "http://10.0.0.2/bytes/2500000")
    assert res.stdout == "2500000 200", res.stdout + res.stderr
    page = run_in(lab, "a", "curl", "-sS", "-m", "20", "http://10.0.0.2/bytes/x")  # not a size: the page
    assert page.stdout.startswith("Hello from b!"), page.stdout
