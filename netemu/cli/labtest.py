"""`netemu test LAB`: ping every host from every host, or run the topology's declared checks."""

from __future__ import annotations

import json
import os
import sys

import click

from ..errors import NotRootError
from ..lab import Lab
from .labarg import LAB

MATRIX_HOSTS = 12  # up to this many hosts the result is a matrix; beyond, a list of failures


@click.command(name="test")
@click.argument("lab", type=LAB)
@click.argument("checks", nargs=-1)
@click.option("--pairs", "all_pairs", is_flag=True, help="Also ping every host from every host (the default "
              "when the topology declares no tests).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Keep retrying until SECONDS after the lab came up (default 10; 60 with OSPF/BGP routing; "
                   "a declared check's own timeout otherwise).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def test(lab: str, checks: tuple[str, ...], all_pairs: bool, timeout: float | None, as_json: bool) -> None:
    """Check that the lab works: every host pings every other host's addresses (IPv4 and IPv6), or the
    checks the topology declares in its tests: section; CHECKS names some of them.

    \b
    Examples:
      netemu test two-routers
      netemu test internet                 # the checks of topologies/internet.yaml
      netemu test internet www-resolves --json
    Failed pings and checks are retried until the timeout, counted from when the lab came up.
    A failing path is traced from inside its node to the hop where it stops.
    Exit status 0 when everything passes, 1 when something fails, 2 on bad input.
    """
    if os.geteuid() != 0:
        raise NotRootError("test")
    from ..labtest import runner
    from . import multi as multi_cli

    if multi_cli.is_multi(lab):  # each check runs on the machine of the node it starts from
        sys.exit(multi_cli.test(lab, checks, timeout, as_json, all_pairs))
    handle = Lab.attach(lab)

    def waiting(left: int, seconds: float) -> None:
        if not as_json:
            click.echo(f"{left} ping(s) unanswered; retrying for up to {seconds:.0f} s more "
                       f"(routing may still be converging)", err=True)

    report = runner.run(handle, checks, all_pairs, timeout, waiting)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=1))
    else:
        _print(report)
    sys.exit(0 if report.passed else 1)


def _print(report) -> None:
    from ..labtest.pairs import matrix

    p = report.pairs
    if p is not None:
        families = sorted({x.address.version for x in p.pairs})
        click.echo(f"lab {report.lab}: {len(p.hosts)} hosts ping each other "
                   f"({' and '.join(f'IPv{f}' for f in families)})")
        if len(p.hosts) <= MATRIX_HOSTS:
            rows = matrix(p)
            width = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
            for r in rows:
                click.echo("  " + "  ".join(c.ljust(w) for c, w in zip(r, width)).rstrip())
        for f in p.failures:
            click.secho(f"FAIL {f.src} -> {f.dst} {f.address}" + (f": {f.note}" if f.note else ": no answer"),
                        fg="red")
            _print_stop(f.stop)
        if len(p.failures) > sum(1 for f in p.failures if f.stop):
            click.echo(f"  (only the first {sum(1 for f in p.failures if f.stop)} failures were traced)")
        answered = len(p.pairs) - len(p.failures)
        click.echo(f"{answered}/{len(p.pairs)} pings answered in {p.seconds:.1f} s")
    for c in report.checks:
        verdict = "PASS" if c.passed else "FAIL"
        expect = "" if c.check.expect_pass else " (must fail)"
        tries = f"{c.attempts} attempt{'s' if c.attempts != 1 else ''}"
        click.secho(f"{verdict} {c.check.name}: {c.check.what()}{expect} -- {c.seen} ({tries}, {c.seconds:.1f} s)",
                    fg=None if c.passed else "red")
        _print_stop(c.stop)
    if report.checks:
        ok = sum(c.passed for c in report.checks)
        click.echo(f"{ok}/{len(report.checks)} checks passed")


def _print_stop(stop) -> None:
    if stop is None:
        return
    click.echo(f"     stops at {stop.node or stop.address or '?'}: {stop.reason}")
    if stop.model:
        click.echo(f"     topology: {stop.model}")
    if stop.trace:
        click.echo(f"     traceroute: {' | '.join(stop.trace)}")


commands = [test]
