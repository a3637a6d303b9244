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

    def recorded(self, name: str) -> str:
        return selector(name, [eq("service", self.service.name)] + self.identity())

    def quantile(self, dist: Distribution, q: float) -> str:
        scale = "" if dist.scale == 1 else f" * {number(dist.scale)}"
        if dist.kind == HISTOGRAM:
            window = "$__rate_interval" if self.dashboard else RATE_WINDOW
            buckets = self._select(f"{dist.metric}_bucket", dist.matchers)
            return f"histogram_quantile({number(q)}, sum by ({self.by}, le) (rate({buckets}[{window}]))){scale}"
        series = self._select(dist.metric, dist.matchers, eq("quantile", number(q)))
        return f"max by ({self.by}) ({series}){scale}"


def half(d: Duration) -> Duration:
    return duration(d.seconds / 2)


def backlog_growing_expr(q: QueueQueries, s: AlertSettings) -> str:
    window = s.param("window")
    w, g = window.text, number(s.param("minGrowth"))
    queued = q.recorded(REC_QUEUED)
    trough = [f"min_over_time({queued}[{w}]{' offset ' + off if off else ''})"
              for off in ("", w, duration(2 * window.seconds).text)]
    # The lowest queued backlog of each window: batches that drain within the window leave it at the same
    # floor, so they never count. A raised floor alone is not growth (a batch enqueued at once and drained
    # slowly raises it once), so the backlog must also still be climbing: by its trend over the last window,
    # or by a floor that rose in the window before as well (batches that no longer drain completely).
    return (f"({trough[0]} - {trough[1]} >= {g})\n"
            f"and (\n"
            f"  ({trough[1]} - {trough[2]} >= {g})\n"
            f"  or deriv({queued}[{w}]) * {number(window.seconds)} >= {g}\n"
            f")")


def stuck_expr(q: QueueQueries, s: AlertSettings) -> str:
    w = s.param("window").text
    queued, active = q.recorded(REC_QUEUED), q.recorded(REC_ACTIVE)
    progress = [f"{q.over('increase', c, w)} > 0" for c in ("completed", "failed", "retried") if q.conv.has(c)]
    # The kept sets change when jobs finish (or are trimmed, which happens when others finish).
    progress += [f"{q.over('changes', c, w)} > 0" for c in ("completedSet", "failedSet") if q.conv.has(c)]
    # A worker taking a job lowers the queued count; a job starting or ending changes the active count.
    progress += [f"resets({queued}[{w}]) > 0", f"changes({active}[{w}]) > 0"]
    evidence = "\n  or ".join(progress)
    # `offset`: the recorded backlog must reach back a whole window, or a fresh series would claim a
    # quiet window it has not seen.
    return (f"({queued} + {active})\n"
            f"and (min_over_time({queued}[{w}]) > 0 or min_over_time({active}[{w}]) > 0)\n"
            f"and on ({q.by}) {queued} offset {w}\n"
            f"unless on ({q.by}) (\n  {evidence}\n)")


def failure_ratio_expr(q: QueueQueries, s: AlertSettings) -> str:
    w = s.param("window").text
    failed, completed = q.over("increase", "failed", w), q.over("increase", "completed", w)
    return (f"{failed} / ({failed} + {completed}) > {number(s.param('threshold').value)}\n"
            f"and on ({q.by}) ({failed} + {completed} >= {number(s.param('minVolume'))})")


def drain_time_expr(q: QueueQueries, s: AlertSettings) -> str:
    # Only a positive rate divides: with none, QueueStuck speaks, not a +Inf drain time.
    return (f"{q.recorded(REC_QUEUED)} / ({q.recorded(REC_COMPLETED)} > 0)"
            f" > {number(s.param('threshold').seconds)}")


def failed_growing_expr(q: QueueQueries, s: AlertSettings) -> str:
    w = s.param("window")
    h = half(w).text
    g = s.param("minGrowth")
    # Growth in both halves of the window: a single burst of failures lies in one half only.
    return (f"{q.over('delta', 'failedSet', w.text)} >= {number(g)}\n"
            f"and on ({q.by}) {q.over('delta', 'failedSet', h)} >= {number(g / 2)}\n"
            f"and on ({q.by}) {q.over('delta', 'failedSet', h, h)} >= {number(g / 2)}")


EXPRESSIONS = {
    "backlogGrowing": backlog_growing_expr,
    "stuck": stuck_expr,
    "failureRatio": failure_ratio_expr,
    "drainTime": drain_time_expr,
    "failedGrowing": failed_growing_expr,
}
