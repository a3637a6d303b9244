"""PromQL for one job queue: selectors, cross-target aggregation, recorded series and alert expressions.

Queue series describe shared Redis state, not a pod: they are selected by the
exporting target's job, the namespace and the queue (never the pod), and the
series of several targets are combined as the convention says (`max` for state
that every target reads from Redis, `sum` for per-process event counts).
"""
from __future__ import annotations

from dataclasses import dataclass

from gen.spec.model import AlertSettings, Queue, Service
from gen.promql.selectors import Matcher, eq, selector
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


def half(d: Duration) -> Duration:
    return duration(d.seconds / 2)


def completed_in(q: QueueQueries, window: str) -> Record:
    return f"queue:jobs_completed:increase{window}", q.over("increase", "completed", window)


def _at_least(value: str, floor: str) -> str:
    """max(value, floor) per series, without clamp_min: the value where it is at least the floor, else the floor."""
    return f"{value} >= {floor}\nor\n{value} * 0 + {floor}"


def backlog_growing(q: QueueQueries, s: AlertSettings) -> Condition:
    window = s.param("window")
    w, seconds = window.text, number(window.seconds)
    queued = q.recorded(REC_QUEUED)
    floor_rise = f"queue:jobs_queued:floor_rise{w}"
    climb = f"queue:jobs_queued:climb{w}"
    threshold = f"queue:jobs_queued:growth_threshold{w}"
    trend = f"deriv({queued}[{w}]) * {seconds}"
    minimum = number(s.param("minGrowth"))
    if q.conv.has("completed"):
        name, completed = completed_in(q, w)
        # A share of the jobs completed in the window, at least minGrowth: growth scales with traffic, and the
        # floor only keeps tiny queues quiet. Without completions (counters not kept) the floor alone is left.
        records: tuple[Record, ...] = (
            (name, completed),
            (threshold, _at_least(f"{q.recorded(name)} * {number(s.param('share').value)}", minimum)),
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
    signs = [f"{q.over('increase', c, w)} > 0" for c in ("completed", "failed", "retried") if q.conv.has(c)]
    # The kept sets change when jobs finish (or are trimmed, which happens when others finish).
    signs += [f"{q.over('changes', c, w)} > 0" for c in ("completedSet", "failedSet") if q.conv.has(c)]
    # The queued backlog falling is a worker taking a job, and active falling a job ending. Active rising is
    # not progress: workers that hang take jobs into free slots and never give them back. Read from the
    # scraped gauges, not the records, which hold one sample per rule evaluation and would miss a job that
    # starts and ends between two.
    signs += [f"{q.over('resets', c, w)} > 0" for c in (*QUEUED, "active") if q.conv.has(c)]
    evidence = "\nor ".join(signs)
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
    gained, delta_half = f"queue:jobs_failed_kept:delta{w}", f"queue:jobs_failed_kept:delta{h}"
    gain_half, share = f"queue:jobs_failed_kept:gain{h}", f"queue:jobs_failed_kept:share{h}"
    completed = completed_in(q, h)
    # Growth only (a cleanup is no negative failure), as a share of the jobs that finished: completed plus the
    # failed ones the set gained. A completion counter that never moved (BullMQ workers without `metrics`,
    # bull_exporter with removeOnComplete: true) says nothing about throughput: then there is no share at all,
    # rather than every failure counting as 100%.
    records = (
        (gained, q.over("delta", "failedSet", w)),
        (delta_half, q.over("delta", "failedSet", h)),
        (gain_half, f"{q.recorded(delta_half)} > 0\nor\n{q.recorded(delta_half)} * 0"),
        completed,
        # No share while nothing finished (rather than NaN).
        (share, f"{q.recorded(gain_half)} / ({q.recorded(completed[0])} + {q.recorded(gain_half)} > 0)\n"
                f"and max_over_time({q.recorded(REC_COMPLETED)}[{THROUGHPUT_MEMORY}]) > 0"),
    )
    threshold = number(s.param("threshold").value)
    # In both halves of the window: a single burst of failures lies in one half only.
    return Condition(records, f"{q.recorded(share)} >= {threshold}\n"
                              f"and {q.recorded(share, h)} >= {threshold}\n"
                              f"and {q.recorded(gained)} >= {number(s.param('minGrowth'))}")


CONDITIONS = {
    "backlogGrowing": backlog_growing,
    "stuck": stuck,
    "failureRatio": failure_ratio,
    "drainTime": drain_time,
    "failedGrowing": failed_growing,
}
