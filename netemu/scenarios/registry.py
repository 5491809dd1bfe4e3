"""Finding scenarios: the built-ins by name, a user's by file path."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType

from ..errors import UsageError
from .api import Scenario

BUILTINS: dict[str, str] = {
    "pmtud": "netemu.scenarios.builtin.pmtud",
    "nagle": "netemu.scenarios.builtin.nagle",
    "tfo": "netemu.scenarios.builtin.tfo",
    "congestion": "netemu.scenarios.builtin.congestion",
}
REPO_TOPOLOGIES = Path(__file__).resolve().parents[2] / "topologies"


def builtin_names() -> list[str]:
    """Names of the built-in scenarios."""
    return list(BUILTINS)


def describe_builtins() -> list[tuple[str, str]]:
    """(name, one-line description) of every built-in scenario."""
    return [(name, _only_scenario(importlib.import_module(mod), name).description) for name, mod in BUILTINS.items()]


def load(spec: str) -> Scenario:
    """A scenario by built-in name or by the path of a Python file that defines one."""
    if spec in BUILTINS:
        return _only_scenario(importlib.import_module(BUILTINS[spec]), spec)()
    path = Path(spec)
    if path.suffix == ".py" or path.exists():
        if not path.is_file():
            raise UsageError(f"scenario file {spec} not found")
        return _only_scenario(_import_file(path), spec)()
    raise UsageError(f"unknown scenario {spec!r}: built-ins are {', '.join(BUILTINS)}; "
                     f"or give the path of a .py file defining a Scenario subclass")


def _import_file(path: Path) -> ModuleType:
    name = f"netemu_user_scenario_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[name]
        raise UsageError(f"{path}: importing it failed: {type(e).__name__}: {e}") from e
    module.__scenario_dir__ = str(path.resolve().parent)
    return module


def _only_scenario(module: ModuleType, spec: str) -> type[Scenario]:
    """The module's `SCENARIO`, or its one Scenario subclass defined in it."""
    explicit = getattr(module, "SCENARIO", None)
    if inspect.isclass(explicit) and issubclass(explicit, Scenario):
        return explicit
    found = [c for c in vars(module).values()
             if inspect.isclass(c) and issubclass(c, Scenario) and c is not Scenario and c.__module__ == module.__name__]
    if len(found) != 1:
        what = "no Scenario subclass" if not found else f"{len(found)} Scenario subclasses ({', '.join(c.__name__ for c in found)})"
        raise UsageError(f"{spec}: defines {what}; define exactly one, or name it SCENARIO = MyScenario")
    return found[0]


def scenario_dir(scenario: Scenario) -> Path | None:
    """The folder of the file that defined the scenario (to resolve its relative topology path)."""
    module = sys.modules.get(type(scenario).__module__)
    d = getattr(module, "__scenario_dir__", None)
    if d:
        return Path(d)
    f = getattr(module, "__file__", None)
    return Path(f).resolve().parent if f else None


def topology_text(scenario: Scenario) -> tuple[str, str]:
    """The scenario's default topology as (YAML text, where it came from)."""
    ref = scenario.topology
    if ref is None:
        raise UsageError(f"scenario {scenario.name!r} has no default topology: give --topology FILE or --lab NAME")
    if "\n" in ref:
        return ref, f"<{scenario.name} inline topology>"
    here = scenario_dir(scenario)
    candidates = [Path(ref)] if Path(ref).is_absolute() else [
        *([here / ref] if here else []), REPO_TOPOLOGIES / ref, Path.cwd() / ref]
    for c in candidates:
        if c.is_file():
            return c.read_text(), str(c)
    raise UsageError(f"scenario {scenario.name!r}: topology {ref!r} not found (looked in "
                     + ", ".join(str(c.parent) for c in candidates) + ")")
