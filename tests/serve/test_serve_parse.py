"""services: and capture: as validated data and planned operations (no root needed)."""

from __future__ import annotations

import pytest

from netemu.capture.command import Capture
from netemu.errors import TopologyError
from netemu.ops import StartProcess, from_json
from netemu.parse import topology_from_text
from netemu.plan import build

BASE = """name: svc
nodes:
  a:
{a}
  b:
{b}
  sw: {{kind: switch}}
links:
  - endpoints: ["a:eth0 10.0.0.1/24", "b:eth0 10.0.0.2/24"]
  - endpoints: ["b:eth1 10.0.1.2/24", sw]
"""


def lab(a: str = "    kind: host", b: str = "    kind: host") -> str:
    return BASE.format(a=a, b=b)


def test_builtins_and_commands_start_in_after_order():
    topo = topology_from_text(lab(
        a="""    services:
      - {name: api, command: "python3 -m http.server 8000", ready: {tcp: 8000}, after: [b:db, web],
         env: {MODE: test, N: 3}, cwd: /tmp, ready_timeout: 5}
      - {name: web, builtin: http, port: 8080}""",
        b="""    services:
      - echo
      - {name: db, command: [sleep, "1000"], ready: {file: /tmp/db.ready}}
      - {builtin: discard, proto: udp}"""))
    ops = [op for op in build(topo).ops if isinstance(op, StartProcess)]
    # api waits for b:db and a:web, so it moves after both; the rest keep the order they were written in
    assert [op.name for op in ops] == ["a.web", "b.echo", "b.db", "a.api", "b.discard"]
    api = ops[3]
    assert api.ns == "svc-a" and api.argv == ("python3", "-m", "http.server", "8000")
    assert api.ready == ("tcp", "8000") and api.ready_timeout == 5
    assert api.env == (("MODE", "test"), ("N", "3")) and api.cwd == "/tmp"
    assert ops[0].argv[-6:] == ("--port", "8080", "--proto", "tcp", "--node", "a") and ops[0].ready == ("tcp", "8080")
    assert ops[2].ready == ("file", "/tmp/db.ready")
    assert ops[4].ready == ("udp", "9")  # a UDP-only discard server is ready when its UDP port is bound
    assert all(from_json(op.to_json()) == op for op in ops)
    # services start after everything else (links, addresses, routes, files)
    assert all(isinstance(op, StartProcess) for op in build(topo).ops[-5:])


def test_every_problem_at_once_with_lines():
    text = lab(
        a="""    services:
      - httpd
      - {name: x, command: "a 'b", builtin: http}
      - {name: y, command: run, ready: {tcp: 70000}, after: [b:nope], env: {"1BAD": x}, cwd: rel/dir}
      - {name: y, command: run, colour: red}""",
        b="""    services:
      - {name: p, command: run, after: q}
      - {name: q, command: run, after: p}""")
    text = text.replace("  sw: {kind: switch}", "  sw: {kind: switch, services: [http]}")
    with pytest.raises(TopologyError) as exc:
        topology_from_text(text, "svc.yaml")
    got = "\n".join(i.render("svc.yaml") for i in exc.value.issues)
    for expected in ("svc.yaml:5: nodes.a.services[0]: 'httpd' is not a built-in service (http, iperf3, echo, discard)",
                     "nodes.a.services[1]: give either `command:` (your program) or `builtin:`",
                     "nodes.a.services[2].ready.tcp: must be a port number 1-65535, got 70000",
                     "nodes.a.services[2].after[0]: no service 'b:nope' in this lab",
                     "nodes.a.services[2].env.1BAD: is not an environment variable name",
                     "nodes.a.services[2].cwd: must be an absolute directory path, got 'rel/dir'",
                     "nodes.a.services[3].colour: unknown key",
                     "nodes.sw.services: a switch runs no services"):
        assert expected in got, got
    assert all(i.line is not None for i in exc.value.issues)


def test_a_circle_of_after_is_refused():
    with pytest.raises(TopologyError) as exc:
        topology_from_text(lab(b="""    services:
      - {name: p, command: run, after: q}
      - {name: q, command: run, after: p}"""), "svc.yaml")
    assert "wait for each other in a circle: b:p -> b:q" in str(exc.value)


def test_capture_keys():
    topo = topology_from_text(lab(a="    capture: true", b="    capture: [eth1]").replace(
        '"b:eth0 10.0.0.2/24"]', '"b:eth0 10.0.0.2/24"]\n    capture: b'))
    ops = [op for op in build(topo).ops if isinstance(op, StartProcess)]
    assert [(op.ns, op.name) for op in ops] == [("svc-a", "capture-a"), ("svc-b", "capture-b-eth1"),
                                               ("svc-b", "capture-b-eth0")]
    assert ops[0].argv[:4] == ("dumpcap", "-q", "-i", "eth0")
    assert ops[0].ready == ("file", ops[0].argv[-1]) and ops[0].argv[-1].endswith("/svc/captures/a.pcapng")
    with pytest.raises(TopologyError) as exc:
        topology_from_text(lab(a="    capture: [eth7]", b="    capture: yes please"), "c.yaml")
    assert "nodes.a.capture: a has no interface eth7 (it has eth0)" in str(exc.value)
    assert "nodes.b.capture: must be true (every interface) or a list of interfaces" in str(exc.value)


def test_capture_tool_per_case():
    assert Capture(("eth0",)).argv() == ["tcpdump", "-i", "eth0", "-n", "-l"]
    assert Capture(("eth0",), "-", 5, ("icmp",)).argv() == ["tcpdump", "-i", "eth0", "-n", "-c", "5", "-U", "-w",
                                                           "-", "icmp"]
    # several interfaces: pcapng from dumpcap, the filter before the first -i so it applies to all of them
    assert Capture(("eth0", "eth1"), "/x.pcapng", None, ("port", "80")).argv() == [
        "dumpcap", "-q", "-f", "port 80", "-i", "eth0", "-i", "eth1", "-w", "/x.pcapng"]
    live = Capture(("eth0", "eth1")).argv()
    assert live[0] == "tshark" and "frame.interface_name" in live


def test_log_pump_keeps_whole_lines_under_the_limit(tmp_path):
    import subprocess
    import sys

    from netemu.kernel.procs import LOGCAP

    log = tmp_path / "x.log"
    lines = [f"line {i:06d} " + "y" * (i % 50) for i in range(20000)]
    text = ("\n".join(lines) + "\nunfinished").encode()
    # fed in odd-sized pieces, so the pipe's reads end in the middle of lines
    pump = subprocess.Popen([sys.executable, "-I", LOGCAP, str(log), "65536"], stdin=subprocess.PIPE)
    for i in range(0, len(text), 777):
        pump.stdin.write(text[i:i + 777])
    pump.stdin.close()
    assert pump.wait(timeout=30) == 0
    kept = (tmp_path / "x.log.1").read_bytes() + log.read_bytes()
    assert 32768 <= len(kept) <= 65536
    got = kept.decode().split("\n")
    assert got[-1] == "unfinished" and got[:-1] == lines[-(len(got) - 1):]  # the newest lines, each whole
