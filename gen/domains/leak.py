"""Leak watch: retained-memory floors, their trends and forecasts, the CPU trend, and their alerts.

This domain reads series that the Node.js and pod domains define (prom-client
heap metrics, the container's recorded working set and limit) and builds the
trend machinery of gen/promql/trend.py on top of them. Its row comes right after the
overview, so a reader sees a leak in the picture before any alert.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Callable

from gen.promql import trend
from gen.domains.alerts import (NODEJS_HEAP_LEAK, NODEJS_HEAP_LEAK_WITHIN_PROCESS, POD_CPU_USAGE_RISING,
    POD_MEMORY_EXHAUSTION_FORECAST, POD_MEMORY_LEAK, POD_MEMORY_LEAK_WITHIN_POD, AlertDefinition, Inhibition,
    Unsuperseded, alert_rule, build_alerts)
from gen.spec.model import AlertSettings, Service
from gen.promql.selectors import Scope, eq
from gen.ir import (UNIT_BYTES, UNIT_CORES, UNIT_RATIO, UNIT_SECONDS, AlertRule, DomainOutput, Panel, Query,
    RecordingRule, Row, RuleGroup, SeriesStyle, Threshold)
from gen.units import duration, number
from gen.domains import nodejs, pod

FLOOR_PANEL = "leak.heap-floor"
WS_PANEL = "leak.working-set-floor"
EXTERNAL_PANEL = "leak.external-floor"
GROWTH_PANEL = "leak.growth"
FORECAST_PANEL = "leak.forecast"
CPU_PANEL = "leak.cpu-trend"

EARLY_SEVERITY = "warning"  # of the forecast's early rule
CPU_RECORD = "service:container_cpu_usage_seconds:avg_rate5m"
UPTIME_RECORD = "instance:process_uptime_seconds"
CPU_GROWTH_RECORD = "service:container_cpu_usage_seconds:avg_rate5m_growth_ratio"


def applies(service: Service) -> bool:
    return True


def trend_windows(service: Service) -> trend.TrendWindows:
    leak = service.leak
    return trend.TrendWindows(leak.floor_window, leak.period, leak.compare_window, leak.step_duration)


@dataclass(frozen=True)
class Signals:
    heap: tuple[trend.RetainedSignal, ...]
    working_set: trend.RetainedSignal


def retained_signals(service: Service, dashboard: bool = False) -> Signals:
    s = Scope(service, dashboard=dashboard)
    heap: tuple[trend.RetainedSignal, ...] = ()
    if nodejs.applies(service):
        m = nodejs.Metrics(service.nodejs_metric_prefix)
        heap = (
            trend.RetainedSignal("old_space", "heap old space", s.app(m.space_used, eq("space", "old")),
                                 "instance:nodejs_heap_old_space_used_bytes", "job, instance", UPTIME_RECORD,
                                 service.name),
            trend.RetainedSignal("heap_used", "heap used", s.app(m.heap_used),
                                 "instance:nodejs_heap_used_bytes", "job, instance", UPTIME_RECORD, service.name),
            # Off-heap leaks (Buffers, native modules) grow RSS and the working set while the heap stays flat.
            # The working-set alerts see them too, but external memory is a small floor, so a slow off-heap
            # leak is a large share of it long before it is 3% of the whole container.
            trend.RetainedSignal("external", "external memory (Buffers, native)", s.app(m.external),
                                 "instance:nodejs_external_memory_bytes", "job, instance", UPTIME_RECORD,
                                 service.name),
        )
    ws = trend.RetainedSignal("working_set", "container working set", pod.recorded(service, pod.RECORDS.working_set),
                              "namespace_pod_container:container_memory_working_set_bytes",
                              "namespace, pod, container", None, service.name,
                              restarts=s.container("kube_pod_container_status_restarts_total"))
    return Signals(heap, ws)


def _recording_rules(service: Service, sig: Signals) -> tuple[RecordingRule, ...]:
    """The floors and trends every service gets (panels read them), then the records its enabled alerts read."""
    w = trend_windows(service)
    rules: list[RecordingRule] = []
    for signal in (*sig.heap, sig.working_set):
        rules.append(trend.floor_rule(signal, w))
        rules.extend(trend.growth_rules(signal, w))
    ws = sig.working_set
    rules += [
        trend.peak_rule(ws, w),
        trend.sawtooth_rule(ws),
        *(trend.seconds_to_limit_rule(ws, pod.recorded(service, pod.RECORDS.memory_limit), f)
          for f in forecasts(service)),
        RecordingRule(CPU_RECORD, _cpu_per_pod(service), trend.service_labels(service.name)),
        RecordingRule(CPU_GROWTH_RECORD, _cpu_growth(service), trend.service_labels(service.name)),
    ]
    if sig.heap:
        s = Scope(service, dashboard=False)
        start = s.app(nodejs.Metrics(service.nodejs_metric_prefix).start_time)
        rules.append(trend.uptime_rule(UPTIME_RECORD, start, service.name))
    for definition, condition in _conditions(service):
        settings = service.alerts[definition.alert.setting]
        if settings.enabled:
            rules.extend(condition(service, settings).rules)
    return trend.unique_rules(rules)


def forecasts(service: Service) -> tuple[trend.Forecast, ...]:
    """The slow and the fast exhaustion forecast of the working set."""
    s = service.alerts["memoryExhaustion"]
    return (trend.Forecast(s.param("window"), s.param("horizon")),
            trend.Forecast(s.param("fastWindow"), s.param("fastHorizon")))


def _cpu_per_pod(service: Service) -> str:
    """Average CPU per pod, or CPU seconds per request when the spec names a request counter."""
    s = Scope(service, dashboard=False)
    cpu = f"avg by (namespace, container) ({pod.recorded(service, pod.RECORDS.cpu)})"
    counter = service.alerts["cpuTrend"].param("requestCounter")
    if not counter:
        return cpu
    requests = f"sum(rate({s.app(counter)}[5m]))"
    return f"sum by (namespace, container) ({pod.recorded(service, pod.RECORDS.cpu)}) / scalar({requests})"


def _cpu_growth(service: Service) -> str:
    """The lowest CPU of the compare window against the same window a period earlier: the same statistic and
    windows as the memory floors (gen/promql/trend.py says why a step counts once). The lowest level, not the
    average, so a burst of batch work inside the window does not count as growth."""
    w = cpu_windows(service)
    x = CPU_RECORD + trend.service_selector(service.name)
    return f"{trend.lowest(x, w)} / {trend.lowest(x, w, w.period)} - 1"


def cpu_windows(service: Service) -> trend.TrendWindows:
    """The memory windows with a compare window four times as long: a 5-minute CPU rate is noisier than a memory
    floor, which is already the minimum of an hour. The gap grows with it if needed, so windows never overlap."""
    w = trend_windows(service)
    return replace(w, compare=duration(4 * w.compare.seconds))


def _across_days(signal: trend.RetainedSignal, service: Service, across: AlertSettings) -> trend.Condition:
    return trend.across_days(signal, trend_windows(service), across.param("growthPerPeriod").value,
                             across.param("minBytesPerPeriod").value)


def _within_lifetime(signal: trend.RetainedSignal, service: Service, within: AlertSettings) -> trend.Condition:
    return trend.within_lifetime(signal, trend_windows(service), within.param("window"), within.param("warmup"),
                                 within.param("minGrowth").value, within.param("minBytes").value)


def _exhaustion_condition(service: Service, exhaustion: AlertSettings) -> trend.Condition:
    return trend.exhaustion(retained_signals(service).working_set, trend_windows(service), forecasts(service),
                            exhaustion.param("warmup"))


def _cpu_condition(service: Service, cpu: AlertSettings) -> trend.Condition:
    growth = number(cpu.param("growthPerPeriod").value)
    x = CPU_GROWTH_RECORD + trend.service_selector(service.name)
    # Two growths on comparisons whose windows do not overlap: one step never counts twice.
    return trend.Condition(f"{x} > {growth} and ({x} offset {cpu_windows(service).second_comparison.text}) > {growth}",
                           ())


_HEAP_ADVICE = ("Objects survive collection and are never freed: a leak. Take two heap snapshots a few hours apart "
                "and compare what is retained.")
# What to look at, per Node.js signal.
_ADVICE = {
    "old_space": _HEAP_ADVICE,
    "heap_used": _HEAP_ADVICE,
    "external": ("Memory outside the V8 heap is held and never released: Buffers kept by streams, sockets or "
                 "caches that are never closed or evicted, or a native module. Heap snapshots will not show it."),
}


def _floor_panel(signal: trend.RetainedSignal) -> str:
    return EXTERNAL_PANEL if signal.key == "external" else FLOOR_PANEL


def _heap_across_days(signal: trend.RetainedSignal, service: Service, across: AlertSettings) -> tuple[AlertRule, ...]:
    w = trend_windows(service)
    who = "{{ $labels.%s }}" % (service.selector.pod_label or "instance")
    return (alert_rule(
        across, NODEJS_HEAP_LEAK, _across_days(signal, service, across).expr,
        summary=f"{who}: {signal.title} keeps growing day after day",
        description=(f"The {signal.title} floor of {who} (what is left after garbage collection) grew by "
                     "{{ $value | humanize1024 }}B over the last %s, and by more than %s over the %s that ended %s "
                     "ago. %s" % (w.period.text, across.param("growthPerPeriod").text, w.period.text,
                                  w.second_comparison.text, _ADVICE[signal.key])),
        panel_key=_floor_panel(signal), pod_label=service.selector.pod_label, labels=(("signal", signal.key),)),)


def _heap_within_process(signal: trend.RetainedSignal, service: Service,
                         within: AlertSettings) -> tuple[AlertRule, ...]:
    who = "{{ $labels.%s }}" % (service.selector.pod_label or "instance")
    window = within.param("window")
    return (alert_rule(
        within, NODEJS_HEAP_LEAK_WITHIN_PROCESS, _within_lifetime(signal, service, within).expr,
        summary=f"{who}: {signal.title} has grown all through this process' life",
        description=(f"The {signal.title} floor of {who} grows by {{{{ $value | humanize1024 }}}}B per hour "
                     f"and has risen steadily for the last {window.text} without levelling off. Restarts "
                     f"and deploys hide a leak like this; it comes back after each one. {_ADVICE[signal.key]}"),
        panel_key=_floor_panel(signal), pod_label=service.selector.pod_label, labels=(("signal", signal.key),)),)


def _pod_across_days(service: Service, across: AlertSettings) -> tuple[AlertRule, ...]:
    w = trend_windows(service)
    return (alert_rule(
        across, POD_MEMORY_LEAK, _across_days(retained_signals(service).working_set, service, across).expr,
        summary="{{ $labels.pod }}: memory keeps growing day after day",
        description=("The working-set floor of container {{ $labels.container }} in {{ $labels.pod }} grew by "
                     "{{ $value | humanize1024 }}B over the last %s, and by more than %s over the %s that ended %s ago. "
                     "Memory is retained and never released: a leak in the heap, in Buffers or in native code."
                     % (w.period.text, across.param("growthPerPeriod").text, w.period.text, w.second_comparison.text)),
        panel_key=WS_PANEL),)


def _pod_within_lifetime(service: Service, within: AlertSettings) -> tuple[AlertRule, ...]:
    window = within.param("window")
    return (alert_rule(
        within, POD_MEMORY_LEAK_WITHIN_POD,
        _within_lifetime(retained_signals(service).working_set, service, within).expr,
        summary="{{ $labels.pod }}: memory has grown all through this pod's life",
        description=("The working-set floor of container {{ $labels.container }} in {{ $labels.pod }} grows by "
                     "{{ $value | humanize1024 }}B per hour and has risen steadily for the last %s without "
                     "levelling off. Deploys hide a leak like this; it comes back after each one."
                     % window.text),
        panel_key=WS_PANEL),)


def _early_warning_condition(service: Service, exhaustion: AlertSettings) -> trend.Condition:
    """The fast forecast with the warning horizon: reads the fast forecast's records, adds none."""
    early = trend.Forecast(exhaustion.param("fastWindow"), exhaustion.param("warningHorizon"))
    return trend.exhaustion(retained_signals(service).working_set, trend_windows(service), (early,),
                            exhaustion.param("warmup"))


def _exhaustion(service: Service, exhaustion: AlertSettings) -> tuple[AlertRule, ...]:
    """The page, and (when the page is not itself a warning) the same forecast at warning severity with a longer
    horizon: a leak that kills a pod within a day is announced many hours before anyone is woken. Each rule
    carries its severity as a label, as kubernetes-mixin's KubePersistentVolumeFillingUp does."""
    def rule(condition: trend.Condition, severity: str, window: str) -> AlertRule:
        return alert_rule(
            exhaustion, POD_MEMORY_EXHAUSTION_FORECAST, condition.expr,
            summary="{{ $labels.pod }} will run out of memory in {{ $value | humanizeDuration }}",
            description=("At the growth of the last %s, container {{ $labels.container }} in {{ $labels.pod }} "
                         "reaches its memory limit in {{ $value | humanizeDuration }} (floor plus its usual GC "
                         "sawtooth), and the kernel will OOM-kill it. Restart it before then to buy time, and "
                         "find the leak." % window),
            panel_key=FORECAST_PANEL, labels=(("severity", severity),))
    page = rule(_exhaustion_condition(service, exhaustion), exhaustion.severity, exhaustion.param("window").text)
    if exhaustion.severity == EARLY_SEVERITY:
        return (page,)
    return (page, rule(_early_warning_condition(service, exhaustion), EARLY_SEVERITY,
                       exhaustion.param("fastWindow").text))


def _cpu_rising(service: Service, cpu: AlertSettings) -> tuple[AlertRule, ...]:
    w = cpu_windows(service)
    growth = cpu.param("growthPerPeriod")
    per = "CPU seconds per request" if cpu.param("requestCounter") else "average CPU per pod"
    return (alert_rule(
        cpu, POD_CPU_USAGE_RISING, _cpu_condition(service, cpu).expr,
        summary="%s: CPU use keeps rising day after day" % service.name,
        description=("The lowest %s of %s in the last %s rose by {{ $value | humanizePercentage }} over the "
                     "same hours %s earlier, and by more than %s in the same comparison %s ago. Work per "
                     "request is growing: look for a leak (GC works harder as the heap grows) or a job that "
                     "does more each run." % (per, service.name, w.compare.text, w.period.text, growth.text,
                                               w.second_comparison.text)),
        panel_key=CPU_PANEL, pod_label=""),)


def _conditions(service: Service) -> tuple[tuple[AlertDefinition[Service], Callable[..., trend.Condition]], ...]:
    """Per heap signal its two leak alerts, then the working-set and CPU alerts; rule order follows. Each with
    its condition, whose records the group holds before the alerts."""
    sig = retained_signals(service)
    heap = tuple(pair for signal in sig.heap for pair in (
        (AlertDefinition(NODEJS_HEAP_LEAK, partial(_heap_across_days, signal)), partial(_across_days, signal)),
        (AlertDefinition(NODEJS_HEAP_LEAK_WITHIN_PROCESS, partial(_heap_within_process, signal)),
         partial(_within_lifetime, signal))))
    return heap + (
        (AlertDefinition(POD_MEMORY_LEAK, _pod_across_days), partial(_across_days, sig.working_set)),
        (AlertDefinition(POD_MEMORY_LEAK_WITHIN_POD, _pod_within_lifetime), partial(_within_lifetime, sig.working_set)),
        (AlertDefinition(POD_MEMORY_EXHAUSTION_FORECAST, _exhaustion), _exhaustion_condition),
        (AlertDefinition(POD_CPU_USAGE_RISING, _cpu_rising), _cpu_condition),
    )


def alert_definitions(service: Service) -> tuple[AlertDefinition[Service], ...]:
    return tuple(definition for definition, _ in _conditions(service))


def _panels(service: Service) -> tuple[Panel, ...]:
    sig = retained_signals(service, dashboard=True)
    s = Scope(service, dashboard=True)
    exhaustion = service.alerts["memoryExhaustion"]
    window, horizon = exhaustion.param("window"), exhaustion.param("horizon")
    p = service.leak.period.text
    raw_style = (SeriesStyle(".* raw", regex=True, width=1, fill=0),)
    panels = []
    pod_legend = "{{%s}}" % s.app_pod_label
    if sig.heap:
        old = sig.heap[0]
        panels.append(Panel(
            FLOOR_PANEL, "Retained heap: old-space floor",
            "Old space per pod (thin) and its floor, the lowest point within %s (thick): what survives garbage "
            "collection. The sawtooth is normal; a floor that climbs and only falls at restarts is a leak."
            % service.leak.floor_window.text,
            UNIT_BYTES, (Query(old.raw, f"{pod_legend} raw"), Query(old.recorded("floor"), f"{pod_legend} floor")),
            min=0, styles=raw_style))
        external = next(x for x in sig.heap if x.key == "external")
        panels.append(Panel(
            EXTERNAL_PANEL, "Retained off-heap: external-memory floor",
            "External memory per pod (Buffers and native memory outside the V8 heap; thin) and its floor over %s "
            "(thick). A leak here grows the working set while the heap stays flat." % service.leak.floor_window.text,
            UNIT_BYTES, (Query(external.raw, f"{pod_legend} raw"),
                         Query(external.recorded("floor"), f"{pod_legend} floor")),
            min=0, styles=raw_style))
    ws = sig.working_set
    panels.append(Panel(
        WS_PANEL, "Retained memory: working-set floor",
        "Container working set per pod (thin), its floor over %s (thick) and the memory limit. Steps down at "
        "deploys with a climb in between is a leak that restarts hide." % service.leak.floor_window.text,
        UNIT_BYTES,
        (Query(ws.raw, "{{pod}} raw"), Query(ws.recorded("floor"), "{{pod}} floor"),
         Query(f"max({pod.recorded(service, pod.RECORDS.memory_limit)})", "limit")),
        min=0, styles=raw_style + (SeriesStyle("limit", color="red", dashed=True, width=2),)))
    growth_queries = [Query(sig_.recorded("floor_growth_ratio"), f"{pod_legend} {sig_.title}") for sig_ in sig.heap]
    growth_queries.append(Query(ws.recorded("floor_growth_ratio"), "{{pod}} working set"))
    threshold = service.alerts["heapLeak"].param("growthPerPeriod").value
    panels.append(Panel(
        GROWTH_PANEL, f"Floor growth over {p}",
        f"How much each floor grew: its lowest point in the last {service.leak.compare_window.text} against the "
        f"same hours {p} earlier. A daily traffic cycle cancels out; a leak stays above zero day after day, a "
        f"single step for one {p}. The red line is the alert threshold; it must be crossed now and "
        f"{trend_windows(service).second_comparison.text} ago, two comparisons that share no window.",
        UNIT_RATIO, tuple(growth_queries), thresholds=(Threshold(None, "green"), Threshold(threshold, "red")),
        show_thresholds=True))
    floor = ws.recorded("floor")
    panels.append(Panel(
        FORECAST_PANEL, "Memory forecast vs limit",
        f"The working-set floor, the predict_linear() forecast {horizon.text} ahead from the last {window.text} "
        f"of it, and the limit. When the forecast line crosses the limit and the rise is steady, "
        f"{POD_MEMORY_EXHAUSTION_FORECAST.name} fires.",
        UNIT_BYTES,
        (Query(floor, "{{pod}} floor"), Query(f"predict_linear({floor}[{window.text}], {number(horizon.seconds)})",
                                              f"{{{{pod}}}} forecast in {horizon.text}"),
         Query(f"max({pod.recorded(service, pod.RECORDS.memory_limit)})", "limit")),
        min=0, styles=(SeriesStyle(".* forecast .*", regex=True, dashed=True),
                       SeriesStyle("limit", color="red", dashed=True, width=2))))
    panels.append(Panel(
        "leak.time-to-limit", "Time to memory limit",
        "Shortest time until any pod's memory reaches its limit at its current steady growth. Empty means no "
        "pod is growing.",
        UNIT_SECONDS, (Query(f"min({ws.recorded(forecasts(service)[0].record)})", "time to limit"),), kind="stat",
        width=6, height=8, decimals=0,
        thresholds=(Threshold(None, "red"), Threshold(horizon.seconds, "orange"),
                    Threshold(4 * horizon.seconds, "green")), no_value="not growing"))
    cpu = CPU_RECORD + trend.service_selector(service.name)
    panels.append(Panel(
        CPU_PANEL, f"CPU trend: average per pod, this {p} vs the one before",
        f"Average CPU per pod over the last {p} and the {p} before. At a flat request rate the two lines stay "
        "together; a gap that widens every day is work per request growing (the seed article's CPU doubled in "
        "five days).",
        UNIT_CORES,
        (Query(f"avg_over_time({cpu}[{p}])", f"last {p}"), Query(f"avg_over_time({cpu}[{p}] offset {p})",
                                                                 f"{p} before")), min=0, width=9))
    if nodejs.applies(service):
        m = nodejs.Metrics(service.nodejs_metric_prefix)
        lag = s.app(m.lag_p99)
        panels.append(Panel(
            "leak.lag-trend", "Event-loop p99 lag trend",
            f"Worst event-loop p99 per hour, now and {p} earlier. Lag that creeps up day after day means more "
            "synchronous work per request; it usually comes with rising CPU or heap.",
            UNIT_SECONDS,
            (Query(f"max(max_over_time({lag}[1h]))", "now"),
             Query(f"max(max_over_time({lag}[1h] offset {p}))", f"{p} earlier")), min=0, width=9))
    return tuple(panels)


def annotations(service: Service) -> list[dict]:
    return [{"datasource": {"type": "prometheus", "uid": "${datasource}"}, "enable": True, "hide": False,
             "iconColor": "red", "name": "Firing alerts",
             "expr": f'ALERTS{{alertstate="firing", service="{service.name}"}}', "step": "1m",
             "titleFormat": "{{alertname}}", "textFormat": "{{pod}} {{signal}}"}]


def signals(service: Service) -> DomainOutput:
    alerts = build_alerts(service, service.alerts.__getitem__, alert_definitions(service))
    return DomainOutput(
        # Right after the overview: the picture of a leak comes before any alert about it.
        rows=(Row("leak", "Leak watch", _panels(service), rank=0),),
        groups=(RuleGroup(f"{service.name}.leak", _recording_rules(service, retained_signals(service)) + alerts),),
        annotations=tuple(annotations(service)),
    )


# ---- which alerts supersede which (Alertmanager inhibit rules; collected by gen.domains.inhibitions()) ----

_CONTAINER = ("namespace", "pod", "container", "service")
# The heap alerts carry the app's pod label; they match the container alerts' `pod` when selector.podLabel is `pod`.
_POD = ("namespace", "pod", "service")
INHIBITIONS: tuple[Inhibition, ...] = (
    Inhibition(POD_MEMORY_EXHAUSTION_FORECAST, (POD_MEMORY_LEAK, POD_MEMORY_LEAK_WITHIN_POD), _CONTAINER,
               "the forecast pages for the leak that runs the container out of memory"),
    Inhibition(POD_MEMORY_EXHAUSTION_FORECAST, (NODEJS_HEAP_LEAK, NODEJS_HEAP_LEAK_WITHIN_PROCESS), _POD,
               "the heap leak of that pod is what the forecast pages for"),
    Inhibition(POD_MEMORY_LEAK, (POD_MEMORY_LEAK_WITHIN_POD,), _CONTAINER,
               "one leak, one ticket: the across-days alert is the confirmed one"),
    Inhibition(NODEJS_HEAP_LEAK, (NODEJS_HEAP_LEAK_WITHIN_PROCESS,), _POD,
               "one leak, one ticket: the across-days alert is the confirmed one"),
)
UNSUPERSEDED: tuple[Unsuperseded, ...] = (
    Unsuperseded(POD_CPU_USAGE_RISING, "a service-wide trend; only ServiceDown supersedes it"),
)
