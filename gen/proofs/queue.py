"""Rule tests for queue alerts: simulated workloads, rendered in each exporter's series, with derived expectations.

A scenario is a workload (arrivals, worker capacity, failures, workers up, down
or hung) simulated minute by minute into the queue's concepts, then rendered as
the series the queue's convention exports from two scrape targets (identical for
shared Redis state, split for per-process counters), with restarts, gaps and
zero readings where the scenario has them.

Each scenario states what every alert must do. Whether an alert fires at a time
and the `$value` it carries are then derived from the scenario by an independent
model of PromQL semantics: the queue's real rule group (`domain.rule_group`, the
very expressions the rule file holds) is evaluated on the rendered series by
`synth.promql_eval`, and promtool checks that Prometheus agrees. There is no
second, hand-written copy of the alerts to keep in step with the PromQL. When the spec's settings
make a stated outcome false (a `for` of 0s makes a fresh batch look slow), the
check is left out and the build says so, rather than asserting the opposite.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable

from gen.domains.alerts import QUEUE_ALERTS, QUEUE_BACKLOG_GROWING, Alert
from gen.domains.queue.domain import generated_alerts, rule_group
from gen.domains.queue.queries import QueueQueries
from gen.ir import AlertCheck, AlertRule, ExpectedAlert, RuleTest
from gen.proofs.rule_tests import TEST_EVALUATION_INTERVAL, ProofSet
from gen.synth.example_pods import labels
from gen.spec.model import Queue, Service
from gen.synth.promql_eval import Storage, Vector, evaluate_group
from gen.render import templates
from gen.synth.promql_model import BOUNDARIES, Clock, Samples, firing_value
from gen.synth.queue_simulation import (DOWN, HUNG, UP, Disturbance, Target, Workload, input_series, render,
                                        rendered_series, simulate, targets)
from gen.units import Duration, duration, parse_duration

ALERT_BY_SETTING: dict[str, Alert] = {a.setting: a for a in QUEUE_ALERTS}

# Workloads are simulated, and their series sampled, once a minute; the rules are evaluated as the generated
# test file says, less often. Recorded series therefore hold one sample per evaluation, not per minute.
STEP = 60.0
CLOCK = Clock(STEP)
EVALUATIONS = Clock(TEST_EVALUATION_INTERVAL.seconds)
# Silent checks written to the test (seconds): densely while windows fill, then sparsely, plus evaluations
# where the condition holds but `for` has not passed. The evaluation checks every evaluation regardless.
SILENT_EARLY, SILENT_EARLY_UNTIL, SILENT_EVERY, PENDING_CHECKS = 300.0, 1800.0, 1200.0, 8
# A firing check is made this far into the first run of firing that lasts as long (a flapping start is not
# the point).
SETTLED = 300.0
FIRES, SILENT = "fires", "silent"


# --- the generated rules, evaluated on the rendered series -----------------------------------------------

@dataclass
class Evaluation:
    """The queue's real rule group evaluated on rendered series as promtool does it: at t = 0, E, 2E, ... (E the
    test file's evaluation interval) up to the last sample, recording rules first, so that the alerts of an
    evaluation read the samples recorded at that very evaluation. Lists indexed by evaluation."""

    queue: Queue
    evaluations: int
    conditions: dict[str, list[float | None]]  # alert key -> the expression's value (None: no result)
    boundary: str  # how ranges treat a sample on their start: Prometheus 2.x (closed) or 3.x (left-open)

    @classmethod
    def of(cls, service: Service, queue: Queue, series: list[tuple[str, Samples]], minutes: int,
           boundary: str = BOUNDARIES[0]) -> "Evaluation":
        count = EVALUATIONS.count((minutes - 1) * STEP)
        storage = Storage.of(series, Clock(STEP, boundary), Clock(EVALUATIONS.step, boundary))
        results = evaluate_group(rule_group(service, queue), storage, count)
        conditions = {}
        for key, alert in ALERT_BY_SETTING.items():
            if alert.name in results:
                conditions[key] = _single_series(alert.name, results[alert.name])
        return cls(queue, count, conditions, boundary)

    @staticmethod
    def at(evaluation: int) -> float:
        return evaluation * EVALUATIONS.step

    def condition(self, key: str) -> list[float | None]:
        """The alert expression's value at every evaluation (None: no result)."""
        return self.conditions[key]

    def firing(self, key: str, evaluation: int) -> float | None:
        """The alert's value at `evaluation` if it is firing then."""
        return firing_value(self.condition(key), evaluation, self.queue.alerts[key].for_.seconds, EVALUATIONS)


def _single_series(name: str, results: list[Vector]) -> list[float | None]:
    """An alert's value per evaluation; the checks speak of one alert per queue, so more series is an error."""
    found = {labels for vector in results for labels, _ in vector}
    if len(found) > 1:
        raise ValueError(f"{name} yields {len(found)} series in a queue scenario, the checks expect one: {found}")
    return [vector[0][1] if vector else None for vector in results]


# --- scenarios ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    name: str
    workload: Workload
    expect: dict[str, str]  # alert key -> fires | silent
    disturbance: Disturbance = Disturbance()


@dataclass(frozen=True)
class Scale:
    """Sizes of the scenarios, derived from the queue's alert settings so every claim tests the real setting."""

    growth_window: int  # minutes
    growth: int  # minGrowth: the floor of the growth threshold
    growth_share: float  # share of the jobs completed in a window that the backlog's floor must rise by
    growth_for: int
    stuck_window: int
    stuck_for: int
    ratio_window: int
    ratio_for: int
    ratio_threshold: float
    min_volume: int
    drain: int  # minutes
    drain_for: int
    failed_window: int
    failed_growth: int
    failed_share: float
    failed_for: int

    @classmethod
    def of(cls, queue: Queue) -> "Scale":
        a = queue.alerts

        def minutes(key: str, name: str | None = None) -> int:
            value = a[key].for_ if name is None else a[key].param(name)
            return int(math.ceil(value.seconds / STEP))

        return cls(
            growth_window=minutes("backlogGrowing", "window"), growth=a["backlogGrowing"].param("minGrowth"),
            growth_share=a["backlogGrowing"].param("share").value, growth_for=minutes("backlogGrowing"), stuck_window=minutes("stuck", "window"),
            stuck_for=minutes("stuck"), ratio_window=minutes("failureRatio", "window"),
            ratio_for=minutes("failureRatio"), ratio_threshold=a["failureRatio"].param("threshold").value,
            min_volume=a["failureRatio"].param("minVolume"), drain=minutes("drainTime", "threshold"),
            drain_for=minutes("drainTime"), failed_window=minutes("failedGrowing", "window"),
            failed_growth=a["failedGrowing"].param("minGrowth"),
            failed_share=a["failedGrowing"].param("threshold").value, failed_for=minutes("failedGrowing"),
        )

    @property
    def trend_span(self) -> int:
        """Minutes a scenario must run for the backlog-growth claim to be tested at all."""
        return 3 * self.growth_window + self.growth_for + 20

    @property
    def short_span(self) -> int:
        """Minutes that test every alert but backlog growth, which needs three windows of history."""
        return max(90, 2 * self.stuck_window + self.stuck_for + 20, self.ratio_window + self.ratio_for + 30,
                   self.drain_for + 30, 2 * self.failed_window + self.failed_for + 20)

    def growth_threshold(self, per_minute: float) -> float:
        """Jobs the backlog's floor must rise by in a window, at this completion rate."""
        return max(self.growth, self.growth_share * per_minute * self.growth_window)

    @property
    def background(self) -> float:
        """An ordinary share of jobs failing for good: 2%, or less where the settings judge failures stricter."""
        return min(0.02, self.failed_share / 2.5, self.ratio_threshold / 3)

    @property
    def capacity(self) -> int:
        """Jobs per minute a healthy worker pool finishes; large enough that ratio windows see enough jobs."""
        return max(10, math.ceil(2 * self.min_volume / max(self.ratio_window, 1)))


ALL = ("backlogGrowing", "stuck", "failureRatio", "drainTime", "failedGrowing")


def _every(period: int, amount: int, offset: int = 0) -> Callable[[int], int]:
    return lambda m: amount if m >= offset and (m - offset) % period == 0 else 0


def _healthy_arrivals(capacity: int) -> Callable[[int], int]:
    # Twenty-minute waves around the capacity: the backlog rises 2/min for ten minutes, then drains.
    return lambda m: capacity + 2 if (m // 10) % 2 == 0 else capacity - 2


def scenarios(s: Scale) -> list[Scenario]:
    c = s.capacity
    # Background failures of a healthy queue: they grow the failed set by more than minGrowth at busy queues,
    # which must not count (failures are judged against throughput).
    background = s.background

    def work(minutes: int, arrivals: Callable[[int], int], capacity: Callable[[int], int], **more) -> Workload:
        more.setdefault("failure_share", lambda m: background)
        return Workload(minutes, arrivals, capacity, **more)

    span, short = s.trend_span, s.short_span
    no_trend = {k: SILENT for k in ALL if k != "backlogGrowing"}
    out = [
        Scenario("steady healthy throughput stays silent",
                 work(span, _healthy_arrivals(c), lambda m: c, start_backlog=6),
                 {k: SILENT for k in ALL}),
    ]
    # Batches every growth window that drain within half of it, and within half the drain threshold.
    period = max(s.growth_window, 10)
    drain_minutes = max(2, min(period // 2, s.drain // 2))
    batch_capacity = max(c, 3 * c)
    batch = batch_capacity * drain_minutes
    out.append(Scenario(
        f"batch bursts every {duration(period * STEP)} that drain stay silent",
        work(max(span, 4 * period + 20), _every(period, batch, 5), lambda m: batch_capacity),
        {k: SILENT for k in ALL}))
    residue = math.ceil(2 * s.growth_threshold(c))
    out.append(Scenario(
        f"batches every {duration(period * STEP)} that leave {residue} jobs behind each time fire "
        f"{QUEUE_BACKLOG_GROWING.name}",
        # Workers busy all the time, but a period's work is more than they finish in a period.
        work(max(span, 4 * period + 20), _every(period, c * period + residue, 5), lambda m: c),
        {"backlogGrowing": FIRES, "stuck": SILENT}))
    out.append(Scenario(
        "idle queue stays silent",
        work(span, lambda m: 0, lambda m: c),
        {k: SILENT for k in ALL}))
    restart = 60
    out.append(Scenario(
        "worker restart (2 minutes down, counters reset) stays silent",
        work(short, _healthy_arrivals(c), lambda m: 2 * c if m > restart + 1 else c, start_backlog=6,
                 workers=lambda m: DOWN if restart <= m <= restart + 1 else UP),
        no_trend,
        Disturbance(gaps=((1, restart, 2),), counter_resets=((1, restart + 2),))))
    out.append(Scenario(
        "every target's counters reset to 0 at once (all pods replaced) stays silent",
        work(short, _healthy_arrivals(c), lambda m: c, start_backlog=6,
                 # Some failures, below both the ratio threshold and the failed set's growth floor.
                 failure_share=lambda m: background),
        no_trend,
        Disturbance(counter_resets=((0, restart), (1, restart)))))
    out.append(Scenario(
        "exporter reads 0 for a minute stays silent",
        work(short, _healthy_arrivals(c), lambda m: c, start_backlog=6),
        no_trend,
        Disturbance(zero_readings=((restart, 1),))))
    out.append(Scenario(
        f"jobs that take {duration(max(1, 2 * s.stuck_window // 3) * STEP)} each stay silent",
        _long_jobs(s, short),
        {"stuck": SILENT, "drainTime": SILENT, "failureRatio": SILENT}))
    out.append(Scenario(
        "no completion counts and completed jobs removed: jobs starting and ending keep it silent",
        work(short, _every(4, 1), _every(4, 1, 2), concurrency=2, start_backlog=1, completed_cap=0,
                 completed_kept=0, counters_seen=False),
        {"stuck": SILENT}))
    out.append(Scenario(
        "no completion counts, a full backlog taken as fast as it arrives: the kept set growing keeps it silent",
        work(short, lambda m: c, lambda m: c, start_backlog=20, completed_cap=10 ** 7, completed_kept=500,
                 counters_seen=False),
        {"stuck": SILENT}))
    dead = 30
    out.append(Scenario(
        "workers gone while jobs keep arriving fires QueueStuck",
        work(dead + s.stuck_window + s.stuck_for + 25, lambda m: c // 2, lambda m: c, start_backlog=6,
                 workers=lambda m: DOWN if m >= dead else UP),
        {"stuck": FIRES, "drainTime": SILENT, "failureRatio": SILENT}))
    out.append(Scenario(
        "workers hung on their jobs fires QueueStuck",
        work(dead + s.stuck_window + s.stuck_for + 25, lambda m: c if m < dead else 0, lambda m: c,
                 start_backlog=60, workers=lambda m: HUNG if m >= dead else UP),
        {"stuck": FIRES, "drainTime": SILENT}))
    growth_per_minute = math.ceil(2 * s.growth_threshold(c) / max(s.growth_window, 1)) + 1
    out.append(Scenario(
        f"arrivals above completions (+{growth_per_minute}/min) fires QueueBacklogGrowing",
        work(span, lambda m: c + growth_per_minute, lambda m: c, start_backlog=6),
        {"backlogGrowing": FIRES, "stuck": SILENT, "failureRatio": SILENT}))
    step = 3 * s.growth
    step_capacity = max(c, math.ceil(2 * step / max(s.drain, 1)) + 1)
    out.append(Scenario(
        f"backlog steps up by {step} once and holds stays silent",
        work(span, lambda m: step_capacity + (step if m == 30 else 0), lambda m: step_capacity,
                 start_backlog=6),
        {"backlogGrowing": SILENT, "stuck": SILENT, "drainTime": SILENT}))
    # Jobs a minute that share no factor with 60: the drain time (queued * 60 / capacity seconds) then never falls
    # on a whole second, where humanizeDuration's truncation would turn float noise into a different second.
    slow_capacity = next(n for n in itertools.count(c) if math.gcd(n, 60) == 1)
    # Long enough that the estimate stays above the threshold for `for` and a margin after warming up.
    needs = max(2 * s.drain, s.drain + s.drain_for + 15)
    big = slow_capacity * needs
    out.append(Scenario(
        f"one batch of {big} jobs that needs {duration(needs * STEP)} fires QueueDrainTimeLong",
        # No failures: every minute completes the same number of jobs, so the completion rate (and the drain time
        # the description states) is the same whether the window holds the sample on its start (Prometheus 2)
        # or not (3). An occasional failure would move it by seconds one way or the other.
        work(max(span, 10 + needs + 20), _every(10 ** 9, big, 10), lambda m: slow_capacity,
             failure_share=lambda m: 0.0),
        {"drainTime": FIRES, "backlogGrowing": SILENT, "stuck": SILENT}))
    # A whole number of failures every minute: the ratio the description states is then the same with or without
    # the sample on the window's start (Prometheus 2 or 3), once the window holds only the storm.
    storm_share = math.ceil(min(0.9, max(0.35, 2 * s.ratio_threshold)) * c) / c
    storm = 30
    out.append(Scenario(
        f"failure storm ({round(storm_share * 100)}% of jobs fail) fires QueueFailureRatioHigh",
        work(storm + max(s.ratio_window + s.ratio_for, s.failed_window + s.failed_for) + 25,
                 _healthy_arrivals(c), lambda m: c, start_backlog=6,
                 failure_share=lambda m: storm_share if m >= storm else background),
        {"failureRatio": FIRES, "failedGrowing": FIRES, "stuck": SILENT}))
    trickle = max(2, math.ceil(2 * s.ratio_window / max(s.min_volume, 1)))
    out.append(Scenario(
        f"one job every {trickle} minutes, half failing, stays below the volume floor",
        work(short, _every(trickle, 1), lambda m: 1, failure_share=lambda m: 0.5),
        {"failureRatio": SILENT, "stuck": SILENT}))
    burst = 3 * s.failed_growth
    out.append(Scenario(
        f"one burst of {burst} failed jobs, later cleaned up, stays silent",
        work(40 + 2 * s.failed_window + s.failed_for + 20, _healthy_arrivals(c), lambda m: c,
                 start_backlog=6, failed_bursts=((40, burst),), cleanups=(40 + s.failed_window + 10,)),
        {"failedGrowing": SILENT, "stuck": SILENT, "failureRatio": SILENT}))
    out += _throughput_scenarios(s, work)
    return out


# Jobs an hour, and the share of them that fails for good, of busy healthy queues: from a trickle to a queue
# whose ordinary failures alone add hundreds of jobs an hour to the failed set.
BUSY = ((60, 0.03), (1800, 0.01), (20_000, 0.02))


def _throughput_scenarios(s: Scale, work: Callable[..., Workload]) -> list[Scenario]:
    """Healthy queues at very different throughputs, idle spans, hung workers with nothing waiting and a
    consumer slightly slower than the arrivals: what an absolute threshold gets wrong one way or the other."""
    span = s.trend_span
    out = []
    for per_hour, share in BUSY:
        arrivals = per_hour / 60
        # Workers a quarter faster than the arrivals, a failure share no setting below twice it judges.
        share = min(share, s.failed_share / 2, s.ratio_threshold / 3)
        out.append(Scenario(
            f"busy healthy queue ({per_hour} jobs/h, {share:.1%} failing for good) stays silent",
            work(span, _rate(arrivals), _rate(1.25 * arrivals + 1), failure_share=lambda m, f=share: f,
                 concurrency=max(4, math.ceil(arrivals / 10))),
            {k: SILENT for k in ALL}))
    busy = 2 * s.capacity
    quiet_from, quiet_to = s.growth_window, 2 * s.growth_window + 30
    out.append(Scenario(
        f"idle from {duration(quiet_from * STEP)} to {duration(quiet_to * STEP)} between busy spells stays silent",
        work(span, lambda m: 0 if quiet_from <= m < quiet_to else busy, lambda m: busy + 2),
        {k: SILENT for k in ALL}))
    hang, every = 30, 3
    minutes = hang + 2 * s.stuck_window + s.stuck_for + 25
    out.append(Scenario(
        "hung workers holding their jobs while nothing waits fires QueueStuck",
        # A job every few minutes; from `hang` on, each one a worker takes hangs. Free slots remain, so nothing
        # waits: the active count only rises.
        work(minutes, _every(every, 1), lambda m: s.capacity,
             concurrency=(minutes - hang) // every + 2, workers=lambda m: HUNG if m >= hang else UP),
        {"stuck": FIRES, "drainTime": SILENT, "backlogGrowing": SILENT}))
    # Arrivals fast enough that 10% of them per window are well above the growth threshold.
    arrivals = max(30.0, math.ceil(15 * s.growth / max(s.growth_window, 1)) + 1.0)
    out.append(Scenario(
        f"consumer 10% slower than the arrivals ({round(arrivals * 60)} jobs/h) fires {QUEUE_BACKLOG_GROWING.name}",
        work(span, _rate(arrivals), _rate(0.9 * arrivals), failure_share=lambda m: s.background),
        {"backlogGrowing": FIRES, "stuck": SILENT, "failureRatio": SILENT, "failedGrowing": SILENT}))
    return out


def _rate(per_minute: float) -> Callable[[int], int]:
    """Whole jobs per minute at a fractional rate, adding up to the rate over time."""
    return lambda m: math.floor((m + 1) * per_minute + 1e-9) - math.floor(m * per_minute + 1e-9)


def _long_jobs(s: Scale, minutes: int) -> Workload:
    length = max(1, 2 * s.stuck_window // 3)
    # Two workers, each busy for `length` minutes per job; two new jobs arrive halfway through each run.
    return Workload(minutes, _every(length, 2, length // 2), _every(length, 2, length), concurrency=2,
                    start_backlog=6)


# --- checks ------------------------------------------------------------------------------------------

def _group_values(service: Service, queue: Queue, target: Target) -> dict[str, str]:
    q = QueueQueries(service, queue, dashboard=False)
    return {label: target.labels[label] for label in q.group_labels}


def _evaluations_at(seconds: set[float], last: int) -> list[int]:
    """The evaluations at or just after these times, up to the last one: promtool only checks evaluations."""
    step = EVALUATIONS.step
    return sorted({min(last, math.ceil(t / step)) for t in seconds if t >= 0})


def _same_text(alert: AlertRule, labels: dict[str, str], values: list[float]) -> bool:
    """The summary and description read the same with each of these values: promtool compares the rendered text."""
    return all(len({templates.render(text, labels, v) for v in values}) == 1
               for text in (alert.summary, alert.description))


def _checks(evaluations: tuple[Evaluation, ...], alert: AlertRule, key: str, outcome: str,
            expected_labels: dict[str, str], rule_labels: tuple[tuple[str, str], ...]) -> tuple[list[AlertCheck], str]:
    """Checks that pin down the outcome under every range boundary, or none and the reason the settings (or the
    boundary) contradict it.

    Prometheus 3 leaves the sample on a range's start out, 2.x keeps it: a check states only what holds either
    way, so the same test file passes under promtool 2 and 3. Silence must hold under both; a firing check is
    placed where both fire with the same labels and the same rendered annotations."""
    name = ALERT_BY_SETTING[key].name
    first_evaluation = evaluations[0]
    count = first_evaluation.evaluations
    last = count - 1

    def at(k: int) -> Duration:
        return duration(first_evaluation.at(k))

    def firing_in(evaluation: Evaluation) -> list[int]:
        return [k for k in range(count) if evaluation.firing(key, k) is not None]

    fired = {e.boundary: firing_in(e) for e in evaluations}
    if outcome == SILENT:
        loud = [(k[0], b) for b, k in fired.items() if k]
        if loud:
            first, boundary = min(loud)
            return [], f"{name} fires at {at(first)}" + ("" if boundary == BOUNDARIES[0] else f" ({boundary} ranges)")
        pending = sorted({k for e in evaluations for k, value in enumerate(e.condition(key)) if value is not None})
        pending = pending[:: max(1, len(pending) // PENDING_CHECKS)][:PENDING_CHECKS]
        end = first_evaluation.at(last)
        wanted = {*_range(SILENT_EARLY, min(SILENT_EARLY_UNTIL, end + 1), SILENT_EARLY),
                  *_range(SILENT_EVERY, end + 1, SILENT_EVERY), end}
        times = sorted({*_evaluations_at(wanted, last), *pending})
        return [AlertCheck(at(k), name, (), rule_labels) for k in times], ""
    firing = sorted(set.intersection(*(set(k) for k in fired.values())))
    if not firing:
        return [], f"{name} does not fire" + (" under both range boundaries at once" if any(fired.values()) else "")
    runs, start = [], firing[0]
    for previous, k in zip(firing, firing[1:] + [None]):
        if k != previous + 1:
            runs.append((start, previous))
            start = k
    settled = math.ceil(SETTLED / EVALUATIONS.step)
    first, end_of_run = next(((a, b) for a, b in runs if b - a >= settled), max(runs, key=lambda r: r[1] - r[0]))
    alert_labels = {**expected_labels, **dict(alert.labels)}
    agreeing = [k for k in range(min(first + settled, end_of_run), end_of_run + 1)
                if _same_text(alert, alert_labels, [e.firing(key, k) for e in evaluations])]
    if not agreeing:
        return [], f"{name}'s description differs between the range boundaries all through its firing"
    check = agreeing[0]
    value = first_evaluation.firing(key, check)
    checks = [AlertCheck(at(check), name, (ExpectedAlert(labels(expected_labels), value),), rule_labels)]
    # The evaluation before the run, quiet or pending under every boundary: `for` is part of the test.
    quiet = [k for k in range(first - 1, -1, -1) if all(k not in set(f) for f in fired.values())][:1]
    if quiet and first > 0:
        checks.insert(0, AlertCheck(at(quiet[0]), name, (), rule_labels))
    return checks, ""


def _range(start: float, stop: float, step: float) -> list[float]:
    return [start + i * step for i in range(max(0, math.ceil((stop - start) / step)))]


def queue_rule_tests(service: Service, queue: Queue, alerts: tuple[str, ...]) -> tuple[list[RuleTest], list[str]]:
    """Rule tests for the queue's generated alerts, and a note for each check its settings rule out."""
    if not alerts:
        return [], []
    scale = Scale.of(queue)
    where = targets(service, queue)
    expected_labels = _group_values(service, queue, where[0])
    rule_labels = (("queue", queue.name),)
    group = rule_group(service, queue)
    alerts_by_key = {key: next(r for r in group.rules if isinstance(r, AlertRule) and r.name == alert.name)
                     for key, alert in ALERT_BY_SETTING.items() if key in alerts}
    tests, notes = [], []
    for scenario in scenarios(scale):
        claimed = [k for k in alerts if k in scenario.expect]
        if not claimed:
            continue
        timeline = simulate(scenario.workload)
        rendered = render(timeline, queue, len(where), scenario.disturbance)
        series = rendered_series(queue, rendered, where)
        evaluations = tuple(Evaluation.of(service, queue, series, timeline.minutes, b) for b in BOUNDARIES)
        checks: list[AlertCheck] = []
        for key in claimed:
            found, problem = _checks(evaluations, alerts_by_key[key], key, scenario.expect[key], expected_labels,
                                     rule_labels)
            checks.extend(found)
            if problem:
                notes.append(f"queue {queue.name}: rule test '{scenario.name}' leaves out its "
                             f"{ALERT_BY_SETTING[key].name} check: with this queue's signals and settings {problem}")
        if checks:
            tests.append(RuleTest(f"queue {queue.name} ({queue.convention.title}): {scenario.name}",
                                  parse_duration("1m"), input_series(queue, rendered, where), tuple(checks)))
    return tests, notes


def proofs(service: Service, generated: frozenset[str]) -> ProofSet:
    tests: list[RuleTest] = []
    notes: list[str] = []
    for queue in service.queues:
        found, said = queue_rule_tests(service, queue, tuple(a.alert.setting for a in generated_alerts(queue)))
        tests += found
        notes += said
    return ProofSet(tuple(tests), tuple(notes))
