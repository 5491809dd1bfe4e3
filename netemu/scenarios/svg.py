"""Small hand-written SVG charts (no plotting library): line charts and horizontal bar charts."""

from __future__ import annotations

import math
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f",
           "#bcbd22")
FONT = 'font-family="DejaVu Sans, Arial, sans-serif"'


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = [round(start, 10)]
    while ticks[-1] < hi - step * 1e-9:  # the last tick is at or above the largest value
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _log_ticks(lo: float, hi: float) -> list[float]:
    return [10.0 ** e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)]


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e6:
        return f"{v / 1e6:g}M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


class _Axis:
    def __init__(self, lo: float, hi: float, a: float, b: float, log: bool):
        self.log = log
        if log:
            lo = lo if lo > 0 else 1e-3
            hi = max(hi, lo * 10)
            self.ticks = _log_ticks(lo, hi)
        else:
            self.ticks = _nice_ticks(min(lo, 0.0), hi)
        self.lo, self.hi = self.ticks[0], self.ticks[-1]
        self.a, self.b = a, b

    def __call__(self, v: float) -> float:
        if self.log:
            v = max(v, self.lo)
            f = (math.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        else:
            f = (v - self.lo) / (self.hi - self.lo)
        return self.a + f * (self.b - self.a)


def _head(title: str, width: int, height: int) -> list[str]:
    """The opening of a chart: the svg element, a white background and the title."""
    return [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" {FONT} font-size="12">'),
            f'<rect width="{width}" height="{height}" fill="white"/>',
            (f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">'
             f'{escape(title)}</text>')]


def line_chart(title: str, series: list[tuple[str, list[tuple[float, float]]]], x_label: str, y_label: str,
               log_x: bool = False, log_y: bool = False, steps: bool = False, markers: bool = False,
               width: int = 760, height: int = 420) -> str:
    """An SVG line chart of named (x, y) series, with axes, ticks and a legend."""
    pts = [p for _, s in series for p in s] or [(0.0, 0.0), (1.0, 1.0)]
    pos_x = [p[0] for p in pts if p[0] > 0] or [1.0]
    pos_y = [p[1] for p in pts if p[1] > 0] or [1.0]
    left, right, top, bottom = 80, width - 190, 40, height - 55
    xs = _Axis(min(pos_x) if log_x else min(p[0] for p in pts), max(p[0] for p in pts), left, right, log_x)
    ys = _Axis(min(pos_y) if log_y else min(p[1] for p in pts), max(p[1] for p in pts), bottom, top, log_y)
    out = _head(title, width, height)
    for t in xs.ticks:
        x = xs(t)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">{_fmt(t)}</text>')
    for t in ys.ticks:
        y = ys(t)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="none" stroke="#555"/>')
    out.append(f'<text x="{(left + right) / 2}" y="{height - 14}" text-anchor="middle">{escape(x_label)}</text>')
    out.append(f'<text x="18" y="{(top + bottom) / 2}" text-anchor="middle" '
               f'transform="rotate(-90 18 {(top + bottom) / 2})">{escape(y_label)}</text>')
    for i, (label, s) in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        if s:
            coords = []
            prev_y = None
            for x, y in s:
                if steps and prev_y is not None:
                    coords.append(f"{xs(x):.1f},{prev_y:.1f}")
                coords.append(f"{xs(x):.1f},{ys(y):.1f}")
                prev_y = ys(y)
            # earlier series are drawn thicker, underneath, so overlapping lines stay visible
            width_px = 2 + 1.5 * (len(series) - 1 - i)
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="{width_px}" stroke-opacity="0.9" '
                       f'points="{" ".join(coords)}"/>')
            if markers or len(s) == 1:
                out += [f'<circle cx="{xs(x):.1f}" cy="{ys(y):.1f}" r="3" fill="{color}"/>' for x, y in s]
        ly = top + 10 + i * 18
        out.append(f'<rect x="{right + 12}" y="{ly - 8}" width="14" height="4" fill="{color}"/>')
        out.append(f'<text x="{right + 32}" y="{ly - 2}">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def bar_chart(title: str, bars: list[tuple[str, float]], unit: str, log: bool = False,
              marks: list[tuple[str, float]] = (), width: int = 760) -> str:
    """A horizontal bar chart (one bar per label), optionally on a log scale, with vertical marker lines."""
    bar_h, gap = 22, 8
    left, right, top = 170, width - 90, 44
    bottom = top + len(bars) * (bar_h + gap) + 4
    height = bottom + 50
    values = [v for _, v in bars if v is not None] + [v for _, v in marks]
    lo = min([v for v in values if v > 0] or [1]) if log else 0.0
    axis = _Axis(lo, max(values or [1]), left, right, log)
    out = _head(title, width, height)
    for t in axis.ticks:
        x = axis(t)
        out.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">{_fmt(t)}</text>')
    out.append(f'<text x="{(left + right) / 2}" y="{bottom + 36}" text-anchor="middle">{escape(unit)}'
               f'{" (log scale)" if log else ""}</text>')
    for i, (label, v) in enumerate(bars):
        y = top + i * (bar_h + gap)
        color = PALETTE[i % len(PALETTE)]
        out.append(f'<text x="{left - 8}" y="{y + bar_h / 2 + 4}" text-anchor="end">{escape(label)}</text>')
        if v is None:
            out.append(f'<text x="{left + 4}" y="{y + bar_h / 2 + 4}" fill="#999">n/a</text>')
            continue
        x1 = axis(v)
        out.append(f'<rect x="{left}" y="{y}" width="{max(1.0, x1 - left):.1f}" height="{bar_h}" fill="{color}" '
                   f'opacity="0.85"/>')
        out.append(f'<text x="{x1 + 5:.1f}" y="{y + bar_h / 2 + 4}">{v:.3g}</text>')
    for label, v in marks:
        x = axis(v)
        out.append(f'<line x1="{x:.1f}" y1="{top - 8}" x2="{x:.1f}" y2="{bottom}" stroke="#333" '
                   f'stroke-dasharray="4 3"/>')
        out.append(f'<text x="{x - 3:.1f}" y="{top - 10}" font-size="11" text-anchor="end">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
