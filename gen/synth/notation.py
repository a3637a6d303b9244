"""Synthetic series in promtool's expanding notation ("a+bxn"), for rule tests and backtests."""
from __future__ import annotations

from typing import Sequence

from gen.units import number

def _fmt(value: float) -> str:
    return number(round(value, 9)) if value == value else "NaN"


def notation(values: Sequence[float | None]) -> str:
    """Compress samples into promtool notation: runs of equal steps become `start+step x count`.

    `None` marks a scrape that returned nothing (a gap, as after a pod is gone).
    """
    out: list[str] = []
    i = 0
    n = len(values)
    while i < n:
        if values[i] is None:
            j = i
            while j + 1 < n and values[j + 1] is None:
                j += 1
            out.append("_" if j == i else f"_x{j - i + 1}")
            i = j + 1
            continue
        start = values[i]
        j = i
        if i + 1 < n and values[i + 1] is not None:
            step = round(values[i + 1] - start, 9)
            while j + 1 < n and values[j + 1] is not None and round(values[j + 1] - values[j], 9) == step:
                j += 1
        else:
            step = 0.0
        count = j - i
        if count == 0:
            out.append(_fmt(start))
        elif step == 0:
            out.append(f"{_fmt(start)}x{count}")
        else:
            sign = "+" if step > 0 else "-"
            out.append(f"{_fmt(start)}{sign}{_fmt(abs(step))}x{count}")
        i = j + 1
    return " ".join(out)

