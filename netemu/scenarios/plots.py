"""The scenario reports' charts, drawn with matplotlib as SVG text (imported only when a report is drawn).

Every chart labels its axes with units; several series are told apart by colour *and* line style and
marker, or drawn as small multiples (one panel per series, the others faint behind it) where they would
overlap.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
STYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
ALARM = "#d62728"  # the case that fails (black hole): red, thick, drawn on top


def _pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg back end (no display needed), with text kept as SVG text."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "netemu", "font.family": "DejaVu Sans",
                         "font.size": 10, "axes.titlesize": 10.5, "axes.grid": True, "grid.color": "#e5e5e5",
                         "axes.spines.top": False, "axes.spines.right": False})
    return plt


def _svg(plt: Any, fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return buf.getvalue()


def _time_unit(seconds: float) -> tuple[float, str]:
    """Scale and unit name for a time axis that ends at `seconds`."""
    return (1000.0, "ms") if seconds < 1 else (1.0, "s")


@dataclass
class Transfer:
    """One bulk transfer: (seconds, MB acknowledged) samples, and how it ended."""

    label: str
    points: list[tuple[float, float]]
    completed: bool
    seconds: float
    alarm: bool = False  # the case that should fail: drawn red, on top, with its end marked


def transfers(title: str, cases: Sequence[Transfer], size_mb: float) -> str:
    """Small multiples, one panel per transfer with its own time axis (its real time course), MB shared."""
    plt = _pyplot()
    n = len(cases)
    cols = 2 if n > 1 else 1
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(10, 3.1 * rows), sharey=True, squeeze=False)
    fig.suptitle(title, fontsize=12, fontweight="bold")
    for i, (ax, case) in enumerate(zip(axes.flat, cases)):
        end = max([case.seconds] + [t for t, _ in case.points]) or 1e-3
        scale, unit = _time_unit(end)
        pts = sorted(case.points) or [(0.0, 0.0)]
        if pts[-1][0] < case.seconds:  # hold the last value until the transfer ended or gave up
            pts.append((case.seconds, pts[-1][1]))
        xs, ys = [t * scale for t, _ in pts], [mb for _, mb in pts]
        colour = ALARM if case.alarm else COLOURS[i % len(COLOURS)]
        # straight lines between the samples, each sample a dot: nothing is drawn that was not measured
        ax.plot(xs, ys, color=colour, lw=3 if case.alarm else 2, zorder=5 if case.alarm else 3, marker="o",
                ms=3, label=case.label)
        ax.axhline(size_mb, color="#555", ls="--", lw=1, zorder=1)
        ax.text(0, size_mb, " whole transfer", va="bottom", ha="left", fontsize=8, color="#555")
        if case.completed:
            outcome = f"completed in {_fmt_time(case.seconds)}"
            ax.plot([xs[-1]], [ys[-1]], "o", color=colour, ms=7, zorder=6)
            waited = max((t for t, mb in pts if mb <= 0), default=None)  # the last sample with nothing acked
            if waited is not None and case.seconds > 0.1 and waited > 0.5 * case.seconds:  # a long wait, then a jump
                ax.annotate(f"nothing acknowledged yet at {_fmt_time(waited)};\nall of it by "
                            f"{_fmt_time(case.seconds)}", (waited * scale, size_mb / 2), xytext=(-12, 0),
                            textcoords="offset points", ha="right", va="center", fontsize=9)
        elif ys[-1] <= 0.001:
            outcome = f"nothing acknowledged in {_fmt_time(case.seconds)}"
            ax.plot([xs[-1]], [0], "X", color=ALARM, ms=13, zorder=7, clip_on=False)
            ax.annotate("nothing acknowledged", (xs[-1], 0), xytext=(-10, 28), textcoords="offset points",
                        ha="right", color=ALARM, fontweight="bold", arrowprops={"arrowstyle": "->", "color": ALARM})
        else:
            outcome = f"stalled at {ys[-1]:.2f} MB after {_fmt_time(case.seconds)}"
            ax.plot([xs[-1]], [ys[-1]], "X", color=ALARM, ms=13, zorder=7)
        ax.set_title(f"{case.label}: {outcome}", color=ALARM if case.alarm else "black")
        ax.set_xlim(0, end * scale * 1.04)
        ax.set_ylim(-0.03 * size_mb, size_mb * 1.15)
        ax.set_xlabel(f"time since connect, {unit}")
        if i % cols == 0:
            ax.set_ylabel("MB acknowledged")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    return _svg(plt, fig)


def _fmt_time(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def cdfs(title: str, samples: dict[str, list[float]], unit: str, mark: tuple[float, str] | None = None,
         cols: int = 4) -> str:
    """Small multiples of cumulative distributions on one shared log axis: each panel draws one series
    in colour over the others in grey, with its median written in."""
    plt = _pyplot()
    names = [k for k, v in samples.items() if v]
    rows = max(1, math.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(11, 2.6 * rows), sharex=True, sharey=True, squeeze=False)
    fig.suptitle(title, fontsize=12, fontweight="bold")
    curves = {k: (sorted(samples[k]), [100 * (i + 1) / len(samples[k]) for i in range(len(samples[k]))])
              for k in names}
    for i, (ax, name) in enumerate(zip(axes.flat, names)):
        for other in names:
            if other != name:
                ax.step(*curves[other], where="post", color="#c8c8c8", lw=1, zorder=1)
        xs, ys = curves[name]
        colour = COLOURS[i % len(COLOURS)]
        ax.step(xs, ys, where="post", color=colour, lw=2.4, zorder=3)
        median = xs[len(xs) // 2]
        ax.set_title(f"{name}\nmedian {_fmt_value(median)} {unit}", color=colour)
        if mark is not None:
            ax.axvline(mark[0], color="#555", ls="--", lw=1, zorder=2)
        ax.set_xscale("log")
        if i // cols == rows - 1:
            ax.set_xlabel(f"latency, {unit} (log scale)")
        if i % cols == 0:
            ax.set_ylabel("% of requests ≤ x")
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    if mark is not None:
        fig.text(0.5, -0.01, f"dashed line: {mark[1]}; grey: the other variants", ha="center", fontsize=9,
                 color="#555")
    fig.tight_layout()
    return _svg(plt, fig)


def _fmt_value(v: float) -> str:
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"


def bars(title: str, values: list[tuple[str, float | None]], unit: str, log: bool = False,
         marks: Sequence[tuple[float, str]] = ()) -> str:
    """Horizontal bars, one per label, the value written at each bar's end; dashed reference lines."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(values) + 1.3))
    ax.set_title(title, fontsize=12, fontweight="bold")
    labels = [k for k, _ in values]
    ys = list(range(len(values)))[::-1]
    present = [v for _, v in values if v is not None]
    floor = min(present + [m for m, _ in marks]) / 3 if log and present else 0
    for i, (y, (label, v)) in enumerate(zip(ys, values)):
        if v is None:
            ax.text(floor if log else 0, y, "  n/a", va="center", color="#999")
            continue
        # the same colour as the label's panel in cdfs(): one colour per series, in order
        ax.barh(y, v - floor, left=floor, color=COLOURS[i % len(COLOURS)], height=0.65, zorder=3)
        ax.text(v, y, f" {_fmt_value(v)} {unit}", va="center", fontsize=9)
    for m, text in marks:
        ax.axvline(m, color="#333", ls="--", lw=1.2, zorder=4)
        ax.text(m, len(values) - 0.35, f"{text} ", ha="right", va="bottom", fontsize=9)
    ax.set_yticks(ys, labels)
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(f"{unit}{' (log scale)' if log else ''}")
    ax.set_ylim(-0.6, len(values) - 0.1 + 0.5)
    fig.tight_layout()
    return _svg(plt, fig)


def per_connection(title: str, series: dict[str, list[float]], unit: str,
                   refs: Sequence[tuple[float, str]] = (), what: str = "time to first byte",
                   x_label: str = "connection number") -> str:
    """Small multiples of a value per connection (one panel per case, shared y), the first connection
    marked apart; horizontal reference lines (e.g. one and two round trips)."""
    plt = _pyplot()
    names = [k for k, v in series.items() if v]
    fig, axes = plt.subplots(1, max(1, len(names)), figsize=(11, 3.4), sharey=True, squeeze=False)
    fig.suptitle(title, fontsize=12, fontweight="bold")
    top = max([v for k in names for v in series[k]] + [r for r, _ in refs] + [1e-3])
    for i, (ax, name) in enumerate(zip(axes.flat, names)):
        values = series[name]
        colour = COLOURS[i % len(COLOURS)]
        xs = list(range(1, len(values) + 1))
        ax.plot(xs, values, ls=STYLES[i % len(STYLES)], marker=MARKERS[i % len(MARKERS)], color=colour, ms=5, lw=1.5)
        ax.plot([1], [values[0]], "o", ms=12, mfc="none", mec="#333", mew=1.5)
        ax.annotate("1st", (1, values[0]), xytext=(6, 6), textcoords="offset points", fontsize=8)
        for r, text in refs:
            ax.axhline(r, color="#777", ls=":", lw=1)
            if i == 0:
                ax.text(len(values), r, f"{text} ", ha="right", va="bottom", fontsize=8, color="#555")
        ax.set_title(name, color=colour)
        ax.set_xlabel(x_label)
        ax.set_ylim(0, top * 1.2)
        if i == 0:
            ax.set_ylabel(f"{what}, {unit}")
    fig.tight_layout()
    return _svg(plt, fig)
