"""A picture of a lab: the model as a graph (nodes by kind, links with addresses and impairments),
rendered as Graphviz DOT, Mermaid, SVG or HTML. Pure functions of the model; live state is optional."""

from .model import Graph, GraphEdge, GraphNode, build, cut_to
from .render import to_dot, to_html, to_mermaid, to_svg

__all__ = ["Graph", "GraphEdge", "GraphNode", "build", "cut_to", "to_dot", "to_html", "to_mermaid", "to_svg"]
