"""A job queue simulated minute by minute, and rendered as the series each exporter convention exports.

A workload (arrivals, worker capacity, failures, workers up, down or hung) becomes
the queue's concepts per minute, then the series the queue's convention exports
from two scrape targets (identical for shared Redis state, split for per-process
counters), with restarts, gaps and zero readings where the scenario has them.
Shared by the queue proofs and the backtest's queue workloads.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from gen.ir import Series
from gen.promql.selectors import series_selector
from gen.synth.example_pods import example_pods
from gen.spec.model import Queue, Service
from gen.spec.queue_conventions import CONCEPTS, COUNTER
from gen.synth.notation import notation
from gen.synth.promql_model import Samples

DEFAULT_PREFIX = "bull"  # Bull's and BullMQ's default key prefix


# --- workload simulation ------------------------------------------------------------------------------

UP, DOWN, HUNG = "up", "down", "hung"


@dataclass(frozen=True)
class Workload:
    """Per-minute inputs of a simulated queue."""

    minutes: int
    arrivals: Callable[[int], int]
    capacity: Callable[[int], int]  # jobs the workers finish in a minute when up
    failure_share: Callable[[int], float] = lambda m: 0.0
    workers: Callable[[int], str] = lambda m: UP
    concurrency: int = 4
    start_backlog: int = 0
    delayed: int = 1  # a repeatable job's next run waits in delayed
    completed_cap: int = 1000  # removeOnComplete: {count: 1000}
    completed_kept: int = 1000  # completed jobs kept at the start: the cap is reached
    failed_start: int = 40
    completed_start: int = 120_000
    failed_total_start: int = 300
    # Extra failures (and arrivals) of bad jobs at these minutes, and minutes when someone cleans the failed set.
    failed_bursts: tuple[tuple[int, int], ...] = ()
    cleanups: tuple[int, ...] = ()
    # False: the exporter's completion and failure counters stay at 0 (BullMQ workers without the `metrics`
    # option, bull_exporter with removeOnComplete: true).
    counters_seen: bool = True


@dataclass(frozen=True)
class Timeline:
    """What the queue holds at the end of each minute, concept by concept (counters are cumulative)."""

    values: dict[str, list[int]]

    def __getitem__(self, concept: str) -> list[int]:
        return self.values[concept]

    @property
    def minutes(self) -> int:
        return len(self.values["waiting"])


def simulate(w: Workload) -> Timeline:
    backlog = w.start_backlog
    completed, failed, retried = w.completed_start, w.failed_total_start, 0
    failed_set = w.failed_start
    completed_set = w.completed_kept
    fail_carry = 0.0
    bursts = dict(w.failed_bursts)
    out: dict[str, list[int]] = {c.key: [] for c in CONCEPTS}
    for m in range(w.minutes):
        backlog += w.arrivals(m)
        state = w.workers(m)
        finished = min(backlog, w.capacity(m)) if state == UP else 0
        backlog -= finished
        fail_carry += finished * w.failure_share(m)
        fails = int(fail_carry + 1e-9)
        fail_carry -= fails
        fails += bursts.get(m, 0)
        completed += finished - (fails - bursts.get(m, 0))
        failed += fails
        retried += fails  # each job that failed for good was retried once before
        failed_set = 0 if m in w.cleanups else failed_set + fails
        completed_set = min(w.completed_cap, completed_set + finished - (fails - bursts.get(m, 0)))
        active = {UP: min(w.concurrency, backlog), DOWN: 0, HUNG: min(w.concurrency, backlog)}[state]
        seen = 1 if w.counters_seen else 0
        row = {
            "waiting": backlog - active, "prioritized": 0, "active": active, "delayed": w.delayed,
            "waitingChildren": 0, "completedSet": completed_set, "failedSet": failed_set,
            "completed": completed * seen, "failed": failed * seen, "retried": retried * seen,
        }
        for key, value in row.items():
            out[key].append(value)
    return Timeline(out)


# --- rendering into a convention's series -------------------------------------------------------------

@dataclass(frozen=True)
class Disturbance:
    """What scrapes and restarts do to the series, on top of the workload."""

    gaps: tuple[tuple[int, int, int], ...] = ()  # (target, first minute, minutes) without samples
    counter_resets: tuple[tuple[int, int], ...] = ()  # (target, minute): its counters restart at 0
    zero_readings: tuple[tuple[int, int], ...] = ()  # (first minute, minutes) every gauge reads 0 on every target


@dataclass(frozen=True)
class Target:
    labels: dict[str, str]


def targets(service: Service, queue: Queue) -> list[Target]:
    """Two scrape targets exporting the queue: two app pods, or two replicas of a separate exporter."""
    sel = service.selector
    if queue.job == sel.job:
        base = [pod.app_labels() for pod in example_pods(service, 2)]
    else:
        base = []
        for i, suffix in enumerate(("6b7f9c4d8-h2x9q", "6b7f9c4d8-p4r7m")):
            target = {"job": queue.job, "instance": f"10.1.9.{i + 1}:9538"}
            if sel.namespace_label:
                target[sel.namespace_label] = service.namespace
            if sel.pod_label:
                target[sel.pod_label] = f"{queue.job}-{suffix}"
            base.append(target)
    conv = queue.convention
    fixed = {conv.queue_label: queue.name, **dict(queue.matchers)}
    if conv.prefix_label:
        fixed[conv.prefix_label] = queue.prefix or DEFAULT_PREFIX
    return [Target({**b, **fixed}) for b in base]


def _split(values: list[int], parts: int) -> list[list[int]]:
    """A cumulative counter as `parts` per-process counters that add up to it."""
    out = [[0] * len(values) for _ in range(parts)]
    totals = [0] * parts
    previous = 0
    for i, value in enumerate(values):
        step = value - previous if i else value
        previous = value
        for p in range(parts):
            totals[p] += step // parts + (1 if p < step % parts else 0)
            out[p][i] = totals[p]
    return out


def _reset(values: list[int], minute: int) -> list[int]:
    base = values[minute]
    return values[:minute] + [v - base for v in values[minute:]]


def render(timeline: Timeline, queue: Queue, count: int, disturbance: Disturbance) -> dict[str, list[Samples]]:
    """Per concept the convention has, the samples of each target."""
    out: dict[str, list[Samples]] = {}
    for concept in CONCEPTS:
        source = queue.convention.source(concept.key)
        if source is None:
            continue
        values = timeline[concept.key]
        if concept.kind == COUNTER and source.aggregation == "sum":
            per_target: list[list[float | None]] = [list(v) for v in _split(values, count)]
        else:
            per_target = [list(values) for _ in range(count)]
        if concept.kind == COUNTER:
            for target, minute in disturbance.counter_resets:
                per_target[target] = list(_reset(per_target[target], minute))
        if concept.kind != COUNTER:
            for first, length in disturbance.zero_readings:
                for series in per_target:
                    series[first:first + length] = [0] * length
        for target, first, length in disturbance.gaps:
            per_target[target][first:first + length] = [None] * length
        out[concept.key] = per_target
    return out


def rendered_series(queue: Queue, rendered: dict[str, list[Samples]], where: list[Target]) -> list[tuple[str, Samples]]:
    """Each rendered series as (selector, samples): the metric and labels the convention exports it under."""
    out = []
    for concept, per_target in rendered.items():
        source = queue.convention.source(concept)
        for target, samples in zip(where, per_target):
            out.append((series_selector(source.metric, {**target.labels, **dict(source.matchers)}), samples))
    return out


def input_series(queue: Queue, rendered: dict[str, list[Samples]], where: list[Target]) -> tuple[Series, ...]:
    return tuple(Series(selector, notation(samples)) for selector, samples in rendered_series(queue, rendered, where))
