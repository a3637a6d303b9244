"""Leak and trend rule builders, shared by every domain that watches memory or CPU grow.

The ideas, in one place:

- **Floor.** Retained memory is the low point after garbage collection, not the
  sawtooth. `min_over_time(x[floorWindow])` over a window that spans several GC
  cycles follows the retained set and ignores spikes shorter than the window.
- **Across days.** A daily traffic cycle repeats every day, so comparing a
  window with the same window one period earlier cancels it exactly. Each
  window is judged by its lowest floor (`min_over_time` over the compare
  window), and growth has to show on two comparisons whose windows never
  overlap: now against one period ago, and the same again `stepDuration`
  further back. So "grew on each of the last two days" means two separate
  growths, and a single rise (a deploy with a larger baseline, a config
  change, the weekday after a weekend, a traffic step) counts once at most.

  Why, for a floor f = p + h, p repeating every period P, h the rise, compare
  window A, gap G = max(stepDuration, A), and any statistic S of a window with
  S(x + c) = S(x) + c (the minimum is one):
  growth(t) = S(f on [t-A, t]) - S(f on [t-P-A, t-P]) is zero unless h changes
  somewhere in (t-P-A, t] (if h is the same constant on both windows, p repeats
  and the two statistics are equal). The second comparison, growth(t-P-G),
  likewise needs h to change in (t-2P-G-A, t-P-G]. Since G >= A those spans do
  not overlap, so a step at one instant, wherever it falls relative to the
  windows, is seen by one comparison at most, and the alert needs both.
  A rise spread over time (a morning's traffic ramp) could reach both spans
  only if it lasts longer than G - A; with the minimum and a floor without a
  cycle, longer than G (the minimum of a window of a rising floor is its value
  at the window's start, so each comparison reads f at two instants P apart,
  and the two pairs of instants lie G apart).
  The old design averaged each window and chained the comparisons one period
  apart: the window one period ago belonged to both, and a step inside it
  split into two halves that each looked like growth.
  A restart inside a window (a lower floor) only ever makes growth smaller.
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

How it reads: every series recorded here carries the `service` label and is read back as
`<record>{service="<name>"}`; each shape check (steady rise, uptime and restart guard) is a
recorded series with its window in the name, present only while the check passes. An alert is
then one short condition on recorded series, and a reviewer follows the chain through names.
Every record an alert reads sits before it in the same rule group, so it is evaluated at the
same timestamp and adds no delay.
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
    uptime: str | None  # a recorded series of each process's uptime in seconds (same identity), if known
    service: str  # the service's name: every recorded series carries it as its `service` label
    restarts: str | None = None  # a restart counter of the same identity (kube-state-metrics), if no uptime

    @property
    def select(self) -> str:
        return service_selector(self.service)

    def recorded(self, suffix: str) -> str:
        return f"{self.record_prefix}:{suffix}{self.select}"

    def name(self, suffix: str) -> str:
        return f"{self.record_prefix}:{suffix}"

    def rule(self, suffix: str, expr: str) -> RecordingRule:
        return RecordingRule(self.name(suffix), expr, service_labels(self.service))


def service_selector(service: str) -> str:
    """How alerts, panels and other records read a recorded series of the service."""
    return "{" + f'service="{service}"' + "}"


def service_labels(service: str) -> tuple[tuple[str, str], ...]:
    return (("service", service),)


@dataclass(frozen=True)
class TrendWindows:
    """Windows shared by every trend of a service (spec.leakDetection)."""

    floor: Duration  # the floor's min_over_time window
    period: Duration  # the traffic cycle compared across (a day)
    compare: Duration  # the window of each period whose lowest level is compared
    step: Duration  # a rise that completes within this long counts on one day only

    @property
    def gap(self) -> Duration:
        """How much further back than one period the second comparison looks. At least the compare window,
        so that the two comparisons' four windows never overlap (see the module docstring)."""
        return self.step if self.step.seconds >= self.compare.seconds else self.compare

    @property
    def second_comparison(self) -> Duration:
        """The offset of the second day-over-day comparison: one period and the gap."""
        return duration(self.period.seconds + self.gap.seconds)

    @property
    def history(self) -> float:
        """Seconds of a series both comparisons read: two periods, the gap and one compare window."""
        return 2 * self.period.seconds + self.gap.seconds + self.compare.seconds


@dataclass(frozen=True)
class Condition:
    """An alert's condition on recorded series, and the records it reads that its domain must emit first."""

    expr: str
    rules: tuple[RecordingRule, ...]


def unique_rules(rules) -> tuple[RecordingRule, ...]:
    """Rules in first-seen order, each record once. Shape checks are named by their window, so two alerts
    that need the same check share one record; the same name with another expression is a bug."""
    seen: dict[str, RecordingRule] = {}
    for rule in rules:
        known = seen.get(rule.record)
        if known is None:
            seen[rule.record] = rule
        elif known != rule:
            raise ValueError(f"two different rules record {rule.record}")
    return tuple(seen.values())


def floor_rule(signal: RetainedSignal, w: TrendWindows) -> RecordingRule:
    return signal.rule("floor", f"min_over_time({signal.raw}[{w.floor.text}])")


def peak_rule(signal: RetainedSignal, w: TrendWindows) -> RecordingRule:
    return signal.rule("peak", f"max_over_time({signal.raw}[{w.floor.text}])")


def lowest(series: str, w: TrendWindows, offset: Duration | None = None) -> str:
    """The lowest level of `series` over the compare window (ending `offset` ago)."""
    shift = f" offset {offset.text}" if offset else ""
    return f"min_over_time({series}[{w.compare.text}]{shift})"


def growth_rules(signal: RetainedSignal, w: TrendWindows) -> tuple[RecordingRule, RecordingRule]:
    """Floor growth over one period (bytes), and the same relative to the floor one period ago: the lowest floor
    of the compare window now against the same window one period ago."""
    floor = signal.recorded("floor")
    now, before = lowest(floor, w), lowest(floor, w, w.period)
    return (signal.rule("floor_growth", f"{now} - {before}"),
            signal.rule("floor_growth_ratio", f"{now} / {before} - 1"))


def uptime_rule(name: str, start_time: str, service: str) -> RecordingRule:
    """Each process's uptime in seconds, from its start time."""
    return RecordingRule(name, f"time() - {start_time}", service_labels(service))


def uptime_guard(signal: RetainedSignal, seconds: float) -> Condition:
    """Keep only processes older than `seconds`. With an uptime record: its value. Without: a recorded guard,
    present for series that existed then and, where a restart counter exists, did not restart since (a
    restart in place keeps the series)."""
    if signal.uptime:
        return Condition(f"and on ({signal.identity}) {signal.uptime}{signal.select} > {number(seconds)}", ())
    span = duration(seconds).text
    guard = f"({signal.recorded('floor')} offset {span}) * 0 + 1"
    if signal.restarts:
        guard += f" unless on ({signal.identity}) changes({signal.restarts}[{span}]) > 0"
    suffix = f"uptime_guard{span}"
    return Condition(f"and on ({signal.identity}) {signal.recorded(suffix)}", (signal.rule(suffix, guard),))


def across_days(signal: RetainedSignal, w: TrendWindows, min_ratio: float, min_bytes: float) -> Condition:
    """Growth of at least `min_ratio` and `min_bytes` per period, now and on a comparison whose windows do not
    overlap today's (`w.second_comparison` back), so one step never counts twice.
    Value: the growth over the last period, in bytes."""
    growth, ratio = signal.recorded("floor_growth"), signal.recorded("floor_growth_ratio")
    grew = f"floor_grew{w.period.text}"
    guard = uptime_guard(signal, w.history + w.floor.seconds)
    return Condition(
        f"{signal.recorded(grew)} and ({signal.recorded(grew)} offset {w.second_comparison.text}) {guard.expr}",
        (signal.rule(grew, f"{growth} > {number(min_bytes)} and {ratio} > {number(min_ratio)}"), *guard.rules))


def steady_rise_rules(signal: RetainedSignal, window: Duration) -> tuple[RecordingRule, ...]:
    """`<prefix>:floor_steady_rise<window>`: the floor's slope in bytes per hour, present only while the floor
    rose steadily over `window` (see the module docstring), and the floor's rise over the window it reads."""
    floor, win = signal.recorded("floor"), window.text
    third, two_thirds = duration(window.seconds / 3).text, duration(2 * window.seconds / 3).text
    rise = f"floor_rise{win}"
    growth = signal.recorded(rise)
    tol, share = number(SHAPE_TOLERANCE), number(THIRD_SHARE)
    steady = (f"deriv({floor}[{win}]) * 3600 "
              f"and ({floor} offset {win} - min_over_time({floor}[{win}])) <= {tol} * {growth} "
              f"and (max_over_time({floor}[{win}]) - {floor}) <= {tol} * {growth} "
              f"and ({floor} offset {two_thirds} - {floor} offset {win}) > {share} * {growth} "
              f"and ({floor} offset {third} - {floor} offset {two_thirds}) > {share} * {growth} "
              f"and ({floor} - {floor} offset {third}) > {share} * {growth}")
    return (signal.rule(rise, f"{floor} - {floor} offset {win}"), signal.rule(f"floor_steady_rise{win}", steady))


def within_lifetime(signal: RetainedSignal, w: TrendWindows, window: Duration, warmup: Duration,
                    min_ratio: float, min_bytes: float) -> Condition:
    """Value: how fast the floor grows, in bytes per hour."""
    floor, win = signal.recorded("floor"), window.text
    hours = window.seconds / 3600
    ratio = f"floor_rise_ratio{win}"
    guard = uptime_guard(signal, window.seconds + warmup.seconds + w.floor.seconds)
    return Condition(
        f"{signal.recorded(f'floor_steady_rise{win}')} > {number(min_bytes / hours)} "
        f"and {signal.recorded(ratio)} > {number(min_ratio)} {guard.expr}",
        (*steady_rise_rules(signal, window),
         signal.rule(ratio, f"deriv({floor}[{win}]) * {number(window.seconds)} / ({floor} offset {win})"),
         *guard.rules))


def sawtooth_rule(signal: RetainedSignal) -> RecordingRule:
    """Height of the GC sawtooth: what the peaks add on top of the floor."""
    return signal.rule("sawtooth", f"{signal.recorded('peak')} - {signal.recorded('floor')}")


@dataclass(frozen=True)
class Forecast:
    """One exhaustion forecast: fit the floor over `window`, fire when the limit is within `horizon`.

    A long window sees a slow leak early and ignores noise; a short one reacts within hours to a leak
    that would kill the pod the same day, with a horizon short enough that a daily cycle cannot reach it.
    """

    window: Duration
    horizon: Duration

    @property
    def record(self) -> str:
        """Suffix of the recorded seconds-to-limit series."""
        return f"seconds_to_limit{self.window.text}"


def seconds_to_limit_rule(signal: RetainedSignal, limit: str, forecast: Forecast) -> RecordingRule:
    """When the floor's linear trend plus the usual sawtooth reaches the limit; only while growing."""
    floor, win = signal.recorded("floor"), forecast.window.text
    sawtooth = f"quantile_over_time(0.5, {signal.recorded('sawtooth')}[{win}])"
    return signal.rule(
        forecast.record,
        f"({limit} - {sawtooth} - predict_linear({floor}[{win}], 0)) / (deriv({floor}[{win}]) > 0)",
    )


def exhaustion(signal: RetainedSignal, w: TrendWindows, forecasts: tuple[Forecast, ...],
               warmup: Duration) -> Condition:
    """Value: seconds until the limit. Fires when a forecast puts it within its horizon and the rise over
    that forecast's window is steady (`<prefix>:seconds_to_limit_steady<window>`)."""
    branches, rules = [], []
    for f in forecasts:
        win = f.window.text
        guard = uptime_guard(signal, f.window.seconds + warmup.seconds + w.floor.seconds)
        steady = f"seconds_to_limit_steady{win}"
        rules += [*steady_rise_rules(signal, f.window), *guard.rules, signal.rule(
            steady, f"{signal.recorded(f.record)} and on ({signal.identity}) "
                    f"{signal.recorded(f'floor_steady_rise{win}')} {guard.expr}")]
        branches.append(f"{signal.recorded(steady)} < {number(f.horizon.seconds)}")
    return Condition(" or ".join(branches), tuple(rules))
