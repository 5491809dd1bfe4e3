"""nagle: write-write-read meets delayed ACK — the ~40 ms stall, and every way to remove it."""

from __future__ import annotations

import re
from typing import ClassVar

from .. import paths, plots, stats
from ..api import Context, Scenario, Setup
from ..nodes import ScenarioNode
from ..paths import Path

DELACK_MIN_MS = 40.0  # TCP_DELACK_MIN: the kernel's shortest delayed-ACK timer
STALL_MS = 30.0  # a p50 above this is the delayed-ACK stall; below FIX_MS it is gone
FIX_MS = 5.0

# name -> (client mode, server quickack, route quickack, what it is)
VARIANTS: dict[str, tuple[str, str, bool, str]] = {
    "default": ("default", "none", False, "Nagle on, delayed ACK on"),
    "nodelay": ("nodelay", "none", False, "client TCP_NODELAY"),
    "quickack-once": ("default", "once", False, "server TCP_QUICKACK set once after accept"),
    "quickack-every": ("default", "every", False, "server TCP_QUICKACK after every recv"),
    "cork": ("cork", "none", False, "client TCP_CORK, two writes, uncork"),
    "single-write": ("single", "none", False, "client sends header+body in one write"),
    "msg-more": ("more", "none", False, "client MSG_MORE on the first write"),
    "route-quickack": ("default", "none", True, "server route to the client with 'quickack 1'"),
}
EXPECT_STALL = {"default", "quickack-once"}


class Nagle(Scenario):
    """Request/response with two small writes then a read, under every fix for the stall."""

    name = "nagle"
    description = "Nagle vs delayed ACK: the ~40 ms write-write-read stall, its fixes, and a size sweep"
    topology = "nagle.yaml"
    roles: ClassVar[dict[str, str]] = {"client": "client", "server": "server"}

    def requirements(self, setup: Setup) -> list[str]:
        # the way there and back in a shared family; a PathError is reported as a problem
        setup.reply_path("client", "server", setup.family("client", "server"))
        return []

    def run(self, ctx: Context) -> None:
        family = ctx.setup.family("client", "server")
        client, server = ctx.node("client"), ctx.node("server")
        address = str(server.address(family))
        n = 50 if ctx.quick else 200
        header, body, response = 100, 100, 100
        path = ctx.path("client", "server", family)
        ctx.record(request_writes=[header, body], response_bytes=response, family=family, rtt_path=path.describe())
        if path.nat:
            ctx.note(paths.nat_note(path))
        rows, samples = [], {}
        mss = None
        for name, (mode, quickack, route_qa, what) in VARIANTS.items():
            with ctx.case(name, what) as case:
                if route_qa:
                    _route_quickack(server, path.seen_source, family)
                pcap = None
                if name == "default":
                    pcap = (ctx.pcap("default.pcap", f"the default variant (Nagle on, delayed ACK on), seen on "
                                     f"{client.name}",
                                     f"each request is two segments of {header} and {body} bytes; between them "
                                     f"~{DELACK_MIN_MS:.0f} ms pass with nothing on the wire until {server.name} "
                                     f"sends a pure ACK (length 0, Flags [.]): the delayed ACK. Only then does "
                                     f"{client.name} send the body (Nagle held it), and the response follows at "
                                     f"once. The first request of the connection is fast (quick-ACK mode)."),
                            path.hops[0].ifname)
                res = _rr(server, client, address, [header, body], response, n, mode, quickack, pcap=pcap)
                if pcap is not None:
                    _delayed_acks(case, res.get("capture", []), client, address)
                s = stats.summary(res["latencies_ms"])
                case.record(**s, first_ms=res["latencies_ms"][0] if res["latencies_ms"] else None,
                            snd_mss=res["snd_mss"], error=res["error"])
                mss = mss or res["snd_mss"]
                samples[name] = res["latencies_ms"]
                rows.append([name, what, s["p50_ms"], s["p90_ms"], s["p99_ms"], s["max_ms"], s["requests"]])
                p50 = s["p50_ms"]
                if name in EXPECT_STALL:
                    ctx.check(f"{name}: delayed-ACK stall", p50 is not None and STALL_MS < p50 < 100,
                              f"p50 {_ms(p50)} (expected ≈ {DELACK_MIN_MS:.0f} ms + a timer tick; "
                              f"p99 {_ms(s['p99_ms'])}, {s['requests']} requests)")
                else:
                    ctx.check(f"{name}: no stall", p50 is not None and p50 < FIX_MS,
                              f"p50 {_ms(p50)}, p99 {_ms(s['p99_ms'])} (expected < {FIX_MS:.0f} ms)")
        default = ctx.result.case("default")
        if default and default.fields.get("p50_ms"):
            tick = default.fields["p50_ms"] - DELACK_MIN_MS
            ctx.record(stall_ms=default.fields["p50_ms"], tick_ms=round(tick, 2))
            ctx.note(f"The stall is {default.fields['p50_ms']:.1f} ms = the 40 ms delayed-ACK minimum + "
                     f"{tick:.1f} ms of timer rounding (one jiffy: HZ=250 gives 4 ms ticks).")
        ctx.note("Why: the client's second small write waits (Nagle) until the first is acknowledged; the server "
                 "delays that ACK (≥ 40 ms) hoping to piggyback it on a response it cannot send before the second "
                 "write arrives. Each fix breaks one side of the deadlock.")
        ctx.note("TCP_QUICKACK is not sticky: set once, the kernel drops back to delayed ACKs after a few segments.")
        ctx.note("The first request of a connection is fast: a new connection starts in quick-ACK mode.")
        ctx.table("Request latency per variant (write 100 + write 100, read 100)",
                  ["variant", "what", "p50 ms", "p90 ms", "p99 ms", "max ms", "requests"], rows)

        sweep_rows = self._sweep(ctx, server, client, address, mss or 1448, response)
        ctx.table(f"Size sweep: two writes of N bytes each (MSS {mss})",
                  ["write bytes", "below MSS", "p50 ms", "p99 ms", "stalled", "expected stall"], sweep_rows)
        ctx.record(variants={k: ctx.result.case(k).fields.get("p50_ms") for k in VARIANTS if ctx.result.case(k)})
        rtt_rows = self._rtt_sweep(ctx, server, client, address, path, header, body, response)
        if rtt_rows:
            ctx.table("RTT sweep (link emulation): default vs TCP_NODELAY",
                      ["added RTT ms", "default p50 ms", "nodelay p50 ms", "stall ms", "expected stall ms"], rtt_rows)

        ctx.picture("latency_cdf.svg", _cdf(samples), "Request latency per variant, cumulative, one panel per "
                    "variant on one log axis (the others in grey): the default and QUICKACK-once sit at ~44 ms, "
                    "every fix at tens of microseconds")
        ctx.picture("p50_by_variant.svg", plots.bars(
            "Median request latency per variant", [(k, s) for k, _, s, *_ in rows], "ms", log=True,
            marks=[(DELACK_MIN_MS, "40 ms delayed-ACK minimum")]), "Median (p50) per variant, log scale")
        ctx.path_picture("client", "server", family)

    def _sweep(self, ctx: Context, server: ScenarioNode, client: ScenarioNode, address: str, mss: int,
               response: int) -> list[list]:
        n = 15 if ctx.quick else 40
        sizes = sorted({100, mss // 2, mss - 48, mss, 2 * mss})
        rows = []
        ok = True
        for size in sizes:
            with ctx.case(f"sweep-{size}", f"two writes of {size} bytes (MSS {mss})") as case:
                res = _rr(server, client, address, [size, size], response, n, "default", "none")
                s = stats.summary(res["latencies_ms"])
                stalled = s["p50_ms"] is not None and s["p50_ms"] > STALL_MS
                case.record(**s, write_bytes=size, stalled=stalled, error=res["error"])
                expected = size < mss
                ok &= stalled == expected
                rows.append([size, size < mss, s["p50_ms"], s["p99_ms"], stalled, expected])
        ctx.check("size sweep: stall only when both writes are below the MSS", ok,
                  "; ".join(f"{r[0]} B: {'stall' if r[4] else 'fast'} ({_ms(r[2])})" for r in rows))
        ctx.note("A full-sized segment is neither held back by Nagle nor does it leave the ACK delayed "
                 "(the receiver acknowledges at once as soon as more than one MSS is pending).")
        return rows

    def _rtt_sweep(self, ctx: Context, server: ScenarioNode, client: ScenarioNode, address: str, path: Path,
                   header: int, body: int, response: int) -> list[list]:
        """Default vs TCP_NODELAY with delay added on the client's link: the stall is one RTT + ~44 ms."""
        try:
            from ...linkemu import runtime
        except ImportError:
            ctx.note("RTT sweep skipped: link emulation (netemu.linkemu) is not available.")
            return []
        hop = path.hops[0]
        end = f"{hop.node}:{hop.ifname}"
        # a lab across machines changes the link on the machine(s) that hold it
        across = getattr(ctx.lab, "set_impairment", None)

        def set_delay(us: int, direction: str) -> None:
            if across:
                across(end, {"delay_us": us}, direction)
            else:
                runtime.set_impairment(ctx.topology.name, end, {"delay_us": us}, direction)

        original = paths.link_delays_us(ctx.topology, hop.node, hop.ifname)
        added = ctx.setup.added_rtt_ms("client", "server", path.family)
        n = 10 if ctx.quick else 25
        rows, ok, reasons = [], True, []
        for one_way_ms in (5, 20):
            # the rest of the path keeps its own delay; this link's is replaced by the sweep's
            rtt = 2 * one_way_ms + added - sum(original) / 1000
            with ctx.case(f"rtt-{rtt:g}ms", f"write-write-read with {rtt:g} ms added RTT") as case:
                set_delay(one_way_ms * 1000, "both")
                for direction, us in zip(("out", "in"), original):
                    ctx.defer(lambda d=direction, v=us: set_delay(v, d), f"delay of {end} ({direction}) back to {us} µs")
                slow = stats.summary(_rr(server, client, address, [header, body], response, n, "default",
                                         "none", extra=rtt)["latencies_ms"])
                fast = stats.summary(_rr(server, client, address, [header, body], response, n, "nodelay",
                                         "none", extra=rtt)["latencies_ms"])
                stall = None if slow["p50_ms"] is None or fast["p50_ms"] is None else slow["p50_ms"] - fast["p50_ms"]
                case.record(added_rtt_ms=rtt, default=slow, nodelay=fast, stall_ms=stall)
                good = stall is not None and rtt + 30 <= stall <= rtt + 60 and fast["p50_ms"] < rtt * 1.5 + 2
                ok &= good
                reasons.append(f"RTT {rtt:g} ms: default {_ms(slow['p50_ms'])}, nodelay {_ms(fast['p50_ms'])}")
                rows.append([rtt, slow["p50_ms"], fast["p50_ms"], stall, f"{rtt + DELACK_MIN_MS:g} + tick"])
        ctx.check("RTT sweep: the stall costs one RTT plus the delayed ACK", ok, "; ".join(reasons))
        ctx.note("With an RTT, the default pays 2 RTT + ~44 ms (the body waits for the delayed ACK of the header) "
                 "while TCP_NODELAY pays 1 RTT: the stall grows with the path.")
        return rows


def _rr(server: ScenarioNode, client: ScenarioNode, address: str, writes: list[int], response: int, n: int,
        mode: str, quickack: str, extra: float = 0.0, pcap: tuple[str, str] | None = None) -> dict:
    """One request/response run; with `pcap` (file, client interface) its packets are captured there."""
    timeout = 10 + n * (0.1 + 3 * extra / 1000)
    _, ready = server.serve("rr", "serve", "--bind", address, "--request", sum(writes), "--response", response,
                            "--quickack", quickack, "--timeout", timeout + 5)
    cap = None
    if pcap is not None:
        cap = client.capture(f"tcp port {ready['port']}", interface=pcap[1], pcap=pcap[0])
    res = client.probe("rr", "client", "--to", address, "--port", ready["port"], "--writes",
                       ",".join(map(str, writes)), "--response", response, "--requests", n, "--mode", mode,
                       "--timeout", timeout, timeout=timeout)
    if cap is not None:
        res["capture"] = cap.stop()
    return res


def _delayed_acks(case, lines: list[str], client: ScenarioNode, server_address: str) -> None:
    """From the capture: the server's pure ACKs, and how long after the client's data segment each came."""
    last_data = None
    gaps = []
    for line in lines:
        m = re.match(r"(\d+\.\d+) IP6? (\S+) > (\S+): Flags \[([^\]]*)\].*length (\d+)", line)
        if not m:
            continue
        t, src, flags, length = float(m.group(1)), m.group(2), m.group(4), int(m.group(5))
        from_server = src.rsplit(".", 1)[0] == server_address
        if not from_server and length > 0:
            last_data = t
        elif from_server and length == 0 and flags == "." and last_data is not None:
            gaps.append((t - last_data) * 1000)
            last_data = None
    delayed = [g for g in gaps if g >= STALL_MS]
    case.record(pcap="default.pcap", pcap_packets=len(lines), pure_acks=len(gaps), delayed_acks=len(delayed),
                delayed_ack_median_ms=round(stats.median(delayed), 2) if delayed else None)
    case.note(f"The capture holds {len(lines)} packets: {len(delayed)} of the server's {len(gaps)} pure ACKs came "
              f"≥ {STALL_MS:.0f} ms after the client's data"
              + (f" (median {stats.median(delayed):.1f} ms): the delayed ACK of each request's first segment; "
                 f"the others came at once." if delayed else "."))


def _route_quickack(server: ScenarioNode, peers: list, family: int) -> None:
    """Routes on the server towards the client as it sees it (after any source NAT), like the one it
    uses, plus `quickack 1`."""
    for net in peers:
        words = server.run(["ip", f"-{family}", "route", "get", str(net.network_address)], timeout=10).stdout.split()
        spec = [str(net)]
        for key in ("via", "dev"):
            if key in words:
                spec += [key, words[words.index(key) + 1]]
        server.add_route(" ".join(spec + ["quickack", "1"]), family)


def _cdf(samples: dict[str, list[float]]) -> str:
    return plots.cdfs("Request latency, cumulative distribution per variant", samples, "ms",
                      mark=(DELACK_MIN_MS, "the 40 ms delayed-ACK minimum"))


def _ms(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f} ms"
