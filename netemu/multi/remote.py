"""Run netemu on a machine over OpenSSH (the user's ssh, keys and ~/.ssh/config), several at once."""

from __future__ import annotations

import contextlib
import json
import shlex
import subprocess
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from . import mux
from .inventory import Machine

SSH_UNREACHABLE = 255  # ssh's own exit status when it could not connect or authenticate
CONNECT_TIMEOUT = 10

T = TypeVar("T")


@dataclass(frozen=True)
class Reply:
    """What a remote netemu answered: exit status, output, and whether ssh itself failed."""

    machine: str
    code: int
    out: str
    err: str

    @property
    def unreachable(self) -> bool:
        return self.code == SSH_UNREACHABLE

    def json(self) -> dict:
        """The JSON object the remote printed last (its answer), or {} when there is none."""
        try:
            whole = json.loads(self.out)
            return whole if isinstance(whole, dict) else {}
        except ValueError:
            pass
        for line in reversed(self.out.splitlines()):
            if line.startswith("{"):
                try:
                    return json.loads(line)
                except ValueError:
                    break
        return {}

    def why(self) -> str:
        """The remote's error message, shortly."""
        text = (self.err.strip() or self.out.strip()).splitlines()
        return text[-1] if text else f"exit status {self.code}"


def ssh_argv(m: Machine, args: Iterable[str], tty: bool = False) -> list[str]:
    """The ssh command that runs `netemu ARGS` on machine `m` (honouring its inventory variables)."""
    argv = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={CONNECT_TIMEOUT}"]
    argv.append("-t" if tty else "-T")
    if m.port:
        argv += ["-p", str(m.port)]
    if m.user:
        argv += ["-l", m.user]
    if m.key:
        argv += ["-i", m.key]
    argv += list(m.common_args)
    argv += mux.options(m)  # after the user's own: for ssh the first value of an option wins
    prefix = "sudo -n " if m.user not in (None, "root") else ""
    return argv + [m.host, "--", prefix + m.netemu + " " + shlex.join(list(args))]


def run(m: Machine, args: list[str], stdin: str | None = None, timeout: float | None = None) -> Reply:
    """Run `netemu ARGS` on `m` and wait; stdin stays open until the remote answers.

    The remote `part up` watches its stdin: if this side dies, ssh closes it, and the machine
    rolls its part back by itself.
    """
    proc = subprocess.Popen(ssh_argv(m, args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    got: dict[str, str] = {}
    readers = [threading.Thread(target=lambda k=k, f=f: got.__setitem__(k, f.read()), daemon=True)
               for k, f in (("out", proc.stdout), ("err", proc.stderr))]
    try:
        for t in readers:
            t.start()
        if stdin is not None:
            proc.stdin.write(stdin if stdin.endswith("\n") else stdin + "\n")
            proc.stdin.flush()
        # Not communicate(): it would close stdin, which the remote reads as "the coordinator is gone".
        proc.wait(timeout=timeout)
        for t in readers:
            t.join()
    except BaseException:
        proc.kill()  # closes the remote's stdin: it rolls back
        proc.wait()
        raise
    finally:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    out, err = got.get("out", ""), got.get("err", "")
    return Reply(m.name, proc.returncode, out, err)


def each(machines: Iterable[Machine], fn: Callable[[Machine], T]) -> dict[str, T]:
    """Call fn on every machine at once (one thread each: no machine waits for another)."""
    ms = list(machines)
    if not ms:
        return {}
    with ThreadPoolExecutor(max_workers=len(ms)) as pool:
        futures = {m.name: pool.submit(fn, m) for m in ms}
        return {name: f.result() for name, f in futures.items()}


def each_job(jobs: list, fn: Callable) -> list:
    """Call fn on every job at once (one thread each); the results in the jobs' order."""
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(fn, jobs))
