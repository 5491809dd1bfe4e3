"""Apply a plan to the kernel, journaling each step first; roll back on any failure or interrupt."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from . import features, sysctls
from .errors import KernelError, LabError, MissingFeatureError, NotRootError
from .journal import Journal
from .kernel import netns, procs
from .kernel.netlink import Netlink, describe
from .labdir import ETC_NETNS, LabDir, locked, run_dir_problem, tidy
from .model import Topology
from .ops import (
    AddAddress,
    AddNeighbour,
    AddRoute,
    CreateBridge,
    CreateNamespace,
    CreateVeth,
    LinkDir,
    Op,
    RunCommand,
    StartProcess,
    Sysctl,
    WriteFile,
)
from .plan import Plan
from .teardown import Removed, teardown


POOL = max(2, 2 * (os.cpu_count() or 1))  # commands of a batch run at once: their own start-up is CPU-bound


class BatchFailure(Exception):
    """Operation `index` of a batch failed with `error`."""

    def __init__(self, index: int, error: BaseException):
        super().__init__(str(error))
        self.index, self.error = index, error


class Interrupted(BaseException):
    """SIGTERM or SIGHUP arrived during `up` (SIGINT arrives as KeyboardInterrupt)."""


@dataclass(frozen=True)
class UpResult:
    """What `up` built."""

    lab: str
    nodes: int
    links: int
    ops: int
    seconds: float


def preflight(topo: Topology, plan: Plan) -> None:
    """Refuse before creating anything: lab already up, names taken, missing kernel features."""
    lab = LabDir(topo.name)
    why = run_dir_problem()
    if why:
        raise LabError(f"netemu's state directory cannot be trusted: {why}; inspect and remove it by hand")
    if lab.present() and not lab.exists():
        lab.check_trusted()  # a link (maybe dangling) or a file at the lab's path: say what it is
    if lab.exists():
        src = lab.read_meta().get("source") or "?"
        raise LabError(lab.unfinished() or f"lab {topo.name!r} is already up (from {src}); "
                                            f"run 'netemu down {topo.name}' first")
    taken = [op.ns for op in plan.ops if isinstance(op, CreateNamespace) and netns.exists(op.ns)]
    if taken:
        raise LabError(f"namespace(s) already exist and are not this lab's: {', '.join(taken[:5])}"
                       f"{' …' if len(taken) > 5 else ''}; another lab or tool owns them (see 'ip netns')")
    stale = [op.path for op in plan.ops if isinstance(op, LinkDir) and os.path.lexists(op.path)]
    if stale:
        raise LabError(f"{', '.join(stale[:5])}{' …' if len(stale) > 5 else ''} already exist(s) and are not this "
                       f"lab's (left by another tool?); remove them, then run 'netemu up' again")
    problems = []
    for feature in features.registered():
        model = topo.feature(feature.name)
        if feature.preflight is not None and model is not None:
            problems += feature.preflight(topo, model)
    if problems:
        raise MissingFeatureError("this machine cannot build the lab:\n  " + "\n  ".join(problems))


Handler = Callable[["Runner", Op], None]


class Runner:
    """Executes ops through a table of handlers (the core's and those features register);
    `journal.record` always precedes the kernel change it describes."""

    def __init__(self, lab: LabDir, journal: Journal, topo: Topology | None = None):
        self.lab = lab
        self.journal = journal
        self.nl = Netlink()
        self.dirs: set[str] = set()
        self.handlers: dict[type[Op], Handler] = dict(CORE_HANDLERS)
        for feature in features.registered():
            if feature.handlers is not None and (topo is None or topo.feature(feature.name) is not None):
                self.handlers.update(feature.handlers())

    def apply(self, op: Op) -> None:
        """Perform one operation (KeyError names an operation nobody registered a handler for)."""
        handler = self.handlers.get(type(op))
        if handler is None:
            raise RuntimeError(f"no handler for operation {type(op).__name__} (a feature must register it)")
        handler(self, op)

    def mkdirs(self, d: Path) -> None:
        """Create `d` and missing parents, journaling those netemu owns."""
        self._mkdirs(d)

    def _CreateNamespace(self, op: CreateNamespace) -> None:
        self.journal.record("netns", name=op.ns)
        self.nl.create_namespace(op.ns)
        # The node's own hostname: a UTS namespace held by a bind mount in the run dir, which
        # `exec`, `shell` and the lab's processes join (kernel.procs.ns_argv).
        uts = procs.uts_path(self.lab.name, op.node)
        self._mkdirs(uts.parent)
        self.journal.record("mount", path=str(uts))
        netns.hold_uts(str(uts), op.node)

    def _Sysctl(self, op: Sysctl) -> None:
        self.nl.write_sysctl(op.ns, sysctls.proc_path(op.key), op.value)

    def _CreateBridge(self, op: CreateBridge) -> None:
        self.nl.create_bridge(op.ns, op.name, op.mtu)

    def _CreateVeth(self, op: CreateVeth) -> None:
        self.nl.create_veth(op.ns, op.ifname, op.mac, op.peer_ns, op.peer_ifname, op.peer_mac, op.mtu, op.master,
                            op.peer_master)

    def _AddAddress(self, op: AddAddress) -> None:
        self.nl.add_address(op.ns, op.ifname, op.address)

    def _AddRoute(self, op: AddRoute) -> None:
        self.nl.add_route(op.ns, op.family, op.dst, op.via, op.dev, op.metric)

    def _AddNeighbour(self, op: AddNeighbour) -> None:
        self.nl.add_neighbour(op.ns, op.ifname, op.address, op.mac)

    def _LinkDir(self, op: LinkDir) -> None:
        self._mkdirs(Path(op.target))
        self._mkdirs(Path(op.path).parent)
        # teardown unlinks the symlink, never what it points at (the target tells it what netemu wrote there)
        self.journal.record("file", path=op.path, target=op.target)
        os.symlink(op.target, op.path)

    def _WriteFile(self, op: WriteFile) -> None:
        path = Path(op.path)
        self._mkdirs(path.parent)
        self.journal.record("file", path=op.path)
        # Written in place: every path is written once per `up` (the plan keeps the last write), and
        # nothing reads the lab's files before `up` returns or starts the process that needs them.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, op.mode)
        try:
            os.fchmod(fd, op.mode)  # whatever the umask: files like hosts must stay world-readable
            os.write(fd, op.content.encode())
        finally:
            os.close(fd)

    def _mkdirs(self, d: Path) -> None:
        missing = []
        while not d.exists():
            missing.append(d)
            d = d.parent
        for m in reversed(missing):
            # Only /etc/netns itself, /etc/netns/<ns> (and below) or our own run dir are ours to remove.
            if str(m).startswith(str(ETC_NETNS)) or str(m).startswith(str(self.lab.path)):
                self.journal.record("dir", path=str(m))
            m.mkdir(exist_ok=True)

    def _RunCommand(self, op: RunCommand) -> None:
        res = procs.run(op.ns, op.argv, op.stdin, binds=op.binds)
        if res.returncode != 0:
            raise RuntimeError(f"exit status {res.returncode}: {(res.stderr or res.stdout).strip()[:2000]}")

    def _StartProcess(self, op: StartProcess) -> None:
        self.start_processes([op])

    def start_processes(self, ops: list[StartProcess]) -> None:
        """Start every process, each journaled (PID, start time, namespace) before its program runs,
        then wait for all to be ready in one loop; BatchFailure names the first (in order) that is not.

        A process `after` another of the batch starts the moment that one is ready, not when all are
        (e.g. a router's ospfd once its own zebra serves, while the other routers' zebras still start).
        """
        self._mkdirs(self.lab.logs)
        logs = [self.lab.logs / f"{op.name}.log" for op in ops]
        if len(ops) == 1:
            op = ops[0]
            st = procs.start_capped(op.ns, op.argv, str(logs[0]), op.env, op.cwd, binds=op.binds, gated=True)
            self._journal_pump(st.pump, op.name)
            self._release(op, st, logs[0])
            self._check(ops, {0: st}, logs, procs.wait_all_ready([(st.proc, op.ns, op.probe(), op.ready_timeout)]),
                        [0])
            return
        index = {op.name: i for i, op in enumerate(ops)}
        leader = [index.get(op.after) for op in ops]  # the op of the batch each one waits for, if any
        followers: dict[int, list[int]] = {}
        for i, k in enumerate(leader):
            if k is not None:
                followers.setdefault(k, []).append(i)
        starter = procs.Starter([procs.Spec(op.ns, op.argv, str(log), op.env, op.cwd, op.binds)
                                 for op, log in zip(ops, logs)])
        try:
            self._journal_pump(starter.pump, ops[0].batch)
            started: dict[int, procs.Started] = {}
            order: list[int] = []  # the op each wait of wait_all_ready is for

            def run(which: list[int]) -> list[procs.Wait]:
                for i in which:
                    # In the namespaces (and bind mounts) of the ready process it waited for, when they are the
                    # same: entering those costs a third of the CPU of entering them afresh.
                    k = leader[i]
                    same = k is not None and (ops[k].ns, ops[k].binds) == (ops[i].ns, ops[i].binds)
                    started[i] = starter.start(i, join=started[k].proc if same else None)
                    self._release(ops[i], started[i], logs[i])
                    order.append(i)
                return [(started[i].proc, ops[i].ns, ops[i].probe(), ops[i].ready_timeout) for i in which]

            first = run([i for i, k in enumerate(leader) if k is None])
            whys = procs.wait_all_ready(first, lambda w: run(followers.pop(order[w], [])))
        finally:
            starter.close()  # those never started (what they waited for failed): their logs end
        self._check(ops, started, logs, whys, order)
        never = sorted(i for js in followers.values() for i in js)
        if never:  # only with `after` in a cycle: a failure is reported by _check above
            raise BatchFailure(never[0], RuntimeError(f"process {ops[never[0]].name} never started: "
                                                      f"{ops[never[0]].after} was not ready"))

    def _journal_pump(self, pump: subprocess.Popen | None, of: str) -> None:
        if pump is not None:  # one pump for the batch: it runs on the host and ends when their outputs close
            self.journal.record("proc", name=f"{of} (log)", pid=pump.pid, start=procs.start_time(pump.pid), of=of)

    def _release(self, op: StartProcess, st: procs.Started, log: Path) -> None:
        """Journal a started process (held at its gate), then let it run its program."""
        self.journal.record("proc", name=op.name, pid=st.proc.pid, start=procs.start_time(st.proc.pid), ns=op.ns,
                            log=str(log))
        st.release()

    def _check(self, ops: list[StartProcess], started: dict[int, procs.Started], logs: list[Path],
               whys: list[str | None], order: list[int]) -> None:
        """BatchFailure for the first process (in the batch's order) that is not ready."""
        why_of = {order[k]: why for k, why in enumerate(whys) if why}
        if not why_of:
            return
        i = min(why_of)
        st, log = started[i], logs[i]
        if st.proc.poll() is not None and st.pump is not None:
            _await_log(st.pump, log, alone=len(ops) == 1)
        raise BatchFailure(i, RuntimeError(f"process {ops[i].name} {why_of[i]}; its log ({log}) ends with:\n"
                                           f"{procs.log_tail(log)}"))

    def apply_batch(self, ops: list[Op]) -> None:
        """Perform independent operations together: commands through a bounded pool of threads (each
        waits on its own child), processes through start_processes; BatchFailure names the first failure."""
        if all(isinstance(op, StartProcess) for op in ops):
            self.start_processes(ops)  # type: ignore[arg-type]
            return
        if not all(isinstance(op, RunCommand) for op in ops):
            for i, op in enumerate(ops):
                try:
                    self.apply(op)
                except Exception as e:
                    raise BatchFailure(i, e) from e
            return
        pool = ThreadPoolExecutor(max_workers=min(POOL, len(ops)))
        try:
            futures = [pool.submit(self.apply, op) for op in ops]
            for i, f in enumerate(futures):
                e = f.exception()
                if e is not None:
                    raise BatchFailure(i, e)
        finally:
            # On an error or Ctrl-C, start nothing more, and let what runs finish before rollback
            # removes the namespaces and files those commands use.
            pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        self.nl.close()


CORE_HANDLERS: dict[type[Op], Handler] = {
    CreateNamespace: Runner._CreateNamespace,
    Sysctl: Runner._Sysctl,
    CreateBridge: Runner._CreateBridge,
    CreateVeth: Runner._CreateVeth,
    AddAddress: Runner._AddAddress,
    AddRoute: Runner._AddRoute,
    AddNeighbour: Runner._AddNeighbour,
    LinkDir: Runner._LinkDir,
    WriteFile: Runner._WriteFile,
    RunCommand: Runner._RunCommand,
    StartProcess: Runner._StartProcess,
}


def up(topo: Topology, plan: Plan, topology_text: str | None = None,
       fail_at: int | None = None, progress: Callable[[int, Op], None] | None = None) -> UpResult:
    """Build the lab; on any error, Ctrl-C or SIGTERM remove everything created and re-raise.

    `fail_at` (1-based op number) injects a failure before that op: tests use it to prove rollback.
    """
    if os.geteuid() != 0:
        raise NotRootError("up")
    try:
        return _up(topo, plan, topology_text, fail_at, progress)
    except BaseException:
        tidy()  # a failed first lab leaves no /run/netemu behind
        raise


def _up(topo: Topology, plan: Plan, topology_text: str | None, fail_at: int | None,
        progress: Callable[[int, Op], None] | None) -> UpResult:
    lab = LabDir(topo.name)
    with locked(topo.name):
        preflight(topo, plan)
        started = time.monotonic()
        old = _trap_signals()  # before the first change: SIGTERM/SIGHUP roll back like Ctrl-C
        journal: Journal | None = None
        applier: Runner | None = None
        step = 0
        try:
            lab.path.mkdir(mode=0o755)  # not group-writable whatever the umask: teardown trusts only such a dir
            lab.write_meta(name=topo.name, source=os.path.abspath(topo.source) if topo.source else None,
                           created=time.time(), state="creating", pid=os.getpid(),
                           nodes=[n.name for n in topo.nodes])
            if topology_text is not None:
                lab.topology_copy.write_text(topology_text)
            journal = Journal(lab.journal)
            applier = Runner(lab, journal, topo)
            for first, group in batches(plan.ops, fail_at):
                for k, op in enumerate(group):
                    step = first + k
                    if progress:
                        progress(step, op)
                step = first
                try:
                    if fail_at == first:
                        raise RuntimeError("failure injected for testing")
                    if len(group) == 1:
                        applier.apply(group[0])
                    else:
                        applier.apply_batch(group)
                except BatchFailure as e:
                    step = first + e.index
                    err = e.error
                    raise KernelError(f"{step}/{len(plan.ops)} {group[e.index].text()}", describe(err)) from err
                except Exception as e:  # OSError, pyroute2's NetlinkError, a failed command…
                    raise KernelError(f"{step}/{len(plan.ops)} {group[0].text()}", describe(e)) from e
            lab.write_meta(state="up", up_seconds=round(time.monotonic() - started, 3))
        except BaseException as e:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not stop the rollback
            if applier is not None:
                applier.close()
            if journal is not None:
                journal.close()
            if lab.exists():
                teardown(lab)
            _restore_signals(old)
            if isinstance(e, (KeyboardInterrupt, Interrupted)):
                where = f"step {step}/{len(plan.ops)}" if step else "the start"
                raise LabError(f"interrupted at {where}; everything created was removed") from None
            if isinstance(e, KernelError):
                raise KernelError(e.step, e.reason + "; everything created was removed") from e
            if isinstance(e, RuntimeError):
                raise KernelError(f"{step}/{len(plan.ops)}", f"{e}; everything created was removed") from e
            raise
        applier.close()
        journal.close()
        _restore_signals(old)
    return UpResult(topo.name, len(topo.nodes), len(topo.links), len(plan.ops), time.monotonic() - started)


def _await_log(pump: subprocess.Popen, log: Path, alone: bool) -> None:
    """Give the pump time to write a process's last output after it ended: a pump of its own exits;
    one shared with others goes on, so wait until the log stops growing."""
    if alone:
        with contextlib.suppress(subprocess.TimeoutExpired):
            pump.wait(timeout=2)
        return
    deadline, last = time.monotonic() + 2, -1
    while time.monotonic() < deadline:
        size = sum(p.stat().st_size for p in (log, Path(f"{log}.1")) if p.exists())
        if size == last and size > 0:
            return
        last = size
        time.sleep(0.1)


def batches(ops: tuple[Op, ...], fail_at: int | None = None) -> list[tuple[int, list[Op]]]:
    """The plan cut into (first step number, ops) groups: a run of commands or processes sharing a batch
    name, or a single op; the step `fail_at` always starts a group (failure injection stays exact)."""
    out: list[tuple[int, list[Op]]] = []
    for step, op in enumerate(ops, 1):
        name = getattr(op, "batch", "")
        if out and name and step != fail_at:
            last = out[-1][1][-1]
            if getattr(last, "batch", "") == name and type(last) is type(op):
                out[-1][1].append(op)
                continue
        out.append((step, [op]))
    return out


def _trap_signals():
    def raise_interrupted(signum, frame):
        raise Interrupted(signum)

    old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)}
    signal.signal(signal.SIGTERM, raise_interrupted)
    signal.signal(signal.SIGHUP, raise_interrupted)
    return old


def _restore_signals(old) -> None:
    for s, h in old.items():
        signal.signal(s, h)


def down(name: str, keep_captures: str | None = None, kept: list[str] | None = None) -> Removed | None:
    """Remove lab `name`; None if there was nothing to remove. Works without the topology file.

    LabError, touching nothing, if the lab's state directory is a link or could have been written by
    someone other than root. With `keep_captures`, the topology's capture files are first completed
    and copied there (their paths appended to `kept`).
    """
    if os.geteuid() != 0:
        raise NotRootError("down")
    lab = LabDir(name)
    try:
        with locked(name):
            if not lab.present():
                return None
            lab.check_trusted()
            if keep_captures is not None:
                from .capture.keep import keep

                (kept if kept is not None else []).extend(keep(lab, keep_captures))
            return teardown(lab)
    finally:
        tidy()  # also after a `down` of a lab that was not up: its lock file made /run/netemu
