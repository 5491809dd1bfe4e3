"""congestion: loss-based (Reno, CUBIC) vs model-based (BBR) congestion control on a long, lossy path."""

from __future__ import annotations

import json
import math
import time
from typing import ClassVar

from .. import paths, plots
from ..api import Context, Scenario, Setup
from ..nodes import ProbeError, ScenarioNode

ALGORITHMS = ("reno", "cubic", "bbr")
PORT = 5299
OMIT = 3  # seconds left out at the start (iperf3 -O): slow start overshoots before the first loss
PAYLOAD_PER_FRAME = 1448 / 1514  # TCP payload per full Ethernet frame (timestamps on): what a rate limit leaves


class Congestion(Scenario):
    """The same bulk transfer under each algorithm (per socket, TCP_CONGESTION), on the lossy path and a clean one."""

    name = "congestion"
    description = "Congestion control: Reno and CUBIC vs BBR on a long, lossy path, against the Mathis formula"
    topology = "congestion.yaml"
    roles: ClassVar[dict[str, str]] = {"client": "client", "server": "server"}

    def requirements(self, setup: Setup) -> list[str]:
        setup.reply_path("client", "server", 4)
        return []

    def run(self, ctx: Context) -> None:
        client, server = ctx.node("client"), ctx.node("server")
        address = str(server.address(4))
        seconds = 6 if ctx.quick else 15
        path = ctx.path("client", "server", 4)
        link = _link_of(ctx, path)
        rtt_ms = ctx.setup.added_rtt_ms("client", "server", 4)
        loss = link["loss_pct"] if link else 0.0
        rate = link["bandwidth"] if link else None
        ctx.record(path=path.describe(), seconds=seconds, added_rtt_ms=rtt_ms, loss_pct=loss,
                   bandwidth_bit_s=rate, default_algorithm=client.sysctl("net.ipv4.tcp_congestion_control"))
        if rtt_ms <= 0 or loss <= 0:
            ctx.note(f"This path adds {rtt_ms:g} ms of RTT and {loss:g} % loss: the algorithms differ on long, lossy "
                     f"paths, so expect little difference here (the shipped topology has RTT 100 ms and 1 % loss).")
        results = {}
        for algo in ALGORITHMS:
            with ctx.case(algo, f"bulk TCP for {seconds} s with {algo}, after {OMIT} s left out") as case:
                res = _iperf(client, server, address, algo, seconds)
                results[algo] = res
                case.record(**res)
                ctx.check(f"{algo} was used", res["algorithm"] == algo,
                          f"the sender's socket reported {res['algorithm']!r} (asked with TCP_CONGESTION)")
        mss = results["reno"]["mss"] or 1448
        rtt = (results["reno"]["rtt_ms"] or rtt_ms) / 1000
        mathis = _mathis_mbit(mss, rtt, loss / 100) if loss > 0 and rtt > 0 else None
        # A short run meets only a handful of losses (6 s of Reno at ~1.5 Mbit/s: ~800 segments, ~8 drops),
        # so the loss its own segments met differs from the configured rate by tens of per cent, and Reno's
        # goodput follows the loss it met (1/√p): the formula is checked at that measured rate.
        seen = results["reno"]["loss_seen_pct"]
        mathis_seen = _mathis_mbit(mss, rtt, seen / 100) if seen and rtt > 0 else None
        payload_rate = rate * PAYLOAD_PER_FRAME / 1e6 if rate else None
        ctx.record(mathis_mbit=None if mathis is None else round(mathis, 3),
                   mathis_seen_mbit=None if mathis_seen is None else round(mathis_seen, 3),
                   payload_rate_mbit=None if payload_rate is None else round(payload_rate, 3))
        reno, cubic, bbr = (results[a]["goodput_mbit"] for a in ALGORITHMS)
        if mathis is not None:
            ctx.check("Reno follows the Mathis formula",
                      mathis_seen is not None and 0.5 * mathis_seen <= reno <= 2 * mathis_seen,
                      f"Reno {reno:.2f} Mbit/s vs MSS/RTT·1.22/√p = "
                      + (f"{mathis_seen:.2f} Mbit/s at the {seen:.2f} % of its segments retransmitted"
                         if mathis_seen is not None else "- (no retransmission seen: no loss met)")
                      + f" ({mathis:.2f} at the configured {loss:g} %; MSS {mss} B, RTT {rtt * 1000:.0f} ms)")
            ctx.check("BBR is not held back by random loss", bbr >= 2 * max(reno, cubic),
                      f"BBR {bbr:.2f} Mbit/s vs Reno {reno:.2f}, CUBIC {cubic:.2f}")
        if payload_rate is not None:
            ctx.check("BBR keeps the link mostly full", bbr >= 0.6 * payload_rate,
                      f"{bbr:.2f} of {payload_rate:.2f} Mbit/s of TCP payload the rate limit allows")
        ctx.table("Goodput per algorithm", ["algorithm", "goodput Mbit/s", "retransmits", "loss met %", "sender RTT ms"],
                  [[a, results[a]["goodput_mbit"], results[a]["retransmits"], results[a]["loss_seen_pct"],
                    results[a]["rtt_ms"]] for a in ALGORITHMS])
        marks = []
        if mathis_seen is not None:
            marks.append((round(mathis_seen, 3), "Mathis (Reno, at its loss)"))
        if payload_rate is not None:
            marks.append((round(payload_rate, 3), "link rate (TCP payload)"))
        ctx.picture("goodput.svg", plots.bars("Goodput per congestion control algorithm",
                                              [(a, results[a]["goodput_mbit"]) for a in ALGORITHMS], "Mbit/s",
                                              marks=marks),
                    f"Goodput over {seconds} s on a path with RTT {rtt * 1000:.0f} ms and {loss:g} % loss; dashed: "
                    f"what the Mathis formula predicts for Reno, and the most the rate limit lets through")
        ctx.path_picture("client", "server", 4)
        ctx.note("Reno and CUBIC halve (CUBIC: cut by 30 %) their window at every loss, random or not, so on a long, "
                 "lossy path they stay far below the link rate; the Mathis formula predicts Reno's figure. BBR paces "
                 "at the bandwidth it measures and ignores random loss, so it fills the link, at the price of "
                 "retransmitting more. A lab that does not set `tcp: {congestion: …}` inherits the host's default "
                 "(BBR on some machines, CUBIC on stock Debian and Ubuntu kernels), which changes every figure.")


def _mathis_mbit(mss: int, rtt_s: float, p: float) -> float:
    """Reno's steady-state throughput: MSS/RTT · C/√p with C = √(3/2) ≈ 1.22 (Mathis et al., 1997)."""
    return mss * 8 / rtt_s * math.sqrt(1.5) / math.sqrt(p) / 1e6


def _link_of(ctx: Context, path: paths.Path) -> dict | None:
    """The impairment the client's first hop applies to what it sends, from the running lab's live state."""
    hop = path.hops[0]
    found = paths.live_link(ctx.topology.name, hop.node, hop.ifname)
    return None if found is None else found[0]["dirs"][found[1]]


def _iperf(client: ScenarioNode, server: ScenarioNode, address: str, algo: str, seconds: int) -> dict:
    """One iperf3 run with the client's socket set to `algo`: goodput at the receiver, retransmits, RTT, MSS."""
    srv = server.start(["iperf3", "-s", "-1", "-p", str(PORT), "--json"])
    out = None
    for _ in range(50):  # the server listens within a few ms; retry the connect until it does
        res = client.run(["iperf3", "-c", address, "-p", str(PORT), "-C", algo, "-t", str(seconds), "-O", str(OMIT),
                          "--json"], timeout=seconds + OMIT + 30, check=False)
        data = json.loads(res.stdout or "{}")
        if "error" not in data:
            out = data
            break
        if "connect" not in data["error"]:
            raise ProbeError(f"iperf3 -C {algo}: {data['error']}")
        time.sleep(0.1)
    srv.stop()
    if out is None:
        raise ProbeError("iperf3 server did not start listening")
    end = out["end"]
    stream = end["streams"][0]["sender"]
    mss = out["start"].get("tcp_mss_default")
    retransmits = end["sum_sent"].get("retransmits")
    segments = end["sum_sent"].get("bytes", 0) / mss if mss else 0
    return {
        "algorithm": end.get("sender_tcp_congestion"),
        "goodput_mbit": round(end["sum_received"]["bits_per_second"] / 1e6, 3),
        "retransmits": retransmits,
        "segments": round(segments),
        "loss_seen_pct": round(100 * retransmits / segments, 3) if segments and retransmits is not None else None,
        "rtt_ms": round(stream.get("mean_rtt", 0) / 1000, 2) or None,
        "mss": mss,
    }
