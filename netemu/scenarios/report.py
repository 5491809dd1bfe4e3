"""The outputs of a run: the terminal text, results.json, report.md/report.html (jinja2) and pictures."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jinja2

from . import machine
from .api import Result, Table

TEMPLATES = Path(__file__).with_name("templates")


def cell(value: Any) -> str:
    """A table cell as text: floats to 3 significant decimals, None as '-', booleans as yes/no."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def format_table(t: Table) -> str:
    """A table as aligned plain text."""
    rows = [[cell(v) for v in row] for row in t.rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows if i < len(r)]) for i, h in enumerate(t.headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(t.headers, widths))
    out = [t.title, line, "  ".join("-" * w for w in widths)]
    for r in rows:
        out.append("  ".join((v.rjust(w) if _numeric(v) else v.ljust(w)) for v, w in zip(r, widths)))
    return "\n".join(out)


def _numeric(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def format_text(result: Result, color: bool = False) -> str:
    """The human summary of a run: tables, notes, one PASS/FAIL line per check, the verdict."""
    def paint(text: str, ok: bool) -> str:
        if not color:
            return text
        return f"\x1b[{'32' if ok else '31'}m{text}\x1b[0m"

    roles = ", ".join(f"{k}={v}" for k, v in result.roles.items())
    out = [f"scenario {result.scenario} on lab {result.lab} ({roles})"]
    for t in result.tables:
        out += ["", format_table(t)]
    if result.notes:
        out.append("")
        out += [f"* {n}" for n in result.notes]
    for c in result.cases:
        for n in c.notes:
            out.append(f"* [{c.name}] {n}")
    out.append("")
    for c in result.checks:
        out.append(f"{paint('PASS' if c.passed else 'FAIL', c.passed)}  {c.name}: {c.reason}")
    if result.error:
        out.append(paint(f"ERROR  the run broke off: {result.error}", False))
    verdict = f"{sum(c.passed for c in result.checks)}/{len(result.checks)} checks passed"
    out += ["", paint(("PASS " if result.passed else "FAIL ") + verdict, result.passed)]
    if result.report_dir:
        out.append(f"report: {result.report_dir}/report.html (and report.md, results.json)")
    return "\n".join(out)


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=jinja2.select_autoescape(["html", "html.j2"]),
                             keep_trailing_newline=True, trim_blocks=False, undefined=jinja2.StrictUndefined)
    env.filters["cell"] = cell
    env.globals["machine_rows"] = machine.rows
    return env


def write(result: Result, directory: str | os.PathLike) -> Path:
    """Write results.json, report.md, report.html and every picture into `directory`."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    result.report_dir = str(d)
    for p in result.pictures:
        (d / p.filename).write_text(p.content)
    (d / "results.json").write_text(json.dumps(result.to_json(), indent=2) + "\n")
    env = _env()
    (d / "report.md").write_text(env.get_template("report.md.j2").render(r=result))
    (d / "report.html").write_text(env.get_template("report.html.j2").render(r=result))
    return d
