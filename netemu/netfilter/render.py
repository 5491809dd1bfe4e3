"""Render rule tables into `iptables-restore` input with the jinja2 template of this package."""

from __future__ import annotations

from functools import lru_cache

import jinja2

from .rules import Table

COMMENT_PREFIX = "netemu:"


def comment_for(lab: str) -> str:
    """The comment every rule of `lab` carries, so its rules are recognisable anywhere."""
    return f"{COMMENT_PREFIX}{lab}"


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("netemu.netfilter", "templates"),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )


def render(lab: str, node: str, family: int, tool: str, tables: list[Table]) -> str:
    """The complete `iptables-restore` input for one node and address family."""
    template = _environment().get_template("restore.j2")
    return template.render(lab=lab, node=node, family=family, tool=tool, tables=tables, comment=comment_for(lab))
