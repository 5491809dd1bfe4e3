"""The scenario API: what a scenario declares, and the context it measures through.

A scenario is a subclass of `Scenario` with a name, a one-line description, a default topology
and roles (role -> default node). `requirements(setup)` inspects the topology model *before*
anything is touched; `run(ctx)` measures. Through `ctx` it gets node handles, opens cases
(learned state flushed first, changes undone after), records values and checks. netemu brings
the lab up and down, undoes every change, and writes the report.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..errors import NetemuError, UsageError
from ..model import Topology
from . import paths
from .nodes import Background, ScenarioNode


class RequirementError(UsageError):
    """The topology does not meet a scenario's requirements (raised before anything is touched)."""

    def __init__(self, scenario: str, topology: str, problems: list[str]):
        self.problems = problems
        super().__init__(f"scenario {scenario!r} cannot run on {topology!r}:\n"
                         + "\n".join(f"  - {p}" for p in problems))


@dataclass
class Check:
    """One verdict: what was expected, whether it held, and why."""

    name: str
    passed: bool
    reason: str
    case: str | None = None

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {"name": self.name, "passed": self.passed, "reason": self.reason, "case": self.case}


@dataclass
class Table:
    """A table of figures for the terminal and the report."""

    title: str
    headers: list[str]
    rows: list[list[Any]]


@dataclass
class Picture:
    """A picture file in the report directory."""

    filename: str
    caption: str
    content: str  # SVG text


@dataclass
class Attachment:
    """A file of the report directory other than a picture (a packet capture), and what to look for in it."""

    filename: str
    caption: str
    look_for: str = ""

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {"filename": self.filename, "caption": self.caption, "look_for": self.look_for}


@dataclass
class CaseResult:
    """What one case recorded."""

    name: str
    title: str
    fields: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        out = dict(self.fields)
        out.update({"title": self.title, "case_seconds": round(self.seconds, 3)})
        if self.notes:
            out["notes"] = self.notes
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class Result:
    """Everything a run produced; `passed` only if every check passed."""

    scenario: str
    description: str
    lab: str
    topology: str | None
    roles: dict[str, str]
    quick: bool
    started: str = ""
    seconds: float = 0.0
    fields: dict[str, Any] = field(default_factory=dict)
    cases: list[CaseResult] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    pictures: list[Picture] = field(default_factory=list)
    files: list[Attachment] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=dict)  # see netemu.scenarios.machine.facts
    error: str | None = None
    report_dir: str | None = None

    @property
    def passed(self) -> bool:
        """Whether every check passed and the run did not break off."""
        return self.error is None and bool(self.checks) and all(c.passed for c in self.checks)

    def case(self, name: str) -> CaseResult | None:
        """The case called `name`, if it ran."""
        return next((c for c in self.cases if c.name == name), None)

    def to_json(self) -> dict:
        """The results JSON: metadata, `results` (top-level fields), `cases`, `checks`."""
        return {
            "scenario": self.scenario, "description": self.description, "lab": self.lab,
            "topology": self.topology, "nodes": self.roles, "quick": self.quick, "started": self.started,
            "seconds": round(self.seconds, 3), "passed": self.passed, "error": self.error,
            "results": self.fields, "cases": {c.name: c.to_json() for c in self.cases},
            "checks": [c.to_json() for c in self.checks], "notes": self.notes,
            "pictures": [p.filename for p in self.pictures], "files": [f.to_json() for f in self.files],
            "machine": self.machine, "report_dir": self.report_dir,
        }


class Setup:
    """The topology and the chosen nodes, before anything runs: what `requirements()` inspects."""

    def __init__(self, topology: Topology, roles: dict[str, str], options: dict[str, Any]):
        self.topology = topology
        self.roles = roles
        self.options = options

    def node_name(self, role_or_name: str) -> str:
        """The node playing `role_or_name` (a role, or a node name used as is)."""
        return self.roles.get(role_or_name, role_or_name)

    def path(self, src: str, dst: str, family: int = 4) -> paths.Path:
        """The forward path between two roles/nodes from the model (PathError when there is none); a router
        whose routes FRR installs forwards by its live FIB once the lab is up.

        Source NAT on the way is followed (see `Path.nat`); a destination only reachable through
        destination NAT (port forward, 1:1) is a PathError saying so.
        """
        return self._path(src, dst, family, paths.Routes(self.topology))

    def reply_path(self, src: str, dst: str, family: int = 4) -> paths.Path:
        """The path `dst`'s replies take back to `src` on a connection `src` opened (NAT undone on the way)."""
        return self.round_trip(src, dst, family)[1]

    def round_trip(self, src: str, dst: str, family: int = 4) -> tuple[paths.Path, paths.Path]:
        """The forward path and the replies' path, each live FIB read once for both."""
        routes = paths.Routes(self.topology)
        there = self._path(src, dst, family, routes)
        return there, paths.require_links_up(self.topology.name, paths.reply(self.topology, there, routes))

    def _path(self, src: str, dst: str, family: int, routes: paths.Routes) -> paths.Path:
        there = paths.between(self.topology, self.node_name(src), self.node_name(dst), family, routes)
        return paths.require_links_up(self.topology.name, there)

    def has_address(self, role: str, family: int) -> bool:
        """Whether the node has a global address of `family`."""
        return paths.address_of(self.topology, self.node_name(role), family) is not None

    def family(self, a: str, b: str) -> int:
        """The first address family (4, then 6) both roles/nodes have; PathError when they share none."""
        for family in (4, 6):
            if self.has_address(a, family) and self.has_address(b, family):
                return family
        raise paths.PathError(f"{self.node_name(a)} and {self.node_name(b)} share no address family")

    def added_rtt_ms(self, src: str, dst: str, family: int = 4) -> float:
        """The round-trip delay link emulation adds between two roles/nodes (0.0 when none)."""
        there, back = paths.round_trip(self.topology, self.node_name(src), self.node_name(dst), family)
        return (paths.added_delay_us(self.topology, there) + paths.added_delay_us(self.topology, back)) / 1000


class Scenario:
    """Base class of every scenario (built-in or a user's `my_scenario.py`).

    Class attributes:
      name         -- short name (`netemu run NAME`)
      description  -- one line for `netemu run --list`
      topology     -- default topology: a file path (relative to the scenario's file, or to the
                      repository's topologies/ folder) or YAML text; None means a lab must be given
      roles        -- role -> default node name, e.g. {"client": "client", "server": "server"}
      one_machine  -- why the scenario refuses a lab spread over several machines (None: it runs there)
    """

    name: ClassVar[str] = "scenario"
    description: ClassVar[str] = ""
    topology: ClassVar[str | None] = None
    roles: ClassVar[dict[str, str]] = {}
    one_machine: ClassVar[str | None] = None  # why it cannot yet run on a lab across machines (None: it can)

    def requirements(self, setup: Setup) -> list[str]:
        """Problems that forbid running on this topology (empty: fine). Nothing is touched yet."""
        return []

    def run(self, ctx: Context) -> None:
        """Measure, record and check through `ctx`."""
        raise NotImplementedError


class _Scope:
    """Undo actions and background processes of one case (or of the whole run)."""

    def __init__(self) -> None:
        self.undo: list[tuple[Callable[[], None], str]] = []
        self.procs: list[Background] = []

    def close(self, errors: list[str]) -> None:
        for bg in reversed(self.procs):
            try:
                bg.stop()
            except Exception as e:  # noqa: BLE001 - keep undoing the rest
                errors.append(f"stopping {bg.argv[0]} in {bg.node}: {e}")
        for action, what in reversed(self.undo):
            try:
                action()
            except Exception as e:  # noqa: BLE001 - keep restoring the rest
                errors.append(f"restoring {what}: {e}")
        self.undo.clear()
        self.procs.clear()


class Case:
    """A case in progress: record its figures and notes here."""

    def __init__(self, result: CaseResult):
        self.result = result

    @property
    def name(self) -> str:
        """The case's name."""
        return self.result.name

    def record(self, **fields: Any) -> None:
        """Store measured values of this case (they go to the JSON under cases.NAME)."""
        self.result.fields.update(fields)

    def note(self, text: str) -> None:
        """An explanation shown with the case."""
        self.result.notes.append(text)


class Context:
    """What a scenario measures through: nodes, cases, records, checks, tables and pictures."""

    def __init__(self, lab: Any, setup: Setup, result: Result):
        self.lab = lab
        self.setup = setup
        self.topology: Topology = setup.topology
        self.roles = setup.roles
        self.options = setup.options
        self.result = result
        self._scopes: list[_Scope] = [_Scope()]
        self._nodes: dict[str, ScenarioNode] = {}
        self._case: Case | None = None
        self.cleanup_errors: list[str] = []
        self.report_dir: Path | None = None  # where pictures and captures go (set by the runner)

    @property
    def quick(self) -> bool:
        """Whether the run asked for fewer repetitions (`--quick`)."""
        return bool(self.options.get("quick"))

    # --- nodes ---------------------------------------------------------------------------
    def node(self, role_or_name: str) -> ScenarioNode:
        """The handle of the node playing a role (or of a node by name)."""
        name = self.setup.node_name(role_or_name)
        if name not in self._nodes:
            self._nodes[name] = ScenarioNode(self.lab.node(name), self._add_undo, self._add_proc)
        return self._nodes[name]

    def ip_nodes(self) -> list[ScenarioNode]:
        """Handles of every node that has an IP stack (all but switches)."""
        return [self.node(n.name) for n in self.topology.nodes if not n.is_switch]

    def path(self, src: str, dst: str, family: int = 4) -> paths.Path:
        """The path between two roles/nodes, from the topology model."""
        return self.setup.path(src, dst, family)

    def reply_path(self, src: str, dst: str, family: int = 4) -> paths.Path:
        """The path `dst`'s replies take back to `src` (through the same NATs, undone)."""
        return self.setup.reply_path(src, dst, family)

    def flush_learned(self) -> None:
        """Forget route-cache PMTUs and tcp_metrics in every namespace of the lab."""
        for n in self.ip_nodes():
            n.flush_learned()

    def defer(self, action: Callable[[], None], what: str) -> None:
        """Run `action` when the current case (or the run) ends, e.g. to undo a change."""
        self._add_undo(action, what)

    def _add_undo(self, action: Callable[[], None], what: str) -> None:
        self._scopes[-1].undo.append((action, what))

    def _add_proc(self, bg: Background) -> None:
        self._scopes[-1].procs.append(bg)

    # --- cases ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def case(self, name: str, title: str = "") -> Iterator[Case]:
        """A measured case: learned state is flushed first; its changes and processes are undone after.

        An error inside the case is recorded (and fails the check `case NAME ran`); the run goes on.
        """
        result = CaseResult(name, title or name)
        self.result.cases.append(result)
        case = Case(result)
        scope = _Scope()
        self._scopes.append(scope)
        self._case = case
        t0 = time.monotonic()
        try:
            self.flush_learned()
            yield case
        except Exception as e:  # noqa: BLE001 - recorded as a failed check; the run and its cleanup go on
            result.error = f"{type(e).__name__}: {e}"
            if not isinstance(e, NetemuError):
                result.error += "\n" + "".join(traceback.format_exception(e)[-3:])
            self.check(f"case {name} ran", False, result.error.splitlines()[0])
        finally:
            self._case = None
            self._scopes.pop()
            scope.close(self.cleanup_errors)
            result.seconds = time.monotonic() - t0

    # --- recording -----------------------------------------------------------------------
    def record(self, **fields: Any) -> None:
        """Store run-level measured values (top level of the JSON `results`)."""
        self.result.fields.update(fields)

    def note(self, text: str) -> None:
        """An explanation for the report and the terminal."""
        self.result.notes.append(text)

    def check(self, name: str, passed: bool, reason: str) -> bool:
        """Record a verdict with its reason; returns `passed`."""
        self.result.checks.append(Check(name, bool(passed), reason, self._case.name if self._case else None))
        return bool(passed)

    def table(self, title: str, headers: list[str], rows: list[list[Any]]) -> None:
        """A table for the terminal and the report."""
        self.result.tables.append(Table(title, headers, rows))

    def picture(self, filename: str, svg: str, caption: str) -> None:
        """An SVG picture for the report directory (see netemu.scenarios.plots for charts)."""
        self.result.pictures.append(Picture(filename, caption, svg))

    def pcap(self, filename: str, caption: str, look_for: str) -> str:
        """The absolute path of a packet capture file in the report directory, listed in the report with
        what to look for in it; pass it to `node.capture(…, pcap=PATH)`."""
        if self.report_dir is None:
            self.report_dir = Path(tempfile.mkdtemp(prefix="netemu-report-"))
        self.result.files = [f for f in self.result.files if f.filename != filename]
        self.result.files.append(Attachment(filename, caption, look_for))
        return str((self.report_dir / filename).resolve())

    def path_picture(self, src: str, dst: str, family: int = 4, filename: str = "path.svg") -> None:
        """A picture of the lab cut to the path between two roles/nodes (both ways), with its live state."""
        from .. import graph
        from ..graph import live

        there, back = self.setup.round_trip(src, dst, family)
        hops = [(h.node, h.ifname, h.next_node, h.next_ifname) for h in (*there.hops, *back.hops)]
        state = None
        if getattr(self.lab, "placement", None):  # a RemoteLab: no kernel here holds its nodes
            self.note(f"path picture from the model: the lab spreads over {len(set(self.lab.placement.values()))} "
                      f"machines, and their interfaces' live state is not read from the coordinator")
        else:
            try:
                state = live.read(self.topology.name)
            except Exception as e:  # noqa: BLE001 - the model's picture is still worth having
                self.note(f"path picture without live state: {e}")
        g = graph.cut_to(graph.build(self.topology, state), hops)
        try:
            svg = graph.to_svg(g)
        except graph.render.GraphvizError as e:
            self.note(f"no picture of the path: {e}")
            return
        same_way = back.nodes() == list(reversed(there.nodes()))
        self.picture(filename, svg, f"The path measured: {there.describe()}"
                     + ("" if same_way else f"; replies: {back.describe()}"))

    def close(self) -> None:
        """Undo everything the run changed outside cases and stop its processes."""
        while self._scopes:
            self._scopes.pop().close(self.cleanup_errors)
