"""Pure pieces (no root): units, validation, the nfnetlink codec, preflight decisions, CLI wiring."""

from __future__ import annotations

import struct

import pytest
from click.testing import CliRunner

from netemu.cli import link as cli_link
from netemu.errors import UsageError
from netemu.linkemu import nfq, runtime, timer, units
from netemu.linkemu.caps import Caps
from netemu.linkemu.feature import problems
from netemu.linkemu.model import Impairment, LinkEmu, LinkImpairment
from netemu.linkemu.render import netem_args, tbf_args
from netemu.parse import topology_from_text


@pytest.mark.parametrize("text,bps", [("10mbit", 10**7), ("1gbit", 10**9), ("500kbit", 500_000),
                                      ("1.5Mbit", 1_500_000), ("64kbit/s", 64_000)])
def test_rates(text, bps):
    assert units.rate(text) == (bps, None, None)


@pytest.mark.parametrize("text,problem", [("10", "has no unit"), ("10mbps", "ambiguous"), ("-1mbit", "negative"),
                                          ("3kbit", "below the minimum"), ("10furlongs", "unknown rate unit")])
def test_bad_rates(text, problem):
    value, msg, _ = units.rate(text)
    assert value is None and problem in msg


def test_times_percent_queue():
    assert units.time_us("20ms")[0] == 20_000
    assert units.time_us("1.5s")[0] == 1_500_000
    assert units.time_us(0)[0] == 0
    assert "negative" in units.time_us("-5ms")[1]
    assert units.percent("10%")[0] == 10.0 and units.percent(0.5)[0] == 0.5
    assert "more than 100%" in units.percent("101%")[1]
    assert units.queue(100)[0] == ("packets", 100)
    assert units.queue("64kb")[0] == ("bytes", 64_000)
    assert units.probability(10) == "0.1" and units.probability(0.5) == "0.005"


def test_tbf_and_netem_sizes():
    # burst and limit in bytes (never `latency`, which tc rounds); limit defaults to 100 ms at the rate
    assert tbf_args(Impairment(bandwidth=10**7), 1500) == ["rate", "10mbit", "burst", "3028", "limit", "125000"]
    assert tbf_args(Impairment(bandwidth=10**7, queue=("packets", 10)), 1500)[-1] == "15140"
    # the burst bridges the timer granularity: tc's burst >= rate / HZ (HZ=250: 4 ms of traffic)
    assert tbf_args(Impairment(bandwidth=20 * 10**6), 1500, timer_us=4000)[3] == str(20 * 10**6 // 8 * 4 // 1000)
    assert tbf_args(Impairment(bandwidth=10**6), 1500, timer_us=4000)[3] == "3028"  # never under two frames


def test_timer_granularity_from_psched(tmp_path):
    # /proc/net/psched's 4th field: 1e9 with high-resolution timers, HZ without
    hires, lowres = tmp_path / "hires", tmp_path / "lowres"
    hires.write_text("000003e8 00000040 000f4240 3b9aca00\n")
    lowres.write_text("000003e8 00000040 000f4240 000000fa\n")
    assert timer.resolution_us(str(hires)) == 0.001
    assert timer.resolution_us(str(lowres)) == 4000
    assert timer.resolution_us(str(tmp_path / "missing")) is None
    assert timer.granularity_us(0.001, 350.0) == 1350  # a 1 ms floor plus the measured lateness
    assert timer.granularity_us(4000, 0.0) == 4000
    assert timer.granularity_us(4000, 10**6) == timer.MAX_US
    assert timer.granularity_us(0.001, 100.0, hz=250) == 4100  # tc: burst >= rate / HZ
    assert timer.kernel_hz() in (None, 100, 250, 300, 1000)
    assert timer.lateness_us(samples=5) >= 0
    # netem's limit covers the bandwidth-delay product (1 Gbit/s x 100 ms >> the default 1000 packets)
    args = netem_args(Impairment(bandwidth=10**9, delay_us=100_000), 1500)
    assert int(args[args.index("limit") + 1]) > 8000


def test_verdict_message_layout():
    msg = nfq.verdict(4200, 77)
    length, kind, flags, _seq, _pid = struct.unpack_from("=IHHII", msg)
    assert length == len(msg) == 32
    assert kind == (nfq.NFNL_SUBSYS_QUEUE << 8) | nfq.NFQNL_MSG_VERDICT_BATCH
    assert flags == nfq.NLM_F_REQUEST
    assert struct.unpack_from(">H", msg, 18)[0] == 4200  # nfgenmsg res_id, big-endian
    nla_len, nla_type = struct.unpack_from("=HH", msg, 20)
    assert (nla_len, nla_type) == (12, nfq.NFQA_VERDICT_HDR)
    assert struct.unpack_from(">II", msg, 24) == (nfq.NF_ACCEPT, 77)


def test_packet_id_parsing():
    attrs = struct.pack("=HH", 8, 9) + b"\0" * 4 + struct.pack("=HH", 11, nfq.NFQA_PACKET_HDR) + \
        struct.pack(">IHB", 1234, 0x0800, 0) + b"\0"
    buf = bytearray(attrs)
    assert nfq._packet_id(buf, 0, len(buf)) == 1234


TWO = 'name: t\nnodes: {a: {}, b: {}}\nlinks: [{endpoints: ["a 10.0.0.1/24", "b 10.0.0.2/24"], LINK}]\n'


def test_preflight_names_what_is_missing():
    topo = topology_from_text(TWO.replace("LINK", "delay: 5ms, loss: 1%, bandwidth: 1mbit"))
    model = topo.feature("linkemu")
    nothing = Caps({"netem": "Specified qdisc kind is unknown", "tbf": "unknown qdisc"})
    found = problems(model, nothing, topo)
    assert any("bandwidth limits need the tbf qdisc" in p for p in found)
    assert any(p.startswith("delay and jitter need netem") for p in found)
    assert any(p.startswith("loss needs netem") for p in found)
    fallback = Caps({k: True for k in ("tbf", "iptables_nfqueue", "nfqueue_socket", "iptables_restore",
                                       "iptables_statistic", "br_netfilter", "iptables_physdev")})
    assert problems(model, fallback, topo) == []
    assert problems(model, Caps({"netem": True, "tbf": True}), topo) == []


def test_preflight_switch_needs_bridge_hook(monkeypatch):
    monkeypatch.delenv("NETEMU_LINKEMU_BACKEND", raising=False)
    topo = topology_from_text('name: t\nnodes: {a: {}, sw: {kind: switch}}\n'
                              'links: [{endpoints: ["a 10.0.0.1/24", sw], delay: 5ms}]\n')
    caps = Caps({k: True for k in ("tbf", "iptables_nfqueue", "nfqueue_socket", "iptables_restore")})
    (p,) = problems(topo.feature("linkemu"), caps, topo)
    assert "entering a switch" in p and "links[0] into sw" in p


def test_per_direction_model():
    topo = topology_from_text(TWO.replace("LINK", "delay: 5ms, from: {b: {delay: 7ms, bandwidth: 2mbit}}"))
    (li,) = topo.feature("linkemu").links
    assert li.ab == Impairment(delay_us=5000)
    assert li.ba == Impairment(delay_us=7000, bandwidth=2_000_000)
    assert LinkEmu((LinkImpairment(0, li.ab, li.ba),)).needs() == {"delay", "bandwidth"}


def test_runtime_change_parsing():
    assert runtime.parse_changes({"delay": "50ms", "loss": "1%", "bandwidth": "none", "jitter": None}) == \
        {"delay_us": 50_000, "loss_pct": 1.0, "bandwidth": None}
    with pytest.raises(UsageError, match="--delay: '5' has no unit"):
        runtime.parse_changes({"delay": "5"})


def test_cli_commands_have_help():
    for cmd in cli_link.commands:
        assert cmd.help and cmd.help.strip()
        res = CliRunner().invoke(cmd, ["--help"])
        assert res.exit_code == 0 and "Example" in res.output
