"""Render rule tables into `iptables-restore` input with the jinja2 template of this package."""

from __future__ import annotations

from ..templating import environment
from .rules import Table

COMMENT_PREFIX = "netemu:"


def comment_for(lab: str) -> str:
    """The comment every rule of `lab` carries, so its rules are recognisable anywhere."""
    return f"{COMMENT_PREFIX}{lab}"


def render(lab: str, node: str, family: int, tool: str, tables: list[Table]) -> str:
    """The complete `iptables-restore` input for one node and address family."""
    template = environment("netemu.netfilter").get_template("restore.j2")
    return template.render(lab=lab, node=node, family=family, tool=tool, tables=tables, comment=comment_for(lab))
