"""Job-queue exporter conventions as data: which metric carries which concept, and how to read it.

One entry per convention. Everything downstream (panels, rules, rule tests,
build notes) asks this table what exists instead of branching on the exporter's
name, so a `custom` mapping from a spec works exactly like a built-in one.

Concepts fall in three kinds:

- gauges of queue *state* (waiting, active, ... and the sizes of the retained
  completed and failed sets). Every scrape target that reports them reads the
  same Redis keys, so several targets are combined with `max`, never `sum`.
- counters of *events* (completed, failed, retried). `rate`/`increase` only.
  Whether several targets are combined with `max` or `sum` depends on where the
  count lives: in Redis (every target reports the same total) or in each process
  (each target counts what it saw).
- distributions (processing duration, wait time, attempts): summaries or histograms.

The retained-set gauges (`completedSet`, `failedSet`) are capped and trimmed by
`removeOnComplete` / `removeOnFail`, so their change is not throughput. They are
used as "something happened" evidence and for the failed-set trend only.

Metric names were checked against upstream source; each convention names the file.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Labels = tuple[tuple[str, str], ...]

GAUGE = "gauge"
COUNTER = "counter"
SUMMARY = "summary"
HISTOGRAM = "histogram"
MAX = "max"
SUM = "sum"


@dataclass(frozen=True)
class Concept:
    key: str
    kind: str  # gauge | counter
    label: str  # legend text and wording in notes
    description: str
    default_aggregation: str


CONCEPTS: tuple[Concept, ...] = (
    Concept("waiting", GAUGE, "waiting", "Jobs waiting for a worker.", MAX),
    Concept("prioritized", GAUGE, "prioritized", "Jobs waiting with a priority (BullMQ keeps them apart).", MAX),
    Concept("active", GAUGE, "active", "Jobs a worker is processing now.", MAX),
    Concept("delayed", GAUGE, "delayed", "Jobs scheduled for later: delayed jobs, retries in back-off, the next "
            "run of repeatable jobs.", MAX),
    Concept("waitingChildren", GAUGE, "waiting-children", "Parent jobs waiting for their child jobs (flows).", MAX),
    Concept("completedSet", GAUGE, "completed (kept)", "Completed jobs still kept in Redis; capped and trimmed by "
            "removeOnComplete, so its change is not throughput.", MAX),
    Concept("failedSet", GAUGE, "failed (kept)", "Failed jobs still kept in Redis; trimmed by removeOnFail.", MAX),
    Concept("completed", COUNTER, "completed", "Counter of completed jobs.", SUM),
    Concept("failed", COUNTER, "failed", "Counter of failed jobs.", SUM),
    Concept("retried", COUNTER, "retried", "Counter of failed attempts that were retried.", SUM),
)
CONCEPT_BY_KEY = {c.key: c for c in CONCEPTS}

# Jobs that workers should be running now: the backlog the growth, stuck and drain alerts watch.
# Delayed jobs are left out on purpose: repeatable jobs and long back-offs sit there by design.
QUEUED = ("waiting", "prioritized")
BACKLOG_STATES = ("waiting", "prioritized", "active", "delayed", "waitingChildren")
REQUIRED_FOR_CUSTOM = ("waiting", "active")
# At least one of these, so that the stuck alert has some evidence of progress besides the backlog.
PROGRESS_FOR_CUSTOM = ("completed", "completedSet")


@dataclass(frozen=True)
class Source:
    """Where one concept is read: a metric, fixed matchers (state="waiting"), and how targets combine."""

    metric: str
    matchers: Labels = ()
    aggregation: str = MAX


@dataclass(frozen=True)
class Distribution:
    """A summary or histogram. `scale` turns its unit into seconds (or leaves counts as they are)."""

    metric: str
    kind: str  # summary | histogram
    scale: float = 1.0
    matchers: Labels = ()
    unit: str = "seconds"


@dataclass(frozen=True)
class Convention:
    key: str
    title: str
    upstream: str  # where the names were checked
    queue_label: str
    prefix_label: str  # "" when the exporter has none
    sources: tuple[tuple[str, Source], ...]
    duration: Distribution | None = None  # processing time of a job
    wait: Distribution | None = None  # time a job waited before it ran
    attempts: Distribution | None = None  # attempts made per finished job
    # What one unit of `completed` / `failed` means, for panel descriptions and alert texts.
    completed_means: str = "jobs that completed"
    failed_means: str = "jobs that failed for good, after their retries"
    # How far to trust the throughput it gives, for the throughput panel's description.
    caveat: str = ""

    def source(self, concept: str) -> Source | None:
        for key, source in self.sources:
            if key == concept:
                return source
        return None

    def has(self, *concepts: str) -> bool:
        return all(self.source(c) is not None for c in concepts)


def _state(state: str) -> Labels:
    return (("state", state),)


# BullMQ >= 5.37: Queue.exportPrometheusMetrics() writes one gauge per state from getJobCounts();
# from 5.76.3 also two counters read from the queue's metrics hash (meta.count), which workers
# update only when created with the `metrics` option. Both live in Redis: every pod reports the same.
BULLMQ = Convention(
    key="bullmq",
    title="BullMQ",
    upstream="taskforcesh/bullmq src/classes/queue-getters.ts (exportPrometheusMetrics)",
    queue_label="queue",
    prefix_label="",
    sources=(
        ("waiting", Source("bullmq_job_count", _state("waiting"))),
        ("prioritized", Source("bullmq_job_count", _state("prioritized"))),
        ("active", Source("bullmq_job_count", _state("active"))),
        ("delayed", Source("bullmq_job_count", _state("delayed"))),
        ("waitingChildren", Source("bullmq_job_count", _state("waiting-children"))),
        ("completedSet", Source("bullmq_job_count", _state("completed"))),
        ("failedSet", Source("bullmq_job_count", _state("failed"))),
        ("completed", Source("bullmq_job_completed_total", aggregation=MAX)),
        ("failed", Source("bullmq_job_failed_total", aggregation=MAX)),
    ),
    caveat="bullmq_job_completed_total and bullmq_job_failed_total need BullMQ 5.76.3 or later and workers "
           "created with the `metrics` option; without them they stay at 0.",
)

# UpHabit/bull_exporter (Bull 3): gauges set from queue.getJobCounts(), labels queue and prefix; the
# summary observes finishedOn - processedOn (milliseconds) for each `global:completed` event whose
# job it can still read. Its _count is therefore a counter of completions the exporter saw.
BULL_EXPORTER = Convention(
    key="bull-exporter",
    title="bull_exporter",
    upstream="UpHabit/bull_exporter src/queueGauges.ts and src/metricCollector.ts",
    queue_label="queue",
    prefix_label="prefix",
    sources=(
        ("waiting", Source("bull_queue_waiting")),
        ("active", Source("bull_queue_active")),
        ("delayed", Source("bull_queue_delayed")),
        ("completedSet", Source("bull_queue_completed")),
        ("failedSet", Source("bull_queue_failed")),
        # Every exporter replica subscribes to the same global events: combine with max.
        ("completed", Source("bull_queue_complete_duration_count", aggregation=MAX)),
    ),
    duration=Distribution("bull_queue_complete_duration", SUMMARY, scale=0.001, unit="milliseconds"),
    completed_means="completions bull_exporter observed",
    caveat="bull_exporter counts a completion only if the job still exists when it reads it, so with "
           "removeOnComplete: true it sees none. It has no failed-job counter: bull_queue_failed is the size "
           "of the failed set.",
)

# ejhayes/bull-prom (Bull 3, in-process): gauges named *_total (they are gauges, not counters) set every
# `interval` from getJobCounts(); summaries observed on the local `completed` / `failed` events (or the
# global ones with useGlobal). The summaries' _count are per-process event counters: combine with sum.
BULL_PROM = Convention(
    key="bull-prom",
    title="bull-prom",
    upstream="ejhayes/bull-prom src/index.ts",
    queue_label="queue_name",
    prefix_label="queue_prefix",
    sources=(
        ("waiting", Source("jobs_waiting_total")),
        ("active", Source("jobs_active_total")),
        ("delayed", Source("jobs_delayed_total")),
        ("completedSet", Source("jobs_completed_total")),
        ("failedSet", Source("jobs_failed_total")),
        ("completed", Source("jobs_duration_milliseconds_count", (("status", "completed"),), SUM)),
        ("failed", Source("jobs_duration_milliseconds_count", (("status", "failed"),), SUM)),
    ),
    duration=Distribution("jobs_duration_milliseconds", SUMMARY, scale=0.001, matchers=(("status", "completed"),),
                          unit="milliseconds"),
    wait=Distribution("jobs_waiting_duration_milliseconds", SUMMARY, scale=0.001,
                      matchers=(("status", "completed"),), unit="milliseconds"),
    attempts=Distribution("jobs_attempts", SUMMARY, unit="attempts"),
    completed_means="completions bull-prom observed",
    # Bull emits `failed` for every failed attempt, also those it will retry.
    failed_means="failed attempts, retries included",
    caveat="bull-prom counts per process (its default, useGlobal: false), so pods are summed; with useGlobal: "
           "true on several pods throughput reads that many times too high (ratios stay right).",
)

BUILT_IN: dict[str, Convention] = {c.key: c for c in (BULLMQ, BULL_EXPORTER, BULL_PROM)}
EXPORTERS = (*BUILT_IN, "custom")

_KIND_SCALE = {"seconds": 1.0, "milliseconds": 0.001}


def _labels(mapping: dict[str, str] | None) -> Labels:
    return tuple(sorted((mapping or {}).items()))


def _distribution(raw: dict[str, Any] | None, unit: str = "") -> Distribution | None:
    if not raw:
        return None
    unit = raw.get("unit", unit) or "seconds"
    return Distribution(raw["metric"], raw["type"], scale=_KIND_SCALE.get(unit, 1.0), matchers=_labels(raw.get("matchers")),
                        unit=unit)


def custom_convention(mapping: dict[str, Any]) -> Convention:
    """The convention a spec's `mapping` describes, in the same shape as the built-in ones."""
    sources = tuple(
        (c.key, Source(mapping[c.key]["metric"], _labels(mapping[c.key].get("matchers")),
                       mapping[c.key].get("aggregation", c.default_aggregation)))
        for c in CONCEPTS if mapping.get(c.key)
    )
    attempts = mapping.get("attempts")
    return Convention(
        key="custom",
        title="custom",
        upstream="the spec's mapping",
        queue_label=mapping.get("queueLabel", "queue"),
        prefix_label=mapping.get("prefixLabel", ""),
        sources=sources,
        duration=_distribution(mapping.get("duration")),
        wait=_distribution(mapping.get("wait")),
        attempts=Distribution(attempts["metric"], attempts["type"], matchers=_labels(attempts.get("matchers")),
                              unit="attempts") if attempts else None,
    )


def convention_for(exporter: str, mapping: dict[str, Any] | None) -> Convention:
    if exporter == "custom":
        return custom_convention(mapping or {})
    return BUILT_IN[exporter]
