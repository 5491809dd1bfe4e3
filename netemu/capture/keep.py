"""`down --keep-captures DIR`: finish the topology's capture files and copy them out before teardown."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .. import journal as journal_mod
from ..kernel import procs
from ..labdir import LabDir
from .feature import PREFIX, capture_dir


def keep(lab: LabDir, dest: str) -> list[str]:
    """Stop the lab's capture processes (TERM: they write their last packets), copy the files to `dest`."""
    created = journal_mod.read(lab.journal)
    capturing = {r["pid"]: r.get("start") for r in created.process_records
                 if str(r.get("name", "")).startswith(PREFIX) and not r.get("of")}
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
