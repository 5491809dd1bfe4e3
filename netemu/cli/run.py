"""`netemu run`: run a measurement scenario (built-in or a user's file) and print its verdicts."""

from __future__ import annotations

import json
import sys

import click

from ..errors import NetemuError, UsageError
from .core import _need_root
from .labarg import LAB


def _roles(client: str | None, server: str | None, nodes: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in nodes:
        role, sep, node = item.partition("=")
        if not sep or not role or not node:
            raise UsageError(f"--node {item!r}: expected ROLE=NODE, e.g. --node client=alice")
        out[role] = node
    if client:
        out["client"] = client
    if server:
        out["server"] = server
    return out


def _where(chosen, lab: str | None, topology: str | None, lab_name: str | None, hosts: str | None = None) -> str | None:
    """A few words on what the run uses: the lab, the topology file, or the scenario's own topology."""
    if lab:
        return f"lab {lab}"
    if topology:
        what = topology
    elif chosen.topology is None:
        return None  # the run refuses: it names no topology
    elif "\n" in chosen.topology:
        what = "its built-in topology"  # YAML written inside the scenario's file
    else:
        what = f"its topology {chosen.topology}"
    return what + (f" as lab {lab_name}" if lab_name else "") + (f" across the machines of {hosts}" if hosts else "")


@click.command("run")
@click.argument("scenario", required=False)
@click.option("--list", "list_only", is_flag=True, help="List the built-in scenarios and exit.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout.")
@click.option("--lab", type=LAB, metavar="NAME", help="Run on this lab, already up (nothing is brought up or down).")
@click.option("-t", "--topology", type=click.Path(dir_okay=False), help="Bring up this topology instead of the scenario's own.")
@click.option("--client", metavar="NODE", help="Node playing the 'client' role (for pmtud: the sender).")
@click.option("--server", metavar="NODE", help="Node playing the 'server' role (for pmtud: the receiver).")
@click.option("--node", "nodes", multiple=True, metavar="ROLE=NODE", help="Any role of the scenario; repeatable.")
@click.option("--quick", is_flag=True, help="Fewer repetitions and shorter bounds (a faster, rougher run).")
@click.option("--report-dir", type=click.Path(file_okay=False), help="Where to write the report "
              "[default: ./netemu-reports/SCENARIO-TIMESTAMP].")
@click.option("--lab-name", type=LAB, metavar="NAME", help="Bring the topology up under this lab name instead of its own.")
@click.option("--hosts", metavar="INVENTORY", type=click.Path(dir_okay=False),
              help="Bring the topology up across these machines (Ansible YAML inventory), as `up --hosts`.")
def run(scenario: str | None, list_only: bool, as_json: bool, lab: str | None, topology: str | None,
        client: str | None, server: str | None, nodes: tuple[str, ...], quick: bool, report_dir: str | None,
        lab_name: str | None, hosts: str | None) -> None:
    """Run a measurement SCENARIO: a built-in name or a path to a .py file (needs root).

    \b
    Examples:
      netemu run --list
      netemu run pmtud
      netemu run nagle --json
      netemu run tfo --lab internet --client alice --server root
      netemu run pmtud --lab internet --client alice --server cloud
      netemu run ./my_scenario.py

    The client must reach the server's own address by routes; source NAT on the way out is
    followed (the run measures through it), a server behind a port forward or 1:1 NAT is refused.
    Prints a table and PASS/FAIL per check, writes results.json, report.html, report.md and
    pictures into the report directory; exits 1 if any check fails.
    """
    from .. import scenarios
    from ..scenarios import report

    try:
        if list_only:
            for name, description in scenarios.describe_builtins():
                click.echo(f"{name:8} {description}")
            return
        if not scenario:
            raise UsageError("name a scenario (see 'netemu run --list') or give a .py file")
        chosen = scenarios.load(scenario)
        options = scenarios.RunOptions(quick=quick, lab=lab, topology=topology, nodes=_roles(client, server, nodes),
                                       report_dir=report_dir, lab_name=lab_name, hosts=hosts)
        _need_root("run")
        where = _where(chosen, lab, topology, lab_name, hosts)
        if where and not as_json:
            click.echo(f"running {chosen.name} on {where} …", err=True)
        result = scenarios.run(chosen, options)
    except NetemuError as e:
        click.secho(f"error: {e}", err=True, fg="red")
        sys.exit(e.exit_code)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the run has already undone its changes and torn down
        click.secho("interrupted: everything the run changed was restored", err=True, fg="red")
        sys.exit(130)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=1))
        where = f"report in {result.report_dir}" if result.report_dir else "; ".join(result.notes[-1:])
        click.echo(f"{'PASS' if result.passed else 'FAIL'}: {where}", err=True)
    else:
        click.echo(report.format_text(result, color=sys.stdout.isatty()))
    if not result.passed:
        sys.exit(1)


commands = [run]
