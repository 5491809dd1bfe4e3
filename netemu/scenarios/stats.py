"""Percentiles and summaries of measured samples."""

from __future__ import annotations

import math


def percentile(samples: list[float], q: float) -> float | None:
    """The q-th percentile (0..100), linear interpolation between closest ranks; None if empty."""
    if not samples:
        return None
    s = sorted(samples)
    if len(s) == 1:
        return s[0]
    k = (len(s) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def median(samples: list[float]) -> float | None:
    """The 50th percentile."""
    return percentile(samples, 50)


def summary(samples: list[float], digits: int = 3) -> dict[str, float | int | None]:
    """p50/p90/p99/max/min of samples (rounded), plus their count."""
    def r(x: float | None) -> float | None:
        return None if x is None else round(x, digits)

    return {"p50_ms": r(percentile(samples, 50)), "p90_ms": r(percentile(samples, 90)),
            "p99_ms": r(percentile(samples, 99)), "max_ms": r(max(samples) if samples else None),
            "min_ms": r(min(samples) if samples else None), "requests": len(samples)}
