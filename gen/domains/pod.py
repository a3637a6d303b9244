"""Pod resources: cAdvisor and kube-state-metrics series of the app container, panels and alerts.

Requests and limits come from kube-state-metrics unless the spec sets them; either
way they are recorded under the same names, so panels and alerts read one series.
"""
from __future__ import annotations

from dataclasses import dataclass

from gen.domains.alerts import (POD_CRASH_LOOPING, POD_MEMORY_EXHAUSTION_FORECAST, POD_MEMORY_LEAK,
    POD_MEMORY_LEAK_WITHIN_POD, POD_MEMORY_NEAR_LIMIT, POD_OOM_KILLED, POD_RESTARTS_FREQUENT, AlertDefinition,
    Inhibition, Unsuperseded, alert_rule, build_alerts)
from gen.spec.model import AlertSettings, Service
from gen.promql.selectors import Scope, eq
from gen.promql.trend import service_labels, service_selector
from gen.ir import (UNIT_BYTES, UNIT_BYTES_PER_SECOND, UNIT_CORES, UNIT_COUNT, UNIT_PACKETS_PER_SECOND, UNIT_RATIO,
    AlertRule, DomainOutput, Panel, Query, RecordingRule, Row, RuleGroup, SeriesStyle, Threshold)
from gen.units import Quantity, number

MEMORY_PANEL = "pod.memory"
RESTARTS_PANEL = "pod.restarts"
BY_CONTAINER = "namespace, pod, container"


@dataclass(frozen=True)
class Records:
    """Names of the recording rules this domain defines; other domains (leak watch) read them too."""

    working_set: str = "namespace_pod_container:container_memory_working_set_bytes:max"
    cpu: str = "namespace_pod_container:container_cpu_usage_seconds:rate5m"
    memory_limit: str = "namespace_pod_container:kube_pod_container_resource_limits_memory_bytes:max"
    memory_request: str = "namespace_pod_container:kube_pod_container_resource_requests_memory_bytes:max"
    cpu_limit: str = "namespace_pod_container:kube_pod_container_resource_limits_cpu_cores:max"
    cpu_request: str = "namespace_pod_container:kube_pod_container_resource_requests_cpu_cores:max"
    memory_of_limit: str = "namespace_pod_container:container_memory_working_set_bytes:ratio_limit"
    memory_of_request: str = "namespace_pod_container:container_memory_working_set_bytes:ratio_request"
    cpu_of_request: str = "namespace_pod_container:container_cpu_usage_seconds:ratio_request"


RECORDS = Records()


def recorded(service: Service, record: str) -> str:
    """A series this domain records, as alerts, panels and other records read it: by its `service` label."""
    return record + service_selector(service.name)


def applies(service: Service) -> bool:
    return True


def _resource_rule(s: Scope, record: str, base: str, kind: str, resource: str, fixed: Quantity | None) -> RecordingRule:
    labels = service_labels(s.service.name)
    if fixed is not None:
        # The spec states the value: give it the same labels as the usage series, so it joins like the real one.
        return RecordingRule(record, f"{recorded(s.service, base)} * 0 + {number(fixed.value)}", labels)
    source = s.container(f"kube_pod_container_resource_{kind}", eq("resource", resource))
    return RecordingRule(record, f"max by ({BY_CONTAINER}) ({source})", labels)


def _recording_rules(service: Service) -> tuple[RecordingRule, ...]:
    s = Scope(service, dashboard=False)
    r = service.resources
    ws = recorded(service, RECORDS.working_set)
    cpu = recorded(service, RECORDS.cpu)
    labels = service_labels(service.name)
    return (
        # cAdvisor can briefly export two series for one container (old and new cgroup); max de-duplicates.
        RecordingRule(RECORDS.working_set,
                      f"max by ({BY_CONTAINER}) ({s.container('container_memory_working_set_bytes')})", labels),
        RecordingRule(RECORDS.cpu,
                      f"sum by ({BY_CONTAINER}) (rate({s.container('container_cpu_usage_seconds_total')}[5m]))",
                      labels),
        _resource_rule(s, RECORDS.memory_limit, RECORDS.working_set, "limits", "memory", r.memory_limit),
        _resource_rule(s, RECORDS.memory_request, RECORDS.working_set, "requests", "memory", r.memory_request),
        _resource_rule(s, RECORDS.cpu_limit, RECORDS.cpu, "limits", "cpu", r.cpu_limit),
        _resource_rule(s, RECORDS.cpu_request, RECORDS.cpu, "requests", "cpu", r.cpu_request),
        RecordingRule(RECORDS.memory_of_limit, f"{ws} / {recorded(service, RECORDS.memory_limit)}", labels),
        RecordingRule(RECORDS.memory_of_request, f"{ws} / {recorded(service, RECORDS.memory_request)}", labels),
        RecordingRule(RECORDS.cpu_of_request, f"{cpu} / {recorded(service, RECORDS.cpu_request)}", labels),
    )


_REFERENCE_LINES = (
    SeriesStyle("average", color="blue", dashed=False, width=2),
    SeriesStyle("maximum", color="purple", width=2),
    SeriesStyle("request", color="orange", dashed=True, width=2),
    SeriesStyle("limit", color="red", dashed=True, width=2),
)


def _usage_queries(s: Scope, usage: str, request: str, limit: str) -> tuple[Query, ...]:
    return (
        Query(recorded(s.service, usage), "{{pod}}"),
        Query(f"avg({recorded(s.service, usage)})", "average"),
        Query(f"max({recorded(s.service, usage)})", "maximum"),
        Query(f"max({recorded(s.service, request)})", "request"),
        Query(f"max({recorded(s.service, limit)})", "limit"),
    )


def _panels(service: Service) -> tuple[Panel, ...]:
    s = Scope(service, dashboard=True)
    rate = s.rate_window
    throttled = s.container("container_cpu_cfs_throttled_periods_total")
    periods = s.container("container_cpu_cfs_periods_total")

    def network(metric: str) -> str:
        return f"sum by (pod) (rate({s.pod(metric)}[{rate}]))"

    return (
        Panel(MEMORY_PANEL, "Memory working set",
              "Working set of each pod's app container (what the kernel counts against the limit), with the "
              "average and maximum across pods and the container's request and limit. Lines that step down at "
              "each deploy and climb again in between are a leak that restarts hide.",
              UNIT_BYTES, _usage_queries(s, RECORDS.working_set, RECORDS.memory_request, RECORDS.memory_limit),
              min=0, styles=_REFERENCE_LINES),
        Panel("pod.cpu", "CPU usage",
              "CPU cores used by each pod's app container, with the average and maximum across pods and the "
              "request and limit. All pods rising together at a flat request rate points at the application, "
              "not at one noisy node.",
              UNIT_CORES, _usage_queries(s, RECORDS.cpu, RECORDS.cpu_request, RECORDS.cpu_limit), min=0,
              styles=_REFERENCE_LINES),
        Panel("pod.throttling", "CPU throttling",
              "Share of CFS periods in which the container was throttled because it hit its CPU limit. Any "
              "sustained throttling adds latency and event-loop lag even when average CPU looks low.",
              UNIT_RATIO,
              (Query(f"sum by (pod) (rate({throttled}[{rate}])) / sum by (pod) (rate({periods}[{rate}]))",
                     "{{pod}}"),), min=0, max=1),
        Panel("pod.right-sizing", "Usage / request",
              "Memory and CPU use as a share of the request: the right-sizing view. Far below 100% means the "
              "pods reserve capacity they never use; above 100% means they rely on spare node capacity. "
              "Rule of thumb from the seed article: CPU request about 3x average use, memory request about "
              "1.2x current use.",
              UNIT_RATIO,
              (Query(f"max({recorded(s.service, RECORDS.memory_of_request)})", "memory, max pod"),
               Query(f"avg({recorded(s.service, RECORDS.memory_of_request)})", "memory, average"),
               Query(f"max({recorded(s.service, RECORDS.cpu_of_request)})", "cpu, max pod"),
               Query(f"avg({recorded(s.service, RECORDS.cpu_of_request)})", "cpu, average")), min=0),
        Panel("pod.network-bytes", "Network bytes",
              "Bytes per second received and transmitted by each pod. Traffic that climbs between deploys at "
              "a flat request rate is work the service starts itself (jobs, retries, polling).",
              UNIT_BYTES_PER_SECOND,
              (Query(network("container_network_receive_bytes_total"), "{{pod}} receive"),
               Query(network("container_network_transmit_bytes_total"), "{{pod}} transmit")), min=0),
        Panel("pod.network-packets", "Network packets",
              "Packets per second received and transmitted by each pod.",
              UNIT_PACKETS_PER_SECOND,
              (Query(network("container_network_receive_packets_total"), "{{pod}} receive"),
               Query(network("container_network_transmit_packets_total"), "{{pod}} transmit")), min=0),
        Panel("pod.network-drops", "Dropped packets",
              "Packets dropped on receive and transmit per pod. Drops that appear when the receive rate rises "
              "mean the pod or node cannot keep up.",
              UNIT_PACKETS_PER_SECOND,
              (Query(network("container_network_receive_packets_dropped_total"), "{{pod}} receive dropped"),
               Query(network("container_network_transmit_packets_dropped_total"), "{{pod}} transmit dropped")),
              min=0),
        Panel(RESTARTS_PANEL, "Container restarts and OOM kills",
              "Restarts of the app container in the last hour (kube-state-metrics), OOM kills counted by "
              "cAdvisor, and whether the last exit was an OOM kill. Restarts outside deploys are crashes.",
              UNIT_COUNT,
              (Query(f"increase({s.container('kube_pod_container_status_restarts_total')}[1h])",
                     "{{pod}} restarts (1h)"),
               Query(f"increase({s.container('container_oom_events_total')}[1h])", "{{pod}} OOM kills (1h)"),
               Query(s.container("kube_pod_container_status_last_terminated_reason", eq("reason", "OOMKilled")),
                     "{{pod}} last exit was OOMKilled")),
              min=0, bars=True),
        Panel("pod.suggest-cpu-request", "Suggested CPU request",
              "3x the average CPU use over the dashboard's time range (the seed article's rule of thumb).",
              UNIT_CORES, (Query(f"3 * avg(avg_over_time({recorded(s.service, RECORDS.cpu)}[$__range]))", "request"),),
              kind="stat", width=6, height=4, decimals=2),
        Panel("pod.suggest-cpu-limit", "Suggested CPU limit",
              "6x the peak CPU use of any pod over the dashboard's time range.",
              UNIT_CORES, (Query(f"6 * max(max_over_time({recorded(s.service, RECORDS.cpu)}[$__range]))", "limit"),),
              kind="stat", width=6, height=4, decimals=2),
        Panel("pod.suggest-memory-request", "Suggested memory request",
              "1.2x the largest working set of any pod now.",
              UNIT_BYTES, (Query(f"1.2 * max({recorded(s.service, RECORDS.working_set)})", "request"),),
              kind="stat", width=6, height=4),
        Panel("pod.suggest-memory-limit", "Suggested memory limit",
              "2x the largest working set of any pod now: room for a burst, not for a leak.",
              UNIT_BYTES, (Query(f"2 * max({recorded(s.service, RECORDS.working_set)})", "limit"),),
              kind="stat", width=6, height=4),
    )


def _headlines(service: Service) -> tuple[Panel, ...]:
    s = Scope(service, dashboard=True)
    near = service.alerts["memoryNearLimit"].param("threshold").value
    return (
        Panel("overview.memory-limit", "Worst memory / limit",
              "Highest working set as a share of the memory limit across pods.",
              UNIT_RATIO, (Query(f"max({recorded(s.service, RECORDS.memory_of_limit)})", "memory / limit"),), kind="stat",
              width=6, height=4, min=0, max=1,
              thresholds=(Threshold(None, "green"), Threshold(round(near - 0.1, 4), "orange"),
                          Threshold(near, "red"))),
        Panel("overview.restarts", "Restarts (24h)", "Container restarts across all pods in the last 24 hours.",
              UNIT_COUNT,
              (Query(f"sum(increase({s.container('kube_pod_container_status_restarts_total')}[24h]))",
                     "restarts"),),
              kind="stat", width=6, height=4, decimals=0,
              thresholds=(Threshold(None, "green"), Threshold(1, "orange"), Threshold(5, "red"))),
    )


def _near_limit(service: Service, near: AlertSettings) -> tuple[AlertRule, ...]:
    s = Scope(service, dashboard=False)
    threshold = near.param("threshold")
    return (alert_rule(
        near, POD_MEMORY_NEAR_LIMIT,
        f"{recorded(s.service, RECORDS.memory_of_limit)} > {number(threshold.value)}",
        summary="{{ $labels.pod }} is close to its memory limit",
        description=("Container {{ $labels.container }} of {{ $labels.pod }} uses {{ $value | humanizePercentage }}"
                     " of its memory limit (alert above %s for %s). The kernel OOM-kills it when it reaches "
                     "100%%." % (threshold.text, near.for_.text)),
        panel_key=MEMORY_PANEL),)


def _crash_looping(service: Service, crash: AlertSettings) -> tuple[AlertRule, ...]:
    s = Scope(service, dashboard=False)
    return (alert_rule(
        crash, POD_CRASH_LOOPING,
        f"max_over_time({s.container('kube_pod_container_status_waiting_reason', eq('reason', 'CrashLoopBackOff'))}"
        f"[5m]) >= 1",
        summary="{{ $labels.pod }} is crash looping",
        description=("Container {{ $labels.container }} of {{ $labels.pod }} has been in CrashLoopBackOff for "
                     "%s: it fails right after starting. Check its last logs and exit reason." % crash.for_.text),
        panel_key=RESTARTS_PANEL),)


def _restarts(service: Service, restarts: AlertSettings) -> tuple[AlertRule, ...]:
    s = Scope(service, dashboard=False)
    count, window = restarts.param("threshold"), restarts.param("window")
    return (alert_rule(
        restarts, POD_RESTARTS_FREQUENT,
        f"round(increase({s.container('kube_pod_container_status_restarts_total')}[{window.text}])) >= {count}",
        summary="{{ $labels.pod }} restarts often",
        description=("Container {{ $labels.container }} of {{ $labels.pod }} restarted {{ $value }} times in the "
                     "last %s. Deploys restart a container once; more is crashes, OOM kills or failed "
                     "liveness probes." % window.text),
        panel_key=RESTARTS_PANEL),)


def _oom_killed(service: Service, oom: AlertSettings) -> tuple[AlertRule, ...]:
    s = Scope(service, dashboard=False)
    window = oom.param("window")
    restarts = s.container("kube_pod_container_status_restarts_total")
    # The restart counter says the container restarted in its pod (a deploy makes a new pod with a counter of 0);
    # the last terminated reason says why. A restart for maintenance (Completed, Error) is not this alert's.
    oom_killed = s.container("kube_pod_container_status_last_terminated_reason", eq("reason", "OOMKilled"))
    return (alert_rule(
        oom, POD_OOM_KILLED,
        f"round(increase({restarts}[{window.text}])) >= 1 and on ({BY_CONTAINER}) {oom_killed} == 1",
        summary="{{ $labels.pod }} was OOM-killed",
        description=("The kernel killed container {{ $labels.container }} of {{ $labels.pod }} at its memory limit "
                     "and the kubelet restarted it in the same pod ({{ $value }} restarts in the last %s). Its "
                     "memory grows back and it is killed again, every few hours, losing the requests in flight "
                     "each time: find the leak (heap snapshots, Buffers, native memory) or raise the limit."
                     % window.text),
        panel_key=RESTARTS_PANEL),)


ALERTS: tuple[AlertDefinition[Service], ...] = (
    AlertDefinition(POD_MEMORY_NEAR_LIMIT, _near_limit),
    AlertDefinition(POD_CRASH_LOOPING, _crash_looping),
    AlertDefinition(POD_RESTARTS_FREQUENT, _restarts),
    AlertDefinition(POD_OOM_KILLED, _oom_killed),
)


def signals(service: Service) -> DomainOutput:
    rules = _recording_rules(service) + build_alerts(service, service.alerts.__getitem__, ALERTS)
    return DomainOutput(
        rows=(Row("pod", "Pod resources", _panels(service)),),
        headlines=_headlines(service),
        groups=(RuleGroup(f"{service.name}.pod", rules),),
    )


# ---- which alerts supersede which (Alertmanager inhibit rules; collected by gen.domains.inhibitions()) ----

CONTAINER = ("namespace", "pod", "container", "service")
INHIBITIONS: tuple[Inhibition, ...] = (
    Inhibition(POD_MEMORY_NEAR_LIMIT, (POD_MEMORY_EXHAUSTION_FORECAST, POD_MEMORY_LEAK, POD_MEMORY_LEAK_WITHIN_POD),
               CONTAINER, "the container is at its limit already: the forecast and the leak that lead there are "
                          "this incident"),
    Inhibition(POD_CRASH_LOOPING, (POD_RESTARTS_FREQUENT,), CONTAINER,
               "the restarts are the crash loop, which names their cause"),
    Inhibition(POD_OOM_KILLED, (POD_RESTARTS_FREQUENT,), CONTAINER,
               "the restarts are OOM kills, which names their cause"),
)
UNSUPERSEDED: tuple[Unsuperseded, ...] = (
    Unsuperseded(POD_MEMORY_NEAR_LIMIT, "the last stage of memory exhaustion; only ServiceDown supersedes it"),
    Unsuperseded(POD_CRASH_LOOPING, "only ServiceDown supersedes it"),
    Unsuperseded(POD_OOM_KILLED, "kills that already happened; only ServiceDown supersedes it"),
)
