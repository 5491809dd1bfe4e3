"""Import pyroute2's message codecs without paying for its package __init__ (~140 ms).

pyroute2/__init__.py imports every subsystem it has (NDB, IPDB, conntrack, nl80211…); `netemu up`
needs only the rtnetlink message classes. Importing this module first registers `pyroute2` as a
plain package whose real __init__ runs the first time anything asks it for a top-level name, so
`from pyroute2 import IPRoute` elsewhere keeps working unchanged.
"""

from __future__ import annotations

import importlib.util
import sys
import types


def _install() -> None:
    if "pyroute2" in sys.modules:
        return
    spec = importlib.util.find_spec("pyroute2")
    if spec is None or spec.origin is None or not spec.submodule_search_locations:
        return
    module = types.ModuleType("pyroute2")
    module.__path__ = list(spec.submodule_search_locations)
    module.__file__ = spec.origin
    module.__spec__ = spec
    module.__package__ = "pyroute2"

    def __getattr__(name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        if importlib.util.find_spec(f"pyroute2.{name}") is not None:
            return importlib.import_module(f"pyroute2.{name}")  # a submodule: `from pyroute2 import config`
        # First use of a top-level name: run the real package __init__ in this module's namespace.
        del module.__getattr__
        with open(spec.origin) as f:
            exec(compile(f.read(), spec.origin, "exec"), module.__dict__)
        return module.__dict__[name] if name in module.__dict__ else _missing(name)

    def _missing(name: str):
        raise AttributeError(f"module 'pyroute2' has no attribute {name!r}")

    module.__getattr__ = __getattr__
    sys.modules["pyroute2"] = module


_install()
