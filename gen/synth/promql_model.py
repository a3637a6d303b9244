"""The PromQL range functions and lookups, re-implemented after Prometheus (promql/functions.go).

Generated rule tests state whether an alert fires at a time and the `$value` it
carries. Those expectations are derived from the scenario by an independent
model of PromQL semantics, not copied from promtool; promtool then checks that
the real engine agrees with this reading. This module is that model's lowest
layer: samples on a fixed step (a Clock, for scraped samples and for rule
evaluations alike), ranges closed at both ends as in Prometheus 2.x or left-open as
in Prometheus 3 (a Clock's `boundary`), instant lookups that see the latest sample
within 5 minutes (the same boundary), recorded series that hold one
sample per rule evaluation, the range functions with the engine's float
operations, and `for`. `promql_eval` evaluates whole expressions with it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

LOOKBACK_SECONDS = 300.0

Samples = Sequence[float | None]  # one per step from t=0; None is a missing sample

# Which samples a range `[r]` evaluated at t holds. Prometheus 2.x: [t - r, t], both ends. Prometheus 3 made
# range selectors and the lookback left-open: (t - r, t], a sample exactly at t - r is no longer in it.
CLOSED = "closed"
LEFT_OPEN = "left-open"
BOUNDARIES = (CLOSED, LEFT_OPEN)


@dataclass(frozen=True)
class Clock:
    """Sample times: index i is at i * step seconds; `boundary`: whether a range holds its start."""

    step: float = 60.0
    boundary: str = CLOSED

    def __post_init__(self) -> None:
        if self.boundary not in BOUNDARIES:
            raise ValueError(f"boundary {self.boundary!r}: one of {', '.join(BOUNDARIES)}")

    @property
    def whole_seconds(self) -> bool:
        """Every sample time is a whole number of seconds."""
        return float(self.step).is_integer()

    def first_index(self, start: float) -> int:
        """The first sample index inside a range that starts at `start`."""
        first = max(0, int(-(-start // self.step)))
        if self.boundary == LEFT_OPEN and first * self.step == start:
            first += 1
        return first

    def _window(self, samples: Samples, end: float, range_: float) -> tuple[int, int]:
        """The indices [first, stop) of the samples in a range that ends at `end` (first <= stop)."""
        first = self.first_index(end - range_)
        return first, max(first, min(len(samples), int(end // self.step) + 1))

    def points(self, samples: Samples, end: float, range_: float) -> list[tuple[float, float]]:
        """Samples in [end - range_, end] (closed) or (end - range_, end] (left-open), as (seconds, value)."""
        first, stop = self._window(samples, end, range_)
        return [(i * self.step, samples[i]) for i in range(first, stop) if samples[i] is not None]

    def values(self, samples: Samples, end: float, range_: float) -> list[float]:
        """The values of `points` without their times, for the functions that need no times (most of a replay's
        windows: floors, peaks, restarts counted)."""
        first, stop = self._window(samples, end, range_)
        return [v for v in samples[first:stop] if v is not None]

    def instant(self, samples: Samples, t: float) -> float | None:
        found = self.points(samples, t, LOOKBACK_SECONDS)
        return found[-1][1] if found else None

    def latest(self, samples: Samples, t: float) -> float | None:
        """Instant lookup of a rule's output, sampled at every evaluation (None: no result then).

        Unlike a gap in scraped input, a missing result hides the samples before it: when a rule stops
        returning a series, Prometheus writes a stale marker at that evaluation.
        """
        if t < 0 or not samples:
            return None
        index = min(int(t // self.step), len(samples) - 1)
        age = t - index * self.step
        inside = age < LOOKBACK_SECONDS if self.boundary == LEFT_OPEN else age <= LOOKBACK_SECONDS
        return samples[index] if inside else None

    def count(self, end: float) -> int:
        """How many steps fall in [0, end]."""
        return int(end // self.step) + 1


def extrapolated_rate(points: list[tuple[float, float]], range_start: float, range_end: float, *,
                      counter: bool, per_second: bool) -> float | None:
    """rate/increase (counter) and delta (gauge), including Prometheus' extrapolation to the range edges."""
    if len(points) < 2:
        return None
    result = points[-1][1] - points[0][1]
    if counter:
        last = 0.0
        for _, value in points:
            if value < last:
                result += last
            last = value
    to_start = points[0][0] - range_start
    to_end = range_end - points[-1][0]
    sampled = points[-1][0] - points[0][0]
    average = sampled / (len(points) - 1)
    if counter and result > 0 and points[0][1] >= 0:
        to_zero = sampled * (points[0][1] / result)
        to_start = min(to_start, to_zero)
    threshold = average * 1.1
    interval = sampled
    interval += to_start if to_start < threshold else average / 2
    interval += to_end if to_end < threshold else average / 2
    # One factor, divided by the range first for rates: the same float operations as Prometheus, so the
    # `$value` in an expected annotation matches to the last digit.
    factor = interval / sampled
    if per_second:
        factor /= range_end - range_start
    return result * factor


RangeFunction = Callable[[Clock, Samples, float, float], float | None]


def _ranged(fn: Callable[[list[tuple[float, float]], float, float], float | None]) -> RangeFunction:
    def apply(clock: Clock, samples: Samples, t: float, range_: float) -> float | None:
        return fn(clock.points(samples, t, range_), t - range_, t)
    return apply


def _over_values(fn: Callable[[list[float]], float | None]) -> RangeFunction:
    def apply(clock: Clock, samples: Samples, t: float, range_: float) -> float | None:
        values = clock.values(samples, t, range_)
        return fn(values) if values else None
    return apply


def _changes(values: list[float]) -> float:
    return float(sum(1 for a, b in zip(values, values[1:]) if a != b))


def _resets(values: list[float]) -> float:
    return float(sum(1 for a, b in zip(values, values[1:]) if b < a))


def _kahan_add(value: float, total: float, compensation: float) -> tuple[float, float]:
    """Neumaier's compensated addition, as Prometheus sums with (kahanSumInc)."""
    new_total = total + value
    if abs(total) >= abs(value):
        compensation += (total - new_total) + value
    else:
        compensation += (value - new_total) + total
    return new_total, compensation


def _regression(points, intercept_time: float, whole_seconds: bool = False) -> tuple[float, float] | None:
    """Least-squares slope per second and the intercept at `intercept_time`, summed as Prometheus'
    linearRegression does (Kahan sums; a constant series has slope 0 and its value as intercept).
    `whole_seconds`: every sample time is a whole number of seconds (Clock.whole_seconds)."""
    if len(points) < 2:
        return None
    first = points[0][1]
    if all(v == first for _, v in points):
        return 0.0, first
    n = float(len(points))
    widest = max(abs(points[0][0] - intercept_time), abs(points[-1][0] - intercept_time))
    if whole_seconds and float(intercept_time).is_integer() and widest * widest * n < _EXACT_BELOW:
        sx, sy, sxy, sx2 = _sums_over_whole_seconds(points, intercept_time)
    else:
        sx, sy, sxy, sx2 = _four_compensated_sums(points, intercept_time)
    slope = (sxy - sx * sy / n) / (sx2 - sx * sx / n)
    return slope, sy / n - slope * sx / n


# Below this, sums of whole numbers and of their squares are exact in a float (2**53).
_EXACT_BELOW = float(2 ** 53)


def _sums_over_whole_seconds(points, intercept_time: float) -> tuple[float, float, float, float]:
    """The four sums of _four_compensated_sums where x is a whole number of seconds: the sums of x and x*x are
    then exact, so their compensations stay 0.0 and are left out (this loop is most of a replay). Σy and Σxy
    use Knuth's TwoSum, which gives the same exact rounding error as Neumaier's ordered subtraction without
    comparing magnitudes, so the results are those of kahanSumInc to the bit."""
    sx = sx2 = sy = cy = sxy = cxy = 0.0
    for t, v in points:
        x = t - intercept_time
        sx += x
        sx2 += x * x
        xy = x * v
        total = sy + v
        back = total - sy
        cy += (sy - (total - back)) + (v - back)
        sy = total
        total = sxy + xy
        back = total - sxy
        cxy += (sxy - (total - back)) + (xy - back)
        sxy = total
    return sx, sy + cy, sxy + cxy, sx2


def _four_compensated_sums(points, intercept_time: float) -> tuple[float, float, float, float]:
    """Σx, Σy, Σxy and Σx² with Neumaier's compensation, as Prometheus' kahanSumInc adds (_kahan_add, unrolled)."""
    sx = cx = sy = cy = sxy = cxy = sx2 = cx2 = 0.0
    for t, v in points:
        x = t - intercept_time
        for_xy, for_x2 = x * v, x * x
        total = sx + x
        cx += ((sx - total) + x) if abs(sx) >= abs(x) else ((x - total) + sx)
        sx = total
        total = sy + v
        cy += ((sy - total) + v) if abs(sy) >= abs(v) else ((v - total) + sy)
        sy = total
        total = sxy + for_xy
        cxy += ((sxy - total) + for_xy) if abs(sxy) >= abs(for_xy) else ((for_xy - total) + sxy)
        sxy = total
        total = sx2 + for_x2
        cx2 += ((sx2 - total) + for_x2) if abs(sx2) >= abs(for_x2) else ((for_x2 - total) + sx2)
        sx2 = total
    return sx + cx, sy + cy, sxy + cxy, sx2 + cx2


def _deriv(clock: Clock, samples: Samples, t: float, range_: float) -> float | None:
    """Least-squares slope per second, from the first sample's time as Prometheus' deriv does."""
    points = clock.points(samples, t, range_)
    found = _regression(points, points[0][0], clock.whole_seconds) if points else None
    return None if found is None else found[0]


def _avg(values: list[float]) -> float:
    """The incremental mean with compensated sums, as avg_over_time computes it."""
    mean, compensation, count = 0.0, 0.0, 0.0
    for v in values:
        count += 1
        mean, compensation = _kahan_add(v / count - mean / count, mean, compensation)
    return mean + compensation


def quantile(q: float, values: Sequence[float]) -> float:
    """Prometheus' quantile: linear interpolation between the two nearest ranks of the sorted values."""
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    lower = max(0, math.floor(rank))
    upper = min(len(ordered) - 1, lower + 1)
    weight = rank - math.floor(rank)
    return ordered[lower] * (1 - weight) + ordered[upper] * weight


RANGE_FUNCTIONS: dict[str, RangeFunction] = {
    "min_over_time": _over_values(min),
    "max_over_time": _over_values(max),
    "changes": _over_values(_changes),
    "resets": _over_values(_resets),
    "increase": _ranged(lambda p, s, e: extrapolated_rate(p, s, e, counter=True, per_second=False)),
    "rate": _ranged(lambda p, s, e: extrapolated_rate(p, s, e, counter=True, per_second=True)),
    "delta": _ranged(lambda p, s, e: extrapolated_rate(p, s, e, counter=False, per_second=False)),
    "deriv": _deriv,
    "avg_over_time": _over_values(_avg),
}

# Range functions with a scalar argument, as (clock, samples, t, range, scalar).
ScalarRangeFunction = Callable[[Clock, Samples, float, float, float], float | None]


def _quantile_over_time(clock: Clock, samples: Samples, t: float, range_: float, q: float) -> float | None:
    values = clock.values(samples, t, range_)
    return quantile(q, values) if values else None


def _predict_linear(clock: Clock, samples: Samples, t: float, range_: float, seconds: float) -> float | None:
    found = _regression(clock.points(samples, t, range_), t, clock.whole_seconds)
    return None if found is None else found[0] * seconds + found[1]


# name -> (the function, the position of the matrix among its arguments)
SCALAR_RANGE_FUNCTIONS: dict[str, tuple[ScalarRangeFunction, int]] = {
    "quantile_over_time": (_quantile_over_time, 1),
    "predict_linear": (_predict_linear, 0),
}


def firing_value(conditions: Sequence[float | None], evaluation: int, for_seconds: float,
                 evaluations: Clock) -> float | None:
    """An alert's value at `evaluation` if it is firing then, given its expression's value at every evaluation.

    The alert is pending from the first evaluation of an unbroken run of results (its activeAt) and fires once
    the evaluation's time minus activeAt reaches `for`: the run must go back ceil(for / interval) evaluations.
    """
    held = math.ceil(for_seconds / evaluations.step)
    if evaluation - held < 0:
        return None
    values = conditions[evaluation - held:evaluation + 1]
    return values[-1] if all(v is not None for v in values) else None
