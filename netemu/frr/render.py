"""Render FRR daemon configurations from this package's jinja2 templates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..templating import environment

if TYPE_CHECKING:
    from .derive import Router
    from .spec import Options


def render(lab: str, daemon: str, router: Router, opts: Options) -> str:
    """The configuration file of one daemon of one router."""
    template = environment("netemu.frr").get_template(f"{daemon}.conf.j2")
    return template.render(lab=lab, daemon=daemon, r=router, timers=opts.timers, bfd=opts.bfd)
