"""Commands on a lab across simulated machines that reach a node on its machine (root): `run` (a
scenario measuring through nodes on two machines), `link`, `capture`, `dns trace`/`flush`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TOPOLOGIES, renamed

sys.path.insert(0, str(Path(__file__).parent))
from test_machines import INTERNET, _exec, _lab_from, _same_as, _snapshots, sim  # noqa: E402, F401  (the fixture too)

pytestmark = pytest.mark.root

# The middle link is cut between m1 and m2: the only hop narrower than 1500 is the VXLAN one.
PMTUD_LAB = """\
name: {name}
nodes:
  h1: {{kind: host, host: m1, routes: ["default via 10.0.1.1"]}}
  r1: {{kind: router, host: m1, routes: ["10.0.3.0/24 via 10.0.2.2"]}}
  r2: {{kind: router, host: m2, routes: ["10.0.1.0/24 via 10.0.2.1"]}}
  h2: {{kind: host, host: m2, routes: ["default via 10.0.3.1"]}}
links:
  - endpoints: ["h1:eth0 10.0.1.2/24", "r1:eth0 10.0.1.1/24"]
  - endpoints: ["r1:eth1 10.0.2.1/24", "r2:eth0 10.0.2.2/24"]
  - endpoints: ["r2:eth1 10.0.3.1/24", "h2:eth0 10.0.3.2/24"]
"""


def test_pmtud_across_a_cut_link_reports_what_vxlan_carries(sim, tmp_path):
    before = _snapshots(sim)
    lab, path = _lab_from(sim, PMTUD_LAB, "mc-run")
    assert sim.coordinator("up", path, "--hosts", str(sim.inventory)).returncode == 0
    try:
        res = sim.coordinator("run", "pmtud", "--lab", lab, "--client", "h1", "--server", "h2", "--quick", "--json",
                              "--report-dir", str(tmp_path / "report"), timeout=600)
        out = json.loads(res.stdout)
        fields = out["results"]
        assert fields["expected_path_mtu"] == 1450 and fields["router"] == "r1", fields
        assert fields["path_mtu"] == 1450 and fields["tracepath_pmtu"] == 1450, fields
        failed = [c for c in out["checks"] if not c["passed"]]
        assert res.returncode == 0 and not failed and out["error"] is None, (failed, out["error"], res.stderr)
        # the path's picture is the model's, and says so (the coordinator's kernel holds no node of the lab)
        assert any("spreads over 2 machines" in n for n in out["notes"]), out["notes"]
        assert not any("no lab named" in n for n in out["notes"]), out["notes"]
        # r1 (on m1) said so in ICMP, captured on h1 (m1) and streamed back into the coordinator's report
        assert out["cases"]["baseline"]["pcap_too_big"] >= 1, out["cases"]["baseline"]
        assert (tmp_path / "report" / "baseline_v4.pcap").stat().st_size > 24
        # every rule and sysctl the run changed on the machines is back
        rules = sim.coordinator("exec", lab, "r1", "--", "iptables-save")
        assert "netemu-scenario" not in rules.stdout, rules.stdout
        probing = _exec(sim, lab, "h1", "sysctl", "-n", "net.ipv4.tcp_mtu_probing")
        assert probing.stdout.strip() == "0", probing.stdout
    finally:
        down = sim.coordinator("down", lab)
    assert down.returncode == 0, down.stdout + down.stderr
    _same_as(sim, before)


def test_run_hosts_pmtud_finds_the_cut_link_by_its_true_mtu(sim, tmp_path):
    """`run pmtud --hosts` brings the lab up itself: the link cut between m1 and m2 is the narrowest hop, with
    the MTU VXLAN carries (1450), though the file says nothing narrower than 1500."""
    before = _snapshots(sim)
    lab, path = _lab_from(sim, PMTUD_LAB, "mc-hpm")
    res = sim.coordinator("run", "pmtud", "--hosts", str(sim.inventory), "--topology", path, "--client", "h1",
                          "--server", "h2", "--quick", "--json", "--report-dir", str(tmp_path / "report"), timeout=600)
    assert res.stdout.startswith("{"), res.stdout + res.stderr  # refused before: no hop narrower than 1500
    out = json.loads(res.stdout)
    fields = out["results"]
    assert fields["path"] == "h1 -eth0/1500-> r1 -eth1/1450-> r2 -eth1/1500-> h2", fields
    assert fields["expected_path_mtu"] == 1450 and fields["path_mtu"] == 1450, fields
    failed = [c for c in out["checks"] if not c["passed"]]
    assert res.returncode == 0 and not failed and out["error"] is None, (failed, out["error"], res.stderr)
    assert sim.coordinator("status").stdout.count(lab) == 0
    _same_as(sim, before)


ONE_MACHINE_SCENARIO = """\
from typing import ClassVar

from netemu.scenarios import Scenario


class OnlyHere(Scenario):
    name = "only-here"
    description = "a user's scenario that cannot run across machines"
    roles: ClassVar[dict[str, str]] = {"client": "h1", "server": "h2"}
    one_machine: ClassVar[str | None] = "it reads this machine's own files"

    def run(self, ctx):
        raise AssertionError("must not run")
"""


def test_a_scenario_that_cannot_cross_machines_refuses(sim, tmp_path):
    lab, path = _lab_from(sim, PMTUD_LAB, "mc-ref")
    scenario = tmp_path / "only_here.py"
    scenario.write_text(ONE_MACHINE_SCENARIO)
    assert sim.coordinator("up", path, "--hosts", str(sim.inventory)).returncode == 0
    try:
        res = sim.coordinator("run", str(scenario), "--lab", lab, "--report-dir", str(tmp_path / "r"))
        assert res.returncode == 2 and "not yet across machines: it reads" in res.stderr, res.stdout + res.stderr
    finally:
        assert sim.coordinator("down", lab).returncode == 0


def test_failover_across_machines(sim, tmp_path):
    """bgp.yaml over three machines: the primary link set down on its machine, then silenced; routing
    converges on every machine (each waits for its own routers)."""
    before = _snapshots(sim)
    lab = f"mc-fo-{tmp_path.name[-6:].replace('_', '')}"
    path = sim.dir / f"{lab}.yaml"
    path.write_text(renamed((TOPOLOGIES / "bgp.yaml").read_text(), lab))
    res = sim.coordinator("up", str(path), "--hosts", str(sim.inventory))
    assert res.returncode == 0, res.stdout + res.stderr
    try:
        status = sim.coordinator("status", lab)
        assert len({line.split(" on ")[-1] for line in status.stdout.splitlines() if " on m" in line}) == 3, status.stdout
        res = sim.coordinator("run", "failover", "--lab", lab, "--quick", "--json",
                              "--report-dir", str(tmp_path / "report"), timeout=900)
        out = json.loads(res.stdout)
        failed = [c for c in out["checks"] if not c["passed"]]
        assert res.returncode == 0 and not failed and out["error"] is None, (failed, out["error"], res.stderr[-2000:])
        names = [c["name"] for c in out["checks"]]
        assert "bgp: carrier loss reroutes at once" in names and any("silent failure" in n for n in names), names
        print([(c["name"], c["reason"]) for c in out["checks"]])
    finally:
        down = sim.coordinator("down", lab)
    assert down.returncode == 0, down.stdout + down.stderr
    _same_as(sim, before)


# congestion.yaml's impaired link inside m1, then a router and a link cut between m1 and m2.
CONGESTION_LAB = """\
name: {name}
nodes:
  client: {{host: m1, routes: ["default via 10.0.0.2"]}}
  r1: {{kind: router, host: m1}}
  server: {{host: m2, routes: ["default via 10.0.1.1"]}}
links:
  - endpoints: ["client:eth0 10.0.0.1/24", "r1:eth0 10.0.0.2/24"]
    bandwidth: 10mbit
    delay: 50ms
    from:
      client: {{loss: 1%}}
  - endpoints: ["r1:eth1 10.0.1.1/24", "server:eth0 10.0.1.2/24"]
"""


def test_congestion_across_machines_reads_the_impairment_the_machines_apply(sim, tmp_path):
    before = _snapshots(sim)
    lab, path = _lab_from(sim, CONGESTION_LAB, "mc-cc")
    assert sim.coordinator("up", path, "--hosts", str(sim.inventory)).returncode == 0
    try:
        # changed at run time on m1: the scenario reads m1's live state, not the file's 50 ms
        changed = sim.coordinator("link", lab, "client:eth0", "set", "--delay", "80ms")
        assert changed.returncode == 0, changed.stdout + changed.stderr
        res = sim.coordinator("run", "congestion", "--lab", lab, "--quick", "--json",
                              "--report-dir", str(tmp_path / "report"), timeout=600)
        out = json.loads(res.stdout)
        r, cases = out["results"], out["cases"]
        assert out["error"] is None, (out["error"], res.stderr)
        assert [cases[a]["algorithm"] for a in ("reno", "cubic", "bbr")] == ["reno", "cubic", "bbr"], cases
        assert r["loss_pct"] == 1.0 and r["added_rtt_ms"] == 160 and r["bandwidth_bit_s"] == 10_000_000, r
        # the delay is really there: iperf3's own RTT on the sender's socket
        assert all(cases[a]["rtt_ms"] >= 155 for a in ("reno", "cubic", "bbr")), cases
        print({a: (cases[a]["goodput_mbit"], cases[a]["rtt_ms"]) for a in cases}, r.get("mathis_mbit"))
    finally:
        down = sim.coordinator("down", lab)
    assert down.returncode == 0, down.stdout + down.stderr
    _same_as(sim, before)


# tfo.yaml's delayed link inside m1, the server behind a link cut between m1 and m2.
TFO_LAB = """\
name: {name}
nodes:
  client: {{host: m1, routes: ["default via 10.0.0.2"]}}
  r1: {{kind: router, host: m1}}
  server: {{host: m2, routes: ["default via 10.0.1.1"]}}
links:
  - endpoints: ["client:eth0 10.0.0.1/24", "r1:eth0 10.0.0.2/24"]
    delay: 10ms
  - endpoints: ["r1:eth1 10.0.1.1/24", "server:eth0 10.0.1.2/24"]
"""


def test_tfo_across_machines(sim, tmp_path):
    before = _snapshots(sim)
    lab, path = _lab_from(sim, TFO_LAB, "mc-tfo")
    assert sim.coordinator("up", path, "--hosts", str(sim.inventory)).returncode == 0
    try:
        res = sim.coordinator("run", "tfo", "--lab", lab, "--quick", "--json",
                              "--report-dir", str(tmp_path / "report"), timeout=600)
        out = json.loads(res.stdout)
        failed = [c for c in out["checks"] if not c["passed"]]
        assert res.returncode == 0 and not failed and out["error"] is None, (failed, out["error"], res.stderr)
        print({k: v for k, v in out["results"].items() if not isinstance(v, (list, dict))})
        # the kernel facts are each machine's own, read there (client on m1, server on m2)
        facts = out["machine"]["machines"]
        assert set(facts) == {"m1", "m2"}, out["machine"]
        for m in ("m1", "m2"):
            assert facts[m]["kernel"] == sim.in_machine(m, ["uname", "-r"]).stdout.strip(), facts
        assert "m1: " in out["machine"]["hz_source"] and "m2: " in out["machine"]["hz_source"], out["machine"]
    finally:
        down = sim.coordinator("down", lab)
    assert down.returncode == 0, down.stdout + down.stderr
    _same_as(sim, before)


IMPAIRED_CUT_LAB = """\
name: {name}
nodes:
  h1: {{host: m1}}
  h2: {{host: m2}}
links:
  - endpoints: ["h1:eth0 10.0.0.1/24", "h2:eth0 10.0.0.2/24"]
    delay: 30ms
"""


def test_link_emulation_on_a_link_between_machines(sim):
    before = _snapshots(sim)
    lab, path = _lab_from(sim, IMPAIRED_CUT_LAB, "mc-imp")
    res = sim.coordinator("up", path, "--hosts", str(sim.inventory))
    try:
        assert res.returncode == 0, res.stdout + res.stderr
        # each machine's delay line delays what arrives there: 30 ms each way (-U: user-to-user time, as on
        # one machine a plain ping from a link's end sees only one direction of the fallback's delay)
        ping = _exec(sim, lab, "h1", "ping", "-U", "-c", "3", "-i", "0.2", "10.0.0.2")
        rtts = [float(x.split("time=")[1].split()[0]) for x in ping.stdout.splitlines() if "time=" in x]
        assert len(rtts) == 3 and all(55 <= t <= 120 for t in rtts), ping.stdout + ping.stderr
        print("ping -U across the impaired cut link:", rtts)
        # changed at run time: both machines change their own end (h2 delays what it receives, h1 too)
        res = sim.coordinator("link", lab, "h1:eth0", "set", "--delay", "80ms")
        assert res.returncode == 0 and "on m1: " in res.stdout and "on m2: " in res.stdout, res.stdout + res.stderr
        ping = _exec(sim, lab, "h1", "ping", "-U", "-c", "3", "-i", "0.2", "10.0.0.2")
        rtts = [float(x.split("time=")[1].split()[0]) for x in ping.stdout.splitlines() if "time=" in x]
        assert len(rtts) == 3 and all(158 <= t <= 220 for t in rtts), ping.stdout + ping.stderr
        # one direction only, from the other machine's end: h2 -> h1 delayed 20 ms, h1 -> h2 plain
        res = sim.coordinator("link", lab, "h2:eth0", "set", "--clear")
        assert res.returncode == 0, res.stdout + res.stderr
        res = sim.coordinator("link", lab, "h2:eth0", "set", "--delay", "20ms", "--direction", "out")
        assert res.returncode == 0, res.stdout + res.stderr
        ping = _exec(sim, lab, "h1", "ping", "-U", "-c", "3", "-i", "0.2", "10.0.0.2")
        rtts = [float(x.split("time=")[1].split()[0]) for x in ping.stdout.splitlines() if "time=" in x]
        assert len(rtts) == 3 and all(19 <= t <= 60 for t in rtts), ping.stdout + ping.stderr
        # each machine runs a delay line only for what its own end receives, and says so
        listed = sim.coordinator("link", lab)
        assert "NOT RUNNING" not in listed.stdout and listed.stdout.count("delay line: running") == 1, listed.stdout
    finally:
        down = sim.coordinator("down", lab)
    assert down.returncode == 0, down.stdout + down.stderr
    _same_as(sim, before)


def _ping(sim, lab: str, src: str, dst: str) -> bool:
    return _exec(sim, lab, src, "ping", "-c", "1", "-W", "2", dst).returncode == 0


def test_link_down_and_up_on_nodes_of_other_machines(sim):
    before = _snapshots(sim)
    lab, path = _lab_from(sim, PMTUD_LAB, "mc-link")
    assert sim.coordinator("up", path, "--hosts", str(sim.inventory)).returncode == 0
    try:
        assert _ping(sim, lab, "h1", "10.0.3.2")
        # the picture of the running lab: one box per machine, the cut link with what VXLAN carries
        dot = sim.coordinator("graph", lab)
        assert dot.returncode == 0, dot.stdout + dot.stderr
        assert "machine m1" in dot.stdout and "machine m2" in dot.stdout, dot.stdout
        assert "1450" in dot.stdout, dot.stdout
        # a link inside m2, and the link between m1 and m2 (its VXLAN end on r2's side)
        for end in ("h2:eth0", "r2:eth0"):
            res = sim.coordinator("link", lab, end, "down")
            assert res.returncode == 0 and "is down" in res.stdout, res.stdout + res.stderr
            assert not _ping(sim, lab, "h1", "10.0.3.2"), f"{end} down, yet h1 reaches h2"
            node, ifname = end.split(":")
            state = sim.coordinator("exec", lab, node, "--", "ip", "-br", "link", "show", ifname)
            assert "DOWN" in state.stdout, state.stdout
            listed = sim.coordinator("link", lab)
            assert listed.returncode == 0 and "on m2:" in listed.stdout and "[DOWN]" in listed.stdout, listed.stdout
            res = sim.coordinator("link", lab, end, "up")
            assert res.returncode == 0 and "is up" in res.stdout, res.stdout + res.stderr
            for _ in range(20):
                if _ping(sim, lab, "h1", "10.0.3.2"):
                    break
            else:
                raise AssertionError(f"{end} up again, yet h1 does not reach h2")
    finally:
        down = sim.coordinator("down", lab)
    assert down.returncode == 0, down.stdout + down.stderr
    _same_as(sim, before)


def test_capture_and_dns_trace_on_nodes_of_other_machines(sim, tmp_path):
    before = _snapshots(sim)
    lab = f"mc-cap-{tmp_path.name[-6:].replace('_', '')}"
    path = sim.dir / f"{lab}.yaml"
    path.write_text(renamed(INTERNET.read_text(), lab))  # BGP (FRR) routers on every machine
    assert sim.coordinator("up", str(path), "--hosts", str(sim.inventory)).returncode == 0
    try:
        placement = json.loads(sim.coordinator("plan", str(path), "--hosts", str(sim.inventory), "--json").stdout)
        # DNS: alice's resolver answers through the hierarchy, wherever it and the servers are
        trace = sim.coordinator("dns", "trace", lab, "alice", "www.bob.com", "--fresh")
        assert trace.returncode == 0 and "192.0.2.80" in trace.stdout, trace.stdout + trace.stderr
        flush = sim.coordinator("dns", "flush", lab, "alice")
        assert flush.returncode == 0 and "flushed the cache of resolver" in flush.stdout, flush.stdout + flush.stderr
        # capture on alice (not on the coordinator: no machine is) while she pings; Ctrl-C ends it cleanly
        pcap = tmp_path / "alice.pcap"
        assert placement["placement"]["alice"] in sim.machines
        cap = sim.coordinator_popen("capture", lab, "alice:eth0", "-w", str(pcap), "--", "icmp")
        try:
            for _ in range(30):
                _exec(sim, lab, "alice", "ping", "-c", "1", "-W", "1", "192.0.2.80")
                if pcap.exists() and pcap.stat().st_size > 200:
                    break
                time.sleep(0.3)
        finally:
            cap.send_signal(signal.SIGINT)
            out, err = cap.communicate(timeout=30)
        read = subprocess.run(["tcpdump", "-r", str(pcap), "-n"], capture_output=True, text=True)
        assert read.returncode == 0 and "ICMP echo request" in read.stdout, (read.stdout, read.stderr, err)
        # -c and -w -: a count ends it by itself, the pcap comes out on stdout
        server = sim.coordinator_popen("exec", lab, "alice", "--", "ping", "-c", "8", "-i", "0.3", "192.0.2.80")
        counted = sim.coordinator_raw("capture", lab, "alice:eth0", "-c", "2", "-w", "-", "--", "icmp")
        server.communicate(timeout=30)
        assert counted.returncode == 0 and counted.stdout[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4"), counted
    finally:
        down = sim.coordinator("down", lab)
    assert down.returncode == 0, down.stdout + down.stderr
    _same_as(sim, before)


# No declared checks (so `test` pings all pairs); an impaired link inside each machine, one of them into a
# switch on m2 whose first member is r1 on m1 (check measures to h2, on m2), and a delayed link cut between them.
SPREAD_LAB = """\
name: {name}
nodes:
  h1: {{host: m1, routes: ["default via 10.0.0.2"]}}
  r1: {{kind: router, host: m1}}
  h2: {{host: m2, routes: ["default via 10.0.1.1"]}}
  h3: {{host: m2, routes: ["default via 10.0.1.1"]}}
  sw: {{kind: switch, host: m2}}
  h4: {{host: m3, routes: ["default via 10.0.2.1"]}}
links:
  - endpoints: ["h1:eth0 10.0.0.1/24", "r1:eth0 10.0.0.2/24"]
    delay: 10ms
  - endpoints: ["r1:eth1 10.0.1.1/24", sw]
  - endpoints: ["h2:eth0 10.0.1.2/24", sw]
  - endpoints: ["h3:eth0 10.0.1.3/24", sw]
    delay: 5ms
  - endpoints: ["r1:eth2 10.0.2.1/24", "h4:eth0 10.0.2.2/24"]
    delay: 3ms
"""


def test_pairs_check_and_logs_from_the_coordinator(sim):
    before = _snapshots(sim)
    lab, path = _lab_from(sim, SPREAD_LAB, "mc-pairs")
    assert sim.coordinator("up", path, "--hosts", str(sim.inventory)).returncode == 0
    try:
        # every host pings every other, each from its own machine (no declared checks: pairs by default)
        res = sim.coordinator("test", lab, "--json")
        out = json.loads(res.stdout)
        assert res.returncode == 0 and out["passed"], res.stdout + res.stderr
        assert out["pairs"]["hosts"] == ["h1", "h2", "h3", "h4"] and out["pairs"]["total"] == 12, out["pairs"]
        assert out["pairs"]["answered"] == 12, out["pairs"]
        # h3 cut off: every ping to and from it fails, each traced from the pinging host's machine
        assert sim.coordinator("link", lab, "h3:eth0", "down").returncode == 0
        res = sim.coordinator("test", lab, "--pairs", "--timeout", "1")
        assert res.returncode == 1, res.stdout + res.stderr
        assert "6/12 pings answered" in res.stdout, res.stdout
        fails = [line for line in res.stdout.splitlines() if line.startswith("FAIL ")]
        assert len(fails) == 6 and all("h3" in line for line in fails), fails
        assert "FAIL h4 -> h3 10.0.1.3" in res.stdout and "FAIL h3 -> h1 10.0.0.1" in res.stdout, res.stdout
        assert sim.coordinator("link", lab, "h3:eth0", "up").returncode == 0
        # check: each machine measures the impaired links it holds both ends of; the cut one is listed as such
        res = sim.coordinator("check", lab, "--seconds", "1", "--json")
        found = {x["link"]: x for x in json.loads(res.stdout)}
        assert set(found) == {0, 3, 4}, found
        assert found[0]["machine"] == "m1" and found[0]["rtt_ms"] and found[0]["rtt_expected_ms"] == 20, found[0]
        assert found[3]["machine"] == "m2" and found[3]["path"] == "h3:eth0 -> h2:eth0", found[3]
        assert found[3]["rtt_expected_ms"] == 10 and found[3]["rtt_ms"] >= 9, found[3]
        # the link between m1 and m3: its round trip by ping -U from r1 (on m1) to h4 (on m3)
        assert found[4]["machine"] == "m1 -> m3" and found[4]["rtt_expected_ms"] == 6, found[4]
        assert 5.5 <= found[4]["rtt_ms"] <= 12 and not found[4]["warnings"], found[4]
        assert res.returncode == 0, res.stdout + res.stderr
        # m3 alone holds 20 ms more for h4 (behind netemu's back on m1): the measured round trip says so
        root = Path(__file__).resolve().parents[2]
        alone = sim.in_machine("m3", ["env", f"PYTHONPATH={root}", sys.executable, "-m", "netemu", "link", lab,
                                      "h4:eth0", "set", "--delay", "23ms", "--direction", "in"])
        assert alone.returncode == 0, alone.stdout + alone.stderr
        res = sim.coordinator("check", lab, "--seconds", "1", "--json")
        late = next(x for x in json.loads(res.stdout) if x["link"] == 4)
        assert res.returncode == 1 and late["rtt_ms"] >= 25 and late["warnings"], late
        # logs: every machine's processes (a delay line each), headed by its machine; a node's on its machine
        res = sim.coordinator("logs", lab)
        assert res.returncode == 0, res.stdout + res.stderr
        heads = [line for line in res.stdout.splitlines() if line.startswith("==> ")]
        assert {h.split(":")[0][4:] for h in heads} == {"m1", "m2", "m3"}, heads
        assert all("linkemu-delay" in h for h in heads), heads
        res = sim.coordinator("logs", lab, "sw", "-n", "1")
        assert res.returncode == 0 and "delayline: generation" in res.stdout, res.stdout + res.stderr
        # following: each line prefixed with its machine; stopped here, nothing keeps following there
        follow = sim.coordinator_popen("logs", lab, "-f")
        first = follow.stdout.readline()
        follow.terminate()
        follow.communicate(timeout=30)
        assert first.startswith(("[m1:linkemu-delay] ", "[m2:linkemu-delay] ", "[m3:linkemu-delay] ")), first
        deadline = time.monotonic() + 10
        while subprocess.run(["pgrep", "-f", f"logs {lab} -f"], capture_output=True).returncode == 0:
            assert time.monotonic() < deadline, "a `logs -f` outlived the coordinator's"
            time.sleep(0.2)
    finally:
        down = sim.coordinator("down", lab)
    assert down.returncode == 0, down.stdout + down.stderr
    _same_as(sim, before)


def test_run_brings_the_scenarios_own_topology_up_across_machines(sim, tmp_path):
    """`run nagle --hosts`: its own topology placed over the machines; its RTT sweep changes the delay of the
    link between them on both machines, and restores it."""
    before = _snapshots(sim)
    lab = f"mc-nag-{tmp_path.name[-6:].replace('_', '')}"
    res = sim.coordinator("run", "nagle", "--hosts", str(sim.inventory), "--lab-name", lab, "--quick", "--json",
                          "--report-dir", str(tmp_path / "report"), timeout=900)
    out = json.loads(res.stdout)
    failed = [c for c in out["checks"] if not c["passed"]]
    assert res.returncode == 0 and not failed and out["error"] is None, (failed, out["error"], res.stderr[-2000:])
    assert len(out["machine"]["machines"]) == 2, out["machine"]  # client and server on two machines
    sweep = [c for c in out["checks"] if c["name"].startswith("RTT sweep")]
    assert sweep and sweep[0]["passed"], sweep
    print(sweep[0]["reason"])
    # the lab is gone from every machine, and from the coordinator
    assert sim.coordinator("status").stdout.count(lab) == 0
    assert "netemu" not in sim.in_machine("c", ["ls", "/run"]).stdout.split()
    _same_as(sim, before)
