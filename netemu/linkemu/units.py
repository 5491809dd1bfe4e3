"""Parse and format the quantities of link emulation: rates, times, percentages, queue sizes.

Every parser returns (value, None, None) or (None, problem, hint-or-None); the problem text is
meant to follow the key's path in an error message.
"""

from __future__ import annotations

import math
import re

_NUM = r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_RATE_UNITS = {"bit": 1, "kbit": 10**3, "mbit": 10**6, "gbit": 10**9, "tbit": 10**12}
_TIME_UNITS = {"us": 1, "usec": 1, "µs": 1, "ms": 1000, "msec": 1000, "s": 10**6, "sec": 10**6}
_SIZE_UNITS = {"b": 1, "kb": 1000, "kib": 1024, "mb": 10**6, "mib": 1 << 20}
_PACKET_UNITS = {"", "p", "pkt", "pkts", "packet", "packets"}

MIN_RATE = 8_000  # below 8 kbit/s one full-size frame takes 1.5 s
MAX_RATE = 400 * 10**9
MAX_DELAY_US = 60 * 10**6
ETH_HEADER = 14  # bytes a frame adds to the MTU as tbf counts it (no FCS, no VLAN tag)


def _text(value: object, wanted: str, types: tuple[type, ...] = (str, int, float),
          negative: str = "") -> tuple[str, str | None]:
    """`value` as stripped text, or the problem if it is not a scalar of `types` (booleans never are) or negative."""
    if isinstance(value, bool) or not isinstance(value, types):
        return "", f"must be {wanted}, got {value!r}"
    text = str(value).strip()
    return text, (f"{text!r} is negative{negative}" if text.startswith("-") else None)


def _split(text: str) -> tuple[float, str] | None:
    m = re.fullmatch(_NUM + r"\s*([A-Za-zµ/%]*)", text.strip())
    if not m:
        return None
    return float(m.group(1)), m.group(2)


def rate(value: object) -> tuple[int | None, str | None, str | None]:
    """'10mbit' -> 10_000_000 bits per second."""
    text, problem = _text(value, "a rate such as '10mbit'")
    if problem:
        return None, problem, None
    parts = _split(text)
    if parts is None:
        return None, f"{text!r} is not a rate", "write a number and a unit: 500kbit, 10mbit, 1gbit"
    number, unit = parts
    u = unit.lower().removesuffix("/s")
    if u in ("", "0") and number == 0:
        return None, "0 would stop all traffic", "leave 'bandwidth' out for an unlimited link (or use 'netemu link … down')"
    if u == "":
        return None, f"{text!r} has no unit", f"write e.g. '{text}mbit' (or kbit, gbit)"
    if u in ("bps", "kbps", "mbps", "gbps", "tbps"):
        return None, f"{text!r} is ambiguous", (
            f"tc reads '{unit}' as bytes per second; write '{_fmt_num(number)}{u[0] if u[0] != 'b' else ''}bit' "
            "for bits per second")
    if u not in _RATE_UNITS:
        return None, f"unknown rate unit {unit!r}", f"use one of {', '.join(_RATE_UNITS)}"
    bps = round(number * _RATE_UNITS[u])
    if bps < MIN_RATE:
        return None, f"{text} is below the minimum of 8kbit", None
    if bps > MAX_RATE:
        return None, f"{text} is above the maximum of 400gbit", None
    return bps, None, None


def time_us(value: object, what: str = "delay") -> tuple[int | None, str | None, str | None]:
    """'20ms' -> 20000 microseconds; 0 is allowed without a unit."""
    text, problem = _text(value, "a time such as '20ms'", negative=f": a {what} cannot be")
    if problem:
        return None, problem, None
    parts = _split(text)
    if parts is None:
        return None, f"{text!r} is not a time", "write a number and a unit: 500us, 20ms, 1.5s"
    number, unit = parts
    if unit == "" and number == 0:
        return 0, None, None
    if unit == "":
        return None, f"{text!r} has no unit", f"write e.g. '{text}ms'"
    u = unit.lower() if unit != "µs" else unit
    if u not in _TIME_UNITS:
        return None, f"unknown time unit {unit!r}", "use us, ms or s"
    us = round(number * _TIME_UNITS[u])
    if us > MAX_DELAY_US:
        return None, f"{text} is more than 60s", None
    return us, None, None


def percent(value: object) -> tuple[float | None, str | None, str | None]:
    """'10%', 10 or '0.5' -> percent as a float."""
    text, problem = _text(value, "a percentage such as '1%'")
    if problem:
        return None, problem, None
    m = re.fullmatch(_NUM + r"\s*(%?)", text)
    if not m:
        return None, f"{text!r} is not a percentage", "write e.g. 1% or 0.5%"
    pct = float(m.group(1))
    if pct > 100:
        return None, f"{text} is more than 100%", None
    return pct, None, None


def queue(value: object) -> tuple[tuple[str, int] | None, str | None, str | None]:
    """100 or '100 packets' -> ('packets', 100); '64kb' -> ('bytes', 64000)."""
    text, problem = _text(value, "a packet count such as 100 or a size such as '64kb'", types=(str, int))
    if problem:
        return None, problem, None
    parts = _split(text.replace(" ", ""))
    if parts is None:
        return None, f"{text!r} is not a queue size", "write a packet count (100) or a size (64kb, 1mib)"
    number, unit = parts
    u = unit.lower()
    if u in _PACKET_UNITS:
        if number != int(number) or not 1 <= number <= 1_000_000:
            return None, f"{text} must be a whole number of packets 1..1000000", None
        return ("packets", int(number)), None, None
    if u in _SIZE_UNITS:
        size = round(number * _SIZE_UNITS[u])
        if not 1 <= size <= 1 << 30:
            return None, f"{text} must be 1b..1gib", None
        return ("bytes", size), None, None
    return None, f"unknown queue unit {unit!r}", "use a packet count (100) or b, kb, kib, mb, mib"


# The parser of each impairment key (model.FIELDS), in the topology file and on `netemu link … set`.
PARSERS = {
    "bandwidth": rate,
    "delay": lambda v: time_us(v, "delay"),
    "jitter": lambda v: time_us(v, "jitter"),
    "loss": percent,
    "queue": queue,
}


def _fmt_num(x: float) -> str:
    return f"{x:g}"


def fmt_rate(bps: int) -> str:
    """10_000_000 -> '10mbit' (tc syntax, exact)."""
    for unit, mult in (("gbit", 10**9), ("mbit", 10**6), ("kbit", 10**3)):
        if bps % mult == 0:
            return f"{bps // mult}{unit}"
    return f"{bps}bit"


def fmt_time(us: int) -> str:
    """20000 -> '20ms' (tc syntax, exact)."""
    if us % 1000 == 0:
        return f"{us // 1000}ms"
    return f"{us}us"


def fmt_percent(pct: float) -> str:
    """10.0 -> '10%'."""
    return f"{pct:g}%"


def fmt_queue(q: tuple[str, int]) -> str:
    """('packets', 100) -> '100 packets'; ('bytes', 64000) -> '64000 bytes'."""
    return f"{q[1]} {q[0]}"


def probability(pct: float) -> str:
    """Percent as the probability text iptables' statistic match takes."""
    return f"{pct / 100:.6f}".rstrip("0").rstrip(".") if pct < 100 else "1"


def ceil_div(a: int, b: int) -> int:
    """Integer ceiling of a / b."""
    return -(-a // b) if b else math.inf  # type: ignore[return-value]
