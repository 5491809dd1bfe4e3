"""The core commands: validate, plan, up, down, status, exec, shell."""

from __future__ import annotations

import json
import os
import shutil
import sys

import click

from .. import apply as apply_mod
from .. import status as status_mod
from ..errors import LabError, NotRootError, UsageError
from ..kernel import procs
from ..lab import Lab
from ..labdir import LabDir, all_labs
from ..derive.show import derived, derived_lines
from ..parse import load_topology
from ..plan import build
from ..source import read_text
from . import multi as multi_cli
from .labarg import LAB, LAB_OR_FILE


def _need_root(command: str) -> None:
    if os.geteuid() != 0:
        raise NotRootError(command)


def _print_warnings(topo) -> None:
    for w in topo.warnings:
        click.secho(w, err=True, fg="yellow")


SUMMARY_NODES = 12  # a big lab's summary names this many nodes, then counts the rest


@click.command()
@click.argument("topology", type=click.Path(dir_okay=False))
@click.option("--hosts", metavar="INVENTORY", type=click.Path(dir_okay=False),
              help="Also check the placement on these machines (links whose MTU VXLAN cannot carry).")
def validate(topology: str, hosts: str | None) -> None:
    """Check a topology file; report every problem at once (no root needed).

    \b
    Example:
      netemu validate topologies/two-routers.yaml
    Exit status 0 when valid, 2 when not (each problem as file:line: field: message).
    """
    topo = load_topology(topology)
    _print_warnings(topo)
    if hosts:
        multi_cli.validate(topo, hosts)
    click.echo(f"{topology}: valid: lab {topo.name!r}, {_count(len(topo.nodes), 'node')}, "
               f"{_count(len(topo.links), 'link')}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


@click.command()
@click.argument("topology", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the operations as JSON.")
@click.option("--full", is_flag=True, help="Also print what each step feeds in: rule sets, file contents.")
@click.option("--link-backend", type=click.Choice(["netem", "fallback"]),
              help="Plan link emulation for this backend instead of the one this kernel has.")
@click.option("--hosts", metavar="INVENTORY", type=click.Path(dir_okay=False),
              help="Across the machines of this Ansible YAML inventory (over ssh).")
def plan(topology: str, as_json: bool, full: bool, link_backend: str | None, hosts: str | None) -> None:
    """Print the ordered kernel operations `up` would perform (no root needed).

    \b
    Examples:
      netemu plan topologies/two-routers.yaml
      netemu plan --full topologies/internet.yaml    # with the iptables rules and files it loads
      netemu plan --link-backend fallback topologies/tfo.yaml
      netemu plan topologies/internet.yaml --hosts machines.yaml   # placement and each machine's plan
    Link emulation is planned for this kernel's backend (netem, or the fallback delay line) when it
    can be probed; the plan says which it used and why.
    """
    if link_backend:
        from ..linkemu.caps import BACKEND_ENV

        os.environ[BACKEND_ENV] = link_backend  # read by the link-emulation feature while planning
    topo = load_topology(topology)
    _print_warnings(topo)
    if hosts:
        return multi_cli.plan(topo, hosts, as_json, full)
    p = build(topo)
    extra = derived(topo)
    backend = _link_backend(topo)
    if as_json:
        out = {"lab": p.lab, **({"derived": extra} if extra else {}), "ops": [op.to_json() for op in p.ops]}
        if backend:
            out["link_backend"] = {"name": backend[0], "why": backend[1]}
        click.echo(json.dumps(out, indent=1))
    else:
        for line in derived_lines(topo):
            click.echo(f"# {line}")
        click.echo(f"# lab {p.lab}: {len(p.ops)} operations")
        if backend:
            click.echo(f"# link emulation: {backend[0]} ({backend[1]})")
        click.echo(p.text(full=full))


def _link_backend(topo) -> tuple[str, str] | None:
    """(backend, how it was chosen) when the topology impairs a link, else None."""
    model = topo.feature("linkemu")
    if not getattr(model, "links", None):
        return None
    from ..linkemu.caps import backend_choice

    return backend_choice()


@click.command()
@click.argument("topology", type=click.Path(dir_okay=False))
@click.option("-v", "--verbose", is_flag=True, help="Print each operation as it is applied.")
@click.option("--fail-at", type=int, hidden=True, help="Inject a failure before operation N (tests rollback).")
@click.option("--no-wait", is_flag=True, help="Return once built, without waiting for routing to converge.")
@click.option("--wait-timeout", type=float, default=60.0, show_default=True,
              help="Seconds to wait for routing (OSPF/BGP) to converge before giving up.")
@click.option("--hosts", metavar="INVENTORY", type=click.Path(dir_okay=False),
              help="Across the machines of this Ansible YAML inventory (over ssh).")
def up(topology: str, verbose: bool, fail_at: int | None, no_wait: bool, wait_timeout: float,
       hosts: str | None) -> None:
    """Build the lab described by TOPOLOGY (needs root).

    \b
    Examples:
      netemu up topologies/two-routers.yaml
      netemu up topologies/internet.yaml --hosts machines.yaml   # across machines, over ssh
    Every node becomes a network namespace named LAB-NODE (see 'ip netns').
    On any failure or Ctrl-C, everything created so far is removed again.
    """
    topo = load_topology(topology)
    _print_warnings(topo)
    _need_root("up")
    text = read_text(topology)  # the same checks as the load above: a regular file, bounded, UTF-8
    if hosts:
        return multi_cli.up(topo, hosts, text, None if no_wait else wait_timeout)
    p = build(topo)
    progress = (lambda i, op: click.echo(f"[{i}/{len(p.ops)}] {op.text()}", err=True)) if verbose else None
    res = apply_mod.up(topo, p, text, fail_at=fail_at, progress=progress)
    click.echo(f"lab {res.lab} is up: {_count(res.nodes, 'node')}, {_count(res.links, 'link')}, {res.ops} operations "
               f"in {res.seconds:.2f} s")
    if not no_wait:
        _converge(topo, wait_timeout)
    shown = [f"{n.name} ({n.kind})" for n in topo.nodes[:SUMMARY_NODES]]
    more = len(topo.nodes) - len(shown)
    click.echo(f"  nodes: {', '.join(shown)}" + (f", … and {more} more (netemu status {topo.name})" if more else ""))
    click.echo(f"  try:   netemu status {res.lab}")
    first = next((n for n in topo.nodes if not n.is_switch), None)
    if first:
        click.echo(f"         netemu exec {res.lab} {first.name} -- ip addr")
    services = topo.feature("services")
    if services is not None:
        click.echo(f"  services ready: {', '.join(f'{s.node}:{s.name}' for s in services.services)} "
                   f"(netemu logs {res.lab})")
    click.echo(f"  stop:  netemu down {res.lab}")


@click.command()
@click.argument("lab", required=False, type=LAB_OR_FILE)
@click.option("--all", "all_labs_", is_flag=True, help="Remove every netemu lab on this machine.")
@click.option("--keep-captures", metavar="DIR", help="First copy the topology's capture files (capture:) into DIR.")
@click.option("--hosts", metavar="INVENTORY", type=click.Path(dir_okay=False),
              help="Across the machines of this Ansible YAML inventory (over ssh).")
@click.option("--wait", type=float, default=0.0, metavar="SECONDS",
              help="With several machines: keep trying unreachable ones this long.")
def down(lab: str | None, all_labs_: bool, keep_captures: str | None, hosts: str | None, wait: float) -> None:
    """Remove a lab completely: processes, namespaces, files. Idempotent.

    \b
    LAB is a lab name or the topology file it came from (only its name is read).
    Examples:
      netemu down two-routers
      netemu down topologies/two-routers.yaml
      netemu down --all
      netemu down two-routers --keep-captures ./pcaps
    Works after a crash or kill -9, and when the topology file was edited or deleted.
    """
    if all_labs_ == bool(lab):
        raise UsageError("give a lab name or file, or --all")
    _need_root("down")
    if lab and (hosts or multi_cli.is_multi(lab)):
        return multi_cli.down(lab, hosts, wait)
    names = [d.name for d in all_labs()] if all_labs_ else [lab]
    if all_labs_ and not names:
        click.echo("no netemu labs are up")
    failed = None
    for name in names:
        kept: list[str] = []
        dest = os.path.join(keep_captures, name) if keep_captures and all_labs_ else keep_captures
        try:
            removed = apply_mod.down(name, dest, kept)
        except LabError as e:
            if not all_labs_:
                raise
            click.secho(f"error: {e}", err=True, fg="red")  # --all: the other labs still go
            failed = e
            continue
        for path in kept:
            click.echo(f"kept {path}")
        if removed and keep_captures and not kept:
            click.echo(f"lab {name} had no capture files to keep (see `capture:` in the README)")
        click.echo(f"lab {name} removed" if removed else f"lab {name} is not up (nothing to remove)")
        for line in removed.kept if removed else ():
            click.secho(f"  warning: {line}", err=True, fg="yellow")
    if failed is not None:
        sys.exit(failed.exit_code)


def _converge(topo, timeout: float) -> None:
    """Wait for routing to converge (the lab stays up if it does not), printing how long it took."""
    from ..lab import converge

    def started(feature: str, timeout: float) -> None:
        click.echo(f"  waiting for routing to converge (at most {timeout:.0f} s; --no-wait skips this)…", err=True)

    for _, res in converge(topo, timeout, started):
        click.echo(f"  routing converged {res.seconds:.1f} s after the daemons started: {res.adjacencies} OSPF "
                   f"adjacencies, {res.sessions} BGP sessions, {res.routes} routes in the routers' FIBs"
                   + ("; every OSPF route on a shortest path, as the topology predicts" if res.predicted else ""))


@click.command()
@click.argument("lab", required=False, type=LAB)
@click.argument("node", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(lab: str | None, node: str | None, as_json: bool) -> None:
    """Show labs, or one lab's nodes, interfaces, addresses, MTUs, routes, processes and impaired
    links; for one NODE also its NAT and firewall rules with counters and live translations.

    \b
    Examples:
      netemu status
      netemu status two-routers
      netemu status two-routers r1 --json
    """
    _need_root("status")
    if lab is None:
        data = status_mod.labs()
        if as_json:
            click.echo(json.dumps(data, indent=1))
            return
        if not data:
            click.echo("no netemu labs are up")
            return
        rows = [("LAB", "STATE", "NODES", "UP FOR", "SOURCE", "DESCRIPTION")]
        rows += [(d["name"], d["state"], str(d["nodes"]), _age(d["age_seconds"]), d["source"] or "-",
                  d["description"]) for d in data]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for r in rows:
            click.echo(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]:>{widths[3]}}  "
                       f"{r[4]:<{widths[4]}}  {r[5]}".rstrip())
        return
    data = multi_cli.status(lab, node) if multi_cli.is_multi(lab) else status_mod.lab(lab, node)
    if as_json:
        click.echo(json.dumps(data, indent=1))
        return
    click.echo(f"lab {data['name']} ({data['state']}) from {data['source'] or '?'}")
    for n in data["nodes"]:
        on = f"  on {n['machine']}" if "machine" in n else ""
        click.echo(f"\n{n['node']} [{n['kind']}]  netns {n['namespace']}{on}")
        if n.get("missing"):
            click.secho("  namespace missing", fg="red")
            continue
        for i in n["interfaces"]:
            master = f" master {i['master']}" if "master" in i else ""
            click.echo(f"  {i['name']:<15} {i['state']:<10} mtu {i['mtu']:<5} {i['mac']}{master}  "
                       f"{' '.join(i['addresses'])}")
        for r in n["routes"]:
            click.echo(f"  route {r}")
        for c in n.get("path_mtu_cache", []):
            expiry = "" if c["expires_seconds"] is None else f", expires in {c['expires_seconds']} s"
            hop = (f" via {c['via']}" if c["via"] else "") + (f" dev {c['dev']}" if c["dev"] else "")
            click.echo(f"  learned path MTU {c['mtu']} to {c['destination']}{hop} (cached exception{expiry})")
    if data["processes"] and node is None:
        running = sum(p["running"] for p in data["processes"])
        click.echo(f"\nprocesses: {running}/{len(data['processes'])} running")
        for p in data["processes"]:
            click.echo(f"  {p['name']:<28} pid {p['pid']:<8} {'running' if p['running'] else 'NOT RUNNING'}")
    if data["feature_lines"]:
        click.echo("")
        for line in data["feature_lines"]:
            click.echo(line)


def _age(seconds: int | None) -> str:
    """'42s', '17m', '3h', '2d' (how long a lab has been up), '?' when unknown."""
    if seconds is None:
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@click.command(name="exec", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("lab", type=LAB)
@click.argument("node")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_(lab: str, node: str, command: tuple[str, ...]) -> None:
    """Run COMMAND inside NODE; its output and exit status pass through.

    \b
    Examples:
      netemu exec two-routers h1 -- ping -c 3 10.0.2.2
      netemu exec two-routers h2 -- ip -6 route
    """
    _need_root("exec")
    command = command[1:] if command[:1] == ("--",) else command
    if not command:
        raise UsageError("give a command after '--', e.g. netemu exec LAB NODE -- ip addr")
    if multi_cli.is_multi(lab):  # the node is on another machine: its netemu runs the command there
        argv = multi_cli.exec_argv(lab, node, list(command))
        os.execvp(argv[0], argv)
    handle = Lab.attach(lab).node(node)
    _node_path(lab, node)
    # Nodes share the host's files, so the command is found (or not) exactly as here.
    if shutil.which(command[0]) is None:
        click.echo(f"error: {command[0]}: command not found", err=True)
        sys.exit(127)  # the shell's status for it, so scripts can tell it from the command failing
    argv = procs.ns_argv(handle.ns, list(command))
    sys.stdout.flush()
    os.execvp(argv[0], argv)


def _node_path(lab: str, node: str) -> None:
    """Put the node's own programs (e.g. the vtysh of a router's FRR) first on PATH for what runs in it."""
    own = LabDir(lab).bin_dir(node)
    if own.is_dir():
        os.environ["PATH"] = f"{own}:{os.environ.get('PATH', '')}"


@click.command()
@click.argument("lab", type=LAB)
@click.argument("node")
def shell(lab: str, node: str) -> None:
    """Open an interactive shell inside NODE (exit to leave).

    \b
    Example:
      netemu shell two-routers r1
    """
    _need_root("shell")
    if multi_cli.is_multi(lab):
        argv = multi_cli.exec_argv(lab, node, [], tty=True)
        os.execvp(argv[0], argv)
    handle = Lab.attach(lab).node(node)
    _node_path(lab, node)
    sh = os.environ.get("SHELL", "/bin/bash")
    os.environ["PS1"] = f"[{lab}:{node}] \\w# "
    os.environ["NETEMU_LAB"], os.environ["NETEMU_NODE"] = lab, node
    if not sys.stdin.isatty():  # commands piped in: a plain shell reads them (no job control to set up)
        argv = procs.ns_argv(handle.ns, [sh])
    else:
        argv = procs.ns_argv(handle.ns, [sh, "--norc", "-i"] if sh.endswith("bash") else [sh, "-i"])
    os.execvp(argv[0], argv)


commands = [validate, plan, up, down, status, exec_, shell]
