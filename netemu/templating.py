"""The jinja2 environment every package renders its templates with (strict, no HTML escaping)."""

from __future__ import annotations

from functools import lru_cache

import jinja2


@lru_cache(maxsize=None)
def environment(package: str) -> jinja2.Environment:
    """Templates of `package`'s templates/ directory; an undefined name is an error, not an empty string."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
