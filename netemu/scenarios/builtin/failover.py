"""failover: cut the primary path while traffic flows; the outage with static routes, OSPF, BGP, BGP + BFD."""

from __future__ import annotations

import re
import signal
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import yaml

from .. import plots
from ..api import Context, Scenario, Setup

INTERVAL = 0.01  # seconds between pings: the outage is measured to about this resolution
REPLY = re.compile(r"^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=(\d+)")  # not "From R … Unreachable"
SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) received")
CARRIER_BOUND = 1.0  # seconds: a router whose own interface goes down reroutes at once (no timer involved)
MARGIN = 1.5  # seconds on top of a timer: SPF/route installation, a loaded machine


@dataclass(frozen=True)
class Mode:
    """One way of routing the lab: the `routing:` it gets, and the bounds its outage must keep."""

    name: str
    protocol: str
    bfd: bool = False

    def silent_bounds(self, timers: dict[str, int]) -> tuple[float, float] | None:
        """(lowest, highest) outage after a silent failure, from the configured timers; None: never recovers."""
        if self.protocol == "static":
            return None
        if self.bfd:
            return 0.0, 0.9 + MARGIN  # BFD: 3 missed packets of 300 ms
        if self.protocol == "ospf":
            return timers["dead"] - timers["hello"], timers["dead"] + MARGIN
        return timers["hold"] - timers["keepalive"], timers["hold"] + MARGIN


MODES = (Mode("static", "static"), Mode("ospf", "ospf"), Mode("bgp", "bgp"), Mode("bgp+bfd", "bgp", bfd=True))


def variant(text: str, mode: Mode, name: str) -> str:
    """The topology routed another way (AS numbers kept only for BGP)."""
    data = yaml.safe_load(text)
    data["name"] = name
    routing = data.get("routing") if isinstance(data.get("routing"), dict) else {}
    options = {k: v for k, v in routing.items() if k in ("timers",)} if mode.protocol in ("ospf", "bgp") else {}
    if mode.bfd:
        options["bfd"] = True
    data["routing"] = {"protocol": mode.protocol, **options} if options else mode.protocol
    for node in data.get("nodes", {}).values():
        if isinstance(node, dict) and mode.protocol != "bgp":
            node.pop("as", None)
    return yaml.safe_dump(data, sort_keys=False)


class Failover(Scenario):
    """A ping stream every 10 ms from client to server; the primary link is cut; how long until it flows again."""

    name = "failover"
    description = ("Failover: cut the primary link while traffic flows; outage with static routes (never back), "
                   "OSPF (~dead interval), BGP (~hold time), BGP with BFD (< 1 s)")
    topology = "bgp.yaml"
    roles: ClassVar[dict[str, str]] = {"client": "h1", "server": "h2"}

    def requirements(self, setup: Setup) -> list[str]:
        if not setup.has_address("client", 4) or not setup.has_address("server", 4):
            return ["client and server need IPv4 addresses (the ping stream is IPv4)"]
        return []

    def run(self, ctx: Context) -> None:
        from ...frr import install
        from ...lab import Lab
        from ...parse import topology_from_text

        topo = ctx.topology
        frr = topo.feature("frr")
        timers = dict(vars(frr.options.timers)) if frr is not None else \
            {"hello": 1, "dead": 4, "keepalive": 3, "hold": 9}
        given = topo.routing.protocol if topo.routing.protocol in ("ospf", "bgp") else "static"
        main = next(m for m in MODES if m.protocol == given and m.bfd == bool(frr and frr.options.bfd))
        modes = [main]
        source = _source_text(ctx)
        # On the scenario's own lab (not --lab) the same topology is also routed the other ways.
        if ctx.result.topology is not None and source is not None:
            can = not install.problems({"ospfd", "ospf6d", "bgpd", "bfdd"})
            modes = [m for m in MODES if m == main or m.protocol == "static"
                     or can and (m.protocol == "ospf" or m.protocol == "bgp" and given == "bgp")]
        ctx.record(timers=timers, interval_s=INTERVAL, modes=[m.name for m in modes])
        results: dict[str, dict] = {}
        for mode in modes:
            own = None
            if mode != main:
                vtext = variant(source, mode, _name(ctx.lab.name, mode))
                vtopo = topology_from_text(vtext, f"<failover {mode.name}>")
                # a lab across machines: the variant goes up across the same machines
                own = ctx.lab.up_like(vtopo, vtext) if hasattr(ctx.lab, "up_like") else Lab.up(vtopo, vtext)
            try:
                results[mode.name] = self._measure(ctx, own or ctx.lab, mode, timers)
            finally:
                if own is not None:
                    own.down()
        self._report(ctx, results, timers)

    def _measure(self, ctx: Context, lab: Any, mode: Mode, timers: dict[str, int]) -> dict:
        client, server = lab.node(ctx.roles["client"]), lab.node(ctx.roles["server"])
        dst = str(next(a.ip for a in server.model.addresses() if a.version == 4))
        router, ifname = _first_hop_link(lab, client, dst)
        peer = _peer(lab.topology, router, ifname)
        out: dict[str, Any] = {"cut": f"{router}:{ifname}", "peer": f"{peer[0]}:{peer[1]}"}
        window = 5.0 if ctx.quick else 8.0
        with ctx.case(f"{mode.name}-carrier", f"{mode.name}: {router}:{ifname} set down (its peer sees carrier loss)") \
                as case:
            from ...linkemu import runtime

            # a lab across machines sets the link down on the machine that holds it
            set_admin = getattr(lab, "set_admin", None) or (lambda end, up: runtime.set_admin(lab.name, end, up))
            res = _outage(client, dst, window, lambda: set_admin(f"{router}:{ifname}", False))
            set_admin(f"{router}:{ifname}", True)
            case.record(**res)
            out["carrier"] = res
            if mode.protocol == "static":
                ctx.check("static: never recovers", res["outage_s"] is None,
                          f"{_fmt(res)} after cutting {router}:{ifname}: static routes do not move")
            else:
                ctx.check(f"{mode.name}: carrier loss reroutes at once", res["outage_s"] is not None
                          and res["outage_s"] <= CARRIER_BOUND,
                          f"{_fmt(res)}: the router's own interface went down, no timer to wait for "
                          f"(bound {CARRIER_BOUND} s)")
        if mode.protocol == "static":
            return out
        _settle(lab)
        low, high = mode.silent_bounds(timers)
        with ctx.case(f"{mode.name}-silent", f"{mode.name}: every packet on {router}:{ifname} dropped, link up") \
                as case:
            drop = [(router, ifname), peer]
            res = _outage(client, dst, high + 4.0, lambda: _silence(lab, drop, True))
            _silence(lab, drop, False)
            case.record(**res)
            out["silent"] = res
            what = {"ospf": f"dead interval {timers['dead']} s", "bgp": f"hold time {timers['hold']} s"}[mode.protocol]
            if mode.bfd:
                what = "BFD detection 3 × 300 ms"
            ctx.check(f"{mode.name}: silent failure recovers after {what}", res["outage_s"] is not None
                      and low <= res["outage_s"] <= high,
                      f"{_fmt(res)}; expected {low:.1f}–{high:.1f} s from the timers ({what})")
        _settle(lab)
        return out

    def _report(self, ctx: Context, results: dict[str, dict], timers: dict[str, int]) -> None:
        rows = []
        lanes = []
        for mode, r in results.items():
            for kind in ("carrier", "silent"):
                if kind in r:
                    res = r[kind]
                    rows.append([mode, kind, r["cut"], "never (within %.0f s)" % res["window_s"]
                                 if res["outage_s"] is None else f"{res['outage_s']:.2f} s", res["lost"]])
                    lanes.append((f"{mode}, {'link down' if kind == 'carrier' else 'silent'}", res["timeline"],
                                  res["outage_s"]))
        ctx.table("Outage after the cut", ["routing", "failure", "link", "outage", "pings lost"], rows)
        ctx.picture("timeline.svg", plots.outages("Pings answered around the cut", lanes),
                    "One lane per run: filled while pings were answered; the primary link fails at 0 s")
        ctx.note(f"Timers: OSPF hello {timers['hello']} s, dead {timers['dead']} s; BGP keepalive "
                 f"{timers['keepalive']} s, hold {timers['hold']} s. A link set down is seen at once by the router "
                 f"whose interface it is, so only a silent failure (packets dropped, link up) shows the timers.")


def _source_text(ctx: Context) -> str | None:
    """The YAML of the lab's topology, to build the other routing modes from."""
    from ...labdir import LabDir

    own = getattr(ctx.lab, "topology_text", None)  # a lab across machines: the coordinator's record keeps it
    if own is not None:
        return own
    try:
        return LabDir(ctx.lab.name).topology_copy.read_text()
    except OSError:
        return None


def _name(lab: str, mode: Mode) -> str:
    return f"{lab[:20]}-{mode.name.replace('+', '')}"


def _first_hop_link(lab: Any, client: Any, dst: str) -> tuple[str, str]:
    """(router, interface) where the client's packets to `dst` leave its first router."""
    import json

    gw = json.loads(client.run(["ip", "-j", "route", "get", dst], check=True).stdout)[0].get("gateway")
    router = next(n.name for n in lab.topology.nodes if any(str(a.ip) == gw for a in n.addresses()))
    hop = json.loads(lab.node(router).run(["ip", "-j", "route", "get", dst], check=True).stdout)[0]
    return router, hop["dev"]


def _peer(topo: Any, node: str, ifname: str) -> tuple[str, str]:
    link = next(li for li in topo.links if (li.a.node, li.a.name) == (node, ifname)
                or (li.b.node, li.b.name) == (node, ifname))
    other = link.b if (link.a.node, link.a.name) == (node, ifname) else link.a
    return other.node, other.name


def _silence(lab: Any, ends: list[tuple[str, str]], on: bool) -> None:
    """Drop (or stop dropping) everything arriving on these interfaces: a failure without carrier loss."""
    op = "-I" if on else "-D"
    for node, ifname in ends:
        for tool in ("iptables", "ip6tables"):
            for chain in ("INPUT", "FORWARD"):
                lab.node(node).run([tool, "-w", op, chain, "-i", ifname, "-j", "DROP", "-m", "comment", "--comment",
                                    "netemu failover"], check=on)


def _settle(lab: Any) -> None:
    """Wait until routing has converged again after a repair."""
    from ...lab import converge

    if hasattr(lab, "converge"):  # across machines: each machine waits for its own routers
        lab.converge(60.0)
    else:
        converge(lab.topology, 60.0)


def _outage(client: Any, dst: str, window: float, cut) -> dict:
    """Ping every INTERVAL; cut 1 s in; the gap between the last reply before and the first after the cut."""
    proc = client.popen(["ping", "-D", "-n", "-i", str(INTERVAL), "-W", "1", dst])
    try:
        time.sleep(1.0)
        t_cut = time.time()
        cut()
        time.sleep(window)
    finally:
        proc.send_signal(signal.SIGINT)  # ping prints its totals on SIGINT
        out, _ = proc.communicate(timeout=10)
    replies = [(float(m.group(1)), int(m.group(2))) for m in map(REPLY.match, out.splitlines()) if m]
    times = sorted(t for t, _ in replies if t >= t_cut - 0.5)
    end = t_cut + window
    if not any(t > end - 1.0 for t in times):
        outage = None  # nothing answered in the window's last second: not recovered
    else:
        # the longest silence between two answers, less the normal spacing of the stream
        gaps = [b - a for a, b in zip(times, times[1:]) if b > t_cut]
        longest = max(gaps, default=0.0)
        outage = round(longest - INTERVAL, 3) if longest > 3 * INTERVAL else 0.0
    totals = SUMMARY.search(out)
    lost = int(totals.group(1)) - int(totals.group(2)) if totals else None
    return {"outage_s": outage, "window_s": window, "lost": lost, "replies": len(replies),
            "timeline": _spans([t for t, _ in replies], t_cut, window)}


def _spans(times: list[float], t_cut: float, window: float) -> list[tuple[float, float]]:
    """(start, length) of the stretches with answers (gaps over 3 pings split them), relative to the cut."""
    spans: list[list[float]] = []
    for t in sorted(x - t_cut for x in times if -1.0 <= x - t_cut <= window):
        if spans and t - spans[-1][1] <= 3 * INTERVAL:
            spans[-1][1] = t
        else:
            spans.append([t, t])
    return [(round(a, 3), round(max(b - a, INTERVAL), 3)) for a, b in spans]


def _fmt(res: dict) -> str:
    if res["outage_s"] is None:
        return f"no reply in the {res['window_s']:.0f} s after the cut ({res['lost']} pings lost)"
    return f"outage {res['outage_s']:.2f} s ({res['lost']} pings lost)"
