"""`netemu dns …`: look inside a lab's DNS (trace a resolution, flush a resolver's cache)."""

from __future__ import annotations

import click

from . import multi as multi_cli
from .core import _need_root
from .labarg import LAB


@click.group()
def dns() -> None:
    """Inspect the lab's DNS hierarchy (trace a resolution, flush a resolver's cache).

    \b
    Example:
      netemu dns trace internet alice www.bob.com
    """


@dns.command("trace")
@click.argument("lab", type=LAB)
@click.argument("node")
@click.argument("name")
@click.argument("qtype", metavar="[TYPE]", default="A")
@click.option("--fresh", is_flag=True, help="Start from an empty cache, to see the whole path from the root.")
def trace(lab: str, node: str, name: str, qtype: str, fresh: bool) -> None:
    """Show the iterative path NODE's resolver takes for NAME: each server asked, its answer, timings, cache hits.

    TYPE is a record type by name (A, AAAA, MX, TXT, NS, CNAME, SOA, …) or number (15 or TYPE15); default A.

    \b
    Examples:
      netemu dns trace internet alice www.bob.com
      netemu dns trace internet alice bob.com MX --fresh
    """
    from ..dns import trace as trace_mod

    name, qtype = trace_mod.check_name(name), trace_mod.check_qtype(qtype)  # bad input is exit 2, root or not
    _need_root("dns trace")
    if multi_cli.is_multi(lab):  # the resolver's control socket is on its machine
        return multi_cli.dns("trace", lab, node, [name, qtype, *(["--fresh"] if fresh else [])])
    click.echo(trace_mod.render(trace_mod.trace(lab, node, name, qtype, fresh)))


@dns.command("flush")
@click.argument("lab", type=LAB)
@click.argument("node")
def flush(lab: str, node: str) -> None:
    """Empty the cache of the resolver NODE uses.

    \b
    Example:
      netemu dns flush internet alice
    """
    from ..dns import trace as trace_mod

    _need_root("dns flush")
    if multi_cli.is_multi(lab):
        return multi_cli.dns("flush", lab, node, [])
    resolver = trace_mod.flush(lab, node)
    click.echo(f"flushed the cache of resolver {resolver}")


commands = [dns]
