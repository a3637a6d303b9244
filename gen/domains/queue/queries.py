"""PromQL for one job queue: selectors, cross-target aggregation, recorded series and alert expressions.

Queue series describe shared Redis state, not a pod: they are selected by the
exporting target's job, the namespace and the queue (never the pod), and the
series of several targets are combined as the convention says (`max` for state
that every target reads from Redis, `sum` for per-process event counts).
"""
from __future__ import annotations

from dataclasses import dataclass

from gen.spec.model import AlertSettings, Queue, Service
from gen.promql.selectors import Matcher, eq, re_, selector
from gen.spec.queue_conventions import HISTOGRAM, QUEUED, Convention, Distribution, Source
from gen.units import Duration, duration, number

REC_QUEUED = "queue:jobs_queued:max"
REC_ACTIVE = "queue:jobs_active:max"
REC_COMPLETED = "queue:jobs_completed:rate5m"
RATE_WINDOW = "5m"  # the completion rate drain time divides by: short, so it is the workers' current speed

@dataclass(frozen=True)
class QueueQueries:
    """PromQL for one queue, in dashboard form ($namespace) or rule form (the spec's namespace)."""

    service: Service
    queue: Queue
    dashboard: bool

    @property
    def conv(self) -> Convention:
        return self.queue.convention

    @property
    def group_labels(self) -> list[str]:
        labels = ["job"]
        if self.service.selector.namespace_label:
            labels.append(self.service.selector.namespace_label)
        labels.append(self.conv.queue_label)
        if self.conv.prefix_label:
            labels.append(self.conv.prefix_label)
        return labels

    @property
    def by(self) -> str:
        return ", ".join(self.group_labels)

    def identity(self) -> list[Matcher]:
        """Matchers that pick this queue's series out of everything the target exports."""
        ns_label = self.service.selector.namespace_label
        out = [eq("job", self.queue.job)]
        if ns_label:
            out.append(eq(ns_label, "$namespace" if self.dashboard else self.service.namespace))
        out.append(eq(self.conv.queue_label, self.queue.name))
        if self.queue.prefix:
            out.append(eq(self.conv.prefix_label, self.queue.prefix))
        return out

    def _select(self, metric: str, fixed: tuple[tuple[str, str], ...], *extra: Matcher) -> str:
        matchers = self.identity() + [eq(k, v) for k, v in self.queue.matchers] + [eq(k, v) for k, v in fixed]
        return selector(metric, matchers + list(extra))

    def source(self, concept: str) -> Source:
        found = self.conv.source(concept)
        if found is None:
            raise KeyError(f"convention {self.conv.key} has no {concept}")
        return found

    def select(self, concept: str) -> str:
        src = self.source(concept)
        return self._select(src.metric, src.matchers)

    def state(self, concept: str) -> str:
        """A gauge (or a counter's current value) for the queue, combined over targets."""
        return f"{self.source(concept).aggregation} by ({self.by}) ({self.select(concept)})"

    def over(self, fn: str, concept: str, window: str, offset: str = "") -> str:
        """`fn` over each target's series, then combined: increase before sum, as counter resets require."""
        shift = f" offset {offset}" if offset else ""
        return f"{self.source(concept).aggregation} by ({self.by}) ({fn}({self.select(concept)}[{window}]{shift}))"

    def any_over(self, fn: str, concepts: tuple[str, ...], window: str) -> list[str]:
        """`fn` over the concepts the convention has, per scrape target (not combined): one term where they are
        one metric told apart by one label's value (BullMQ's `state`), so that the rule reads the metric once."""
        present = [c for c in concepts if self.conv.has(c)]
        merged = _one_label_apart([self.source(c) for c in present])
        if merged is None:
            return [f"{fn}({self.select(c)}[{window}])" for c in present]
        source, label, values = merged
        matchers = self.identity() + [eq(k, v) for k, v in self.queue.matchers] + \
            [eq(k, v) for k, v in source.matchers if k != label] + [re_(label, "|".join(values))]
        return [f"{fn}({selector(source.metric, matchers)}[{window}])"]

    def queued(self) -> str:
        return " + ".join(self.state(c) for c in QUEUED if self.conv.has(c))

    def queued_trend(self, window: str) -> str:
        # deriv is linear in its samples, so the sum of the parts' slopes is the slope of the sum.
        return " + ".join(self.over("deriv", c, window) for c in QUEUED if self.conv.has(c))

    def recorded(self, name: str, offset: str = "") -> str:
        # Every queue record carries the service and the spec's queue name (the rule's own labels), so these two
        # pick one queue's record whatever labels the exporter uses.
        shift = f" offset {offset}" if offset else ""
        return selector(name, [eq("service", self.service.name), eq("queue", self.queue.name)]) + shift

    def quantile(self, dist: Distribution, q: float) -> str:
        scale = "" if dist.scale == 1 else f" * {number(dist.scale)}"
        if dist.kind == HISTOGRAM:
            window = "$__rate_interval" if self.dashboard else RATE_WINDOW
            buckets = self._select(f"{dist.metric}_bucket", dist.matchers)
            return f"histogram_quantile({number(q)}, sum by ({self.by}, le) (rate({buckets}[{window}]))){scale}"
        series = self._select(dist.metric, dist.matchers, eq("quantile", number(q)))
        return f"max by ({self.by}) ({series}){scale}"




# --- recorded series and alert conditions ---------------------------------------------------------------
#
# Each alert is a short condition on series recorded in the queue's group; the records carry the window in
# their name. Thresholds that scale with traffic are shares of the jobs the queue finished in the same window
# (its completion counter): an absolute number of jobs is only a floor that keeps tiny queues quiet.

Record = tuple[str, str]  # (name, expression)


@dataclass(frozen=True)
class Condition:
    """An alert's expression and the records it reads (beyond the queue's base records)."""

    records: tuple[Record, ...]
    expr: str


def _one_label_apart(sources: list[Source]) -> tuple[Source, str, list[str]] | None:
    """(first source, label, its values) when several sources differ only in one fixed label's plain value."""
    if len(sources) < 2 or len({(s.metric, s.aggregation) for s in sources}) > 1:
        return None
    labels = [dict(s.matchers) for s in sources]
    differing = {k for k in labels[0] if len({m.get(k) for m in labels}) > 1}
    if len(differing) != 1 or any(m.keys() != labels[0].keys() for m in labels):
        return None
    (label,) = differing
    values = [m[label] for m in labels]
    if not all(v.replace("-", "").replace("_", "").isalnum() for v in values):
        return None  # anything a regex would read differently stays one term per concept
    return sources[0], label, values


def half(d: Duration) -> Duration:
    return duration(d.seconds / 2)


def completed_in(q: QueueQueries, window: str) -> Record:
    return f"queue:jobs_completed:increase{window}", q.over("increase", "completed", window)


def _at_least(series: str, factor: str, floor: str) -> str:
    """max(series * factor, floor), without clamp_min: the product where it is at least the floor, else the floor."""
    return f"{series} * {factor} >= {floor}\nor\n{series} * 0 + {floor}"


def backlog_growing(q: QueueQueries, s: AlertSettings) -> Condition:
    window = s.param("window")
    w, seconds = window.text, number(window.seconds)
    queued = q.recorded(REC_QUEUED)
    floor_rise = f"queue:jobs_queued:floor_rise{w}"
    climb = f"queue:jobs_queued:climb{w}"
    threshold = f"queue:jobs_queued:min_rise{w}"
    trend = f"deriv({queued}[{w}]) * {seconds}"
    minimum = number(s.param("minGrowth"))
    if q.conv.has("completed"):
        name, completed = completed_in(q, w)
        # A share of the jobs completed in the window, at least minGrowth: growth scales with traffic, and the
        # floor only keeps tiny queues quiet. Without completions (counters not kept) the floor alone is left.
        records: tuple[Record, ...] = (
            (name, completed),
            (threshold, _at_least(q.recorded(name), number(s.param('share').value), minimum)),
        )
    else:
        records = ((threshold, f"{queued} * 0 + {minimum}"),)
    # The lowest queued backlog of each window: batches that drain within the window leave it at the same
    # floor, so they never count. A raised floor alone is not growth (a batch enqueued at once and drained
    # slowly raises it once), so the backlog must also still be climbing: by its trend over the last window,
    # or by a floor that rose in the window before as well (batches that no longer drain completely).
    records += (
        (floor_rise, f"min_over_time({queued}[{w}]) - min_over_time({queued}[{w}] offset {w})"),
        (climb, f"{q.recorded(floor_rise, w)} >= {trend}\nor\n{trend}"),
    )
    return Condition(records, f"{q.recorded(floor_rise)} >= {q.recorded(threshold)}\n"
                              f"and {q.recorded(climb)} >= {q.recorded(threshold)}")


def stuck(q: QueueQueries, s: AlertSettings) -> Condition:
    w = s.param("window").text
    queued, active = q.recorded(REC_QUEUED), q.recorded(REC_ACTIVE)
    held, progress = f"queue:jobs_held:min{w}", f"queue:jobs_progress:signs{w}"
    signs = [f"{t} > 0" for t in q.any_over("increase", ("completed", "failed", "retried"), w)]
    # The kept sets change when jobs finish (or are trimmed, which happens when others finish).
    signs += [f"{t} > 0" for t in q.any_over("changes", ("completedSet", "failedSet"), w)]
    # The queued backlog falling is a worker taking a job, and active falling a job ending. Active rising is
    # not progress: workers that hang take jobs into free slots and never give them back. Read from the
    # scraped gauges, not the records, which hold one sample per rule evaluation and would miss a job that
    # starts and ends between two.
    signs += [f"{t} > 0" for t in q.any_over("resets", (*QUEUED, "active"), w)]
    # Any one target's or state's evidence will do: none of these functions is ever negative, so a combined
    # count above 0 is the same as one term above 0.
    evidence = f"max by ({q.by}) (\n  " + "\n  or ".join(signs) + "\n)"
    records = (
        # Jobs present all window long (queued or active never 0). `offset`: the recorded backlog must reach
        # back a whole window, or a fresh series would claim a quiet window it has not seen.
        (held, f"(min_over_time({queued}[{w}]) + min_over_time({active}[{w}]))\nand {q.recorded(REC_QUEUED, w)}"),
        (progress, evidence),
    )
    return Condition(records, f"({queued} + {active})\nand {q.recorded(held)} > 0\nunless {q.recorded(progress)}")


def failure_ratio(q: QueueQueries, s: AlertSettings) -> Condition:
    w = s.param("window").text
    failed, finished = f"queue:jobs_failed:increase{w}", f"queue:jobs_finished:increase{w}"
    completed = completed_in(q, w)
    records = (completed, (failed, q.over("increase", "failed", w)),
               (finished, f"{q.recorded(completed[0])} + {q.recorded(failed)}"))
    return Condition(records, f"{q.recorded(failed)} / {q.recorded(finished)} > {number(s.param('threshold').value)}\n"
                              f"and {q.recorded(finished)} >= {number(s.param('minVolume'))}")


def drain_time(q: QueueQueries, s: AlertSettings) -> Condition:
    # Only a positive rate divides: with none, QueueStuck speaks, not a +Inf drain time.
    return Condition((), f"{q.recorded(REC_QUEUED)} / ({q.recorded(REC_COMPLETED)} > 0)"
                         f" > {number(s.param('threshold').seconds)}")


THROUGHPUT_MEMORY = "1d"  # a completion counter that moved within this long is being kept


def failed_growing(q: QueueQueries, s: AlertSettings) -> Condition:
    window = s.param("window")
    w, h = window.text, half(window).text
    gained = f"queue:jobs_failed_kept:delta{h}"
    share = f"queue:jobs_failed_kept:share{h}"
    completed = completed_in(q, h)
    # The jobs the set gained as a share of the jobs that finished: completed plus the failed ones it gained.
    # A cleanup makes the share negative, never high; with nothing finished there is no share (not NaN). A
    # completion counter that never moved (BullMQ workers without `metrics`, bull_exporter with
    # removeOnComplete: true) says nothing about throughput: then there is no share at all, rather than every
    # failure counting as 100%.
    records = (
        (gained, q.over("delta", "failedSet", h)),
        completed,
        (share, f"{q.recorded(gained)} / ({q.recorded(completed[0])} + {q.recorded(gained)} > 0)\n"
                f"and max_over_time({q.recorded(REC_COMPLETED)}[{THROUGHPUT_MEMORY}]) > 0"),
    )
    threshold = number(s.param("threshold").value)
    # In both halves of the window: a single burst of failures lies in one half only.
    return Condition(records, f"{q.recorded(share)} >= {threshold}\n"
                              f"and {q.recorded(share, h)} >= {threshold}\n"
                              f"and {q.recorded(gained)} + {q.recorded(gained, h)} >= {number(s.param('minGrowth'))}")


CONDITIONS = {
    "backlogGrowing": backlog_growing,
    "stuck": stuck,
    "failureRatio": failure_ratio,
    "drainTime": drain_time,
    "failedGrowing": failed_growing,
}
