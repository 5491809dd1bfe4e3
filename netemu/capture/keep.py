"""`down --keep-captures DIR`: finish the topology's capture files and copy them out before teardown."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from .. import journal as journal_mod
from ..kernel import netns, procs
from ..names import lab_namespace_problem
from ..labdir import LabDir
from .feature import PREFIX, capture_dir


def keep(lab: LabDir, dest: str) -> list[str]:
    """Stop the lab's capture processes (TERM: they write their last packets), copy the files to `dest`."""
    created = journal_mod.read(lab.journal)
    # signalled only if still the recorded process inside one of this lab's namespaces (see teardown)
    capturing = {r["pid"]: r.get("start") for r in created.process_records
                 if str(r.get("name", "")).startswith(PREFIX) and not r.get("of")
                 and lab_namespace_problem(lab.name, r.get("ns")) is None
                 and procs.same_process(r["pid"], r.get("start"), netns.inode(r["ns"]) or -1)}
    if capturing:
        # dumpcap reads the kernel's capture buffer every 250 ms (its pcap read timeout) and does not drain it
        # on SIGTERM: give it one more read, so the packets of the last moment before `down` are in the file.
        time.sleep(0.6)
    procs.kill_all(capturing, grace=5.0)
    src = Path(capture_dir(lab.name))
    files = sorted(p for p in src.glob("*.pcapng")) if src.is_dir() else []
    if not files:
        return []
    os.makedirs(dest, exist_ok=True)
    out = []
    for f in files:
        target = os.path.join(dest, f.name)
        shutil.copyfile(f, target)
        out.append(target)
    return out
