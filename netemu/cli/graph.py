"""`netemu graph`: a picture of a lab, from its topology file or (live) from a running lab."""

from __future__ import annotations

import os

import click

from ..errors import UsageError
from ..parse import load_topology

FORMATS = ("dot", "mermaid", "svg", "html", "png")


@click.command()
@click.argument("source", metavar="FILE|LAB")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="dot (default), mermaid, or svg/html/png drawn by Graphviz; default from -o's extension.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
@click.option("--hosts", metavar="INVENTORY", type=click.Path(dir_okay=False),
              help="Group the nodes by the machine they are placed on (see `plan --hosts`).")
def graph(source: str, fmt: str | None, output: str | None, hosts: str | None) -> None:
    """Draw a lab: nodes by kind, links with interfaces, addresses, MTU and impairments, badges for
    NAT, firewall, DNS roles and services.

    From a topology FILE the picture is the model's (no root needed); from a running LAB it adds the
    live state: links cut or impaired at runtime, interfaces down (needs root).

    \b
    Examples:
      netemu graph topologies/internet.yaml -o internet.svg
      netemu graph topologies/two-routers.yaml --format mermaid      # paste into Markdown
      netemu graph internet --format html -o internet.html      # the running lab
      netemu graph topologies/internet.yaml --hosts machines.yaml -o placed.svg   # one box per machine
    """
    from .. import graph as graph_mod

    fmt = fmt or _format_of(output)
    if os.path.isfile(source):
        topo = load_topology(source)
        g = graph_mod.build(topo)
        if hosts:
            from .multi import by_machine

            g = by_machine(g, topo, hosts)
    elif "/" in source or source.endswith((".yaml", ".yml")):
        raise UsageError(f"{source}: no such file (give a topology file, or the name of a running lab)")
    else:
        if os.geteuid() != 0:
            raise UsageError(f"{source}: no such file; reading the running lab {source!r} needs root")
        from ..graph import live
        from ..lab import Lab
        from .multi import is_multi, running_graph

        if is_multi(source):  # up across machines from here: one box per machine
            g = running_graph(source)
        else:
            g = graph_mod.build(Lab.attach(source).topology, live.read(source))
    render = {"dot": graph_mod.to_dot, "mermaid": graph_mod.to_mermaid, "svg": graph_mod.to_svg,
              "html": graph_mod.to_html, "png": graph_mod.render.to_png}[fmt]
    out = render(g)
    if output:
        mode = "wb" if isinstance(out, bytes) else "w"
        with open(output, mode) as f:
            f.write(out)
    elif isinstance(out, bytes):
        click.get_binary_stream("stdout").write(out)
    else:
        click.echo(out, nl=False)


def _format_of(output: str | None) -> str:
    ext = os.path.splitext(output or "")[1].lstrip(".").lower()
    return {"mmd": "mermaid", "gv": "dot", "htm": "html"}.get(ext, ext if ext in FORMATS else "dot")


commands = [graph]
