"""Right-sizing: measured use against requests and limits, and the `seed` strategy's values as recorded series.

The records compute what `obsgen rightsize --strategy seed` computes before rounding (the average and peak
over spec.rightsizing.window times the spec's multipliers), from the pod domain's per-container series, so
the dashboard and the command agree on the same data. Unlike the command they do not know about leaks: a
leaking service's memory lines follow the leak, and `obsgen rightsize` says what to do about it.
"""
from __future__ import annotations

from dataclasses import dataclass

from gen.domains import pod
from gen.domains.alerts import POD_OVER_PROVISIONED, AlertDefinition, Unsuperseded, alert_rule, build_alerts
from gen.ir import UNIT_BYTES, UNIT_CORES, DomainOutput, Panel, Query, RecordingRule, Row, RuleGroup, \
    SeriesStyle, Threshold
from gen.promql.trend import service_labels
from gen.spec.model import AlertSettings, Service
from gen.units import number

USAGE_PANEL_CPU = "rightsize.cpu"
USAGE_PANEL_MEMORY = "rightsize.memory"
UNIT_TIMES = "suffix:x"


@dataclass(frozen=True)
class Records:
    cpu_average: str = "service:rightsizing_cpu_cores:average"
    cpu_peak: str = "service:rightsizing_cpu_cores:peak"
    memory_average: str = "service:rightsizing_memory_bytes:average"
    memory_peak: str = "service:rightsizing_memory_bytes:peak"
    cpu_request: str = "service:rightsizing_cpu_request_cores:seed"
    cpu_limit: str = "service:rightsizing_cpu_limit_cores:seed"
    memory_request: str = "service:rightsizing_memory_request_bytes:seed"
    memory_limit: str = "service:rightsizing_memory_limit_bytes:seed"


RECORDS = Records()


def applies(service: Service) -> bool:
    return True


def _recorded(service: Service, record: str) -> str:
    return pod.recorded(service, record)


def recording_rules(service: Service) -> tuple[RecordingRule, ...]:
    """The usage statistics, then the seed strategy's four values (unrounded) from them."""
    w = service.rightsizing.window.text
    r = service.rightsizing
    cpu, ws = _recorded(service, pod.RECORDS.cpu), _recorded(service, pod.RECORDS.working_set)
    labels = service_labels(service.name)

    def rule(record: str, expr: str) -> RecordingRule:
        return RecordingRule(record, expr, labels)

    # Across pods as the command does: the typical pod's average, the busiest pod's peak.
    return (
        rule(RECORDS.cpu_average, f"avg by (namespace, container) (avg_over_time({cpu}[{w}]))"),
        rule(RECORDS.cpu_peak, f"max by (namespace, container) (max_over_time({cpu}[{w}]))"),
        rule(RECORDS.memory_average, f"avg by (namespace, container) (avg_over_time({ws}[{w}]))"),
        rule(RECORDS.memory_peak, f"max by (namespace, container) (max_over_time({ws}[{w}]))"),
        rule(RECORDS.cpu_request, f"{number(r.cpu_request_per_average)} * {_recorded(service, RECORDS.cpu_average)}"),
        rule(RECORDS.cpu_limit, f"{number(r.cpu_limit_per_peak)} * {_recorded(service, RECORDS.cpu_peak)}"),
        rule(RECORDS.memory_request,
             f"{number(r.memory_request_per_use)} * {_recorded(service, RECORDS.memory_peak)}"),
        rule(RECORDS.memory_limit, f"{number(r.memory_limit_per_use)} * {_recorded(service, RECORDS.memory_peak)}"),
    )


_LINES = (
    SeriesStyle("average", color="blue", width=2),
    SeriesStyle("maximum", color="purple", width=1),
    SeriesStyle("request", color="orange", dashed=True, width=2),
    SeriesStyle("limit", color="red", dashed=True, width=2),
    SeriesStyle("recommended request", color="green", dashed=True, width=2),
    SeriesStyle("recommended limit", color="dark-green", dashed=True, width=2),
)


def _usage_panel(service: Service, key: str, title: str, unit: str, usage: str, request: str, limit: str,
                 recommended_request: str, recommended_limit: str) -> Panel:
    r = service.rightsizing
    return Panel(
        key, title,
        f"Use across pods (average and maximum) against the request and limit the pods have now, and the values "
        f"the seed article's rule of thumb recommends from the last {r.window.text} (dashed green; before "
        "rounding). A request far above the average line is capacity paid for and never used. These lines do not "
        "know about leaks: `obsgen rightsize` sizes a leaking service on its young pods.",
        unit,
        (Query(f"avg({_recorded(service, usage)})", "average"),
         Query(f"max({_recorded(service, usage)})", "maximum"),
         Query(f"max({_recorded(service, request)})", "request"),
         Query(f"max({_recorded(service, limit)})", "limit"),
         Query(f"max({_recorded(service, recommended_request)})", "recommended request"),
         Query(f"max({_recorded(service, recommended_limit)})", "recommended limit")),
        min=0, styles=_LINES)


# Headroom is request / typical use: around the strategy's own factor is right-sized; far above it, the pods
# reserve what they never use.
_HEADROOM_STEPS = (Threshold(None, "red"), Threshold(1, "green"), Threshold(10, "orange"))


def _headroom(service: Service, key: str, title: str, request: str, average: str) -> Panel:
    return Panel(
        key, title,
        f"The request divided by the average use per pod over the last {service.rightsizing.window.text}. Below "
        "1x the pods lean on spare node capacity; the seed article's rule of thumb gives 3x for CPU; 10x and "
        "more is capacity paid for and never used.",
        UNIT_TIMES,
        (Query(f"max({_recorded(service, request)}) / max({_recorded(service, average)})", "request / use"),),
        kind="stat", width=12, height=4, decimals=1, thresholds=_HEADROOM_STEPS)


def _panels(service: Service) -> tuple[Panel, ...]:
    return (
        _usage_panel(service, USAGE_PANEL_CPU, "CPU: use, request, limit and recommendation", UNIT_CORES,
                     pod.RECORDS.cpu, pod.RECORDS.cpu_request, pod.RECORDS.cpu_limit, RECORDS.cpu_request,
                     RECORDS.cpu_limit),
        _usage_panel(service, USAGE_PANEL_MEMORY, "Memory: use, request, limit and recommendation", UNIT_BYTES,
                     pod.RECORDS.working_set, pod.RECORDS.memory_request, pod.RECORDS.memory_limit,
                     RECORDS.memory_request, RECORDS.memory_limit),
        _headroom(service, "rightsize.cpu-headroom", "CPU headroom (request / average use)",
                  pod.RECORDS.cpu_request, RECORDS.cpu_average),
        _headroom(service, "rightsize.memory-headroom", "Memory headroom (request / average use)",
                  pod.RECORDS.memory_request, RECORDS.memory_average),
    )


# ---- the optional over-provisioning alert ----

# Share of the window the service's CPU use must have been recorded for: a service younger than its window
# has no week of evidence yet (and a new service's first days are not its steady use).
HISTORY_SHARE = 0.95
# (resource, the pod domain's usage and request records, the panel an alert links to)
_PROVISIONED = (
    ("cpu", pod.RECORDS.cpu, pod.RECORDS.cpu_request, USAGE_PANEL_CPU),
    ("memory", pod.RECORDS.working_set, pod.RECORDS.memory_request, USAGE_PANEL_MEMORY),
)


SEEN_RECORD = "service:rightsizing_usage_seen:timestamp"


def _p99_record(resource: str, window: str) -> str:
    return f"service:rightsizing_{resource}_usage:p99_{window}"


def _history_record(window: str) -> str:
    return f"service:rightsizing_usage_history_seconds:{window}"


def _over_provisioned(service: Service, settings: AlertSettings) -> tuple:
    """Its records first (each read right after it is written, in the same group), then one rule per resource."""
    window = settings.param("window")
    ratio = settings.param("ratio")
    labels = service_labels(service.name)
    cpu = _recorded(service, pod.RECORDS.cpu)
    # When use was last recorded, recorded at every evaluation: its oldest value within the window says how long
    # use has been recorded, without a subquery re-reading the window at every step.
    seen = RecordingRule(SEEN_RECORD, f"max by (namespace) (timestamp({cpu}))", labels)
    rules: list = [seen, RecordingRule(
        _history_record(window.text),
        f"time() - min_over_time({_recorded(service, SEEN_RECORD)}[{window.text}])", labels)]
    for resource, usage, request, panel in _PROVISIONED:
        rules.append(RecordingRule(
            _p99_record(resource, window.text),
            f"max by (namespace) (quantile_over_time(0.99, {_recorded(service, usage)}[{window.text}]))", labels))
        rules.append(alert_rule(
            settings, POD_OVER_PROVISIONED,
            f"max by (namespace) ({_recorded(service, request)}) / on (namespace) "
            f"{_recorded(service, _p99_record(resource, window.text))} >= {number(ratio)}"
            f" and on (namespace) {_recorded(service, _history_record(window.text))}"
            f" >= {number(HISTORY_SHARE * window.seconds)}",
            summary=f"{service.name} requests far more {resource} than it uses",
            description=(f"The {resource} request of {service.name} is {{{{ $value | humanize }}}}x its p99 use "
                         f"over the last {window.text} (alert at {number(ratio)}x): capacity reserved and never "
                         f"used. `obsgen rightsize` recommends values."),
            panel_key=panel, labels=(("resource", resource),)))
    return tuple(rules)


ALERTS: tuple[AlertDefinition[Service], ...] = (
    AlertDefinition(POD_OVER_PROVISIONED, _over_provisioned),
)


def signals(service: Service) -> DomainOutput:
    alerts = build_alerts(service, service.alerts.__getitem__, ALERTS)
    return DomainOutput(
        rows=(Row("rightsize", "Right-sizing", _panels(service)),),
        groups=(RuleGroup(f"{service.name}.rightsize", recording_rules(service) + alerts, interval=service.rightsizing.evaluation_interval),),
    )


INHIBITIONS: tuple = ()
UNSUPERSEDED: tuple[Unsuperseded, ...] = (
    Unsuperseded(POD_OVER_PROVISIONED, "a cost signal about the request, not about the service's health; no "
                                       "other alert says the same"),
)
