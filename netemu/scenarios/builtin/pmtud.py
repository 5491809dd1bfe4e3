"""pmtud: path MTU discovery, an ICMP black hole, and the two cures (PLPMTUD, MSS clamping)."""

from __future__ import annotations

import re
from typing import ClassVar

from .. import paths, plots
from ..api import Case, Context, Scenario, Setup
from ..nodes import ScenarioNode
from ..paths import Path, PathError

BLACKHOLE = {
    # The router *generates* the ICMP error, so the drop belongs in its OUTPUT chain; in FORWARD it
    # would match nothing.
    4: "OUTPUT -p icmp --icmp-type fragmentation-needed -j DROP",
    6: "OUTPUT -p ipv6-icmp --icmpv6-type packet-too-big -j DROP",
}
# Rewrites the MSS option of SYN and SYN-ACK to what fits the smaller of both directions' MTU.
CLAMP = "FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu"
IP_TCP_HEADERS = {4: 40, 6: 60}
TIMESTAMP_OPTION = 12


def usable_paths(setup: Setup) -> tuple[dict[int, Path], list[str]]:
    """Per family, the client -> server path that has a narrower hop; and why other families are left out."""
    found: dict[int, Path] = {}
    skipped: list[str] = []
    for family in (4, 6):
        if not (setup.has_address("client", family) and setup.has_address("server", family)):
            skipped.append(f"IPv{family}: {setup.node_name('client')} or {setup.node_name('server')} has no IPv{family} address")
            continue
        try:
            path = setup.path("client", "server", family)
            setup.reply_path("client", "server", family)  # TCP needs the way back too (through NAT, undone)
        except PathError as e:
            skipped.append(f"IPv{family}: {e}")
            continue
        if path.narrowest() is None:
            skipped.append(f"IPv{family}: path {path.describe()} has no hop narrower than the sender's own link "
                           f"({path.hops[0].mtu}): there is nothing for path MTU discovery to find")
            continue
        found[family] = path
    return found, skipped


class Pmtud(Scenario):
    """Bulk transfers across a narrower hop: baseline, black hole, PLPMTUD, MSS clamping."""

    name = "pmtud"
    description = "Path MTU discovery: baseline, ICMP black hole, PLPMTUD recovery, MSS clamping (IPv4 + IPv6)"
    topology = "pmtud.yaml"
    roles: ClassVar[dict[str, str]] = {"client": "sender", "server": "receiver"}

    def requirements(self, setup: Setup) -> list[str]:
        found, skipped = usable_paths(setup)
        return [] if found else skipped

    def run(self, ctx: Context) -> None:
        found, skipped = usable_paths(ctx.setup)
        for why in skipped:
            ctx.note(f"skipped {why}")
        quick = ctx.quick
        size = (1 if quick else 4) * 1024 * 1024
        rows = []
        for family, path in found.items():
            sfx = "" if family == 4 else "_v6"
            hop = path.narrowest()
            client, server, router = ctx.node("client"), ctx.node("server"), ctx.node(hop.node)
            ts = TIMESTAMP_OPTION if client.sysctl("net.ipv4.tcp_timestamps") != "0" else 0
            expected_mss = path.mtu - IP_TCP_HEADERS[family] - ts
            ctx.record(**{f"expected_path_mtu{sfx}": path.mtu, f"path{sfx}": path.describe(),
                          f"router{sfx}": hop.node, f"expected_mss{sfx}": expected_mss})
            if path.nat:
                ctx.note(f"IPv{family}: " + paths.nat_note(path))
            ctx.note(f"IPv{family}: {path.describe()}; the narrowest hop leaves {hop.node} by {hop.ifname} "
                     f"(MTU {hop.mtu}), so {hop.node} sends the ICMP{'v6 Packet Too Big' if family == 6 else ' fragmentation-needed'} "
                     f"and gets the black hole and the MSS clamp.")
            transfer = _Transfer(client, server, str(path.dst_address), size)
            tag = f"IPv{family}"

            too_big = "fragmentation needed" if family == 4 else "Packet Too Big"
            with ctx.case(f"baseline{sfx}", f"{tag}: ICMP allowed") as case:  # the case starts with state flushed
                tp = _tracepath(client, str(path.dst_address))
                ctx.flush_learned()  # forget the PMTU tracepath found: the transfer must discover it itself
                cap = _capture(ctx, client, path, f"baseline{sfx or '_v4'}.pcap",
                               f"{tag} baseline: the start of the transfer, seen on {client.name}",
                               f"the first full-sized segments leave {client.name}; {hop.node} answers each with "
                               f"an ICMP{'v6' if family == 6 else ''} '{too_big}' (tcpdump: "
                               f"'{_too_big_text(family, path.mtu)}'); from then on the segments fit the "
                               f"{path.mtu}-byte hop and the ACKs advance. (tcpdump sees segments before the veth's "
                               f"segmentation offload splits them: lengths up to 64 KB are normal.)")
                res = transfer.run(case, timeout=15)
                _count_too_big(case, cap, family, path.mtu)
                cached = _route_mtu(client.route_get(path.dst_address))
                case.record(tracepath_pmtu=tp, route_cache_mtu=cached)
                ctx.record(**{f"path_mtu{sfx}": cached, f"tracepath_pmtu{sfx}": tp})
                ctx.check(f"{tag} path MTU in the route cache", cached == path.mtu,
                          f"ip route get shows mtu {cached}, the topology's narrowest hop is {path.mtu}")
                ctx.check(f"{tag} path MTU by tracepath", tp == path.mtu, f"tracepath found pmtu {tp}, expected {path.mtu}")
                ctx.check(f"{tag} baseline transfer completes", res["completed"],
                          f"{_mb(res['bytes'])} of {_mb(size)} acknowledged in {res['seconds']:.3f} s, "
                          f"final MSS {res['final_mss']}, {res['retransmits']} retransmissions")
            rows.append(_row(tag, "baseline", ctx.result.case(f"baseline{sfx}")))

            bh_timeout = 3.0 if quick else 5.0
            with ctx.case(f"blackhole{sfx}", f"{tag}: {hop.node} drops its own ICMP 'too big'") as case:
                router.iptables([BLACKHOLE[family]], family)
                client.set_sysctl("net.ipv4.tcp_retries2", 5)  # a stalled connection dies in ~13 s, not ~15 min
                cap = _capture(ctx, client, path, f"blackhole{sfx or '_v4'}.pcap",
                               f"{tag} black hole: the same transfer with {hop.node}'s ICMP dropped",
                               f"no ICMP at all: the same full-sized segments are retransmitted with doubling "
                               f"gaps (the retransmission timer backing off) and the ACK number never moves.")
                res = transfer.run(case, timeout=bh_timeout)
                _count_too_big(case, cap, family, path.mtu)
                ctx.check(f"{tag} black hole stalls the transfer", not res["completed"] and res["bytes"] < size,
                          f"{_mb(res['bytes'])} of {_mb(size)} acknowledged within the {bh_timeout:.0f} s bound "
                          f"({res['retransmits']} retransmissions of full-sized segments)")
                case.note("Every full-sized segment is dropped at the narrow hop and the ICMP that would say so is "
                          "dropped too: the sender retransmits the same too-big segments until it gives up.")
            rows.append(_row(tag, "black hole", ctx.result.case(f"blackhole{sfx}")))

            plp_timeout = 20.0 if quick else 30.0
            with ctx.case(f"plpmtud{sfx}", f"{tag}: black hole + tcp_mtu_probing=1 on the sender") as case:
                router.iptables([BLACKHOLE[family]], family)
                client.set_sysctl("net.ipv4.tcp_mtu_probing", 1)
                res = transfer.run(case, timeout=plp_timeout)
                case.record(recovery_seconds=res["first_ack_seconds"])
                ctx.check(f"{tag} PLPMTUD recovers", res["completed"] and res["final_mss"] <= expected_mss,
                          f"first data acknowledged after {_s(res['first_ack_seconds'])}, completed={res['completed']} "
                          f"in {res['seconds']:.2f} s, final MSS {res['final_mss']} (fits: <= {expected_mss})")
                case.note(f"RFC 4821: after tcp_retries1 ({client.sysctl('net.ipv4.tcp_retries1')}) timeouts the kernel "
                          f"assumes a black hole, drops to tcp_base_mss ({client.sysctl('net.ipv4.tcp_base_mss')}) and "
                          f"probes upwards; tcpi_pmtu keeps saying the interface MTU, so the MSS is the figure to read.")
            rows.append(_row(tag, "PLPMTUD", ctx.result.case(f"plpmtud{sfx}")))

            with ctx.case(f"clamp{sfx}", f"{tag}: black hole + MSS clamping on {hop.node}") as case:
                router.iptables([BLACKHOLE[family]], family)
                router.iptables([CLAMP], family, table="mangle")
                client.set_sysctl("net.ipv4.tcp_mtu_probing", 0)
                res = transfer.run(case, timeout=15)
                ctx.check(f"{tag} MSS clamping completes at once", res["completed"] and res["seconds"] < 3
                          and res["final_mss"] <= expected_mss,
                          f"{_mb(res['bytes'])} in {res['seconds']:.3f} s, final MSS {res['final_mss']} "
                          f"(clamped to <= {expected_mss}), {res['retransmits']} retransmissions")
                case.note(f"{hop.node} rewrites the MSS option of SYN and SYN-ACK, so neither end ever sends a "
                          f"segment too big for the narrow hop: no ICMP is needed at all.")
            rows.append(_row(tag, "MSS clamp", ctx.result.case(f"clamp{sfx}")))

            ctx.picture(f"timeline{sfx or '_v4'}.svg", _timeline(ctx, sfx, tag, size),
                        f"{tag}: megabytes acknowledged over time, one panel per case on its own time axis, a dot "
                        f"per TCP_INFO sample (the black hole in red stays flat; PLPMTUD rises after its "
                        f"detection delay)")
        ctx.table("Bulk transfers sender -> receiver", ["family", "case", "completed", "seconds", "MB acked",
                                                           "final MSS", "retrans", "first ack s"], rows)
        ctx.note("Only data flowing into the narrow link meets the ICMP: the client sends, the server receives.")
        if found:
            ctx.path_picture("client", "server", next(iter(found)))


class _Transfer:
    """One bulk transfer client -> server, the receiver started fresh for each run."""

    def __init__(self, client: ScenarioNode, server: ScenarioNode, address: str, size: int):
        self.client, self.server, self.address, self.size = client, server, address, size

    def run(self, case: Case, timeout: float) -> dict:
        _, ready = self.server.serve("bulk", "serve", "--bind", self.address, "--timeout", timeout + 10)
        res = self.client.probe("bulk", "send", "--to", self.address, "--port", ready["port"], "--bytes", self.size,
                                "--timeout", timeout, "--sample-ms", 1, timeout=timeout + 10)
        case.record(completed=res["completed"], seconds=res["seconds"], bytes=res["bytes"], size=self.size,
                    final_mss=res.get("final_mss"), retransmits=res.get("retransmits"),
                    first_ack_seconds=res.get("first_ack_seconds"), error=res.get("error"),
                    timeline=_thin(res.get("timeline", [])))
        return res


def _thin(timeline: list[list[float]], keep: int = 400) -> list[list[float]]:
    if len(timeline) <= keep:
        return timeline
    step = len(timeline) / keep
    return [timeline[int(i * step)] for i in range(keep)] + [timeline[-1]]


def _tracepath(node: ScenarioNode, address: str) -> int | None:
    out = node.run(["tracepath", "-n", "-m", "12", address], timeout=30, check=False).stdout
    found = re.findall(r"pmtu (\d+)", out)
    return int(found[-1]) if found else None


def _route_mtu(text: str) -> int | None:
    m = re.search(r"\bmtu (\d+)", text)
    return int(m.group(1)) if m else None


def _row(tag: str, label: str, case) -> list:
    f = case.fields if case else {}
    return [tag, label, f.get("completed"), f.get("seconds"), None if "bytes" not in f else round(f["bytes"] / 1e6, 3),
            f.get("final_mss"), f.get("retransmits"), f.get("first_ack_seconds")]


def _timeline(ctx: Context, sfx: str, tag: str, size: int) -> str:
    cases = []
    for name, label in (("baseline", "baseline"), ("blackhole", "black hole"), ("plpmtud", "PLPMTUD"),
                        ("clamp", "MSS clamp")):
        case = ctx.result.case(name + sfx)
        if case and "seconds" in case.fields:
            f = case.fields
            # acked counts the SYN's sequence number too
            points = [(t, max(0, acked - 1) / 1e6) for t, acked, _ in f.get("timeline") or []]
            cases.append(plots.Transfer(label, points, bool(f["completed"]), f["seconds"], alarm=name == "blackhole"))
    return plots.transfers(f"{tag}: a {size / 1e6:.1f} MB transfer across the narrow hop", cases, size / 1e6)


def _too_big_text(family: int, mtu: int) -> str:
    """How tcpdump prints the ICMP error that carries the next hop's MTU."""
    return f"need to frag (mtu {mtu})" if family == 4 else f"packet too big, mtu {mtu}"


def _capture(ctx: Context, client: ScenarioNode, path: Path, filename: str, caption: str, look_for: str):
    """tcpdump on the client's interface into the report directory: its TCP, and every ICMP error."""
    bpf = "tcp or icmp" if path.family == 4 else "tcp or icmp6"
    return client.capture(bpf, interface=path.hops[0].ifname, pcap=ctx.pcap(filename, caption, look_for),
                          snaplen=128)


def _count_too_big(case: Case, cap, family: int, mtu: int) -> None:
    """Record how many 'too big' errors the capture holds, and say so."""
    lines = cap.stop()
    found = [ln for ln in lines if _too_big_text(family, mtu) in ln]
    case.record(pcap=cap.pcap.rsplit("/", 1)[-1], pcap_packets=len(lines), pcap_too_big=len(found))
    if found:
        case.note(f"The capture holds {len(found)} ICMP '{_too_big_text(family, mtu)}' among {len(lines)} packets.")
    else:
        case.note(f"The capture holds no ICMP 'too big' among its {len(lines)} packets.")


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def _s(v: float | None) -> str:
    return "never" if v is None else f"{v:.2f} s"
