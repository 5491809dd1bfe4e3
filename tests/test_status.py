"""`netemu status` tells what the kernel does now: link state from flags, route types (root for the labs)."""

from __future__ import annotations

import json
import subprocess

import pytest
from click.testing import CliRunner
from conftest import netemu, shipped

from netemu.cli import main
from netemu.status import IFF_LOWER_UP, IFF_RUNNING, IFF_UP, link_state

# Every interface of topologies/two-routers.yaml, per node: veths, and the switch's bridge with its ports.
TWO_ROUTERS = {"h1": {"eth0"}, "r1": {"eth0", "eth1"}, "r2": {"eth0", "eth1"}, "h2": {"eth0", "eth1"},
               "h3": {"eth0"}, "lan": {"br0", "h2-eth1", "h3-eth0"}}


def test_link_state_from_flags():
    assert link_state(IFF_UP | IFF_LOWER_UP) == "UP"
    assert link_state(IFF_UP | IFF_LOWER_UP | IFF_RUNNING) == "UP"
    assert link_state(IFF_UP) == "NO-CARRIER"
    assert link_state(IFF_LOWER_UP) == "DOWN"  # carrier without admin up is still down
    assert link_state(0) == "DOWN"


def status_text(lab: str, node: str | None = None) -> str:
    """`netemu status` run in this process, so nothing (not even interpreter start-up) delays it."""
    res = CliRunner().invoke(main, ["status", lab, *([node] if node else [])], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def status_json(lab: str, node: str | None = None) -> dict:
    res = CliRunner().invoke(main, ["status", lab, *([node] if node else []), "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def text_states(text: str) -> dict[tuple[str, str], str]:
    """(node, interface) -> the state column of the text output."""
    out, node = {}, None
    for line in text.splitlines():
        if line and not line.startswith(" ") and "netns" in line:
            node = line.split()[0]
        elif line.startswith("  ") and not line.startswith("  route ") and node:
            name, state = line.split()[:2]
            out[(node, name)] = state
    return out


def json_states(data: dict) -> dict[tuple[str, str], dict]:
    return {(n["node"], i["name"]): i for n in data["nodes"] for i in n["interfaces"]}


def ip(ns: str, *argv: str) -> None:
    subprocess.run(["ip", "-n", ns, *argv], check=True, capture_output=True, text=True)


@pytest.mark.root
def test_every_link_up_right_after_up(lab_text):
    lab = lab_text(shipped("two-routers.yaml"))
    # no sleep: the kernel's operstate may still say DOWN/UNKNOWN here, but the links already carry traffic
    data, text = status_json(lab), status_text(lab)
    expected = {(node, i) for node, ifs in TWO_ROUTERS.items() for i in ifs}
    js = json_states(data)
    assert set(js) == expected
    assert {k: v["state"] for k, v in js.items()} == dict.fromkeys(expected, "UP")
    assert all(v["admin_up"] and v["carrier"] and "LOWER_UP" in v["flags"] for v in js.values())
    assert all("operstate" in v for v in js.values())  # the kernel's own (possibly lagging) view, for reference
    assert text_states(text) == dict.fromkeys(expected, "UP")
    # the same through the real command line, as a user runs it
    assert text_states(netemu("status", lab, check=True).stdout) == dict.fromkeys(expected, "UP")


@pytest.mark.root
def test_link_set_down_is_down_and_its_peer_has_no_carrier(lab_text):
    lab = lab_text(shipped("two-routers.yaml"))
    ip(f"{lab}-r1", "link", "set", "dev", "eth0", "down")
    text, data = status_text(lab), status_json(lab)
    for states in (text_states(text), {k: v["state"] for k, v in json_states(data).items()}):
        assert states[("r1", "eth0")] == "DOWN"
        assert states[("h1", "eth0")] == "NO-CARRIER"  # admin up, but its veth peer is down
        assert states[("r1", "eth1")] == "UP"
    r1 = json_states(data)[("r1", "eth0")]
    assert not r1["admin_up"] and "UP" not in r1["flags"]
    h1 = json_states(data)[("h1", "eth0")]
    assert h1["admin_up"] and not h1["carrier"]
    # and back up: UP again at once
    ip(f"{lab}-r1", "link", "set", "dev", "eth0", "up")
    states = text_states(status_text(lab))
    assert states[("r1", "eth0")] == "UP" and states[("h1", "eth0")] == "UP"


@pytest.mark.root
def test_route_types_are_shown(lab_text):
    lab = lab_text(shipped("two-routers.yaml"))
    ns = f"{lab}-r1"
    ip(ns, "route", "add", "blackhole", "192.0.2.0/24")
    ip(ns, "route", "add", "prohibit", "198.51.100.0/24")
    ip(ns, "-6", "route", "add", "unreachable", "2001:db8:99::/64")
    routes = status_json(lab, "r1")["nodes"][0]["routes"]
    assert "blackhole 192.0.2.0/24" in routes
    assert "prohibit 198.51.100.0/24" in routes
    assert "unreachable 2001:db8:99::/64" in routes  # not "dev lo", which the kernel lists for IPv6
    assert "10.0.2.0/24 via 10.0.12.2 dev eth1" in routes  # unicast routes keep their plain form
    text = netemu("status", lab, "r1", check=True).stdout
    assert "  route blackhole 192.0.2.0/24\n" in text
    assert "  route unreachable 2001:db8:99::/64\n" in text
    assert "route 192.0.2.0/24" not in text
    # a multipath route keeps its next hops; one over a device set down is marked dead at once
    ip(ns, "route", "add", "203.0.113.0/24", "nexthop", "via", "10.0.1.2", "dev", "eth0",
       "nexthop", "via", "10.0.12.2", "dev", "eth1")
    ip(ns, "link", "set", "dev", "eth0", "down")
    routes = status_json(lab, "r1")["nodes"][0]["routes"]
    assert "203.0.113.0/24 nexthop via 10.0.1.2 dev eth0 dead nexthop via 10.0.12.2 dev eth1" in routes


@pytest.mark.root
def test_point_to_point_address_is_the_local_one(lab_text):
    lab = lab_text(shipped("minimal.yaml"))
    ip(f"{lab}-a", "addr", "add", "10.99.0.1", "peer", "10.99.0.2", "dev", "eth0")
    eth0 = json_states(status_json(lab, "a"))[("a", "eth0")]
    assert eth0["addresses"] == ["10.0.0.1/24", "10.99.0.1 peer 10.99.0.2/32", "2001:db8::1/64"]
