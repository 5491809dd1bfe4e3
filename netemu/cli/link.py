"""Link-emulation commands: doctor, link (set/down/up), check. Parse, call netemu.linkemu, print."""

from __future__ import annotations

import json
import os
import sys

import click

from ..errors import NotRootError, UsageError
from .labarg import LAB


def _need_root(command: str) -> None:
    if os.geteuid() != 0:
        raise NotRootError(command)


def _frr_row(doc):
    """The doctor's line about FRR (routing: ospf|bgp)."""
    from ..frr import install as frr

    problems = frr.problems({"ospfd", "ospf6d", "bgpd", "bfdd", "staticd"})
    if problems:
        return doc.Row("FRR", doc.MISSING, "; ".join(problems))
    return doc.Row("FRR", doc.NATIVE, f"FRR {frr.version()} from {frr.locate().daemon_dir}: zebra, staticd, ospfd, "
                                      f"ospf6d, bgpd, bfdd run as user {frr.USER} in each router's namespace")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def doctor(as_json: bool) -> None:
    """Say how this machine emulates links: native, fallback or unavailable.

    Probes in a throwaway network namespace (nothing on the host changes).

    \b
    Example:
      netemu doctor
    """
    _need_root("doctor")
    from ..labdir import tidy
    from ..linkemu import doctor as doc

    rows = doc.report(fresh=True)
    tidy()  # the probe's cache serves labs; with none up, nothing stays behind
    routing = _frr_row(doc)
    if as_json:
        click.echo(json.dumps([r.__dict__ for r in rows + [routing]], indent=1))
        return
    colours = {doc.NATIVE: "green", doc.FALLBACK: "yellow", doc.MISSING: "red", doc.INFO: None}
    click.echo("link emulation on this machine:")
    for r in rows:
        click.echo(f"  {r.feature:<26} " + click.style(f"{r.status:<11}", fg=colours[r.status]) + f" {r.how}")
    click.echo("routing (routing: ospf|bgp):")
    click.echo(f"  {routing.feature:<26} " + click.style(f"{routing.status:<11}", fg=colours[routing.status])
               + f" {routing.how}")
    missing = [r for r in rows if r.status == doc.MISSING]
    if missing:
        click.echo(f"\n{len(missing)} feature(s) unavailable: 'netemu up' refuses topologies that use them.")


@click.command()
@click.argument("lab", type=LAB)
@click.argument("endpoint", required=False, metavar="[NODE[:IF]]")
@click.argument("action", required=False, type=click.Choice(["set", "down", "up", "show"]),
                metavar="[set|down|up|show]")
@click.option("--bandwidth", help="Rate limit, e.g. 10mbit ('none' removes it).")
@click.option("--delay", help="One-way delay, e.g. 20ms (0 removes it).")
@click.option("--jitter", help="Delay variation, e.g. 2ms (uniform ±).")
@click.option("--loss", help="Random loss in percent, e.g. 1%.")
@click.option("--queue", help="Buffer before the rate limit: packets (100) or bytes (64kb).")
@click.option("--direction", type=click.Choice(["both", "out", "in"]), default="both", show_default=True,
              help="out: traffic NODE:IF sends; in: traffic it receives.")
@click.option("--clear", is_flag=True, help="Reset every impairment not given on this command line.")
def link(lab: str, endpoint: str | None, action: str | None, bandwidth, delay, jitter, loss, queue, direction,
         clear: bool) -> None:
    """Show or change a running lab's links: impairments and faults.

    Without NODE, or with 'show', lists the impaired or cut links (of NODE[:IF] when given).

    \b
    Examples:
      netemu link mylab                                  # impaired links
      netemu link mylab h1                               # h1's links only
      netemu link mylab h1:eth0 set --delay 50ms --loss 1%
      netemu link mylab h1:eth0 set --bandwidth 2mbit --direction out
      netemu link mylab h1 set --clear                   # plain wire again
      netemu link mylab r1:eth1 down                     # pull the cable
      netemu link mylab r1:eth1 up
    """
    _need_root("link")
    from ..linkemu import runtime, status
    from . import multi as multi_cli

    values = {"bandwidth": bandwidth, "delay": delay, "jitter": jitter, "loss": loss, "queue": queue}
    given = any(v is not None for v in values.values()) or clear
    if multi_cli.is_multi(lab):  # each machine changes and keeps its own links: ask the one of this link
        options = [a for k, v in values.items() if v is not None for a in (f"--{k}", v)]
        options += (["--direction", direction] if direction != "both" else []) + (["--clear"] if clear else [])
        return multi_cli.link(lab, endpoint, action, options)
    if endpoint is None or action in (None, "show"):
        if given:
            raise UsageError("impairment options need an endpoint and 'set': netemu link LAB NODE:IF set --delay 20ms")
        text = status.lines(lab, endpoint)
        click.echo("\n".join(text) if text else
                   f"lab {lab}: no impaired or cut links" + (f" at {endpoint}" if endpoint else ""))
        return
    if action == "set":
        changes = runtime.parse_changes(values)
        for line in runtime.set_impairment(lab, endpoint, changes, direction, clear):
            click.echo(line)
        return
    if given:
        raise UsageError(f"'{action}' takes no impairment options")
    click.echo(runtime.set_admin(lab, endpoint, up=(action == "up")))


@click.command()
@click.argument("lab", type=LAB)
@click.option("--seconds", default=3.0, show_default=True, help="Duration of each rate measurement.")
@click.option("--json", "as_json", is_flag=True, help="Print the measurements as JSON.")
def check(lab: str, seconds: float, as_json: bool) -> None:
    """Measure RTT and rate on every impaired link; warn when off by more than 10 %.

    Sends TCP probes (a few connects, then a few seconds of bulk data) between the link's IP
    endpoints. The RTT is judged by what the emulation adds to the same handshake over loopback
    (the machine's own cost, large under virtualisation); a rate that falls short says why when it
    can (CPU-bound, or timers later than the burst was sized for). Exit status 1 if any link deviates.

    \b
    Example:
      netemu check mylab
    """
    _need_root("check")
    from ..linkemu import check as chk
    from . import multi as multi_cli

    if multi_cli.is_multi(lab):  # each machine measures the links it holds both ends of
        return _check_across(lab, seconds, as_json)
    results = chk.check(lab, rate_seconds=seconds)
    if as_json:
        click.echo(json.dumps([{**r.__dict__, "ok": r.ok} for r in results], indent=1))
    elif not results:
        click.echo(f"lab {lab}: no impaired links to check")
    else:
        from ..linkemu.status import describe

        seen = {x["link"]: x["plain_ping_added_ms"] for x in describe(lab)["links"] if "plain_ping_added_ms" in x}
        for r in results:
            _echo_check(r)
            if r.link in seen:
                p = seen[r.link]
                click.echo(f"  (fallback: a plain ping from one end of this link shows only the delay towards the "
                           f"other end, +{p['from_end_0']:g} / +{p['from_end_1']:g} ms; `ping -U`, TCP and pings from "
                           f"beyond the link see +{p['from_beyond']:g} ms)")
    if any(not r.ok for r in results):
        sys.exit(1)


def _check_across(lab: str, seconds: float, as_json: bool) -> None:
    import dataclasses

    from ..linkemu.check import LinkCheck
    from . import multi as multi_cli

    found = multi_cli.check(lab, seconds)
    names = {f.name for f in dataclasses.fields(LinkCheck)}
    results = [(LinkCheck(**{k: v for k, v in x.items() if k in names}), x["machine"]) for x in found]
    if as_json:
        click.echo(json.dumps([{**r.__dict__, "ok": r.ok, "machine": m} for r, m in results], indent=1))
    elif not results:
        click.echo(f"lab {lab}: no impaired links to check")
    for r, machine in results if not as_json else ():
        _echo_check(r, f" (on {machine})" if machine else "")
    if any(not r.ok for r, _ in results):
        sys.exit(1)


def _echo_check(r, where: str = "") -> None:
    """One link's measurements as text."""
    head = f"links[{r.link}] {r.path}{where}"
    if r.skipped:
        click.echo(f"{head}: skipped ({r.skipped})")
        return
    base = f", {r.rtt_base_ms:.2f} of it the machine's own (loopback)" if r.rtt_base_ms is not None else ""
    rtt = (f"RTT {r.rtt_ms:.2f} ms (configured {r.rtt_expected_ms:.2f}{base})" if r.rtt_ms is not None
           else "RTT not measured")
    click.echo(f"{head}: {rtt}")
    for x in r.rates:
        if "skipped" in x:
            click.echo(f"  rate {x['from']} -> {x['to']}: skipped ({x['skipped']})")
        else:
            click.echo(f"  rate {x['from']} -> {x['to']}: {x['measured_mbit']:.2f} Mbit/s TCP payload "
                       f"(expected {x['expected_mbit']:.2f})")
    for w in r.warnings:
        click.secho(f"  warning: {w}", fg="yellow")


commands = [doctor, link, check]
