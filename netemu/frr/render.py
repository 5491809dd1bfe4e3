"""Render FRR daemon configurations from this package's jinja2 templates."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import jinja2

if TYPE_CHECKING:
    from .derive import Router
    from .spec import Options


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("netemu.frr", "templates"),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )


def render(lab: str, daemon: str, router: Router, opts: Options) -> str:
    """The configuration file of one daemon of one router."""
    template = _environment().get_template(f"{daemon}.conf.j2")
    return template.render(lab=lab, daemon=daemon, r=router, timers=opts.timers, bfd=opts.bfd)
