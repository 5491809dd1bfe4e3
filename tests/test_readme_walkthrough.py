"""The README's walk-through, run as a reader runs it: every `$ ` command in order on a fresh lab, and every
output line the README shows under a command must appear in what that command printed.

Conventions of the walk-through's code blocks (so the README stays checkable):
- `$ netemu …` (or any command) is run with bash; a trailing `&` runs it in the background until the end.
- the lines under a command, up to the next `$ `, are what it prints: each must appear in its output
  (`...` stands for any text: ports, timings and counters that change from run to run; letter case is free);
- `# …` after a command is a comment; a line `#` alone is not checked.
The lab gets a unique name (the topology's `name:` and every `internet` word are replaced), so the test never
touches a lab of the user's.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, TOPOLOGIES, leftovers, needs_root, needs_tool, renamed, unique_name

pytestmark = pytest.mark.root

SECTION = "## Walk-through: Alice and Bob (`topologies/internet.yaml`)"


def walkthrough_steps(readme: str) -> list[tuple[str, list[str]]]:
    """(command, expected output lines) of every `$ ` command in the walk-through section, in order."""
    start = readme.index(SECTION)
    end = readme.find("\n## ", start + len(SECTION))
    section = readme[start:end if end > 0 else None]
    steps: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```(?:sh|console|text)?\n(.*?)```", section, re.DOTALL):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:].strip(), []))
            elif steps and line.strip() and line.strip() != "#":
                steps[-1][1].append(line.rstrip())
    return steps


def _pattern(expected: str) -> re.Pattern:
    """`...` in a README output line matches any text; runs of spaces match any white space; letter case is
    free (the resolver's 0x20 randomises it)."""
    parts = [r"\s+".join(re.escape(word) for word in part.split()) for part in expected.split("...")]
    return re.compile(".*?".join(p for p in parts if p) if parts else "", re.IGNORECASE)


def test_the_walkthrough_has_commands_with_output_to_check():
    steps = walkthrough_steps((ROOT / "README.md").read_text())
    assert len(steps) >= 10 and sum(1 for _, out in steps if out) >= 8
    assert steps[0][0].startswith("netemu up topologies/internet.yaml")
    assert steps[-1][0].startswith("netemu down internet")


def test_the_walkthrough_prints_what_the_readme_says(tmp_path):
    needs_root()
    needs_tool("curl", "dig", "getent", "conntrack", "tracepath", "ping")
    lab = unique_name("walk")
    topo = tmp_path / "internet.yaml"
    topo.write_text(renamed((TOPOLOGIES / "internet.yaml").read_text(), lab))
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "netemu"
    wrapper.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m netemu \"$@\"\n")
    wrapper.chmod(0o755)
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}
    background: list[subprocess.Popen] = []
    failures: list[str] = []
    try:
        for command, expected in walkthrough_steps((ROOT / "README.md").read_text()):
            cmd = command.split("  #")[0].strip()
            cmd = cmd.replace("topologies/internet.yaml", str(topo))
            cmd = re.sub(r"(?<![\w./-])internet(?![\w./-])", lab, cmd)
            expected = [re.sub(r"(?<![\w./-])internet(?![\w./-])", lab, line) for line in expected]
            if cmd.endswith("&"):
                background.append(subprocess.Popen(["bash", "-c", cmd[:-1]], cwd=ROOT, env=env, start_new_session=True,
                                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                continue
            res = subprocess.run(["bash", "-c", cmd], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
            out = res.stdout + res.stderr
            missing = [line for line in expected if not _pattern(line).search(out)]
            if missing:
                failures.append(f"$ {command}\n  expected: {missing}\n  got:\n{out[-1500:]}")
    finally:
        for proc in background:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)
        subprocess.run([sys.executable, "-m", "netemu", "down", lab], cwd=ROOT, capture_output=True, timeout=120)
    assert not failures, "\n\n".join(failures)
    assert leftovers(lab) == []
