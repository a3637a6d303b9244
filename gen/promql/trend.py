"""Leak and trend rule builders, shared by every domain that watches memory or CPU grow.

The ideas, in one place:

- **Floor.** Retained memory is the low point after garbage collection, not the
  sawtooth. `min_over_time(x[floorWindow])` over a window that spans several GC
  cycles follows the retained set and ignores spikes shorter than the window.
- **Across days.** A daily traffic cycle repeats every day, so comparing a
  window with the same window one period earlier cancels it exactly. Growth has
  to show on two consecutive days, so a one-off step, a weekly pattern or a
  long spike does not count, and a restart inside the window (a lower floor)
  only ever makes the growth smaller.
- **Within a lifetime.** The leak that daily deploys hide never shows across
  days. Inside one process it shows as a floor that rose over a window longer
  than half a day, never dipped below where it started, is at its high now and
  grew in each third of the window. A daily cycle fails at least one
  of those checks (over more than 12 hours it has to turn), cache warm-up is
  excluded by an uptime guard, and a long spike fails the "at its high" check
  once it ends.
- **Exhaustion.** `predict_linear` of the floor plus the usual GC sawtooth
  height, against the limit, under the same shape checks, so that warm-up and
  spikes do not page.
"""
from __future__ import annotations

from dataclasses import dataclass

from gen.ir import RecordingRule
from gen.units import Duration, duration, number

# How much of the total growth the floor may give back and still count as rising steadily.
SHAPE_TOLERANCE = 0.15
# Each third of the window must carry at least this share of the growth (a straight leak carries a third).
# A daily cycle seen through a window of more than half a day puts most of its rise in the middle third.
THIRD_SHARE = 0.25


@dataclass(frozen=True)
class RetainedSignal:
    """A memory series whose floor obsgen watches, and how to scope and guard it."""

    key: str  # short name used in labels and descriptions, e.g. "old_space"
    title: str  # for people, e.g. "heap old space"
    raw: str  # the raw series, fully selected
    record_prefix: str  # recorded series are <prefix>:floor, <prefix>:floor_growth, ...
    identity: str  # labels that identify one process/container, for `on (...)` joins
    uptime: str | None  # PromQL giving each process's uptime in seconds (same identity), if known
    select: str  # matchers `{...}` that select this service's recorded series
    restarts: str | None = None  # a restart counter of the same identity (kube-state-metrics), if no uptime

    def recorded(self, suffix: str) -> str:
        return f"{self.record_prefix}:{suffix}{self.select}"

    def name(self, suffix: str) -> str:
        return f"{self.record_prefix}:{suffix}"


@dataclass(frozen=True)
class TrendWindows:
    """Windows shared by every trend of a service (spec.leakDetection)."""

    floor: Duration  # the floor's min_over_time window
    period: Duration  # the traffic cycle compared across (a day)
    average: Duration  # how much of each period is averaged before comparing


def floor_rule(signal: RetainedSignal, w: TrendWindows) -> RecordingRule:
    return RecordingRule(signal.name("floor"), f"min_over_time({signal.raw}[{w.floor.text}])")


def peak_rule(signal: RetainedSignal, w: TrendWindows) -> RecordingRule:
    return RecordingRule(signal.name("peak"), f"max_over_time({signal.raw}[{w.floor.text}])")


def growth_rules(signal: RetainedSignal, w: TrendWindows) -> tuple[RecordingRule, RecordingRule]:
    """Floor growth over one period (bytes), and the same relative to the floor one period ago."""
    floor = signal.recorded("floor")
    now = f"avg_over_time({floor}[{w.average.text}])"
    before = f"avg_over_time({floor}[{w.average.text}] offset {w.period.text})"
    return (
        RecordingRule(signal.name("floor_growth"), f"{now} - {before}"),
        RecordingRule(signal.name("floor_growth_ratio"), f"{now} / {before} - 1"),
    )


def _uptime_guard(signal: RetainedSignal, seconds: float) -> str:
    """Keep only processes older than `seconds`. Without an uptime metric: series that existed then, and,
    where a restart counter exists, that did not restart since (a restart in place keeps the series)."""
    if signal.uptime:
        return f"and on ({signal.identity}) ({signal.uptime} > {number(seconds)})"
    span = duration(seconds).text
    guard = f"and on ({signal.identity}) ({signal.recorded('floor')} offset {span})"
    if signal.restarts:
        guard += f" unless on ({signal.identity}) (changes({signal.restarts}[{span}]) > 0)"
    return guard


def across_days_expr(signal: RetainedSignal, w: TrendWindows, min_ratio: float, min_bytes: float) -> str:
    """Growth of at least `min_ratio` and `min_bytes` per period, on each of the last two periods."""
    growth, ratio = signal.recorded("floor_growth"), signal.recorded("floor_growth_ratio")
    p = w.period.text
    needed = 2 * w.period.seconds + w.average.seconds + w.floor.seconds
    return (f"{growth} > {number(min_bytes)} and {ratio} > {number(min_ratio)} "
            f"and ({growth} offset {p}) > {number(min_bytes)} and ({ratio} offset {p}) > {number(min_ratio)} "
            f"{_uptime_guard(signal, needed)}")


def steady_rise(floor: str, window: Duration) -> str:
    """Filters that pass only while `floor` rose steadily over `window` (see module docstring)."""
    win = window.text
    third, two_thirds = duration(window.seconds / 3).text, duration(2 * window.seconds / 3).text
    growth = f"({floor} - {floor} offset {win})"
    tol, share = number(SHAPE_TOLERANCE), number(THIRD_SHARE)
    return (f"and ({floor} offset {win} - min_over_time({floor}[{win}])) <= {tol} * {growth} "
            f"and (max_over_time({floor}[{win}]) - {floor}) <= {tol} * {growth} "
            f"and ({floor} offset {two_thirds} - {floor} offset {win}) > {share} * {growth} "
            f"and ({floor} offset {third} - {floor} offset {two_thirds}) > {share} * {growth} "
            f"and ({floor} - {floor} offset {third}) > {share} * {growth}")


def within_lifetime_expr(signal: RetainedSignal, w: TrendWindows, window: Duration, warmup: Duration,
                         min_ratio: float, min_bytes: float) -> str:
    """Value: how fast the floor grows, in bytes per hour."""
    floor = signal.recorded("floor")
    slope = f"deriv({floor}[{window.text}])"
    needed = window.seconds + warmup.seconds + w.floor.seconds
    return (f"{slope} * 3600 > {number(min_ratio)} * ({floor} offset {window.text}) / {number(window.seconds / 3600)} "
            f"and {slope} * {number(window.seconds)} > {number(min_bytes)} "
            f"{steady_rise(floor, window)} "
            f"{_uptime_guard(signal, needed)}")


def sawtooth_rule(signal: RetainedSignal) -> RecordingRule:
    """Height of the GC sawtooth: what the peaks add on top of the floor."""
    return RecordingRule(signal.name("sawtooth"), f"{signal.recorded('peak')} - {signal.recorded('floor')}")


@dataclass(frozen=True)
class Forecast:
    """One exhaustion forecast: fit the floor over `window`, fire when the limit is within `horizon`.

    A long window sees a slow leak early and ignores noise; a short one reacts within hours to a leak
    that would kill the pod the same day, with a horizon short enough that a daily cycle cannot reach it.
    """

    record: str  # suffix of the recorded seconds-to-limit series
    window: Duration
    horizon: Duration


def seconds_to_limit_rule(signal: RetainedSignal, limit: str, forecast: Forecast) -> RecordingRule:
    """When the floor's linear trend plus the usual sawtooth reaches the limit; only while growing."""
    floor, win = signal.recorded("floor"), forecast.window.text
    sawtooth = f"quantile_over_time(0.5, {signal.recorded('sawtooth')}[{win}])"
    return RecordingRule(
        signal.name(forecast.record),
        f"({limit} - {sawtooth} - predict_linear({floor}[{win}], 0)) / (deriv({floor}[{win}]) > 0)",
    )


def exhaustion_expr(signal: RetainedSignal, w: TrendWindows, forecasts: tuple[Forecast, ...],
                    warmup: Duration) -> str:
    """Value: seconds until the limit. Fires when a forecast puts it within its horizon and the rise over
    that forecast's window is steady."""
    floor = signal.recorded("floor")
    branches = []
    for f in forecasts:
        needed = f.window.seconds + warmup.seconds + w.floor.seconds
        branches.append(f"({signal.recorded(f.record)} < {number(f.horizon.seconds)} "
                        f"{steady_rise(floor, f.window)} {_uptime_guard(signal, needed)})")
    return " or ".join(branches)
