"""Drawing a Graph: Graphviz DOT and Mermaid text (pure), SVG and HTML through Graphviz's `dot`."""

from __future__ import annotations

import html
import shutil
import subprocess

from ..errors import NetemuError
from .model import Graph, GraphEdge, GraphNode

KIND_COLOURS = {"host": "#dbeafe", "router": "#fde68a", "switch": "#e5e7eb"}
BADGE_COLOURS = {"nat": "#fef3c7", "firewall": "#fee2e2", "dns": "#dcfce7", "services": "#ede9fe"}
STATE_COLOURS = {"up": "#374151", "impaired": "#d97706", "down": "#dc2626"}
DEFAULT_MTU = 1500


class GraphvizError(NetemuError):
    """Graphviz is missing or failed to draw."""

    exit_code = 1


# --- DOT ---------------------------------------------------------------------------------------

def _q(text: str) -> str:
    """A DOT double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _port_id(name: str) -> str:
    return "p_" + "".join(c if c.isalnum() else "_" for c in name)


def _node_label(n: GraphNode) -> str:
    """An HTML-like table: name and kind on top, one row per interface (a port edges attach to), badges."""
    e = html.escape
    rows = [f'<TR><TD BGCOLOR="{KIND_COLOURS.get(n.kind, "#ffffff")}"><B>{e(n.name)}</B> '
            f'<FONT POINT-SIZE="9">{e(n.kind)}</FONT></TD></TR>']
    if n.kind != "switch":
        for p in n.ports:
            text = e(p.name) + "".join(f" {e(a)}" if i == 0 else f"<BR ALIGN=\"LEFT\"/>{e(a)}"
                                       for i, a in enumerate(p.addresses))
            state = p.state if p.state not in (None, "UP") else None
            colour = f' BGCOLOR="{STATE_COLOURS["down"]}"' if state else ""
            if state:
                text += f' <B>{e(state)}</B>'
            rows.append(f'<TR><TD PORT="{_port_id(p.name)}" ALIGN="LEFT"{colour}>{text}</TD></TR>')
    for category, text in n.badges:
        rows.append(f'<TR><TD BGCOLOR="{BADGE_COLOURS.get(category, "#ffffff")}">'
                    # a space each side: Graphviz measures small text a little narrower than browsers draw it
                    f'<FONT POINT-SIZE="10">&#160;{e(text)}&#160;</FONT></TD></TR>')
    return '<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="5">' + "".join(rows) + "</TABLE>>"


def _edge_text(e: GraphEdge) -> list[str]:
    parts = []
    if e.mtu != DEFAULT_MTU:
        parts.append(f"MTU {e.mtu}")
    if e.impairment:
        parts.append(e.impairment)
    if e.state == "down":
        parts.append("DOWN")
    return parts


def _end(graph_node: GraphNode | None, end: tuple[str, str]) -> str:
    if graph_node is None or graph_node.kind == "switch":
        return _q(end[0])
    return f"{_q(end[0])}:{_port_id(end[1])}"


def to_dot(g: Graph) -> str:
    """Graphviz DOT text of the graph (undirected, left to right; ASes as clusters)."""
    by_name = {n.name: n for n in g.nodes}
    title = g.name + (f": {g.description}" if g.description else "")
    legend = f"MTU {DEFAULT_MTU} unless marked" + ("; live state of the running lab" if g.live else "")
    out = [f"graph {_q(g.name)} {{",
           "  graph [rankdir=LR, fontname=\"DejaVu Sans\", fontsize=12, labelloc=t, "
           f"label={_q(title + chr(10) + legend)}, nodesep=0.3, ranksep=0.6];",
           '  node [shape=plain, fontname="DejaVu Sans", fontsize=11];',
           '  edge [fontname="DejaVu Sans", fontsize=10, penwidth=1.5];']
    groups: dict[str | None, list[GraphNode]] = {}
    for n in g.nodes:
        groups.setdefault(n.group, []).append(n)
    for group, members in groups.items():
        indent = "  "
        if group is not None:
            out.append(f"  subgraph {_q('cluster_' + group)} {{")
            out.append(f'    label={_q(group)}; style="rounded,dashed"; color="#6b7280";')
            indent = "    "
        for n in members:
            out.append(f"{indent}{_q(n.name)} [label={_node_label(n)}];")
        if group is not None:
            out.append("  }")
    for e in g.edges:
        attrs = [f'color="{STATE_COLOURS[e.state]}"']
        text = _edge_text(e)
        if text:
            attrs.append(f"label={_q(chr(10).join(text))}")
        if e.state == "down":
            attrs.append("style=dashed")
        if e.mtu != DEFAULT_MTU:
            attrs.append("penwidth=3")
        out.append(f"  {_end(by_name.get(e.a[0]), e.a)} -- {_end(by_name.get(e.b[0]), e.b)} [{', '.join(attrs)}];")
    out.append("}")
    return "\n".join(out) + "\n"


# --- Mermaid -----------------------------------------------------------------------------------

def _mid(name: str) -> str:
    return "n_" + "".join(c if c.isalnum() else "_" for c in name)


def _mtext(text: str) -> str:
    """Text inside a Mermaid quoted label: quotes and angle brackets as entity codes."""
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def to_mermaid(g: Graph) -> str:
    """Mermaid flowchart text (renders in GitHub/GitLab Markdown; no tool needed)."""
    out = ["flowchart LR"]
    if g.description:
        out.append(f"  %% {g.name}: {g.description}")
    groups: dict[str | None, list[GraphNode]] = {}
    for n in g.nodes:
        groups.setdefault(n.group, []).append(n)
    for group, members in groups.items():
        if group is not None:
            out.append(f'  subgraph {_mid(group)}["{_mtext(group)}"]')
        for n in members:
            lines = [f"<b>{_mtext(n.name)}</b> {n.kind}"]
            if n.kind != "switch":
                lines += [_mtext(" ".join((p.name, *p.addresses)) + (f" {p.state}" if p.state not in (None, "UP")
                                                                     else "")) for p in n.ports]
            lines += [_mtext(text) for _, text in n.badges]
            shape = ('(["', '"])') if n.kind == "host" else (('[["', '"]]') if n.kind == "switch" else ('["', '"]'))
            out.append(f"  {_mid(n.name)}{shape[0]}{'<br/>'.join(lines)}{shape[1]}")
        if group is not None:
            out.append("  end")
    styles = []
    for i, e in enumerate(g.edges):
        ends = [e.a[1] if not e.switch_ends[0] else "", e.b[1] if not e.switch_ends[1] else ""]
        text = " – ".join(x for x in ends if x)
        extra = _edge_text(e)
        label = " · ".join([text, *extra] if text else extra)
        arrow = "-.-" if e.state == "down" else ("===" if e.mtu != DEFAULT_MTU else "---")
        out.append(f"  {_mid(e.a[0])} {arrow}" + (f'|"{_mtext(label)}"|' if label else "") + f" {_mid(e.b[0])}")
        if e.state != "up":
            styles.append(f"  linkStyle {i} stroke:{STATE_COLOURS[e.state]}")
    for kind, colour in KIND_COLOURS.items():
        members = [_mid(n.name) for n in g.nodes if n.kind == kind]
        if members:
            out.append(f"  classDef {kind} fill:{colour},stroke:#374151")
            out.append(f"  class {','.join(members)} {kind}")
    out += styles
    return "\n".join(out) + "\n"


# --- through Graphviz --------------------------------------------------------------------------

def to_svg(g: Graph) -> str:
    """SVG text drawn by Graphviz's `dot` (GraphvizError when it is missing or fails)."""
    return _dot(to_dot(g), "svg")


def to_png(g: Graph) -> bytes:
    """PNG bytes drawn by Graphviz's `dot`."""
    return _dot(to_dot(g), "png", text=False)


def _dot(source: str, fmt: str, text: bool = True):
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizError("Graphviz is not installed (apt-get install graphviz); "
                            "--format dot or mermaid need nothing")
    res = subprocess.run([exe, f"-T{fmt}"], input=source.encode(), capture_output=True, timeout=60)
    if res.returncode != 0:
        raise GraphvizError(f"dot -T{fmt} failed: {res.stderr.decode(errors='replace').strip()}")
    return res.stdout.decode() if text else res.stdout


def to_html(g: Graph) -> str:
    """A standalone HTML page holding the SVG drawing and the lab's description."""
    svg = to_svg(g)
    svg = svg[svg.find("<svg"):]  # drop the XML prologue and DOCTYPE: inline SVG in HTML5 needs neither
    e = html.escape
    return (f"<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{e(g.name)}</title>\n"
            "<style>body{font-family:'DejaVu Sans',Arial,sans-serif;margin:1.5em;} svg{max-width:100%;height:auto;}"
            "</style></head>\n<body>\n"
            f"<h1>{e(g.name)}</h1>\n<p>{e(g.description)}</p>\n{svg}\n</body>\n</html>\n")
