"""The flagship topology on real namespaces: NAT, CGNAT, port forwards, a security group, PMTUD (root)."""

from __future__ import annotations

import ipaddress

import pytest
from conftest import host_snapshot, needs_root, needs_tool
from nf_helpers import connect, conntrack, curl, host_rules, internet_text, ns_run, ping, server

from netemu.model import namespace_name as ns
from netemu.netfilter.status import node_report, render_text

pytestmark = pytest.mark.root

POOL = ipaddress.ip_network("203.0.113.16/29")
WEB_PUBLIC = "192.0.2.80"


@pytest.fixture(autouse=True)
def _root():
    needs_root()
    needs_tool("iptables-restore", "conntrack", "curl", "ping")


def test_alice_reaches_bob_through_two_nats(lab_text):
    before_host = host_rules()
    before = host_snapshot()
    lab = lab_text(internet_text())
    with server(ns(lab, "web"), 80, name="bob") as srv:
        res = curl(ns(lab, "alice"), f"http://{WEB_PUBLIC}/")
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == "hello from bob"
        srv.read_available()
        [peer] = srv.peers()
    # Bob sees neither 192.168.1.10 nor 100.64.1.2 but an address of the ISP's public pool
    assert ipaddress.ip_address(peer) in POOL

    home = conntrack(ns(lab, "home"))
    assert f"src=192.168.1.10 dst={WEB_PUBLIC}" in home and "dst=100.64.1.2" in home, home
    isp = conntrack(ns(lab, "isp"))
    assert f"src=100.64.1.2 dst={WEB_PUBLIC}" in isp and f"dst={peer}" in isp, isp

    # the same, read back the way `netemu status LAB NODE` shows it
    home_report = node_report(ns(lab, "home"))
    [t] = [t for t in home_report["translations"] if t["proto"] == "tcp"]
    assert t["original"]["src"] == "192.168.1.10" and t["snat"].startswith("100.64.1.2:")
    isp_report = node_report(ns(lab, "isp"))
    assert any(t["snat"] and t["snat"].startswith(peer + ":") for t in isp_report["translations"])
    text = render_text(isp_report)
    assert "SNAT --to-source 203.0.113.16-203.0.113.23 --persistent" in text
    assert "tcp 100.64.1.2:" in text and f"SNAT to {peer}:" in text
    masq = [r for tb in home_report["tables"] for c in tb["chains"] for r in c["rules"] if "MASQUERADE" in r["rule"]]
    assert masq and masq[0]["packets"] >= 1 and masq[0]["lab"] == lab
    # nothing of the lab in the host namespace
    assert host_rules() == before_host
    assert host_snapshot() == before


def test_internet_cannot_reach_alice_except_through_the_port_forward(lab_text):
    lab = lab_text(internet_text())
    alice, web, isp = ns(lab, "alice"), ns(lab, "web"), ns(lab, "isp")
    with server(alice, 8000, name="alice") as srv:
        # the LAN can reach it, so it is listening
        assert connect(ns(lab, "home"), "192.168.1.10", 8000)[0]
        # from the internet: her private address is not routed, other ports of the pool address lead nowhere
        assert not connect(web, "192.168.1.10", 8000)[0]
        assert not connect(web, "203.0.113.23", 8000)[0]
        # even a neighbour that routes 192.168.1.0/24 to her home router is stopped by its firewall
        assert ns_run(isp, "ip", "route", "add", "192.168.1.0/24", "via", "100.64.1.2").returncode == 0
        ok, out = connect(isp, "192.168.1.10", 8000)
        assert not ok and "timed out" in out, out
        # the port forward chain: 203.0.113.23:8080 (CGNAT) -> 100.64.1.2:8080 (home) -> 192.168.1.10:8000
        ok, out = connect(web, "203.0.113.23", 8080)
        assert ok and out == "hello from alice", out
        srv.read_available()
        assert srv.peers()[-1] == WEB_PUBLIC  # Bob's server, by its 1:1 public address
    report = node_report(ns(lab, "home"))
    assert any(t["dnat"] == "192.168.1.10:8000" for t in report["translations"]), report["translations"]


def test_security_group_admits_http_and_icmp_refuses_ssh(lab_text):
    lab = lab_text(internet_text())
    alice, web = ns(lab, "alice"), ns(lab, "web")
    with server(web, 80, name="bob"), server(web, 22, name="sshd"):
        assert connect(alice, WEB_PUBLIC, 80)[0]
        assert ping(alice, WEB_PUBLIC).returncode == 0
        ok, out = connect(alice, WEB_PUBLIC, 22)
        assert not ok and "timed out" in out, out  # dropped silently, as a security group does
        # inside the server it is listening all right
        assert connect(web, "127.0.0.1", 22)[0]
    # return traffic of connections Bob's server opens flows back in (stateful)
    with server(ns(lab, "core1"), 8000, name="core1"):
        ok, out = connect(web, "198.51.100.2", 8000)
        assert ok and out == "hello from core1", out
    report = node_report(web)
    [table] = [t for t in report["tables"] if t["table"] == "filter" and t["family"] == 4]
    [chain] = [c for c in table["chains"] if c["chain"] == "INPUT"]
    assert chain["policy"] == "DROP" and chain["packets"] >= 1  # the SSH SYNs, dropped by the policy
    counters = {r["rule"]: r["packets"] for r in chain["rules"]}
    assert counters["-p tcp -m tcp --dport 80 -j ACCEPT"] >= 1
    assert counters["-p tcp -m tcp --dport 443 -j ACCEPT"] == 0


def _drop_all_icmp_on_core2(data):
    data["nodes"]["core2"]["firewall"] = {"icmp": "drop-all"}


def test_icmp_drop_all_makes_a_pmtud_black_hole(lab_text):
    normal = lab_text(internet_text())
    hole = lab_text(internet_text(_drop_all_icmp_on_core2))
    # without the policy, core2 (the tunnel entry) answers a too-big DF packet with "frag needed"
    res = ping(ns(normal, "alice"), WEB_PUBLIC, "-M", "do", "-s", "1472")
    assert "Frag needed" in res.stdout and "mtu = 1400" in res.stdout, res.stdout
    # with it, the error is dropped in core2's OUTPUT chain: the packet simply vanishes
    res = ping(ns(hole, "alice"), WEB_PUBLIC, "-M", "do", "-s", "1472", count=2, wait=1)
    assert res.returncode != 0
    assert "Frag needed" not in res.stdout and "100% packet loss" in res.stdout, res.stdout
    # every ICMP message is gone, ping included; TCP with small packets still works
    assert ping(ns(hole, "alice"), WEB_PUBLIC, wait=1).returncode != 0
    with server(ns(hole, "web"), 80, name="bob"):
        assert curl(ns(hole, "alice"), f"http://{WEB_PUBLIC}/").stdout.strip() == "hello from bob"
    report = node_report(ns(hole, "core2"))
    [table] = [t for t in report["tables"] if t["table"] == "filter" and t["family"] == 4]
    [out] = [c for c in table["chains"] if c["chain"] == "OUTPUT"]
    assert any(r["rule"] == "-p icmp -j DROP" and r["packets"] >= 1 for r in out["rules"]), render_text(report)


def _core3(**firewall):
    def mutate(data):
        data["nodes"]["core3"]["firewall"] = firewall
    return mutate


def test_tcp_black_hole_and_mss_clamping(lab_text):
    # Downloads flow web -> alice, so core3 enters the 1400-byte tunnel and must tell web "frag needed".
    hole = lab_text(internet_text(_core3(icmp="drop-all")))
    cured = lab_text(internet_text(_core3(icmp="drop-all", clamp_mss=True)))
    for lab in (hole, cured):
        for node in ("alice", "web"):  # learned path MTUs must not leak between runs
            ns_run(ns(lab, node), "ip", "route", "flush", "cache")
    with server(ns(hole, "web"), 80, name="bob", padding=20000):
        res = curl(ns(hole, "alice"), f"http://{WEB_PUBLIC}/", timeout=4)
        assert res.returncode == 28, (res.returncode, res.stderr)  # curl: operation timed out
    with server(ns(cured, "web"), 80, name="bob", padding=20000):
        res = curl(ns(cured, "alice"), f"http://{WEB_PUBLIC}/", timeout=10)
        assert res.returncode == 0 and res.stdout.endswith("hello from bob\n"), res.stderr
    report = node_report(ns(cured, "core3"))
    [mangle] = [t for t in report["tables"] if t["table"] == "mangle" and t["family"] == 4]
    [fwd] = [c for c in mangle["chains"] if c["chain"] == "FORWARD"]
    assert fwd["rules"][0]["packets"] >= 2  # Alice's SYN and Bob's SYN-ACK, MSS rewritten


@pytest.mark.parametrize("backend", ["nft", "legacy"])
def test_both_backends(lab_text, backend):
    needs_tool(f"iptables-{backend}-restore")
    lab = lab_text(internet_text(lambda d: d.update(netfilter={"backend": backend})))
    with server(ns(lab, "web"), 80, name="bob"):
        assert curl(ns(lab, "alice"), f"http://{WEB_PUBLIC}/").stdout.strip() == "hello from bob"
    report = node_report(ns(lab, "home"))
    assert {t["backend"] for t in report["tables"]} == {backend}
    save = ns_run(ns(lab, "home"), f"iptables-{backend}-save").stdout
    rules = [line for line in save.splitlines() if line.startswith("-A")]
    assert rules and all(f'--comment "netemu:{lab}"' in line for line in rules)


def test_cli_up_down_leaves_no_rule_anywhere(tmp_path):
    from conftest import leftovers, netemu, shipped, unique_name

    name = unique_name("nf")
    path = tmp_path / "internet.yaml"
    path.write_text(shipped("internet.yaml", name))
    before_rules, before = host_rules(), host_snapshot()
    try:
        netemu("up", str(path), check=True)
        nodes = ("home", "isp", "cloud", "web")
        saved = {n: ns_run(ns(name, n), "iptables-save").stdout for n in nodes}
        assert all(f'"netemu:{name}"' in text for text in saved.values()), saved
        netemu("exec", name, "alice", "--", "ping", "-c1", "-W2", WEB_PUBLIC, check=True)
        status = netemu("status", name, "home", check=True).stdout
        assert "NAT and firewall:" in status and "-o eth1 -j MASQUERADE" in status, status
        assert "icmp 192.168.1.10 -> 192.0.2.80  SNAT to 100.64.1.2" in status, status
        assert "NAT and firewall:" not in netemu("status", name, "alice", check=True).stdout
    finally:
        netemu("down", name, check=True)
    assert leftovers(name) == []
    assert host_rules() == before_rules and host_snapshot() == before
    for n in ("home", "isp", "cloud", "web"):
        assert ns_run(ns(name, n), "iptables-save").returncode != 0  # the namespace, and its rules, are gone
