"""Services of a running lab: their state, and the logs of every process a lab started."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .. import journal as journal_mod
from ..errors import NotFoundError
from ..kernel import netns, procs
from ..labdir import LabDir, existing


@dataclass(frozen=True)
class LogSource:
    """One process of a lab and its log file."""

    name: str  # the lab's name for the process, e.g. web.http, dns-bob-ns
    node: str | None
    log: Path


def _services(lab: str):
    d = LabDir(lab)
    try:
        from ..parse import topology_from_text

        topo = topology_from_text(d.topology_copy.read_text())
    except Exception:  # the saved copy is only a hint: processes come from the journal
        return None
    return topo.feature("services")


def service_states(lab: str) -> list[dict]:
    """Each service of the lab: running/exited, ready/not ready (probed now), pid and log."""
    model = _services(lab)
    if model is None:
        return []
    d = LabDir(lab)
    records = {r.get("name"): r for r in journal_mod.read(d.journal).process_records}
    out = []
    for s in model.services:
        rec = records.get(s.process)
        pid = rec.get("pid") if rec else None
        running = rec is not None and procs.alive(pid, rec.get("start"))
        ns = f"{lab}-{s.node}"
        if not running:
            state, probe = ("exited" if rec else "never started"), ""
        elif s.ready is None:
            state, probe = "running", "(no readiness probe)"
        else:
            ok = netns.exists(ns) and procs.probe(ns, s.ready, timeout=1.0)
            state = "running, ready" if ok else "running, NOT READY"
            probe = procs.describe_probe(s.ready)
        out.append({"node": s.node, "service": s.name, "process": s.process, "pid": pid, "state": state,
                    "running": running, "probe": probe, "log": str(d.logs / f"{s.process}.log")})
    return out


def log_sources(lab: str, node: str | None = None, service: str | None = None) -> list[LogSource]:
    """The logs of the lab's processes (services, DNS servers, delay line…), of one node, or of one service."""
    d = existing(lab)
    out = []
    for rec in journal_mod.read(d.journal).process_records:
        if rec.get("of") or not rec.get("name"):
            continue  # a log pump: its process's log is listed
        ns = rec.get("ns")
        rec_node = ns[len(lab) + 1:] if isinstance(ns, str) and ns.startswith(lab + "-") else None
        log = Path(rec["log"]) if rec.get("log") else d.logs / f"{rec['name']}.log"
        src = LogSource(rec["name"], rec_node, log)
        if src not in out:
            out.append(src)
    if node is not None:
        nodes = sorted({s.node for s in out if s.node})
        mine = [s for s in out if s.node == node]
        if not mine:
            raise NotFoundError(f"lab {lab!r} runs no process in node {node!r}"
                                f"{' (nodes with processes: ' + ', '.join(nodes) + ')' if nodes else ''}")
        out = mine
    if service is not None:
        names = [s.name for s in out]
        out = [s for s in out if s.name in (service, f"{node}.{service}")]
        if not out:
            raise NotFoundError(f"node {node!r} of lab {lab!r} has no process {service!r} "
                                f"(it has: {', '.join(n.removeprefix(f'{node}.') for n in names)})")
    return out


def read_log(src: LogSource) -> bytes:
    """What is kept of a process's output: the rotated half, then the current one."""
    data = b""
    for p in (Path(f"{src.log}.1"), src.log):
        try:
            data += p.read_bytes()
        except OSError:
            continue
    return data


def follow(src: LogSource) -> Iterator[bytes]:
    """New output of a log as it is written, across the pump's rotations (like `tail -F`); b"" when idle."""
    f = None
    ino = None
    while True:
        try:
            st = os.stat(src.log)
        except FileNotFoundError:
            st = None
        if st is not None and st.st_ino != ino:
            if f is not None:  # rotated: finish the old file first
                yield f.read()
                f.close()
            f = open(src.log, "rb")
            if ino is None:
                f.seek(0, os.SEEK_END)
            ino = st.st_ino
        yield f.read() if f is not None else b""
