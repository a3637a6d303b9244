"""Synthetic series in promtool's expanding notation ("a+bxn"), for rule tests and backtests.

`notation` writes the shortest text it finds with promtool's terms, `expand` reads it back:
- `a` one sample; `_` one missing sample; `stale` a staleness marker;
- `axn` a followed by n more samples of a (n + 1 in all); `_xn` n missing samples;
- `a+bxn` / `a-bxn` a, then n more samples, each b above (below) the one before.
"""
from __future__ import annotations

import math
import re
from typing import Sequence

from gen.units import number

# What a sample list holds: a value, None for a scrape that returned nothing, STALE for a staleness marker.
STALE = "stale"
Sample = float | None | str


def _fmt(value: float) -> str:
    return number(round(value, 9)) if value == value else "NaN"


def _step(a: float, b: float) -> float:
    return round(b - a, 9)


def _run_end(values: Sequence[Sample], i: int) -> tuple[int, float]:
    """The last index of the run of equal steps that starts at i, and its step."""
    n = len(values)
    if i + 1 >= n or not _is_number(values[i + 1]):
        return i, 0.0
    step = _step(values[i], values[i + 1])  # type: ignore[arg-type]
    j = i + 1
    while j + 1 < n and _is_number(values[j + 1]) and _step(values[j], values[j + 1]) == step:  # type: ignore[arg-type]
        j += 1
    return j, step


def _is_number(value: Sample) -> bool:
    return value is not None and value != STALE


def _run_text(start: float, step: float, count: int) -> str:
    if step == 0:
        return f"{_fmt(start)}x{count}"
    sign = "+" if step > 0 else "-"
    return f"{_fmt(start)}{sign}{_fmt(abs(step))}x{count}"


def notation(values: Sequence[Sample]) -> str:
    """Compress samples into promtool notation: runs of equal steps become `start+step x count`.

    `None` marks a scrape that returned nothing (a gap, as after a pod is gone); STALE a staleness marker.
    A run is written as a run only where that is shorter than its samples one by one (`5 6` rather than `5+1x1`).
    """
    out: list[str] = []
    i = 0
    n = len(values)
    while i < n:
        value = values[i]
        if value is None:
            j = i
            while j + 1 < n and values[j + 1] is None:
                j += 1
            out.append("_" if j == i else f"_x{j - i + 1}")
            i = j + 1
            continue
        if value == STALE:
            out.append(STALE)
            i += 1
            continue
        j, step = _run_end(values, i)
        as_run = _run_text(value, step, j - i)  # type: ignore[arg-type]
        one_by_one = " ".join(_fmt(v) for v in values[i:j + 1])  # type: ignore[arg-type]
        if j > i and len(as_run) < len(one_by_one):
            out.append(as_run)
            i = j + 1
        else:
            # Only the first sample: the next one may start a longer run of its own.
            out.append(_fmt(value))  # type: ignore[arg-type]
            i += 1
    return " ".join(out)


_TERM = re.compile(r"^(?P<start>[-+]?(?:[0-9.]+(?:e[-+]?[0-9]+)?|Inf|NaN))"
                   r"(?:(?P<sign>[-+])(?P<step>[0-9.]+(?:e[-+]?[0-9]+)?))?(?:x(?P<count>[0-9]+))?$")


def expand(text: str) -> list[Sample]:
    """The samples promtool reads from `text`, in the same terms `notation` writes."""
    samples: list[Sample] = []
    for term in text.split():
        if term == STALE:
            samples.append(STALE)
            continue
        if term.startswith("_"):
            samples.extend([None] * (int(term[2:]) if term.startswith("_x") else 1))
            continue
        match = _TERM.match(term)
        if not match:
            raise ValueError(f"not promtool series notation: {term!r}")
        start = float(match["start"])
        step = float(match["step"] or 0) * (-1 if match["sign"] == "-" else 1)
        count = int(match["count"] or 0)
        samples.extend(start + k * step if step else start for k in range(count + 1))
    return [round(v, 9) if isinstance(v, float) and math.isfinite(v) else v for v in samples]
