"""netemu's command line: a thin layer that parses arguments, calls the library, prints and exits."""

from __future__ import annotations

import importlib
import sys

import click

from ..errors import NetemuError, TopologyError, clip

# Command modules of features, registered when present (each defines `commands`, a list of click commands).
_FEATURE_MODULES: tuple[str, ...] = ("run", "dns", "link", "labtest", "graph", "serve", "multi")


class _Group(click.Group):
    """Turns netemu's typed errors into one clear message and the right exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except TopologyError as e:
            for w in e.warnings:
                click.secho(w.render(e.filename), err=True, fg="yellow")
            click.secho(f"error: {e}", err=True, fg="red")
            sys.exit(e.exit_code)
        except NetemuError as e:
            click.secho(f"error: {clip(str(e), 4000)}", err=True, fg="red")  # lists of names stay readable
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            click.secho("interrupted", err=True, fg="red")
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="netemu")
def main() -> None:
    """netemu: a real emulated internet on one Linux machine, from a YAML topology.

    \b
    Examples:
      netemu validate topologies/two-routers.yaml
      netemu plan topologies/two-routers.yaml
      netemu up topologies/two-routers.yaml
      netemu exec two-routers h1 -- ping -c 3 10.0.2.2
      netemu status two-routers
      netemu down two-routers
    Commands that build or change labs need root: as another user, put sudo in front.
    """


def _register() -> None:
    from . import core

    for cmd in core.commands:
        main.add_command(cmd)
    for name in _FEATURE_MODULES:
        for cmd in importlib.import_module(f"{__name__}.{name}").commands:
            main.add_command(cmd)


_register()
