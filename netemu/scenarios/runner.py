"""Running a scenario: choose the topology and nodes, check requirements, bring up, measure,
undo, tear down, write the report."""

from __future__ import annotations

import contextlib
import datetime
import os
import signal
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import LabError, NetemuError, NotRootError, UsageError
from ..labdir import LabDir
from ..model import Topology
from ..parse import topology_from_text
from . import machine, paths, report, routesource
from .api import Context, RequirementError, Result, Scenario, Setup
from .registry import topology_text


@dataclass
class RunOptions:
    """How to run a scenario."""

    quick: bool = False  # fewer repetitions, shorter waits (tests, CI)
    lab: str | None = None  # a lab already up to run on (nothing is brought up or down)
    topology: str | None = None  # a topology file instead of the scenario's default
    nodes: dict[str, str] = field(default_factory=dict)  # role -> node name overrides
    report_dir: str | None = None  # default: ./netemu-reports/SCENARIO-TIMESTAMP
    lab_name: str | None = None  # bring the topology up under this lab name (unique names in tests)
    params: dict[str, Any] = field(default_factory=dict)  # scenario-specific options
    hosts: str | None = None  # an inventory: bring the topology up across its machines (netemu.multi)


def _rename(text: str, name: str) -> str:
    """The topology text with another lab name (comments are lost; line numbers were checked before)."""
    data = yaml.safe_load(text)
    data["name"] = name
    return yaml.safe_dump(data, sort_keys=False)


def resolve_topology(scenario: Scenario, options: RunOptions) -> tuple[Topology, str, str]:
    """The topology to bring up (validated), its YAML text and where it came from; touches nothing."""
    if options.topology:
        path = Path(options.topology)
        try:
            text = path.read_text()
        except OSError as e:
            raise UsageError(f"cannot read topology {options.topology}: {e.strerror}") from None
        source = str(path)
    else:
        text, source = topology_text(scenario)
    topo = topology_from_text(text, source)  # errors carry the original file's line numbers
    if options.lab_name and options.lab_name != topo.name:
        text = _rename(text, options.lab_name)
        topo = topology_from_text(text, source)
    return topo, text, source


def resolve_roles(scenario: Scenario, topo: Topology, overrides: dict[str, str]) -> dict[str, str]:
    """role -> node, the scenario's defaults with the user's overrides; UsageError if unusable."""
    roles = dict(scenario.roles)
    unknown = [r for r in overrides if r not in roles]
    if unknown:
        raise UsageError(f"scenario {scenario.name!r} has no role {', '.join(map(repr, unknown))} "
                         f"(its roles: {', '.join(roles) or 'none'})")
    roles.update(overrides)
    names = {n.name for n in topo.nodes}
    problems = []
    for role, node in roles.items():
        if node not in names:
            problems.append(f"{role}: lab {topo.name!r} has no node {node!r} (nodes: {', '.join(sorted(names))}); "
                            f"choose one with --node {role}=NAME")
        elif topo.node(node).is_switch:
            problems.append(f"{role}: {node!r} is a switch (no IP stack)")
    if problems:
        raise RequirementError(scenario.name, topo.name, problems)
    return roles


def check_requirements(scenario: Scenario, setup: Setup) -> None:
    """Raise RequirementError listing every problem the scenario finds with this topology."""
    try:
        problems = scenario.requirements(setup)
    except paths.PathError as e:
        problems = [str(e)]
    if problems:
        raise RequirementError(scenario.name, setup.topology.name, problems)


def _default_report_dir(scenario: Scenario) -> str:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return os.path.join("netemu-reports", f"{scenario.name}-{stamp}")


def prepare_report_dir(directory: str) -> tuple[Path, bool]:
    """Create (if need be) and test-write the report directory, before anything is measured.

    Returns the directory and whether it was created here; UsageError naming the path and why.
    """
    d = Path(directory)
    created = not d.exists()
    try:
        d.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=d):
            pass
    except OSError as e:
        raise UsageError(f"cannot write the report to {directory}: {_why(d, e)}") from None
    return d, created


def _why(d: Path, e: OSError) -> str:
    """Why a directory is unusable, naming the path component at fault."""
    for p in [d, *d.parents]:
        if p.is_symlink() and not p.exists():
            return f"{p} is a broken symbolic link"
        if p.exists():
            if not p.is_dir():
                return f"{p} is not a directory"
            what = "files" if p == d else "a directory"
            return f"cannot create {what} in {p} ({e.strerror or e})"
    return e.strerror or str(e)


def _refuse_if_up(name: str) -> None:
    """LabError with the ways out when a lab of this name is already up (the run would bring it up)."""
    d = LabDir(name)
    if not d.exists():
        return
    why = d.unfinished()
    if why:
        raise LabError(why)
    raise LabError(f"lab {name!r} is already up: run on it with --lab {name}, bring up a separate copy with "
                   f"--lab-name NAME, or take it down with 'netemu down {name}'")


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt, so the cleanup runs as for Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _attach(name: str, lab_class: Any) -> Any:
    """The handle of lab `name`: on this machine, or across machines when it was brought up from here."""
    from ..multi.nodes import RemoteLab

    if RemoteLab.known(name):
        return RemoteLab.attach(name)
    return lab_class.attach(name)


def _up_across(topo: Topology, text: str, hosts: str) -> Any:
    """Bring the scenario's lab up across the inventory's machines (netemu up --hosts); its handle."""
    from ..multi.nodes import RemoteLab

    if RemoteLab.known(topo.name):
        raise LabError(f"lab {topo.name!r} is already up across machines: run on it with --lab {topo.name}, "
                       f"bring up a separate copy with --lab-name NAME, or take it down with 'netemu down {topo.name}'")
    return RemoteLab.up(topo, text, hosts)


def _link_emulation(lab: Any) -> str:
    """How the lab's links are emulated (a lab across machines says it for itself)."""
    own = getattr(lab, "link_emulation", None)
    return own() if own else machine.link_emulation(lab.name)


def run(scenario: Scenario, options: RunOptions | None = None, lab_class: Any = None) -> Result:
    """Run a scenario end to end and return its Result (report written; the caller prints it)."""
    options = options or RunOptions()
    if os.geteuid() != 0:
        raise NotRootError("run")
    if lab_class is None:
        from ..lab import Lab as lab_class
    attached = None
    if options.lab:
        if options.topology or options.lab_name:
            given = "--topology" if options.topology else "--lab-name"
            raise UsageError(f"--lab runs on a lab that is already up, {given} brings one up: give only one of them")
        attached = _attach(options.lab, lab_class)
        topo, text, source = attached.topology, None, None
    else:
        topo, text, source = resolve_topology(scenario, options)
    roles = resolve_roles(scenario, topo, options.nodes)
    setup = Setup(topo, roles, {"quick": options.quick, **options.params})
    if options.hosts and options.lab:
        raise UsageError("--lab runs on a lab that is already up, --hosts brings one up across machines: "
                         "give only one of them")
    if (getattr(attached, "machines", None) or options.hosts) and scenario.one_machine:
        raise RequirementError(scenario.name, topo.name, [f"not yet across machines: {scenario.one_machine}"])
    # Paths through routers whose routes FRR installs are known only once the lab is up and converged, and
    # the MTU of a link cut between machines once the lab is placed on them (the one the path walk then
    # reads, see routesource): their requirements are checked right after `up` (the lab then goes down
    # again if they fail).
    after_up = attached is None and (routesource.any_dynamic(topo) or bool(options.hosts))
    if not after_up:
        check_requirements(scenario, setup)  # before anything is touched
    if attached is None:
        _refuse_if_up(topo.name)
    report_dir, created = prepare_report_dir(options.report_dir or _default_report_dir(scenario))

    result = Result(scenario.name, scenario.description, topo.name, source, roles, options.quick,
                    started=datetime.datetime.now().isoformat(timespec="seconds"))
    t0 = time.monotonic()
    with _sigterm_as_interrupt():
        lab = None
        try:
            lab = attached or (_up_across(topo, text, options.hosts) if options.hosts else lab_class.up(topo, text))
            if after_up:
                check_requirements(scenario, setup)
        except BaseException:
            if lab is not None and attached is None:
                lab.down()
            if created:  # nothing was measured: leave no empty report directory behind
                with contextlib.suppress(OSError):
                    report_dir.rmdir()
            raise
        ctx = Context(lab, setup, result)
        ctx.report_dir = report_dir.resolve()
        try:
            result.machine = machine.facts(topo.name, [ctx.node(n) for n in dict.fromkeys(roles.values())])
            result.machine["link_emulation"] = _link_emulation(lab)
            if hasattr(lab, "machine_facts"):  # across machines: each machine's kernel, not this one's
                result.machine.update(lab.machine_facts(list(dict.fromkeys(roles.values()))))
            scenario.run(ctx)
            # read again at the end: a scenario may add delay at run time (nagle's RTT sweep)
            result.machine["link_emulation"] = _link_emulation(lab)
        except NetemuError as e:
            result.error = str(e)
        except Exception as e:  # noqa: BLE001 - a bug in a scenario: report it, still clean up
            result.error = f"{type(e).__name__}: {e}\n" + "".join(traceback.format_exception(e)[-4:])
        finally:
            ctx.close()
            if attached is None:
                lab.down()
    if ctx.cleanup_errors:
        ctx.check("everything restored", False, "; ".join(ctx.cleanup_errors))
    result.seconds = time.monotonic() - t0
    try:
        report.write(result, report_dir)
    except OSError as e:  # checked writable before the run; the disk filled up or it went away since
        result.report_dir = None
        result.notes.append(f"the report could not be written to {report_dir}: {e.strerror or e}")
    return result
