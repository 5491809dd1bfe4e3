"""Commands of a lab across several machines: `--hosts` of plan/up/down (called by core), and the
hidden `netemu part …` commands each machine runs for the coordinator over ssh."""

from __future__ import annotations

import json
import sys
import time

import click

from ..model import Topology
from .labarg import LAB


def inventory(path: str):
    """The inventory at `path` (exit 2 on any problem in it)."""
    from ..multi.inventory import load

    return load(path)


def validate(topo: Topology, hosts: str) -> None:
    """Warn about links whose MTU cannot cross machines (assuming the inventory's underlay MTU, else 1500)."""
    from ..multi.coordinator import layout, mtu_warnings

    for w in mtu_warnings(layout(topo, inventory(hosts))):
        click.secho(f"warning: {w}", err=True, fg="yellow")


def by_machine(graph, topo: Topology, hosts: str):
    """The graph with each node in a group named after its machine (kept AS groups are appended)."""
    from ..multi.coordinator import layout

    lay = layout(topo, inventory(hosts))
    lowered = {index: used for index, _, used in lay.split.lowered}  # what VXLAN carries between machines
    return _grouped(graph, dict(lay.placement.machine_of), lowered, f"placement: {lay.placement.how}")


def running_graph(lab: str):
    """The graph of a lab up across machines, from the coordinator: one group per machine."""
    from ..graph import build
    from ..multi.nodes import RemoteLab

    rl = RemoteLab.attach(lab)
    g = build(rl.topology)  # its links already carry what VXLAN carries between machines
    return _grouped(g, rl.placement, {}, f"across {len(rl.machines)} machines, as placed at up (the model; "
                                         "each machine's live state is not read from the coordinator)")


def _grouped(graph, placement: dict[str, str], lowered: dict[int, int], note: str):
    from dataclasses import replace

    nodes = tuple(replace(n, group=f"machine {placement[n.name]}" + (f" · {n.group}" if n.group else ""))
                  for n in graph.nodes)
    edges = tuple(replace(e, mtu=lowered.get(e.index, e.mtu)) for e in graph.edges)
    return replace(graph, nodes=nodes, edges=edges, notes=graph.notes + (note,))


def plan(topo: Topology, hosts: str, as_json: bool, full: bool) -> None:
    """Print the placement and each machine's plan."""
    from ..multi.coordinator import layout, mtu_warnings

    lay = layout(topo, inventory(hosts))
    for w in mtu_warnings(lay):
        click.secho(f"warning: {w}", err=True, fg="yellow")
    if as_json:
        click.echo(json.dumps({"lab": topo.name, "placement": dict(lay.placement.machine_of),
                               "cut": list(lay.placement.cut), "port": lay.port,
                               "machines": {m: [op.to_json() for op in p.ops] for m, p in lay.split.plans}}, indent=1))
        return
    click.echo(f"# lab {topo.name} on {len(lay.machines)} machines, placement: {lay.placement.how}")
    click.echo(f"# {len(lay.placement.cut)} of {len(topo.links)} links cut between machines: VXLAN, UDP port "
               f"{lay.port}, VNI = link number + 1, MTU at most {lay.underlay_mtu} - header")
    for m in lay.machines:
        nodes = lay.placement.nodes_on(m.name)
        click.echo(f"# {m.name} ({m.address}): {', '.join(nodes)}")
    for name, p in lay.split.plans:
        click.echo(f"\n## machine {name}: {len(p.ops)} operations")
        click.echo(p.text(full=full))


def up(topo: Topology, hosts: str, text: str, wait: float | None = None) -> None:
    """Bring the lab up across the inventory's machines; then (`wait`: at most so many seconds) wait until
    routing has converged on every machine, as `up` does on one."""
    from ..multi.coordinator import mtu_warnings, up as multi_up

    inv = inventory(hosts)
    lay, results = multi_up(topo, inv, text, progress=lambda msg: click.echo(msg, err=True))
    for w in mtu_warnings(lay):
        click.secho(f"warning: {w}", err=True, fg="yellow")
    click.echo(f"lab {topo.name} is up on {len(lay.machines)} machines, {len(lay.placement.cut)} links cut "
               f"(VXLAN, UDP port {lay.port}):")
    for m in lay.machines:
        r = results.get(m.name, {})
        click.echo(f"  {m.name}: {len(lay.placement.nodes_on(m.name))} nodes, {r.get('ops', '?')} operations "
                   f"in {r.get('seconds', '?')} s")
    if wait and topo.feature("frr") is not None:
        from ..multi.nodes import RemoteLab

        click.echo(f"  waiting for routing to converge on every machine (at most {wait:.0f} s; --no-wait skips "
                   "this)…", err=True)
        started = time.monotonic()
        RemoteLab.attach(topo.name).converge(wait)  # LabError (exit 1) if not: the lab stays up to look at
        click.echo(f"  routing converged on every machine {time.monotonic() - started:.1f} s after the parts were up")
    click.echo(f"  try:   netemu status {topo.name}")
    click.echo(f"  stop:  netemu down {topo.name}")


def down(lab: str, hosts: str | None, wait: float) -> None:
    """Remove every machine's part of the lab."""
    from ..multi.coordinator import down as multi_down

    for line in multi_down(lab, inventory(hosts) if hosts else None, wait):
        click.echo(line)
    click.echo(f"lab {lab} removed from every machine")


def is_multi(lab: str) -> bool:
    """Whether `lab` was brought up across machines from here."""
    from ..multi.coordinator import record

    return record(lab) is not None


def status(lab: str, node: str | None = None) -> dict:
    """The status of every machine's part (or of one node), merged."""
    from ..multi.coordinator import status as multi_status

    return multi_status(lab, node)


def exec_argv(lab: str, node: str, command: list[str], tty: bool = False) -> list[str]:
    """The ssh command that runs COMMAND (or a shell) in NODE on its machine."""
    from ..multi.coordinator import exec_argv as argv

    return argv(lab, node, command, tty)


def _pairs_report(data: dict):
    """The PairsReport of the machines' pings (JSON), to print as on one machine."""
    import ipaddress

    from ..labtest.pairs import Pair, PairsReport
    from ..labtest.stop import Stop

    pairs = tuple(Pair(p["from"], p["to"], ipaddress.ip_address(p["address"]), p["answered"], p["attempts"], p["note"],
                       Stop(**{**p["stop"], "trace": tuple(p["stop"]["trace"])}) if p["stop"] else None)
                  for p in data["pairs"])
    return PairsReport(tuple(data["hosts"]), pairs, data["seconds"])


def test(lab: str, names: tuple[str, ...], timeout: float | None, as_json: bool, all_pairs: bool = False) -> int:
    """Run the declared checks (and the pings of all pairs) across machines; print them; the exit status."""
    from types import SimpleNamespace

    from ..multi.coordinator import test as multi_test
    from .labtest import _print

    report = multi_test(lab, names, timeout, all_pairs)
    if as_json:
        if "pairs" in report:  # as on one machine
            report["pairs"] = _pairs_report(report["pairs"]).to_json()
        click.echo(json.dumps(report, indent=1))
        return 0 if report["passed"] else 1
    if "pairs" in report:
        _print(SimpleNamespace(lab=lab, pairs=_pairs_report(report["pairs"]), checks=()))
    for c in report["checks"]:
        expect = "" if c["expect"] == "pass" else " (must fail)"
        click.secho(f"{'PASS' if c['passed'] else 'FAIL'} {c['name']} (on {c['machine']}): {c['what']}{expect} -- "
                    f"{c['seen']} ({c['attempts']} attempts, {c['seconds']:.1f} s)", fg=None if c["passed"] else "red")
    for p in report["problems"]:
        click.secho(f"FAIL {p}", fg="red")
    if report["checks"] or report["problems"]:
        ok = sum(c["passed"] for c in report["checks"])
        click.echo(f"{ok}/{len(report['checks']) + len(report['problems'])} checks passed")
    return 0 if report["passed"] else 1


def link(lab: str, endpoint: str | None, action: str | None, options: list[str]) -> None:
    """`netemu link` on the machine of the link's end (every machine's list without an endpoint)."""
    from ..errors import LabError
    from ..multi import dispatch, remote
    from ..multi.nodes import RemoteLab

    rl = RemoteLab.attach(lab)
    if endpoint is None:
        replies = remote.each(rl.machines.values(), lambda m: remote.run(m, ["link", lab], timeout=60))
        for name, r in replies.items():
            text = r.out.strip() if r.code == 0 else f"error: {r.why()}"
            click.echo(f"on {name}: " + text.replace("\n", "\n  "))
        return
    where = dispatch.link_machines(rl, endpoint, action or "show")
    args = ["link", lab, endpoint, *([action] if action else []), *options]
    if len(where) == 1:
        dispatch.forward(where[0], args)
    # a link between machines: both change their own end, at once
    replies = remote.each(where, lambda m: remote.run(m, args, timeout=120))
    failed = {n: r for n, r in replies.items() if r.code != 0}
    if failed:
        done = [n for n in replies if n not in failed]
        raise LabError("; ".join(f"{n}: {r.why()}" for n, r in failed.items())
                       + (f" (changed on {', '.join(done)} only: set it again)" if done else ""))
    for name, r in replies.items():  # a link between machines: each machine changed its own end
        click.echo(r.err, nl=False, err=True)
        click.echo(f"on {name}: " + r.out.strip().replace("\n", "\n  "))


def logs(lab: str, node: str | None, service: str | None, follow: bool, lines: int | None) -> None:
    """`netemu logs` across machines: a node's on its machine; the whole lab's from every machine at once,
    each header (or, following, each line's prefix) naming the machine."""
    import signal
    import subprocess
    import threading

    from ..errors import NotFoundError
    from ..multi import dispatch, remote
    from ..multi.nodes import RemoteLab

    rl = RemoteLab.attach(lab)
    args = ["logs", lab, *([node] if node else []), *([service] if service else []), *(["-f"] if follow else []),
            *(["-n", str(lines)] if lines is not None else [])]
    if node is not None:
        dispatch.forward(rl.node(node).machine, args)
    machines = list(rl.machines.values())
    if not follow:
        replies = remote.each(machines, lambda m: remote.run(m, args, timeout=60))
        shown = 0
        for m in machines:
            r = replies[m.name]
            if r.code != 0:
                if "runs no processes" not in r.err:
                    click.secho(f"==> {m.name}: error: {r.why()} <==", fg="red")
                continue
            shown += 1
            click.echo("".join(f"==> {m.name}: {line[4:]}" if line.startswith("==> ") else line
                               for line in r.out.splitlines(keepends=True)), nl=False)
        if not shown:
            raise NotFoundError(f"lab {lab!r} runs no processes on any of its machines")
        return
    # A terminal there (-tt): when this side stops, the remote `logs -f` gets SIGHUP instead of waiting
    # forever for a line to write; SIGTERM here stops the sessions like Ctrl-C.
    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    procs = [(m, subprocess.Popen(["ssh", "-t", *remote.ssh_argv(m, args, tty=True)[1:]], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)) for m in machines]
    lock = threading.Lock()

    def pump(m, proc) -> None:
        for line in proc.stdout:
            line = line.replace("\r\n", "\n")  # the terminal's line ends
            with lock:
                click.echo(f"[{m.name}:{line[1:]}" if line.startswith("[") else f"[{m.name}] {line}", nl=False)

    threads = [threading.Thread(target=pump, args=p, daemon=True) for p in procs]
    for t in threads:
        t.start()
    try:
        for t in threads:
            t.join()
    except KeyboardInterrupt:
        pass
    finally:
        for _, proc in procs:
            proc.kill()
            proc.wait()


def check(lab: str, seconds: float) -> list[dict]:
    """`netemu check` across machines: each machine measures the impaired links it holds both ends of, all at
    once; a link whose path crosses machines gets its round trip measured from the coordinator (multi.linkcheck)."""
    from ..errors import LabError
    from ..multi import remote
    from ..multi.linkcheck import measure
    from ..multi.nodes import RemoteLab

    rl = RemoteLab.attach(lab)
    args = ["check", lab, "--json", "--seconds", str(seconds)]
    replies = remote.each(rl.machines.values(), lambda m: remote.run(m, args, timeout=600))
    found: dict[int, dict] = {}
    for name, r in replies.items():
        try:
            results = json.loads(r.out)
        except ValueError:
            raise LabError(f"{name}: netemu check failed: {r.why()}") from None
        for x in results:
            if x.get("skipped") and x["link"] in found:
                continue
            found[x["link"]] = {**x, "machine": name}
    out = []
    for index in sorted(found):
        x = found[index]
        if x.get("skipped") and "not on this machine" in x["skipped"]:
            x = measure(rl, index)  # its ends on two machines: the round trip, from the coordinator
        out.append(x)
    return out


def dns(command: str, lab: str, node: str, args: list[str]) -> None:
    """`netemu dns COMMAND` on the machine of the resolver NODE uses."""
    from ..multi import dispatch
    from ..multi.nodes import RemoteLab

    dispatch.forward(dispatch.dns_machine(RemoteLab.attach(lab), node), ["dns", command, lab, node, *args])


def capture(lab: str, node: str, interfaces: list[str] | None, write: str | None, count: int | None,
            filter_: tuple[str, ...]) -> None:
    """`netemu capture` of a node on another machine: the packets stream back over ssh (pcap into FILE or
    stdout, or decoded there); Ctrl-C stops the capture there, so the file ends with a whole packet."""
    from ..capture.command import Capture
    from ..errors import NotFoundError
    from ..multi import dispatch
    from ..multi.nodes import RemoteLab

    rl = RemoteLab.attach(lab)
    handle = rl.node(node)
    have = [i.name for i in handle.model.interfaces]
    wanted = interfaces or have
    unknown = [i for i in wanted if i not in have and i != "lo"]
    if unknown or not wanted:
        raise NotFoundError(f"node {node!r} has no interface {', '.join(unknown) or '(none given)'} "
                            f"(it has: {', '.join(have) or 'none'}{', lo' if have else ''})")
    cap = Capture(tuple(wanted), None if write is None else "-", count, tuple(filter_))
    if write in (None, "-"):
        code = dispatch.stream(rl, node, cap.argv(), None)
        sys.exit(code)
    click.echo(f"capturing on {node}:{','.join(wanted)} (on {handle.machine.name}) into {write} "
               f"({'pcapng' if cap.pcapng else 'pcap'}); Ctrl-C stops", err=True)
    with open(write, "wb") as out:
        code = dispatch.stream(rl, node, cap.argv(), out)
    sys.exit(code)


@click.group(hidden=True)
def part() -> None:
    """What each machine runs for the coordinator (over ssh; JSON on stdin and stdout).

    \b
    Example (run by `netemu up FILE --hosts INVENTORY`, not by hand):
      ssh m1 -- netemu part check < request.json
    """


@part.command(name="check")
def part_check() -> None:
    """Report this machine's facts and problems for a lab (creates nothing)."""
    from ..multi.part import check

    click.echo(json.dumps(check(json.loads(sys.stdin.readline()))))


@part.command(name="up")
def part_up() -> None:
    """Build this machine's part of a lab; rolls back if the coordinator goes away first."""
    from ..multi.part import up as part_up_

    click.echo(json.dumps(part_up_(json.loads(sys.stdin.readline()))))


@part.command(name="pairs")
@click.argument("lab", type=LAB)
def part_pairs(lab: str) -> None:
    """Ping every host of the lab from this machine's hosts ({"sources": [...], "timeout": S|null} on stdin)."""
    from ..multi.part import pairs

    click.echo(json.dumps(pairs(lab, json.loads(sys.stdin.readline()))))


@part.command(name="converge")
@click.argument("lab", type=LAB)
@click.option("--timeout", type=float, default=60.0)
def part_converge(lab: str, timeout: float) -> None:
    """Wait until this machine's routers of LAB have converged (exit 1 with the reason when they do not)."""
    from ..multi.part import converge

    click.echo(json.dumps(converge(lab, timeout)))


@part.command(name="fib")
@click.argument("lab", type=LAB)
@click.argument("node")
def part_fib(lab: str, node: str) -> None:
    """Print NODE's kernel FIB on this machine as JSON (the coordinator's path walk reads it)."""
    from ..multi.part import fib

    click.echo(json.dumps(fib(lab, node)))


@part.command(name="quiesce")
@click.argument("lab", type=LAB)
def part_quiesce(lab: str) -> None:
    """Before down: the TCP connections of this machine's namespaces of LAB end at once when killed."""
    from ..multi.part import quiesce

    click.echo(json.dumps(quiesce(lab)))


@part.command(name="agent")
@click.argument("lab", type=LAB)
def part_agent(lab: str) -> None:
    """Run commands in this machine's nodes of LAB for the coordinator: JSON lines on stdin and stdout."""
    from ..multi.agent import serve

    sys.exit(serve(lab))


@part.command(name="proc")
@click.argument("lab", type=LAB)
@click.argument("node")
def part_proc(lab: str, node: str) -> None:
    """Run a process in NODE for the coordinator: a JSON request, then signal names, on stdin."""
    from ..multi.proc import serve

    sys.exit(serve(lab, node))


commands = [part]
