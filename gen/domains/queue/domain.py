"""Job queues: per queue, one dashboard row, recording rules and five alerts, read from the convention table.

The alerts watch the *queued* backlog (waiting + prioritized): jobs a worker should
be running now. Delayed jobs are left out (repeatable jobs and back-offs sit there
by design) and shown on their own panel. Panels and alerts whose signals a
convention lacks are left out, and the build says so in one line each.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

from gen.domains.alerts import (QUEUE_BACKLOG_GROWING, QUEUE_DRAIN_TIME_LONG, QUEUE_FAILED_SET_GROWING,
    QUEUE_FAILURE_RATIO_HIGH, QUEUE_STUCK, Alert, AlertDefinition, Inhibition, Unsuperseded, alert_rule, build_alerts)
from gen.spec.model import AlertSettings, Queue, Service
from gen.spec.queue_conventions import BACKLOG_STATES, CONCEPT_BY_KEY, Convention
from gen.domains.queue.queries import (CONDITIONS, RATE_WINDOW, REC_ACTIVE, REC_COMPLETED, REC_QUEUED, half,
    QueueQueries)
from gen.ir import (UNIT_COUNT, UNIT_RATIO, UNIT_SECONDS, AlertRule, DomainOutput, Panel, Query, RecordingRule, Row,
    RuleGroup, Threshold)

UNIT_JOBS_PER_MINUTE = "cpm"
UNIT_JOBS_PER_HOUR = "suffix: jobs/h"


def applies(service: Service) -> bool:
    return bool(service.queues)


def panel_key(queue: Queue, what: str) -> str:
    return f"queue.{queue.name}.{what}"


def _legend(q: QueueQueries, text: str) -> str:
    # Without a fixed prefix each prefix is its own series; say which.
    if q.conv.prefix_label and not q.queue.prefix:
        return f"{text} ({{{{{q.conv.prefix_label}}}}})"
    return text


def _describe_queue(queue: Queue) -> str:
    return f"queue {queue.name} ({queue.convention.title})"


# --- panels ---------------------------------------------------------------------------------------

def _backlog_panel(q: QueueQueries) -> Panel:
    states = [c for c in BACKLOG_STATES if q.conv.has(c)]
    return Panel(
        panel_key(q.queue, "backlog"), "Backlog by state",
        "Jobs in the queue by state, stacked. Waiting (and prioritized) is work no worker has taken yet; active is "
        "bounded by worker concurrency; delayed holds scheduled jobs and retries in back-off. Waiting that stays "
        "up while active sits still is a stuck queue.",
        UNIT_COUNT, tuple(Query(q.state(c), _legend(q, CONCEPT_BY_KEY[c].label)) for c in states),
        min=0, stacked=True)


def _throughput_panel(q: QueueQueries) -> Panel:
    counters = [c for c in ("completed", "failed") if q.conv.has(c)]
    caveat = f" {q.conv.caveat}" if q.conv.caveat else ""
    return Panel(
        panel_key(q.queue, "throughput"), "Throughput",
        f"Jobs finished per minute: completed ({q.conv.completed_means})"
        + (f" and failed ({q.conv.failed_means})" if q.conv.has("failed") else "")
        + ". Completions falling to zero while jobs wait means the workers stopped." + caveat,
        UNIT_JOBS_PER_MINUTE,
        tuple(Query(f"{q.over('rate', c, '$__rate_interval')} * 60", _legend(q, CONCEPT_BY_KEY[c].label))
              for c in counters),
        min=0)


def _failure_ratio_panel(q: QueueQueries) -> Panel:
    settings = q.queue.alerts["failureRatio"]
    window = settings.param("window").text
    failed, completed = q.over("increase", "failed", window), q.over("increase", "completed", window)
    threshold = settings.param("threshold").value
    return Panel(
        panel_key(q.queue, "failure-ratio"), "Failure ratio",
        f"Share of finished jobs that failed over the last {window}: failed / (failed + completed), where failed "
        f"means {q.conv.failed_means}. The red line is the alert threshold ({settings.param('threshold')}); the "
        f"alert also needs {settings.param('minVolume')} finished jobs in the window.",
        UNIT_RATIO, (Query(f"{failed} / ({failed} + {completed})", _legend(q, "failure ratio")),),
        min=0, max=1, thresholds=(Threshold(None, "green"), Threshold(threshold, "red")), show_thresholds=True)


def _duration_panel(q: QueueQueries) -> Panel:
    queries = []
    for dist, what, quantiles in ((q.conv.duration, "processing", (0.5, 0.95, 0.99)), (q.conv.wait, "waited", (0.95,))):
        if dist is None:
            continue
        for quantile in quantiles:
            queries.append(Query(q.quantile(dist, quantile), _legend(q, f"{what} p{round(quantile * 100)}")))
    return Panel(
        panel_key(q.queue, "duration"), "Processing and wait time",
        "How long workers take per job (processing percentiles) and, where the exporter measures it, how long "
        "jobs wait before a worker takes them. Processing time rising at a flat backlog points at the job's "
        "own dependencies (database, external APIs).",
        UNIT_SECONDS, tuple(queries), min=0)


def _drain_panel(q: QueueQueries) -> Panel:
    settings = q.queue.alerts["drainTime"]
    threshold = settings.param("threshold")
    return Panel(
        panel_key(q.queue, "drain-time"), "Estimated drain time",
        f"Queued jobs divided by the completion rate of the last {RATE_WINDOW}: how long the queue needs to "
        f"empty if nothing more arrives. No line while nothing completes (that is a stuck queue, see the "
        f"backlog). The red line is the alert threshold ({threshold}).",
        UNIT_SECONDS,
        (Query(f"({q.queued()}) / ({q.over('rate', 'completed', RATE_WINDOW)} > 0)", _legend(q, "drain time")),),
        min=0, thresholds=(Threshold(None, "green"), Threshold(threshold.seconds, "red")), show_thresholds=True)


def _delayed_panel(q: QueueQueries) -> Panel:
    queries = []
    if q.conv.has("delayed"):
        queries.append(Query(q.state("delayed"), _legend(q, "delayed")))
    if q.conv.has("retried"):
        queries.append(Query(q.over("increase", "retried", "5m"), _legend(q, "retried (5m)")))
    if q.conv.attempts is not None:
        attempts = q.conv.attempts
        for quantile in (0.5, 0.99):
            queries.append(Query(q.quantile(attempts, quantile), _legend(q, f"attempts p{round(quantile * 100)}")))
    retries = q.conv.has("retried") or q.conv.attempts is not None
    return Panel(
        panel_key(q.queue, "delayed-retried"), "Delayed and retried jobs" if retries else "Delayed jobs",
        "Jobs scheduled for later (delayed jobs, repeatable jobs' next run and retries waiting out their "
        "back-off), and where the exporter has them, retries and attempts per finished job. Delayed rising with "
        "failures means jobs are being retried.",
        UNIT_COUNT, tuple(queries), min=0)


def _trend_panel(q: QueueQueries) -> Panel:
    window = q.queue.alerts["backlogGrowing"].param("window").text
    return Panel(
        panel_key(q.queue, "backlog-trend"), "Backlog trend",
        f"Slope of the queued backlog over the last {window} (deriv), in jobs per hour: above zero, jobs arrive "
        f"faster than they complete. Batches make it swing; QueueBacklogGrowing instead compares the lowest "
        f"backlog of consecutive {window} windows, which batches that drain do not move.",
        UNIT_JOBS_PER_HOUR, (Query(f"({q.queued_trend(window)}) * 3600", _legend(q, "queued backlog slope")),))


def _failed_set_panel(q: QueueQueries) -> Panel:
    window = q.queue.alerts["failedGrowing"].param("window").text
    return Panel(
        panel_key(q.queue, "failed-set"), "Failed jobs kept",
        f"Failed jobs kept in Redis, and how many it gained over the last {window}. A set that keeps growing is "
        "jobs failing for good, steadily; it stops at removeOnFail's cap, and falls when someone retries or "
        "cleans failed jobs.",
        UNIT_COUNT,
        (Query(q.state("failedSet"), _legend(q, "failed (kept)")),
         Query(q.over("delta", "failedSet", window), _legend(q, f"gained in {window}"))))


@dataclass(frozen=True)
class Feature:
    """A panel (and the alert that links to it) and the signals it needs."""

    what: str  # for the build note when it is left out
    needs: tuple[str, ...]  # concepts, all required
    needs_any: tuple[str, ...]  # concepts or distributions ("duration", "wait", "attempts"), one required
    panel: Callable[[QueueQueries], Panel]
    missing: str  # what the note says is missing

    @property
    def left_out(self) -> str:
        subject = self.what if self.what.startswith("Queue") else f"the {self.what}"
        return f"{subject} {'are' if ' and Queue' in self.what else 'is'} left out"


FEATURES: tuple[Feature, ...] = (
    Feature("backlog panel", ("waiting", "active"), (), _backlog_panel, ""),
    Feature("throughput panel", (), ("completed", "failed"), _throughput_panel, "completion counter"),
    Feature("failure-ratio panel and QueueFailureRatioHigh", ("completed", "failed"), (), _failure_ratio_panel,
            "failed-job counter"),
    Feature("duration panel", (), ("duration", "wait"), _duration_panel, "processing-duration metric"),
    Feature("drain-time panel and QueueDrainTimeLong", ("completed",), (), _drain_panel, "completion counter"),
    Feature("delayed and retried panel", (), ("delayed", "retried", "attempts"), _delayed_panel,
            "delayed, retry or attempts metric"),
    Feature("backlog-trend panel", ("waiting",), (), _trend_panel, ""),
    Feature("failed-set panel and QueueFailedSetGrowing", ("failedSet",), (), _failed_set_panel, "failed-set gauge"),
    # Failed-set growth is judged against the jobs finished meanwhile; an absolute count would fire on every
    # busy queue with an ordinary background of failures, so without a completion counter there is no alert.
    Feature("QueueFailedSetGrowing", ("failedSet", "completed"), (), _failed_set_panel,
            "completion counter to weigh failed-set growth against"),
)


def _has(conv: Convention, name: str) -> bool:
    if name in ("duration", "wait", "attempts"):
        return getattr(conv, name) is not None
    return conv.has(name)


def available(conv: Convention, feature: Feature) -> bool:
    return all(_has(conv, n) for n in feature.needs) and (not feature.needs_any or
                                                          any(_has(conv, n) for n in feature.needs_any))


def _notes(queue: Queue) -> tuple[str, ...]:
    return tuple(f"{_describe_queue(queue)}: no {f.missing}, so {f.left_out}"
                 for f in FEATURES if not available(queue.convention, f)
                 and (f.what not in ALERTS_ONLY or available(queue.convention, _FEATURE_BY_WHAT[ALERTS_ONLY[f.what]])))


def _row(service: Service, queue: Queue) -> Row:
    q = QueueQueries(service, queue, dashboard=True)
    panels = tuple(f.panel(q) for f in FEATURES if available(queue.convention, f) and f.what not in ALERTS_ONLY)
    return Row(f"queue.{queue.name}", f"Queue: {queue.name} ({queue.convention.title})", panels)


# --- rules ----------------------------------------------------------------------------------------

def _recording_rules(q: QueueQueries) -> tuple[RecordingRule, ...]:
    """The queue's base records, then those its generated alerts read, each once, in the order they are read."""
    # The queue label keeps each queue's rules distinct for promtool's duplicate-rule lint, whatever label
    # name the exporter uses for the queue; with the service label, it is how alerts select the records.
    labels = (("queue", q.queue.name), ("service", q.service.name))
    records = [(REC_QUEUED, q.queued()), (REC_ACTIVE, q.state("active"))]
    if q.conv.has("completed"):
        records.append((REC_COMPLETED, q.over("rate", "completed", RATE_WINDOW)))
    for spec in generated_alerts(q.queue):
        records += CONDITIONS[spec.alert.setting](q, q.queue.alerts[spec.alert.setting]).records
    seen: dict[str, str] = {}
    for name, expr in records:
        if seen.setdefault(name, expr) != expr:
            raise ValueError(f"queue record {name} defined twice, differently")
    return tuple(RecordingRule(name, expr, labels) for name, expr in seen.items())


@dataclass(frozen=True)
class AlertSpec:
    alert: Alert
    feature: str  # FEATURES entry whose panel shows the problem and whose signals it needs
    panel: str
    summary: str
    description: Callable[[Queue, AlertSettings], str]


ALERTS: tuple[AlertSpec, ...] = (
    AlertSpec(
        QUEUE_BACKLOG_GROWING, "backlog-trend panel", "backlog-trend",
        "Queue %s: jobs arrive faster than they complete",
        lambda queue, s: (
            f"Over the last {s.param('window')} the lowest point of queue {queue.name}'s queued backlog was "
            f"{{{{ $value }}}} jobs higher than over the {s.param('window')} before, and the backlog is still "
            f"climbing: jobs keep arriving faster than workers complete them. Add workers or find what slowed "
            f"them down.")),
    AlertSpec(
        QUEUE_STUCK, "backlog panel", "backlog",
        "Queue %s is stuck: jobs wait and nothing completes",
        lambda queue, s: (
            f"{{{{ $value }}}} jobs of queue {queue.name} are waiting or active, and for {s.param('window')} "
            f"no job completed, failed, ended or was taken by a worker. The workers are down, disconnected from "
            f"Redis or hung.")),
    AlertSpec(
        QUEUE_FAILURE_RATIO_HIGH, "failure-ratio panel and QueueFailureRatioHigh", "failure-ratio",
        "Queue %s: many jobs fail",
        lambda queue, s: (
            f"{{{{ $value | humanizePercentage }}}} of the jobs queue {queue.name} finished in the last "
            f"{s.param('window')} failed ({queue.convention.failed_means}); the alert counts above "
            f"{s.param('threshold')} with at least {s.param('minVolume')} finished jobs.")),
    AlertSpec(
        QUEUE_DRAIN_TIME_LONG, "drain-time panel and QueueDrainTimeLong", "drain-time",
        "Queue %s will take long to drain",
        lambda queue, s: (
            f"At the completion rate of the last {RATE_WINDOW}, the queued jobs of queue {queue.name} need "
            f"{{{{ $value | humanizeDuration }}}} to clear, more than {s.param('threshold')}. Work queued now "
            f"will be late.")),
    AlertSpec(
        QUEUE_FAILED_SET_GROWING, "QueueFailedSetGrowing", "failed-set",
        "Queue %s: failed jobs keep piling up",
        lambda queue, s: (
            f"{{{{ $value | humanizePercentage }}}} of the jobs queue {queue.name} finished in the last "
            f"{half(s.param('window'))} went to the failed set, and at least {s.param('threshold')} in the "
            f"{half(s.param('window'))} before: jobs fail for good, steadily. Look at the failed jobs' reasons.")),
)
_FEATURE_BY_WHAT = {f.what: f for f in FEATURES}
# Features that only gate an alert, with the feature of the panel that alert links to: no panel of their own,
# and no note when that panel itself is left out (its note says enough).
ALERTS_ONLY = {"QueueFailedSetGrowing": "failed-set panel and QueueFailedSetGrowing"}


def generated_alerts(queue: Queue) -> tuple[AlertSpec, ...]:
    """The queue's alerts that are enabled and whose signals the convention has."""
    return tuple(a for a in ALERTS
                 if queue.alerts[a.alert.setting].enabled and available(queue.convention, _FEATURE_BY_WHAT[a.feature]))


def _alert(spec: AlertSpec, q: QueueQueries, settings: AlertSettings) -> tuple[AlertRule, ...]:
    return (alert_rule(settings, spec.alert, CONDITIONS[spec.alert.setting](q, settings).expr,
                       spec.summary % q.queue.name, spec.description(q.queue, settings),
                       panel_key(q.queue, spec.panel), pod_label="", labels=(("queue", q.queue.name),)),)


def alert_definitions(queue: Queue) -> tuple[AlertDefinition[QueueQueries], ...]:
    """The queue's alerts whose signals its convention has; `build_alerts` skips the disabled ones."""
    return tuple(AlertDefinition(spec.alert, partial(_alert, spec)) for spec in ALERTS
                 if available(queue.convention, _FEATURE_BY_WHAT[spec.feature]))


def _group(service: Service, queue: Queue) -> RuleGroup:
    q = QueueQueries(service, queue, dashboard=False)
    return RuleGroup(f"{service.name}.queue.{queue.name}",
                     _recording_rules(q) + build_alerts(q, queue.alerts.__getitem__, alert_definitions(queue)))


def signals(service: Service) -> DomainOutput:
    return DomainOutput(
        rows=tuple(_row(service, q) for q in service.queues),
        groups=tuple(_group(service, q) for q in service.queues),
        notes=tuple(note for queue in service.queues for note in _notes(queue)),
    )


def rule_group(service: Service, queue: Queue) -> RuleGroup:
    """The queue's rule group as the rule file holds it: its recording rules, then its alerts."""
    return _group(service, queue)


# ---- which alerts supersede which (Alertmanager inhibit rules; collected by gen.domains.inhibitions()) ----

# One queue: the spec's `queue` label, and the key prefix labels of the built-in exporter conventions.
_QUEUE = ("namespace", "service", "queue", "prefix", "queue_prefix")
INHIBITIONS: tuple[Inhibition, ...] = (
    Inhibition(QUEUE_STUCK, (QUEUE_BACKLOG_GROWING, QUEUE_DRAIN_TIME_LONG), _QUEUE,
               "nothing completes: the growing backlog and the long drain time are the stuck queue"),
)
UNSUPERSEDED: tuple[Unsuperseded, ...] = (
    Unsuperseded(QUEUE_STUCK, "only ServiceDown supersedes it"),
    Unsuperseded(QUEUE_FAILURE_RATIO_HIGH, "failing jobs are an incident of their own, stuck or not"),
    Unsuperseded(QUEUE_FAILED_SET_GROWING, "failing jobs are an incident of their own, stuck or not"),
)
