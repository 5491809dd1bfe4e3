"""tfo: TCP Fast Open — cookie, data in the SYN, the saved round trip, and how it fails."""

from __future__ import annotations

import re
from typing import ClassVar

from .. import paths, plots, stats
from ..api import Case, Context, Scenario, Setup
from ..nodes import ScenarioNode

COUNTERS = ("TcpExt.TCPFastOpenActive", "TcpExt.TCPFastOpenActiveFail", "TcpExt.TCPFastOpenPassive",
            "TcpExt.TCPFastOpenPassiveFail", "TcpExt.TCPFastOpenCookieReqd", "TcpExt.TCPFastOpenListenOverflow",
            "TcpExt.TCPFastOpenPassiveAltKey", "TcpExt.TCPFastOpenBlackhole")
FASTOPEN = "net.ipv4.tcp_fastopen"
QLEN = 16


class Tfo(Scenario):
    """Repeated short connections with a request in the first flight, with and without Fast Open."""

    name = "tfo"
    description = "TCP Fast Open: cookie on the first connection, data in later SYNs, time to first byte, failure modes"
    topology = "tfo.yaml"
    roles: ClassVar[dict[str, str]] = {"client": "client", "server": "server"}

    def requirements(self, setup: Setup) -> list[str]:
        # a shared family, the way there, then the replies' way back; a PathError is reported as a problem
        setup.reply_path("client", "server", setup.family("client", "server"))
        return []

    def run(self, ctx: Context) -> None:
        family = ctx.setup.family("client", "server")
        client, server = ctx.node("client"), ctx.node("server")
        path = ctx.path("client", "server", family)
        added = ctx.setup.added_rtt_ms("client", "server", family)
        n = 10 if ctx.quick else 30
        run = _Runner(client, server, str(server.address(family)), n)
        ctx.record(family=family, connections=n, path=path.describe(), added_rtt_ms=added)
        if path.nat:
            ctx.note(paths.nat_note(path) + " Fast Open cookies are bound to the address the server sees.")

        rtt = without = with_tfo = None
        with ctx.case("plain", "no Fast Open: connect, then send") as case:
            plain = run.measure(case, mode="plain", fastopen=QLEN)
            rtt = stats.median([c["connect_ms"] for c in plain["conns"] if c["connect_ms"] is not None])
            without = stats.median([c["ttfb_ms"] for c in plain["conns"]])
            ctx.record(rtt_ms=_r(rtt), ttfb_ms_without=_r(without))

        with ctx.case("tfo", "Fast Open: sendto(MSG_FASTOPEN), server TCP_FASTOPEN") as case:
            tfo = run.measure(case, mode="sendto", fastopen=QLEN, pcap=ctx.pcap(
                "tfo.pcap", f"Fast Open with a cookie: the SYNs and SYN-ACKs of {n} connections, seen on {server.name}",
                "the first SYN carries the option 'tfo cookiereq' and no data; its SYN-ACK returns 'tfo cookie "
                "…'. Every later SYN carries that cookie ('tfo cookie …') and the request itself (length > 0), "
                "and the SYN-ACK acknowledges the data: the request travelled in the handshake."))
            cookie = _cookie(client, server.address(family))
            case.record(fo_cookie=cookie)
            later = tfo["conns"][1:]
            with_tfo = stats.median([c["ttfb_ms"] for c in later if c["syn_data_acked"]])
            first = tfo["conns"][0] if tfo["conns"] else {}
            cookie_requested = (tfo["capture"]["cookie_requests"] >= 1
                                and tfo["server"]["TcpExt.TCPFastOpenCookieReqd"] >= 1)
            accepted = tfo["server"]["TcpExt.TCPFastOpenPassive"]
            ctx.record(cookie_requested=cookie_requested, syn_data_accepted=accepted,
                       syn_data_sent=tfo["capture"]["syn_with_data"], ttfb_ms_with=_r(with_tfo),
                       ttfb_ms_first=_r(first.get("ttfb_ms")),
                       saving_ms=_r(None if without is None or with_tfo is None else without - with_tfo))
            ctx.check("first connection requests a cookie", cookie_requested and not first.get("syn_data_acked"),
                      f"capture: {tfo['capture']['cookie_requests']} SYN(s) with a cookie request; server "
                      f"TCPFastOpenCookieReqd +{tfo['server']['TcpExt.TCPFastOpenCookieReqd']}; the client cached "
                      f"cookie {cookie or 'none'}")
            ctx.check("later SYNs carry data and are accepted", accepted >= len(later) > 0
                      and tfo["capture"]["syn_with_data"] >= len(later)
                      and tfo["client"]["TcpExt.TCPFastOpenActive"] >= len(later),
                      f"{tfo['capture']['syn_with_data']} SYNs with data captured, server TCPFastOpenPassive "
                      f"+{accepted}, client TCPFastOpenActive +{tfo['client']['TcpExt.TCPFastOpenActive']}, for "
                      f"{len(later)} connections after the first")

        with ctx.case("tfo-connect", "Fast Open via TCP_FASTOPEN_CONNECT (option 30), connect()+send()") as case:
            tc = run.measure(case, mode="connect", fastopen=QLEN)
            ctx.check("TCP_FASTOPEN_CONNECT works the same", tc["server"]["TcpExt.TCPFastOpenPassive"] >= n - 1,
                      f"server TCPFastOpenPassive +{tc['server']['TcpExt.TCPFastOpenPassive']} of {n - 1} "
                      f"connections after the cookie fetch")

        with ctx.case("server-without-option", "server sysctl 3 but no TCP_FASTOPEN on the socket") as case:
            no_opt = run.measure(case, mode="sendto", fastopen=0)
            case.record(fo_cookie=_cookie(client, server.address(family)))
            ctx.check("server without the option: no cookie, no data in SYN",
                      no_opt["server"]["TcpExt.TCPFastOpenPassive"] == 0 and no_opt["capture"]["syn_with_data"] == 0
                      and no_opt["capture"]["cookies_given"] == 0,
                      f"cookies in SYN-ACKs {no_opt['capture']['cookies_given']}, SYNs with data "
                      f"{no_opt['capture']['syn_with_data']}, server TCPFastOpenPassive "
                      f"+{no_opt['server']['TcpExt.TCPFastOpenPassive']}; TTFB p50 "
                      f"{_fmt(stats.median([c['ttfb_ms'] for c in no_opt['conns']]))} (no saving)")

        with ctx.case("cookieless", "server tcp_fastopen=0x203, client 0x5: data in the very first SYN") as case:
            cl = run.measure(case, mode="sendto", fastopen=QLEN, sysctls=(0x5, 0x203), pcap=ctx.pcap(
                "cookieless.pcap", "cookieless Fast Open: the SYNs and SYN-ACKs, seen on the server",
                "already the very first SYN carries data (length > 0) and no cookie option: the server "
                "(tcp_fastopen 0x203) accepts data without a cookie."))
            first_cl = cl["conns"][0] if cl["conns"] else {}
            ctx.check("cookieless mode: data in the first SYN", bool(first_cl.get("syn_data_acked"))
                      and cl["server"]["TcpExt.TCPFastOpenPassive"] >= n and cl["capture"]["cookie_requests"] == 0,
                      f"first connection SYN data acknowledged: {bool(first_cl.get('syn_data_acked'))}; server "
                      f"TCPFastOpenPassive +{cl['server']['TcpExt.TCPFastOpenPassive']} of {n}; cookie requests "
                      f"{cl['capture']['cookie_requests']}")

        self._saving(ctx, added, rtt, without, with_tfo)
        rows = []
        for name in ("plain", "tfo", "tfo-connect", "server-without-option", "cookieless"):
            c = ctx.result.case(name)
            if c and "ttfb_p50_ms" in c.fields:
                f = c.fields
                rows.append([name, f["ttfb_first_ms"], f["ttfb_p50_ms"], f["syn_data_acked"], f["connections"],
                             f["capture"]["cookie_requests"], f["capture"]["syn_with_data"],
                             f["server_counters"]["TcpExt.TCPFastOpenPassive"],
                             f["client_counters"]["TcpExt.TCPFastOpenActive"]])
        ctx.table("Connections per case", ["case", "1st TTFB ms", "TTFB p50 ms", "SYN data acked", "conns",
                                            "cookie reqs", "SYNs w/ data", "srv Passive", "cli Active"], rows)
        ctx.picture("ttfb.svg", _ttfb_chart(ctx), "Time to first response byte per connection, one panel per "
                    "case (the first connection circled): Fast Open saves the handshake round trip from the second "
                    "connection on (cookieless: from the first)")
        ctx.path_picture("client", "server", family)
        ctx.note("Counters are per network namespace: the client's TCPFastOpenActive and the server's "
                 "TCPFastOpenPassive/CookieReqd are read from /proc/net/netstat inside each node.")

    def _saving(self, ctx: Context, added_rtt: float, rtt: float | None, without: float | None,
                with_tfo: float | None) -> None:
        if without is None or with_tfo is None or rtt is None:
            ctx.check("TTFB measured", False, "no time to first byte with and without Fast Open")
            return
        saving = without - with_tfo
        ctx.record(saving_measurable=added_rtt > 0)
        if added_rtt > 0:
            ctx.check("saving ≈ one RTT", 0.5 * rtt <= saving <= 1.5 * rtt,
                      f"TTFB {without:.2f} ms without, {with_tfo:.2f} ms with: saving {saving:.2f} ms vs path RTT "
                      f"{rtt:.2f} ms (link emulation adds {added_rtt:g} ms per round trip)")
            ctx.note(f"Without Fast Open the request waits for the handshake: first byte after 2 RTT "
                     f"({without:.1f} ms); with it the request rides in the SYN: 1 RTT ({with_tfo:.1f} ms). "
                     f"The first connection only fetches the cookie and pays 2 RTT as well.")
        else:
            ctx.note(f"No added delay: saving not measurable ({saving * 1000:.0f} µs of a {rtt * 1000:.0f} µs veth "
                     f"RTT); the mechanism (cookie, SYN data accepted) is checked instead. Give the link "
                     f"'delay: 10ms' (link emulation) to see a saving of one RTT.")


class _Runner:
    """One batch of connections: sysctls, server, capture and counters around a client run."""

    def __init__(self, client: ScenarioNode, server: ScenarioNode, address: str, n: int):
        self.client, self.server, self.address, self.n = client, server, address, n

    def measure(self, case: Case, mode: str, fastopen: int, sysctls: tuple[int, int] = (3, 3),
                pcap: str | None = None) -> dict:
        """Set tcp_fastopen to `sysctls` (client, server) for the case, then run one batch of connections
        (its SYNs and SYN-ACKs also written to `pcap` when given)."""
        self.client.set_sysctl(FASTOPEN, sysctls[0])
        self.server.set_sysctl(FASTOPEN, sysctls[1])
        timeout = 10 + self.n * 0.5
        srv, ready = self.server.serve("tfo", "serve", "--bind", self.address, "--fastopen", fastopen,
                                       "--count", self.n, "--timeout", timeout + 5)
        port = ready["port"]
        cap = self.server.capture(f"tcp port {port} and tcp[tcpflags] & tcp-syn != 0", pcap=pcap)
        before_c, before_s = self.client.netstat(), self.server.netstat()
        res = self.client.probe("tfo", "client", "--to", self.address, "--port", port, "--count", self.n,
                                "--mode", mode, "--timeout", timeout, timeout=timeout)
        srv_res = srv.read_json(5)
        after_c, after_s = self.client.netstat(), self.server.netstat()
        packets = _parse_capture(cap.stop())
        conns = res["connections"]
        out = {
            "conns": conns, "capture": packets, "server_result": srv_res,
            "client": {k: after_c.get(k, 0) - before_c.get(k, 0) for k in COUNTERS},
            "server": {k: after_s.get(k, 0) - before_s.get(k, 0) for k in COUNTERS},
        }
        ttfb = [c["ttfb_ms"] for c in conns]
        case.record(mode=mode, server_fastopen_qlen=fastopen, connections=len(conns),
                    client_sysctl=self.client.sysctl(FASTOPEN), server_sysctl=self.server.sysctl(FASTOPEN),
                    ttfb_first_ms=ttfb[0] if ttfb else None, ttfb_p50_ms=_r(stats.median(ttfb[1:] or ttfb)),
                    ttfb_ms=ttfb, syn_data_acked=sum(c["syn_data_acked"] for c in conns),
                    client_counters=out["client"], server_counters=out["server"], capture=packets,
                    error=res.get("error"))
        return out


def _parse_capture(lines: list[str]) -> dict:
    """Count SYNs with a cookie request / with data, and SYN-ACKs carrying a cookie, from tcpdump lines."""
    syn = [ln for ln in lines if "Flags [S]" in ln]
    synack = [ln for ln in lines if "Flags [S.]" in ln]

    def length(ln: str) -> int:
        m = re.search(r"length (\d+)", ln)
        return int(m.group(1)) if m else 0

    return {"syns": len(syn), "cookie_requests": sum("cookiereq" in ln for ln in syn),
            "syn_with_data": sum(length(ln) > 0 for ln in syn),
            "cookies_given": sum(bool(re.search(r"tfo\s+cookie [0-9a-f]", ln)) for ln in synack),
            "sample": (syn[:2] + synack[:2])}


def _cookie(client: ScenarioNode, address: object) -> str | None:
    out = client.run(["ip", "tcp_metrics", "show", str(address)], timeout=10, check=False).stdout
    m = re.search(r"fo_cookie (\S+)", out)
    return m.group(1) if m else None


def _ttfb_chart(ctx: Context) -> str:
    series = {}
    for name, label in (("plain", "no Fast Open"), ("tfo", "Fast Open (cookie)"),
                        ("server-without-option", "server without option"), ("cookieless", "cookieless")):
        c = ctx.result.case(name)
        if c and c.fields.get("ttfb_ms"):
            series[label] = c.fields["ttfb_ms"]
    rtt = ctx.result.fields.get("rtt_ms")
    refs = [(rtt, "1 RTT"), (2 * rtt, "2 RTT")] if rtt else []
    return plots.per_connection("Time to first response byte per connection", series, "ms", refs)


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f} ms"
