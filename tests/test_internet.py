"""The flagship topology end to end (root): Alice finds www.bob.com through the lab's DNS hierarchy and
fetches it across two NATs, the 1400-byte core and Bob's 1:1 NAT and security group."""

from __future__ import annotations

import ipaddress
import re
import subprocess
from pathlib import Path

import pytest
from conftest import needs_root, needs_tool, netemu, shipped

pytestmark = pytest.mark.root

WEB_PUBLIC = "192.0.2.80"  # Bob's web server, 1:1 NATed to 10.20.0.80
RESOLVER = "203.0.113.53"  # isp-resolver, alice's `resolver:`
BOB_NS_PUBLIC = "192.0.2.53"  # bob-ns, 1:1 NATed to 10.20.0.53
POOL = ipaddress.ip_network("203.0.113.16/29")  # the ISP's CGNAT pool


@pytest.fixture(autouse=True)
def _root():
    needs_root()
    needs_tool("curl", "dig", "getent")


def run_in(lab: str, node: str, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess:
    """Run argv inside a node (with its /etc/netns resolv.conf and hosts), bounded by `timeout`."""
    return subprocess.run(["ip", "netns", "exec", f"{lab}-{node}", *argv], capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_alice_fetches_www_bob_com_by_name(lab_text):
    lab = lab_text(shipped("internet.yaml"), prefix="inet")

    # the name is not in the lab's hosts files: it comes from DNS, through alice's resolver
    assert "bob.com" not in Path(f"/etc/netns/{lab}-alice/hosts").read_text()
    res = run_in(lab, "alice", "dig", "+time=4", "+tries=2", "www.bob.com", "A")
    assert "status: NOERROR" in res.stdout, res.stdout + res.stderr
    assert re.search(rf"^www\.bob\.com\.\s+\d+\s+IN\s+A\s+{re.escape(WEB_PUBLIC)}$", res.stdout, re.MULTILINE), res.stdout
    assert f"SERVER: {RESOLVER}#53" in res.stdout, res.stdout
    res = run_in(lab, "alice", "getent", "hosts", "www.bob.com")  # the system resolver, as curl uses it
    assert res.returncode == 0 and res.stdout.split()[0] == WEB_PUBLIC, res.stdout + res.stderr

    # Bob's web server is the topology's built-in `http` service, up since `up`: its page names the node
    # that answered and the client address it saw, and its log (netemu logs) has a line per request
    res = run_in(lab, "alice", "curl", "-sS", "-m", "5", "-w", "\n%{http_code} %{remote_ip}", "http://www.bob.com/")
    assert res.returncode == 0, res.stderr
    *page, status = res.stdout.splitlines()
    assert status.split() == ["200", WEB_PUBLIC], res.stdout
    assert page[0] == "Hello from web!", res.stdout
    seen = re.match(r"You are (\S+) port \d+", page[1])
    assert seen, res.stdout
    # Bob sees neither 192.168.1.10 nor 100.64.1.2, but an address of the ISP's CGNAT pool
    assert ipaddress.ip_address(seen.group(1)) in POOL, res.stdout
    logs = netemu("logs", lab, "web", "http", timeout=30)
    assert logs.returncode == 0, logs.stderr
    assert f'{seen.group(1)} port' in logs.stdout and '"GET / HTTP/1.1" 200' in logs.stdout, logs.stdout

    # the resolver's way there: a referral from the root to com., from com. to bob.com., then the answer
    res = netemu("dns", "trace", lab, "alice", "www.bob.com", "--fresh", timeout=30)
    assert res.returncode == 0, res.stdout + res.stderr
    rows = [line.split() for line in res.stdout.splitlines() if re.match(r"^\s+\d+\s", line)]
    assert [(r[3], r[5]) for r in rows] == [("root", "[.]"), ("tld-com", "[com.]"), ("bob-ns", "[bob.com.]")], \
        res.stdout
    assert "referral to com. NS" in res.stdout and "referral to bob.com. NS" in res.stdout, res.stdout
    assert rows[2][4] == BOB_NS_PUBLIC, res.stdout  # asked at its 1:1 public address, through cloud's NAT
    assert f"answer www.bob.com. 3600 A {WEB_PUBLIC}" in res.stdout, res.stdout
    assert "NOERROR" in res.stdout, res.stdout


PUBLIC = {"192.0.2.0/24", "198.51.100.0/30", "198.51.100.4/30", "198.51.100.8/30", "198.51.100.12/30",
          "198.51.100.128/25", "203.0.113.0/24"}


def test_ases_announce_public_prefixes_and_scenario_paths_follow_the_live_fibs(lab_text):
    """Five ASes speak BGP; only public prefixes are announced; a scenario's path is what BGP installed.

    The routers' routes exist only in their kernels (FRR's zebra puts them there): the path walk reads
    them and must find the same paths as the static-routed copy of this lab the model-only tests use.
    """
    import json

    from netemu.parse import load_topology, topology_from_text
    from netemu.scenarios import paths

    lab = lab_text(shipped("internet.yaml"), prefix="inet")
    for router in ("home", "isp", "core1", "core2", "core3", "cloud"):
        res = netemu("exec", lab, router, "--", "vtysh", "-c", "show ip bgp json", timeout=30)
        assert res.returncode == 0, res.stderr
        assert set(json.loads(res.stdout)["routes"]) == PUBLIC, (router, res.stdout)

    live = topology_from_text(shipped("internet.yaml", lab), "<internet>")
    static = load_topology(str(Path(__file__).parent / "scenarios" / "internet-static.yaml"))
    pairs = [("alice", "root"), ("alice", "cloud"), ("web", "root"), ("isp-resolver", "tld-org"),
             ("root", "isp-resolver"), ("bob-ns", "isp-resolver")]
    for src, dst in pairs:
        there, back = paths.round_trip(live, src, dst, 4)
        want, want_back = paths.round_trip(static, src, dst, 4)
        assert (there.describe(), back.describe()) == (want.describe(), want_back.describe())
    there = paths.between(live, "alice", "cloud", 4)
    assert there.nodes() == ["alice", "home", "isp", "core1", "core2", "core3", "cloud"]
    assert there.narrowest().node == "core2" and there.mtu == 1400
    with pytest.raises(paths.PathError, match=r"home has no route to 10.20.0.80\)"):
        paths.between(live, "alice", "web", 4)  # Bob's VPC is announced nowhere
