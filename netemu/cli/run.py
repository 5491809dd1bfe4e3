"""`netemu run`: run a measurement scenario (built-in or a user's file) and print its verdicts."""

from __future__ import annotations

import json
import sys

import click

from ..errors import NetemuError, UsageError


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


@click.command("run")
@click.argument("scenario", required=False)
@click.option("--list", "list_only", is_flag=True, help="List the built-in scenarios and exit.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout.")
@click.option("--lab", metavar="NAME", help="Run on this lab, already up (nothing is brought up or down).")
@click.option("-t", "--topology", type=click.Path(dir_okay=False), help="Bring up this topology instead of the scenario's own.")
@click.option("--client", metavar="NODE", help="Node playing the 'client' role (for pmtud: the sender).")
@click.option("--server", metavar="NODE", help="Node playing the 'server' role (for pmtud: the receiver).")
@click.option("--node", "nodes", multiple=True, metavar="ROLE=NODE", help="Any role of the scenario; repeatable.")
@click.option("--quick", is_flag=True, help="Fewer repetitions and shorter bounds (a faster, rougher run).")
@click.option("--report-dir", type=click.Path(file_okay=False), help="Where to write the report "
              "[default: ./netemu-reports/SCENARIO-TIMESTAMP].")
@click.option("--lab-name", metavar="NAME", help="Bring the topology up under this lab name instead of its own.")
def run(scenario: str | None, list_only: bool, as_json: bool, lab: str | None, topology: str | None,
        client: str | None, server: str | None, nodes: tuple[str, ...], quick: bool, report_dir: str | None,
        lab_name: str | None) -> None:
    """Run a measurement SCENARIO: a built-in name or a path to a .py file (needs root).

    \b
    Examples:
      netemu run --list
      sudo netemu run pmtud
      sudo netemu run nagle --json
      sudo netemu run tfo --lab internet --client alice --server bob
      sudo netemu run ./my_scenario.py
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
                                       report_dir=report_dir, lab_name=lab_name)
        if not as_json:
            where = f"lab {lab}" if lab else (topology or f"its topology {chosen.topology}")
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
        click.echo(f"{'PASS' if result.passed else 'FAIL'}: report in {result.report_dir}", err=True)
    else:
        click.echo(report.format_text(result, color=sys.stdout.isatty()))
    if not result.passed:
        sys.exit(1)


commands = [run]
