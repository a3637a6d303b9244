"""Node.js runtime: prom-client's default metrics, their panels and the runtime alerts.

Metric names are prom-client's (collectDefaultMetrics), optionally prefixed.
"""
from __future__ import annotations

from gen.domains.alerts import (NODEJS_EVENT_LOOP_LAG_HIGH, AlertDefinition, Inhibition, Unsuperseded, alert_rule,
    build_alerts)
from gen.spec.model import AlertSettings, Service
from gen.promql.selectors import Scope, re_
from gen.ir import (UNIT_BYTES, UNIT_COUNT, UNIT_CORES, UNIT_PER_SECOND, UNIT_RATIO, UNIT_SECONDS, AlertRule,
    DomainOutput, Panel, Query, Row, RuleGroup, Threshold)
from gen.units import number

ROW_KEY = "nodejs"
LAG_PANEL = "nodejs.eventloop-lag"


def applies(service: Service) -> bool:
    return service.runtime == "nodejs"


class Metrics:
    """prom-client default metric names under the service's prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __getattr__(self, name: str) -> str:
        return self.prefix + _NAMES[name]


_NAMES = {
    "lag_mean": "nodejs_eventloop_lag_mean_seconds",
    "lag_p99": "nodejs_eventloop_lag_p99_seconds",
    "heap_used": "nodejs_heap_size_used_bytes",
    "heap_total": "nodejs_heap_size_total_bytes",
    "space_used": "nodejs_heap_space_size_used_bytes",
    "space_total": "nodejs_heap_space_size_total_bytes",
    "external": "nodejs_external_memory_bytes",
    "gc_count": "nodejs_gc_duration_seconds_count",
    "gc_sum": "nodejs_gc_duration_seconds_sum",
    "handles": "nodejs_active_handles_total",
    "requests": "nodejs_active_requests_total",
    "resources": "nodejs_active_resources_total",
    "rss": "process_resident_memory_bytes",
    "cpu_user": "process_cpu_user_seconds_total",
    "cpu_system": "process_cpu_system_seconds_total",
    "start_time": "process_start_time_seconds",
}


def _panels(service: Service) -> tuple[Panel, ...]:
    s = Scope(service, dashboard=True)
    m = Metrics(service.nodejs_metric_prefix)
    pod = "{{" + s.app_pod_label + "}}"
    rate = s.rate_window
    lag = service.alerts["eventLoopLag"]
    lag_threshold = lag.param("threshold").seconds
    return (
        Panel(LAG_PANEL, "Event-loop lag",
              "How long callbacks wait for the event loop, per pod: mean and p99 over each scrape. A rising line "
              "means synchronous work is blocking the loop (JSON parsing, crypto, big loops); every request waits "
              f"that long. The red line is the alert threshold ({lag.param('threshold')}).",
              UNIT_SECONDS,
              (Query(s.app(m.lag_p99), f"{pod} p99"), Query(s.app(m.lag_mean), f"{pod} mean")),
              min=0, thresholds=(Threshold(None, "green"), Threshold(lag_threshold, "red")), show_thresholds=True),
        Panel("nodejs.heap", "Heap used and total",
              "V8 heap per pod. Used is live objects plus garbage not yet collected; total is what V8 has "
              "reserved. Used falling at each GC is normal; the low points rising day after day is a leak.",
              UNIT_BYTES,
              (Query(s.app(m.heap_used), f"{pod} used"), Query(s.app(m.heap_total), f"{pod} total")), min=0),
        Panel("nodejs.heap-ratio", "Heap used / total",
              "Share of the reserved heap in use. A sawtooth between 60% and 95% is the garbage collector at "
              "work and healthy on its own; staying pinned near 100% means GC cannot free enough.",
              UNIT_RATIO, (Query(f"{s.app(m.heap_used)} / {s.app(m.heap_total)}", pod),), min=0, max=1),
        Panel("nodejs.heap-spaces", "Heap used by space",
              "V8 heap spaces summed over pods. New space holds short-lived objects and spikes with allocation "
              "bursts; old space holds what survived GC. Old space that only grows is the leak signature.",
              UNIT_BYTES, (Query(f"sum by (space) ({s.app(m.space_used)})", "{{space}}"),), min=0, stacked=True),
        Panel("nodejs.old-new-space", "Old and new space per pod",
              "Old and new space of each pod side by side: frequent new-space spikes are allocation bursts; "
              "a steadily rising old space is objects surviving collection.",
              UNIT_BYTES, (Query(s.app(m.space_used, re_("space", "old|new")), f"{pod} {{{{space}}}}"),), min=0),
        Panel("nodejs.gc-rate", "GC runs by kind",
              "Garbage collections per second by kind (minor = scavenge of new space, major = mark-sweep of "
              "old space). Major GCs getting more frequent means old space is under pressure.",
              UNIT_PER_SECOND, (Query(f"sum by (kind) (rate({s.app(m.gc_count)}[{rate}]))", "{{kind}}"),), min=0),
        Panel("nodejs.gc-time", "Time spent in GC by kind",
              "Share of wall-clock time spent in garbage collection, by kind. Above a few percent, GC is "
              "stealing time from requests and adds event-loop lag.",
              UNIT_RATIO, (Query(f"sum by (kind) (rate({s.app(m.gc_sum)}[{rate}]))", "{{kind}}"),), min=0,
              stacked=True),
        Panel("nodejs.rss-external", "RSS and external memory",
              "Resident set size (everything the process holds in RAM) and external memory (Buffers and "
              "native objects outside the V8 heap). RSS growing while the heap is flat points at Buffers or "
              "native modules.",
              UNIT_BYTES, (Query(s.app(m.rss), f"{pod} rss"), Query(s.app(m.external), f"{pod} external")), min=0),
        Panel("nodejs.handles", "Active handles and requests",
              "Open handles (sockets, timers, file descriptors) and pending libuv requests per pod. Handles "
              "that only grow are a connection or timer leak.",
              UNIT_COUNT,
              (Query(s.app(m.handles), f"{pod} handles"), Query(s.app(m.requests), f"{pod} requests")), min=0),
        Panel("nodejs.cpu", "Process CPU, user and system",
              "CPU time the Node.js process uses, in cores. User time is JavaScript and native code; system time "
              "is the kernel working for it (I/O, memory). CPU rising at a flat request rate means work per "
              "request is growing.",
              UNIT_CORES,
              (Query(f"rate({s.app(m.cpu_user)}[{rate}])", f"{pod} user"),
               Query(f"rate({s.app(m.cpu_system)}[{rate}])", f"{pod} system")), min=0),
        Panel("nodejs.process-restarts", "Process restarts",
              "Times each pod's Node.js process started within the last hour, from process_start_time_seconds. "
              "Deploys show as one restart per pod; anything else is a crash.",
              UNIT_COUNT,
              (Query(f"changes({s.app(m.start_time)}[1h])", pod),), min=0, bars=True),
        Panel("nodejs.uptime", "Process uptime",
              "Time since each pod's process started. A sawtooth that resets every few hours is a crash loop "
              "or an OOM kill, not a deploy.",
              UNIT_SECONDS, (Query(f"time() - {s.app(m.start_time)}", pod),), min=0),
    )


def _headlines(service: Service) -> tuple[Panel, ...]:
    s = Scope(service, dashboard=True)
    m = Metrics(service.nodejs_metric_prefix)
    return (
        Panel("overview.lag", "Worst event-loop p99", "Highest event-loop p99 lag across pods right now.",
              UNIT_SECONDS, (Query(f"max({s.app(m.lag_p99)})", "p99"),), kind="stat", width=6, height=4,
              thresholds=(Threshold(None, "green"),
                          Threshold(service.alerts["eventLoopLag"].param("threshold").seconds, "red"))),
        Panel("overview.uptime", "Youngest process", "Uptime of the most recently started process.",
              UNIT_SECONDS, (Query(f"min(time() - {s.app(m.start_time)})", "uptime"),), kind="stat",
              width=6, height=4),
    )


def _lag_alert(service: Service, settings: AlertSettings) -> tuple[AlertRule, ...]:
    s = Scope(service, dashboard=False)
    m = Metrics(service.nodejs_metric_prefix)
    threshold = settings.param("threshold")
    # The median of 5 minutes of p99 readings: one slow GC or batch run cannot trip it, a loop that is
    # blocked most of the time does, and a brief dip does not reset the `for` timer.
    expr = f"quantile_over_time(0.5, {s.app(m.lag_p99)}[5m]) > {number(threshold.seconds)}"
    return (alert_rule(
        settings, NODEJS_EVENT_LOOP_LAG_HIGH, expr,
        summary="Event loop of {{ $labels.%s }} is blocked" % s.app_pod_label,
        description=("Event-loop p99 lag of {{ $labels.%s }} is {{ $value | humanizeDuration }} (median over "
                     "5m), above %s for %s. Synchronous work is blocking the loop, so every request waits "
                     "at least that long." % (s.app_pod_label, threshold.text, settings.for_.text)),
        panel_key=LAG_PANEL, pod_label=service.selector.pod_label),)


ALERTS: tuple[AlertDefinition[Service], ...] = (AlertDefinition(NODEJS_EVENT_LOOP_LAG_HIGH, _lag_alert),)


def signals(service: Service) -> DomainOutput:
    rules = build_alerts(service, service.alerts.__getitem__, ALERTS)
    return DomainOutput(
        rows=(Row(ROW_KEY, "Node.js runtime", _panels(service)),),
        headlines=_headlines(service),
        groups=(RuleGroup(f"{service.name}.nodejs", rules),) if rules else (),
    )


# ---- which alerts supersede which (Alertmanager inhibit rules; collected by gen.domains.inhibitions()) ----

INHIBITIONS: tuple[Inhibition, ...] = ()
UNSUPERSEDED: tuple[Unsuperseded, ...] = (
    Unsuperseded(NODEJS_EVENT_LOOP_LAG_HIGH, "a blocked event loop is an incident of its own; only ServiceDown "
                                             "supersedes it"),
)
