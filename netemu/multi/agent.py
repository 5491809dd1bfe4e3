"""One long-lived `netemu part agent LAB` per machine, so a command in a node costs a process start there
rather than an ssh session and a Python start each (`RemoteNode.run`: commands run to completion).

The protocol is JSON lines over the agent's ssh session. A request: {"id", "node", "argv", "input",
"timeout"}, or {"id", "node", "call": "fib"} for what the agent reads itself (the node's kernel FIB, as
`netemu part fib` prints it: no process to start); the answer: {"id", "code", "out", "err"} or
{"id", "timeout": true}. Requests run at once, each in a thread of its own, answers come as they finish. When the agent's stdin closes (the coordinator
is done, or died and ssh closed the session) it kills the commands still running and exits.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import subprocess
import sys
import threading

from .inventory import Machine

GRACE = 10.0  # seconds the coordinator waits beyond a command's own timeout for the agent's answer


# --- on the machine ------------------------------------------------------------------------------------
def serve(lab: str) -> int:
    """Answer requests for nodes of LAB's part on this machine until stdin closes."""
    from ..kernel import procs
    from ..lab import Lab
    from ..scenarios.nodes import probe_argv, probe_env
    from .proc import PROBE

    handle = Lab.attach(lab)
    env = probe_env()
    lock = threading.Lock()
    running: set[subprocess.Popen] = set()

    def answer(reply: dict) -> None:
        with lock:
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()

    def one(req: dict) -> None:
        rid = req.get("id")
        try:
            if req.get("call") is not None:
                if req["call"] != "fib":
                    raise ValueError(f"no such call: {str(req['call'])[:40]!r}")
                from .part import fib_of

                answer({"id": rid, "code": 0, "out": json.dumps(fib_of(handle.node(str(req.get("node"))).ns)),
                        "err": ""})
                return
            argv = [str(a) for a in req.get("argv") or []]
            if not argv:
                raise ValueError("the request names no command")
            if argv[0] == PROBE:
                argv = probe_argv(argv[1], tuple(argv[2:]))
            node = handle.node(str(req.get("node")))
            child = subprocess.Popen(procs.ns_argv(node.ns, argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, errors="replace", env=env)
            with lock:
                running.add(child)
            try:
                out, err = child.communicate(req.get("input") or "", timeout=req.get("timeout"))
            except subprocess.TimeoutExpired:
                child.kill()
                child.communicate()
                answer({"id": rid, "timeout": True})
                return
            finally:
                with lock:
                    running.discard(child)
            answer({"id": rid, "code": child.returncode, "out": out, "err": err})
        except Exception as e:  # noqa: BLE001 - the coordinator gets every failure as an answer
            answer({"id": rid, "code": 127, "out": "", "err": f"netemu part agent: {e}"})

    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        try:
            req = json.loads(line)
        except ValueError:
            continue
        threading.Thread(target=one, args=(req,), daemon=True).start()
    # the coordinator is gone (done, or died and ssh closed the session): nothing it asked for keeps running
    with lock:
        left = list(running)
    for child in left:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
    return 0


# --- on the coordinator --------------------------------------------------------------------------------
class AgentGone(Exception):
    """The agent's session ended (the machine went away): the caller falls back to one session per command."""


class Agent:
    """The coordinator's end of one machine's agent."""

    def __init__(self, machine: Machine, lab: str):
        from .remote import ssh_argv

        self.machine = machine
        self.proc = subprocess.Popen(ssh_argv(machine, ["part", "agent", lab]), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     start_new_session=True)  # Ctrl-C reaches the coordinator, not the session
        self.ids = itertools.count(1)
        self.lock = threading.Lock()
        self.waiting: dict[int, tuple[threading.Event, list]] = {}
        self.alive = True
        first = self.proc.stdout.readline()
        if '"ready"' not in first:
            self.close()
            raise AgentGone(f"{machine.name}: the agent did not start")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                reply = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                slot = self.waiting.pop(reply.get("id"), None)
            if slot:
                slot[1].append(reply)
                slot[0].set()
        with self.lock:
            self.alive = False
            for event, _ in self.waiting.values():
                event.set()
            self.waiting.clear()

    def run(self, node: str, argv: list[str], input: str | None, timeout: float | None) -> tuple[int, str, str]:
        """(exit status, stdout, stderr) of argv in NODE; TimeoutExpired after `timeout`; AgentGone."""
        return self._ask({"node": node, "argv": list(argv), "input": input, "timeout": timeout}, argv, timeout)

    def fib(self, node: str, timeout: float) -> tuple[int, str, str]:
        """NODE's kernel FIB as `netemu part fib` prints it, read by the agent itself; AgentGone."""
        return self._ask({"node": node, "call": "fib"}, ["fib", node], timeout)

    def _ask(self, request: dict, argv: list[str], timeout: float | None) -> tuple[int, str, str]:
        event, box = threading.Event(), []
        with self.lock:
            if not self.alive:
                raise AgentGone(self.machine.name)
            rid = next(self.ids)
            self.waiting[rid] = (event, box)
            try:
                self.proc.stdin.write(json.dumps({"id": rid, **request}) + "\n")
                self.proc.stdin.flush()
            except (OSError, ValueError):
                self.waiting.pop(rid, None)
                self.alive = False
                raise AgentGone(self.machine.name) from None
        if not event.wait(None if timeout is None else timeout + GRACE) or not box:
            with self.lock:
                self.waiting.pop(rid, None)
            if box or not self.alive:
                raise AgentGone(self.machine.name)
            raise subprocess.TimeoutExpired(argv, timeout)
        reply = box[0]
        if reply.get("timeout"):
            raise subprocess.TimeoutExpired(argv, timeout)
        return reply["code"], reply["out"], reply["err"]

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_agents: dict[tuple[str, str], Agent | None] = {}
_lock = threading.Lock()


def get(lab: str, machine: Machine) -> Agent | None:
    """The agent of LAB on `machine`, started on first use; None when it cannot start (then plain sessions)."""
    key = (lab, machine.name)
    with _lock:
        if key not in _agents:
            try:
                _agents[key] = Agent(machine, lab)
            except (AgentGone, OSError):
                _agents[key] = None
        agent = _agents[key]
    return agent if agent is None or agent.alive else None


def close_lab(lab: str) -> None:
    """Stop this process's agents of LAB (before `down` removes its parts)."""
    with _lock:
        agents = [_agents.pop(k) for k in [k for k in _agents if k[0] == lab]]
    for a in agents:
        if a:
            a.close()


@atexit.register
def close_all() -> None:
    """Stop every agent this process started (their sessions end; a killed coordinator's end by ssh)."""
    with _lock:
        agents = [a for a in _agents.values() if a]
        _agents.clear()
    for a in agents:
        a.close()
