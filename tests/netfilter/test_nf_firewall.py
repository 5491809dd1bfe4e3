"""Stateful versus stateless filtering on a small lab, and scratch-namespace loads of every rendered rule set."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import TOPOLOGIES, needs_root, needs_tool
from nf_helpers import connect, ns_run, ping, scratch_namespace, server

from netemu.netfilter.backend import restore_tool, save_tool
from netemu.netfilter.feature import rule_files
from netemu.parse import topology_from_text

pytestmark = pytest.mark.root

GOLDEN = Path(__file__).resolve().parent / "golden" / "render"

LAB = """
name: NAME
nodes:
  client: {routes: ["default via 10.0.1.1"]}
  r1: {kind: router}
  server:
    routes: ["default via 10.0.2.1"]
    firewall: FIREWALL
links:
  - endpoints: ["client:eth0 10.0.1.2/24", "r1:eth0 10.0.1.1/24"]
  - endpoints: ["r1:eth1 10.0.2.1/24", "server:eth0 10.0.2.2/24"]
"""

HTTP_IN = {"proto": "tcp", "port": 80}
REPLIES_OUT = {"chain": "output", "proto": "tcp", "sport": 80}


@pytest.fixture(autouse=True)
def _root():
    needs_root()
    needs_tool("iptables-restore")


def firewall_lab(lab_text, **firewall) -> str:
    return lab_text(LAB.replace("FIREWALL", json.dumps(firewall)), prefix="fw")


@pytest.mark.parametrize("mode, rules, works", [
    ("stateful", [HTTP_IN], True),                  # replies are part of the allowed connection
    ("stateless", [HTTP_IN], False),                # the SYN gets in, the SYN-ACK never gets out
    ("stateless", [HTTP_IN, REPLIES_OUT], True),    # written for both directions
])
def test_inbound_replies_stateful_versus_stateless(lab_text, mode, rules, works):
    lab = firewall_lab(lab_text, mode=mode, input="drop", output="drop", allow=rules)
    with server(f"{lab}-server", 80, name="server"):
        ok, out = connect(f"{lab}-client", "10.0.2.2", 80)
    assert ok == works, out
    with server(f"{lab}-server", 22, name="ssh"):
        assert not connect(f"{lab}-client", "10.0.2.2", 22)[0]  # never allowed in any mode


@pytest.mark.parametrize("mode, works", [("stateful", True), ("stateless", False)])
def test_outbound_connection_replies(lab_text, mode, works):
    # The server may open connections (output accept) but admits only port 80 in: a stateless filter
    # drops the replies of its own connections, which come from port 8000 to an ephemeral port.
    lab = firewall_lab(lab_text, mode=mode, input="drop", allow=[HTTP_IN])
    with server(f"{lab}-client", 8000, name="client"):
        ok, out = connect(f"{lab}-server", "10.0.1.2", 8000)
    assert ok == works, out


@pytest.mark.parametrize("icmp, echo, mtu_error", [("allow", True, True), ("drop-echo", False, True),
                                                   ("drop-all", False, False)])
def test_icmp_policies_on_a_router(lab_text, icmp, echo, mtu_error):
    text = LAB.replace("FIREWALL", "{}").replace("r1: {kind: router}", f"r1: {{kind: router, firewall: {{icmp: {icmp}}}}}")
    text = text.replace('"r1:eth1 10.0.2.1/24", "server:eth0 10.0.2.2/24"]',
                        '"r1:eth1 10.0.2.1/24", "server:eth0 10.0.2.2/24"]\n    mtu: 1400')
    lab = lab_text(text, prefix="fw")
    assert (ping(f"{lab}-client", "10.0.2.2").returncode == 0) == echo
    res = ping(f"{lab}-client", "10.0.2.2", "-M", "do", "-s", "1472", wait=1)
    assert ("Frag needed" in res.stdout) == mtu_error, res.stdout


def all_rule_files() -> list[tuple[str, str, int, str]]:
    """(case, node, family, text) of every golden input and the shipped internet topology."""
    out = []
    for path in sorted(GOLDEN.glob("*.yaml")) + [TOPOLOGIES / "internet.yaml"]:
        topo = topology_from_text(path.read_text(), path.name)
        for node, family, _tool, text in rule_files(topo, topo.feature("netfilter")):
            out.append((path.stem, node, family, text))
    return out


@pytest.mark.parametrize("backend", ["nft", "legacy"])
def test_every_rendered_rule_set_loads(backend):
    """Each rendered file is accepted by iptables-restore of both back ends (in a namespace of our own)."""
    name = scratch_namespace()
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for case, node, family, text in all_rule_files():
            tool = restore_tool(backend, family)
            needs_tool(tool)
            res = ns_run(name, tool, "-w", "5", input=text)
            assert res.returncode == 0, f"{case}/{node} IPv{family}: {res.stderr}"
            save = ns_run(name, save_tool(backend, family)).stdout
            rules = [line for line in save.splitlines() if line.startswith("-A")]
            assert rules and all('--comment "netemu:' in line for line in rules), save
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)
    assert name not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout


def test_a_rejected_rule_set_fails_up_and_rolls_back(monkeypatch):
    """iptables-restore's complaint reaches the user, and nothing of the lab stays behind."""
    from conftest import leftovers, unique_name

    from netemu.apply import down
    from netemu.errors import NetemuError
    from netemu.lab import Lab
    from netemu.netfilter import render

    real = render.render

    def broken(*args):
        return real(*args).replace("-j ACCEPT", "-j NO-SUCH-TARGET", 1)

    monkeypatch.setattr(render, "render", broken)
    name = unique_name("fw")
    text = LAB.replace("NAME", name).replace("FIREWALL", json.dumps({"input": "drop", "allow": [HTTP_IN]}))
    try:
        with pytest.raises(NetemuError) as exc:
            Lab.up(topology_from_text(text, "broken.yaml"), text)
        assert "iptables-restore" in str(exc.value) and "NO-SUCH-TARGET" in str(exc.value), str(exc.value)
    finally:
        if leftovers(name):
            down(name)
    assert leftovers(name) == []
