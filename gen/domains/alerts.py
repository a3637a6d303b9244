"""Every alert obsgen can generate, in one registry, and the one way a domain declares its alerts.

An alert's name is written once, here. Domains, proofs, the backtest and the
README tables refer to the registry entry, so renaming an alert is one edit and
a new alert cannot be missing from any table that lists them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generic, Iterable, TypeVar

from gen.ir import AlertRule
from gen.spec.model import AlertSettings


@dataclass(frozen=True)
class Alert:
    """One alert of obsgen's alert pack: what it is called, which spec setting controls it, what it is about."""

    name: str
    setting: str  # key under spec.alerts (or a queue's alerts) that switches and tunes it
    domain: str  # the domain module that builds it
    subject: str  # what one firing alert is about: a process, a container, a service or a queue
    about: str  # one line for tables


NODEJS_EVENT_LOOP_LAG_HIGH = Alert("NodejsEventLoopLagHigh", "eventLoopLag", "nodejs", "process",
                                   "the event loop is blocked: p99 lag above the threshold")
POD_MEMORY_NEAR_LIMIT = Alert("PodMemoryNearLimit", "memoryNearLimit", "pod", "container",
                              "the working set is close to the memory limit")
POD_CRASH_LOOPING = Alert("PodCrashLooping", "crashLooping", "pod", "container",
                          "the container is in CrashLoopBackOff")
POD_RESTARTS_FREQUENT = Alert("PodRestartsFrequent", "restarts", "pod", "container",
                              "the container restarts more often than deploys explain")
POD_OOM_KILLED = Alert("PodOOMKilled", "oomKilled", "pod", "container",
                       "the container was OOM-killed and restarted in its pod: an OOM-kill loop has begun")
SERVICE_DOWN = Alert("ServiceDown", "serviceDown", "scrape", "service", "no scrape target of the service answers")
SERVICE_TARGET_DOWN = Alert("ServiceTargetDown", "targetDown", "scrape", "process",
                            "one scrape target does not answer while others do")
SERVICE_NOT_SCRAPED = Alert("ServiceNotScraped", "notScraped", "scrape", "service",
                            "Prometheus has no scrape target for the service at all")
NODEJS_HEAP_LEAK = Alert("NodejsHeapLeak", "heapLeak", "leak", "process",
                         "the retained heap grew on each of the last two days")
NODEJS_HEAP_LEAK_WITHIN_PROCESS = Alert("NodejsHeapLeakWithinProcess", "heapLeakWithinProcess", "leak", "process",
                                        "the retained heap has risen steadily all through this process' life")
POD_MEMORY_LEAK = Alert("PodMemoryLeak", "memoryLeak", "leak", "container",
                        "the working-set floor grew on each of the last two days")
POD_MEMORY_LEAK_WITHIN_POD = Alert("PodMemoryLeakWithinPod", "memoryLeakWithinPod", "leak", "container",
                                   "the working-set floor has risen steadily all through this pod's life")
POD_MEMORY_EXHAUSTION_FORECAST = Alert("PodMemoryExhaustionForecast", "memoryExhaustion", "leak", "container",
                                       "at its steady growth the container reaches its memory limit soon")
POD_CPU_USAGE_RISING = Alert("PodCpuUsageRising", "cpuTrend", "leak", "service",
                             "CPU per pod (or per request) rose on each of the last two days")
QUEUE_BACKLOG_GROWING = Alert("QueueBacklogGrowing", "backlogGrowing", "queue", "queue",
                              "jobs arrive faster than they complete")
QUEUE_STUCK = Alert("QueueStuck", "stuck", "queue", "queue", "jobs wait or run and nothing completes")
QUEUE_FAILURE_RATIO_HIGH = Alert("QueueFailureRatioHigh", "failureRatio", "queue", "queue",
                                 "a high share of finished jobs failed")
QUEUE_DRAIN_TIME_LONG = Alert("QueueDrainTimeLong", "drainTime", "queue", "queue",
                              "the queued jobs need long to clear at the current completion rate")
QUEUE_FAILED_SET_GROWING = Alert("QueueFailedSetGrowing", "failedGrowing", "queue", "queue",
                                 "failed jobs keep piling up in the failed set")
POD_OVER_PROVISIONED = Alert("PodOverProvisioned", "overProvisioned", "rightsize", "service",
                              "the request stays at least 5x the p99 use for a week (info, off by default)")
SLO_ERROR_BUDGET_BURN_FAST = Alert("SloErrorBudgetBurnFast", "burnFast", "http", "slo",
                                   "an SLO's error budget burns fast: 14.4x over 1h and 5m, or 6x over 6h and 30m")
SLO_ERROR_BUDGET_BURN_SLOW = Alert("SloErrorBudgetBurnSlow", "burnSlow", "http", "slo",
                                   "an SLO's error budget burns slowly: 3x over 1d and 2h, or 1x over 3d and 6h")

REGISTRY: tuple[Alert, ...] = (
    NODEJS_EVENT_LOOP_LAG_HIGH, POD_MEMORY_NEAR_LIMIT, POD_CRASH_LOOPING, POD_RESTARTS_FREQUENT, POD_OOM_KILLED,
    SERVICE_DOWN, SERVICE_TARGET_DOWN, SERVICE_NOT_SCRAPED,
    NODEJS_HEAP_LEAK, NODEJS_HEAP_LEAK_WITHIN_PROCESS, POD_MEMORY_LEAK, POD_MEMORY_LEAK_WITHIN_POD,
    POD_MEMORY_EXHAUSTION_FORECAST, POD_CPU_USAGE_RISING,
    QUEUE_BACKLOG_GROWING, QUEUE_STUCK, QUEUE_FAILURE_RATIO_HIGH, QUEUE_DRAIN_TIME_LONG, QUEUE_FAILED_SET_GROWING,
    POD_OVER_PROVISIONED, SLO_ERROR_BUDGET_BURN_FAST, SLO_ERROR_BUDGET_BURN_SLOW,
)
BY_NAME: dict[str, Alert] = {a.name: a for a in REGISTRY}
QUEUE_ALERTS: tuple[Alert, ...] = tuple(a for a in REGISTRY if a.domain == "queue")
SLO_ALERTS: tuple[Alert, ...] = tuple(a for a in REGISTRY if a.domain == "http")
# Alerts whose settings live under spec.alerts (queue and SLO alerts have their own, per queue and per SLO).
SERVICE_ALERTS: tuple[Alert, ...] = tuple(a for a in REGISTRY if a.domain not in ("queue", "http"))


def alert_rule(settings: AlertSettings, alert: Alert, expr: str, summary: str, description: str, panel_key: str,
               *, pod_label: str = "pod", labels: tuple[tuple[str, str], ...] = ()) -> AlertRule:
    return AlertRule(name=alert.name, expr=expr, for_=settings.for_, severity=settings.severity, summary=summary,
                     description=description, panel_key=panel_key, pod_label=pod_label, setting=settings.key,
                     labels=tuple(sorted(labels)))


Subject = TypeVar("Subject")


@dataclass(frozen=True)
class AlertDefinition(Generic[Subject]):
    """How a domain builds one registry alert for a subject (a service, or one queue of it).

    `build` returns the rules for enabled settings; a domain lists its definitions in one table and
    `build_alerts` does the rest, so no domain decides on its own how to skip a disabled alert.
    """

    alert: Alert
    build: Callable[[Subject, AlertSettings], Iterable[AlertRule]]


def build_alerts(subject: Subject, settings: Callable[[str], AlertSettings],
                 definitions: Iterable[AlertDefinition[Subject]]) -> tuple[AlertRule, ...]:
    rules: list[AlertRule] = []
    for definition in definitions:
        setting = settings(definition.alert.setting)
        if setting.enabled:
            rules.extend(definition.build(subject, setting))
    return tuple(rules)


# ---- which alerts supersede which: the source of Alertmanager's inhibit rules ----

EVERY_OTHER_ALERT_OF_THE_SERVICE = "every other alert of the service"

# The labels an alert about each kind of subject carries from its expression (the app's own namespace and
# pod label names when the selector renames them), besides the rendered `severity`, `service`, `team`, the
# spec's `alerts.labels` and a queue's `queue`. `obsgen` checks `alerting.groupBy` against these.
SUBJECT_LABELS: dict[str, tuple[str, ...]] = {
    "process": ("namespace", "pod", "instance", "job"),
    "container": ("namespace", "pod", "container"),
    "service": ("namespace",),
    "queue": ("namespace", "job", "queue"),
    "slo": ("slo",),
}
# Labels some alerts carry from their expression, not named by their subject: the heap space and signal of
# the heap leak alerts, the waiting reason of PodCrashLooping, the resource of PodOverProvisioned, the key prefixes and queue label of the queue
# exporter conventions, job of a few service-wide alerts.
EXPRESSION_LABELS: tuple[str, ...] = ("job", "signal", "space", "reason", "prefix", "queue_prefix", "queue_name",
                                      "resource")


@dataclass(frozen=True)
class Inhibition:
    """While `source` fires, the `targets` with the same values of `equal` are the same incident: no notification.

    `targets` is a tuple of alerts, or EVERY_OTHER_ALERT_OF_THE_SERVICE, which the registry resolves, so an
    alert added later is covered without anyone editing a list. Only a source at least as severe as the
    target suppresses it (see gen.render.alertmanager), so a spec that lowers the source's severity cannot
    hide a page.
    """

    source: Alert
    targets: tuple[Alert, ...] | str
    equal: tuple[str, ...]
    why: str

    def target_alerts(self) -> tuple[Alert, ...]:
        if self.targets == EVERY_OTHER_ALERT_OF_THE_SERVICE:
            return tuple(a for a in REGISTRY if a != self.source)
        if isinstance(self.targets, str):
            raise ValueError(f"unknown inhibition target {self.targets!r}")
        return tuple(a for a in self.targets if a != self.source)


@dataclass(frozen=True)
class Unsuperseded:
    """An alert no narrower obsgen alert supersedes (only a service-wide one may), and why."""

    alert: Alert
    why: str
