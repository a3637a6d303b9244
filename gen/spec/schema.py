"""The spec language, defined once as a JSON Schema (draft 2020-12).

This schema is the single place where fields, their types, their defaults and
the reason for each default live. Validation, default filling, `obsgen schema`
and the README's spec reference are all read from it.

Defaults that depend on other fields are written as `{metadata.name}`; the
model stage substitutes them.
"""
from __future__ import annotations

import copy
from typing import Any

from gen.units import CPU_PATTERN, DURATION_PATTERN, PERCENT_PATTERN, SIZE_PATTERN

SCHEMA_ID = "https://obsgen.dev/schema/obsgen-v1.json"
API_VERSION = "obsgen/v1"

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
LABEL_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
# Label values that are safe in PromQL strings, YAML and Grafana variables alike:
# no quotes, backslashes, braces, '$' or white space.
LABEL_VALUE = r"^[A-Za-z0-9][A-Za-z0-9_.:/@+-]*$"
METRIC_PREFIX = r"^([a-zA-Z_:][a-zA-Z0-9_:]*)?$"
SEVERITIES = ("critical", "warning", "info")
TEAM = r"^[A-Za-z0-9][A-Za-z0-9_.:/@+-]*$"
# Alertmanager receiver names, as obsgen's routes refer to them (no quotes, no '/', which the operator adds).
RECEIVER_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.@+-]*$"
RECEIVER_OR_EMPTY = r"^([A-Za-z0-9][A-Za-z0-9_.@+-]*)?$"

SEVERITY_MEANING = {
    "critical": "pages someone now: an outage or exhaustion is imminent",
    "warning": "opens a ticket: a trend or fault that needs a fix this week",
    "info": "shows on dashboards only; routed nowhere by default",
}


REQUIRED = object()  # marks a field the user must write; it has no default


def _field(kind: str | list[str], description: str, default: Any, **extra: Any) -> dict:
    out = {"type": kind, "description": description, **extra}
    if default is not REQUIRED:
        out["default"] = default
    return out


def string(description: str, default: str, pattern: str | None = None, **extra: Any) -> dict:
    out = _field("string", description, default, **extra)
    if pattern:
        out["pattern"] = pattern
    return out


def duration(description: str, default: str, *, zero: bool = False) -> dict:
    return string(description, default, DURATION_PATTERN, format="duration-or-zero" if zero else "duration")


def size(description: str, default: str | None) -> dict:
    return {"type": ["string", "integer", "null"], "description": description, "default": default,
            "pattern": SIZE_PATTERN, "format": "size", "minimum": 0}


def cpu(description: str, default: str | None) -> dict:
    return {"type": ["string", "number", "null"], "description": description, "default": default,
            "pattern": CPU_PATTERN, "format": "cpu", "minimum": 0}


def percent(description: str, default: str) -> dict:
    return string(description, default, PERCENT_PATTERN, format="percent")


def boolean(description: str, default: bool) -> dict:
    return _field("boolean", description, default)


def integer(description: str, default: int, minimum: int = 0, maximum: int | None = None) -> dict:
    out = _field("integer", description, default, minimum=minimum)
    if maximum is not None:
        out["maximum"] = maximum
    return out


def factor(description: str, default: float, minimum: float, maximum: float) -> dict:
    return {"type": "number", "description": description, "default": default, "minimum": minimum,
            "maximum": maximum}


def obj(description: str, properties: dict, required: tuple[str, ...] = (), default: Any = None) -> dict:
    out: dict[str, Any] = {
        "type": "object",
        "description": description,
        "additionalProperties": False,
        "properties": properties,
    }
    if required:
        out["required"] = list(required)
    else:
        out["default"] = {} if default is None else default
    return out


def label_map(description: str) -> dict:
    return {
        "type": "object",
        "description": description,
        "default": {},
        "propertyNames": {"pattern": LABEL_NAME, "not": {"pattern": "^__"}},
        "additionalProperties": {"type": "string", "pattern": LABEL_VALUE, "maxLength": 128},
    }


def severity(default: str) -> dict:
    return {"type": "string", "enum": list(SEVERITIES), "default": default,
            "description": "Routing class: critical pages, warning opens a ticket, info stays on dashboards."}


def alert(description: str, default_severity: str, for_: str, for_why: str, **params: dict) -> dict:
    """An alert's settings: on/off, severity, `for` and its own thresholds."""
    properties = {
        "enabled": boolean("Generate this alert.", True),
        "severity": severity(default_severity),
        "for": duration(f"How long the condition must hold before the alert fires. Default {for_}: {for_why}",
                        for_, zero=True),
        **params,
    }
    return obj(description, properties)


def _off_by_default(settings: dict) -> dict:
    settings["properties"]["enabled"] = boolean("Generate this alert. Default false: opt in.", False)
    return settings


def _across_days_alert(description: str, growth: str, growth_why: str, min_bytes: str, bytes_why: str) -> dict:
    return alert(
        description, "warning", "1h",
        "the growth is already confirmed on two consecutive days; an hour more rules out a single odd evaluation.",
        growthPerPeriod=percent("Minimum growth of the floor per period, relative to the period before, on both "
                                "day-over-day comparisons (now, and a period plus `leakDetection.stepDuration` "
                                f"ago). Default {growth}: {growth_why}", growth),
        minBytesPerPeriod=size(f"Minimum growth per period in bytes, so small floors that wobble by a few percent "
                               f"stay quiet. Default {min_bytes}: {bytes_why}", min_bytes),
    )


def _within_lifetime_alert(description: str, subject: str, min_bytes: str, bytes_why: str) -> dict:
    return alert(
        description, "warning", "1h", "the rise must persist; a shorter rise is a cache filling.",
        window=duration("How far back the rise is measured. Default 16h: well over half a day, so the rising "
                        "half of a daily traffic cycle cannot pass as a leak, and short enough to fire before a "
                        "daily restart.", "16h"),
        warmup=duration("Time after a start that is never judged: caches and JIT warm up. Default 1h: typical "
                        "cache fill time of a Node.js API.", "1h"),
        minGrowth=percent("Minimum growth over the window, relative to the floor at its start. Default 3%: "
                          f"above the wobble of {subject}'s floor (the shape checks, not this threshold, keep "
                          "daily cycles and warm-up out).", "3%"),
        minBytes=size(f"Minimum growth over the window in bytes. Default {min_bytes}: {bytes_why}", min_bytes),
    )


def _alerts() -> dict:
    return obj(
        "Alerts generated for the service. Each can be switched off or tuned; defaults follow the "
        "severity rules in docs/alerts.md.",
        {
            "runbookBaseUrl": string(
                "Base URL of your runbooks; each alert links to <base>/<AlertName>. Default is a placeholder: "
                "set it to where your team keeps runbooks.",
                "https://runbooks.example.com/obsgen", r"^https?://[^\s\"'{}$]+$", format="uri"),
            "labels": label_map("Extra labels added to every alert of this service, for example for routing."),
            "eventLoopLag": alert(
                "Event-loop p99 lag stays high: the process is blocked by synchronous work and every request waits.",
                "warning", "15m", "a single slow GC pause or batch job is not an incident, a quarter hour is.",
                threshold=duration("p99 event-loop lag above which the alert counts. Default 200ms: users feel "
                                   "a 200 ms stall on every request; healthy services stay under 50 ms.", "200ms"),
            ),
            "memoryNearLimit": alert(
                "A container's working set is close to its memory limit: the kernel will OOM-kill it soon.",
                "critical", "15m", "a short allocation burst that GC reclaims does not page anyone.",
                threshold=percent("Share of the memory limit. Default 90%: the last 10% is gone in one burst "
                                  "for a heap-heavy Node.js process.", "90%"),
            ),
            "crashLooping": alert(
                "A container is in CrashLoopBackOff: it keeps failing right after it starts.",
                "warning", "15m", "Kubernetes backs off for minutes between attempts; 15m rules out one bad start.",
            ),
            "restarts": alert(
                "Containers restart more often than a deploy explains (crashes, OOM kills, failed probes).",
                "warning", "0s", "the window already smooths it; firing at once points at the restarts.",
                threshold=integer("Restarts of one container within the window. Default 3: one restart is an "
                                  "accident, three in an hour is a pattern.", 3, minimum=1),
                window=duration("Window in which restarts are counted. Default 1h: long enough to see a "
                                "pattern, short enough to clear soon after it stops.", "1h"),
            ),
            "oomKilled": alert(
                "The kernel OOM-killed a container and the kubelet restarted it in the same pod: unless the "
                "leak is fixed it grows back and is killed again, every few hours.",
                "warning", "0s", "the kill has happened; the restart counter and the last terminated reason "
                "say so at once.",
                window=duration("How long after an OOM kill the alert stays on. Default 12h: longer than the "
                                "time a leak takes to grow back, so a loop of kills is one alert, not one per "
                                "kill.", "12h"),
            ),
            "targetDown": alert(
                "Some scrape targets of the service are down: those pods are unhealthy or unreachable.",
                "warning", "15m", "a rolling deploy takes targets down for a minute or two, and a slow /metrics "
                "times out for ten minutes at times; neither is a pod down.",
            ),
            "serviceDown": alert(
                "Every scrape target of the service is down: the service is unavailable.",
                "critical", "15m", "a /metrics endpoint that times out for ten minutes while the pod serves "
                "on is a failed scrape, not an outage; every target down for a quarter hour is.",
            ),
            "heapLeak": _across_days_alert(
                "The V8 heap's floor (old space, and heap used) grows day after day: objects survive garbage "
                "collection and are never freed. Needs processes that live longer than two periods.",
                "3%", "the seed article's leak grew 6-7% a day; healthy heaps grow 0% once warm.",
                "4Mi", "well below any leak worth a ticket, well above measurement noise."),
            "heapLeakWithinProcess": _within_lifetime_alert(
                "The V8 heap's floor rises steadily through a process' life: the leak that daily deploys and "
                "restarts hide, caught before the next restart resets it.",
                "a warm heap's floor", "4Mi", "ignores tiny heaps; the seed article's leak added 7-8 MiB in 16h."),
            "memoryLeak": _across_days_alert(
                "The container's working-set floor grows day after day (heap, Buffers or native memory). "
                "Needs pods that live longer than two periods.",
                "3%", "the seed article's pods grew about 5% a day.",
                "8Mi", "a working set wobbles more than a heap."),
            "memoryLeakWithinPod": _within_lifetime_alert(
                "The container's working-set floor rises steadily through a pod's life: a leak that deploys "
                "hide, in memory the heap metrics may not see (Buffers, native modules).",
                "a warm container's working set", "8Mi", "a working set wobbles more than a heap."),
            "memoryExhaustion": alert(
                "At the current steady growth, the container's memory (floor plus its usual GC sawtooth) "
                "reaches the limit within the horizon: an OOM kill is coming.",
                "critical", "30m", "the forecast must hold for a while; one steep stretch is not a trend.",
                window=duration("Window of the linear fit (predict_linear). Default 6h: long enough to average "
                                "out GC, short enough to catch a fast leak hours before the OOM.", "6h"),
                horizon=duration("Fire when the limit is this close. Default 16h: a working day to ship a "
                                 "fix or schedule a restart before the kernel kills the pod, and still 12 hours "
                                 "after the 30 minutes of `for` and a forecast that runs a little late.", "16h"),
                fastWindow=duration("Window of the second, fast forecast, for leaks that kill a pod within the "
                                    "day. Default 2h: enough GC cycles to fit a line, short enough to react "
                                    "within hours of a leak starting.", "2h"),
                fastHorizon=duration("Horizon of the fast forecast. Default 4h: a short fit is only trusted "
                                     "close to the limit, where a daily traffic cycle cannot carry it.", "4h"),
                warningHorizon=duration("The fast forecast also raises the alert at warning severity when the "
                                        "limit is this close, hours before it pages. Default 1d: a leak that "
                                        "kills the pod within a day is announced about 20 hours ahead. Nothing "
                                        "healthy climbs steadily for hours towards the limit (the daily cycle, "
                                        "cache fill and steps are far too slow or too short).", "1d"),
                warmup=duration("Time after a pod starts that is never judged. Default 1h: cache fill time.",
                                "1h"),
            ),
            "cpuTrend": alert(
                "The service's average CPU per pod keeps rising across days (the seed article's doubled in five "
                "days): work per request is growing, often with a leak.",
                "warning", "1h", "the rise is already confirmed on two consecutive periods.",
                growthPerPeriod=percent("Minimum rise of the lowest CPU of `leakDetection.compareWindow` over the "
                                        "same window a period earlier, on both day-over-day comparisons. "
                                        "Default 10%: doubling in five days is 15% a day; "
                                        "normal day-to-day variation stays within a few percent.", "10%"),
                requestCounter=string("Counter of handled requests (for example `http_requests_total`) on the "
                                      "app's metrics. When set, CPU seconds per request is compared, so "
                                      "traffic growth is not mistaken for a regression. Default empty: CPU "
                                      "alone.", "", r"^([a-zA-Z_:][a-zA-Z0-9_:]*)?$"),
            ),
            "overProvisioned": _off_by_default(alert(
                "The container's request (CPU or memory) stays at least `ratio` times its p99 use over a whole "
                "window: capacity reserved and never used. Info only and off by default: a cost signal for "
                "`obsgen rightsize`, not a page.",
                "info", "1h", "the window already spans a week; an hour more rules out one odd evaluation.",
                ratio=factor("Request / p99 use at or above which it counts. Default 5: the seed article's "
                             "pods reserved 10-20x what they used; its rule of thumb leaves 3x.", 5, 1, 1000),
                window=duration("Window of the p99 and of the history it needs. Default 7d: a full weekly "
                                "cycle of use.", "7d"),
            )),
            "notScraped": alert(
                "Prometheus has no target for the service at all: its monitoring is blind, so no other "
                "alert can fire.",
                "warning", "15m", "scrape config reloads and target discovery settle within minutes.",
            ),
        },
    )


def _resources() -> dict:
    side = {
        "cpu": cpu("CPU in cores (0.5) or millicores (500m). Default unset: read from kube-state-metrics.", None),
        "memory": size("Memory as a size (2Gi). Default unset: read from kube-state-metrics.", None),
    }
    return obj(
        "The container's requests and limits. Leave unset to read them from kube-state-metrics; set them "
        "when kube-state-metrics is not available or the deployed values live elsewhere.",
        {
            "requests": obj("Requested resources.", copy.deepcopy(side)),
            "limits": obj("Resource limits.", copy.deepcopy(side)),
        },
    )


def _selector() -> dict:
    return obj(
        "How to find the service's series. Real clusters label things differently, so each part is "
        "configurable.",
        {
            "job": string("Value of the `job` label of the app's scrape target. Default: the service name.",
                          "{metadata.name}", LABEL_VALUE, maxLength=128),
            "pod": string("Regular expression (RE2, anchored) matching the service's pod names. Default: "
                          "`<name>-.*`, the names a Deployment gives its pods.",
                          "{metadata.name}-.*", r"^[^\"`$\s]+$", format="regex", maxLength=256),
            "matchers": label_map("Extra equality matchers for the app's own metrics, for example "
                                  "`{env: prod}`. They are not applied to cAdvisor or kube-state-metrics."),
            "namespaceLabel": string("Label that holds the Kubernetes namespace on the app's metrics. "
                                     "Default `namespace`, as kube-prometheus and the Prometheus Operator "
                                     "set it; older setups use `kubernetes_namespace`.",
                                     "namespace", LABEL_NAME),
            "podLabel": string("Label that holds the pod name on the app's metrics. Default `pod`; older "
                               "setups use `kubernetes_pod_name`.", "pod", LABEL_NAME),
        },
    )


def _dashboard() -> dict:
    return obj(
        "The generated Grafana dashboard.",
        {
            "title": string("Dashboard title. Default: the service name.", "{metadata.name}", maxLength=200),
            "tags": {"type": "array", "description": "Extra dashboard tags; `obsgen` and the team are always "
                     "added.", "default": [], "items": {"type": "string", "pattern": LABEL_VALUE},
                     "uniqueItems": True},
            "timeRange": duration("Time range shown when the dashboard opens. Default 7d: leaks and trends "
                                  "show over days, not hours.", "7d"),
            "refresh": duration("Auto-refresh interval. Default 1m: fresh enough for an incident, cheap for "
                                "Prometheus.", "1m"),
            "grafanaUrl": string("Base URL of Grafana, used for the dashboard links in alerts. Default empty: "
                                 "links are relative (`/d/<uid>?viewPanel=<id>`).", "",
                                 r"^(https?://[^\s\"'{}$]+)?$"),
        },
    )


def _leak_detection() -> dict:
    return obj(
        "Windows shared by the leak and trend alerts and the dashboard's Leak watch row.",
        {
            "floorWindow": duration("Window of the floor, `min_over_time` of memory: the level left after "
                                    "garbage collection. Default 1h: spans many GC cycles even in a quiet "
                                    "service, and hides spikes shorter than an hour.", "1h"),
            "period": duration("Length of the traffic cycle that day-over-day comparisons cancel. Default "
                               "1d: traffic repeats daily.", "1d"),
            "compareWindow": duration("The window of each period whose lowest memory floor is compared with "
                                      "the same window one period earlier (CPU, a noisier series, uses four times "
                                      "this). Default 15m: with the floor's own hour it spans 75 minutes of "
                                      "samples, and it delays a leak alert by no more than it spans.", "15m"),
            "stepDuration": duration("A rise that completes within this long (a deploy with a larger baseline, "
                                     "a config change, the weekday after a weekend) counts as growth on one "
                                     "day at most: the second day-over-day comparison looks this much further "
                                     "back than one period, so its windows never overlap the first's. Default "
                                     "3h: a morning's traffic ramp; a longer one delays each leak alert by as "
                                     "much.", "3h"),
        },
    )


def _nodejs() -> dict:
    return obj(
        "Node.js runtime metrics from prom-client's collectDefaultMetrics().",
        {
            "metricPrefix": string("The `prefix` passed to collectDefaultMetrics(), if any. Default empty: "
                                   "prom-client's own names.", "", METRIC_PREFIX),
        },
    )


def _rightsizing() -> dict:
    return obj(
        "How `obsgen rightsize` turns measured use into requests and limits, and the dashboard's Right-sizing "
        "row. Each strategy is a table of multipliers over usage statistics.",
        {
            "strategy": {"type": "string", "enum": ["seed", "krr"], "default": "seed",
                         "description": "Default `seed`: the seed article's rule of thumb (CPU request from the "
                                        "average, limits from the peak). `krr`: robusta-dev/krr's simple "
                                        "strategy (CPU request at a percentile and no CPU limit, memory request "
                                        "and limit at the peak plus a buffer)."},
            "window": duration("Usage window that recommendations read. Default 7d: a full weekly cycle, "
                               "and krr's own history for memory.", "7d"),
            "evaluationInterval": duration("How often Prometheus evaluates the right-sizing group, whose rules read "
                                           "the whole window of every pod. Default 5m: plenty for values that move "
                                           "over days, and a fifth of the cost of evaluating every minute.", "5m"),
            "seed": obj("Multipliers of the `seed` strategy.", {
                "cpuRequestPerAverage": factor("CPU request as a multiple of the average CPU use per pod. "
                                               "Default 3, the article's.", 3, 1, 100),
                "cpuLimitPerPeak": factor("CPU limit as a multiple of the peak CPU use of any pod. Default 6, "
                                          "the article's.", 6, 1, 100),
                "memoryRequestPerUse": factor("Memory request as a multiple of the peak working set of any pod. "
                                              "Default 1.2, the article's.", 1.2, 1, 100),
                "memoryLimitPerUse": factor("Memory limit as a multiple of the peak working set of any pod. "
                                            "Default 2, the article's: room for a burst, not for a leak.",
                                            2, 1, 100),
            }),
            "krr": obj("Settings of the `krr` strategy (krr's own defaults).", {
                "cpuPercentile": factor("Percentile of CPU use that sets the CPU request. Default 99, krr's.",
                                        99, 50, 100),
                "memoryBuffer": percent("Buffer added to the peak working set for memory request and limit. "
                                        "Default 15%, krr's.", "15%"),
            }),
            "youngAge": duration("When the working set leaks, memory is sized on what pods use before this age, "
                                 "not on the leak's peak. Default 24h: the article's pods were redeployed about "
                                 "daily and leaked about 5% a day.", "24h"),
            "leakGrowth": percent("Growth of a pod's working-set floor over its life in the window that counts as "
                                  "a leak for sizing. Default 10%: two days of the article's leak; a warm "
                                  "process' floor moves a few percent.", "10%"),
        },
    )


METRIC_NAME = r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"
OPTIONAL_LABEL_VALUE = r"^([A-Za-z0-9][A-Za-z0-9_.:/@+-]*)?$"
OPTIONAL_LABEL_NAME = r"^([a-zA-Z_][a-zA-Z0-9_]*)?$"


def _queue_alerts() -> dict:
    return obj(
        "Alerts for this queue. Each carries the label `queue`.",
        {
            "backlogGrowing": alert(
                "Jobs keep arriving faster than workers complete them: the lowest point of the queued backlog "
                "over the last window rose by the growth threshold above the window before, and the backlog is "
                "still climbing (its trend over the last window, or the rise of the floor in the window before, "
                "reaches the threshold too). The threshold is `share` of the jobs completed in the window, at "
                "least minGrowth.",
                "warning", "15m", "the windows already prove a trend; 15m more rules out a flapping edge.",
                window=duration("Window whose lowest backlog is compared with the previous window's. Default 1h: "
                                "set it to at least the period of your batch jobs, so a batch that drains within "
                                "the period never counts.", "1h"),
                share=percent("Growth per window, as a share of the jobs completed in the window, that counts. "
                              "Default 2%: a consumer 5% slower than the arrivals grows the backlog by about 5% "
                              "of its throughput an hour, while the floor of a queue that keeps up does not move "
                              "by 2% of an hour's work twice in a row. Without a completion counter that moves, "
                              "minGrowth alone applies.", "2%"),
                minGrowth=integer("Jobs by which the lowest backlog must rise in each window, whatever the "
                                  "throughput. Default 25: it only keeps tiny queues quiet, where a few jobs more "
                                  "or less are noise; busy queues are judged by `share`.", 25, minimum=1),
            ),
            "stuck": alert(
                "Jobs wait or run while nothing completes, nothing fails and no worker takes a job: the "
                "workers are gone or hung.",
                "critical", "5m", "with the window, a dead queue pages within a quarter hour.",
                window=duration("How long jobs must be present with no sign of progress. Default 10m: longer "
                                "than a worker restart; set it above your longest normal job, or a long job "
                                "looks stuck.", "10m"),
            ),
            "failureRatio": alert(
                "The share of failed jobs (failed / (failed + completed)) stays high.",
                "warning", "15m", "as long as the window, so one burst of failures leaves the window before it "
                "fires, while a storm stays.",
                threshold=percent("Failure share above which the alert counts. Default 10%: with retries, "
                                  "transient errors mostly recover; one job in ten failing is systemic.", "10%"),
                window=duration("Window over which failures and completions are counted. Default 15m: enough "
                                "jobs for a ratio, short enough to catch a storm.", "15m"),
                minVolume=integer("Finished jobs (failed + completed) the window must hold before the ratio "
                                  "counts. Default 20: 1 failure in 2 jobs is not a storm.", 20, minimum=1),
            ),
            "drainTime": alert(
                "At the current completion rate the queued backlog will not clear in time.",
                "warning", "15m", "a fresh batch briefly looks slow until workers reach full speed.",
                threshold=duration("Longest acceptable time to clear the queued jobs. Default 1h: work waiting "
                                   "longer than an hour is late for most queues.", "1h"),
            ),
            "failedGrowing": alert(
                "The set of failed jobs keeps growing faster than an ordinary background of failures: in each "
                "half of the window, the jobs it gained are at least `threshold` of the jobs finished (completed "
                "plus those gained), and it gained minGrowth over the window. Needs a completion counter; works "
                "with exporters that have no failed-job counter.",
                "warning", "15m", "the halves of the window already prove a trend.",
                window=duration("Window over which the failed set must grow, in each of its halves. Default "
                                "1h: one burst of failures falls in one half and does not count.", "1h"),
                threshold=percent("Share of the finished jobs that must land in the failed set, in each half of "
                                  "the window. Default 5%: well above the 0.5-3% of jobs that fail for good on "
                                  "a healthy queue, below the storms QueueFailureRatioHigh pages for.", "5%"),
                minGrowth=integer("Failed jobs the set must gain over the window, whatever the throughput. "
                                  "Default 10: it only keeps tiny queues quiet (one failure in five jobs is no "
                                  "trend); busy queues are judged by `threshold`.", 10, minimum=1),
            ),
        },
    )


def _queue_source(concept: str, meaning: str, aggregation: str, aggregation_why: str) -> dict:
    return obj(
        f"Where `{concept}` is read: {meaning}",
        {
            "metric": string("Metric name. Required.", REQUIRED, METRIC_NAME, maxLength=200),
            "matchers": label_map("Fixed label matchers that select this concept, for example `{state: waiting}`."),
            "aggregation": {"type": "string", "enum": ["max", "sum"], "default": aggregation,
                            "description": f"How series from several scrape targets combine. Default "
                                           f"`{aggregation}`: {aggregation_why}"},
        },
        required=("metric",),
    )


def _queue_distribution(what: str, units: list[str] | None) -> dict:
    properties = {
        "metric": string("Base metric name (without _bucket, _sum or _count). Required.", REQUIRED, METRIC_NAME,
                         maxLength=200),
        "type": {"type": "string", "enum": ["summary", "histogram"], "default": "histogram",
                 "description": "Summary (quantile label) or histogram (le buckets). Default histogram: "
                                "prom-client's and most exporters' choice for durations."},
        "matchers": label_map("Fixed label matchers, for example `{status: completed}`."),
    }
    if units:
        properties["unit"] = {"type": "string", "enum": units, "default": "seconds",
                              "description": "Unit of the observations. Default seconds: the Prometheus base unit."}
    return obj(what, properties, required=("metric",))


def _queue_mapping() -> dict:
    gauge_why = "every target reads the same queue state from Redis, so adding them would count it twice."
    counter_why = "in-house counters usually count in each worker process; use max if every target reports " \
                  "one shared total."
    concepts = {
        "waiting": ("jobs waiting for a worker (gauge). Required.", "max", gauge_why),
        "prioritized": ("jobs waiting with a priority (gauge).", "max", gauge_why),
        "active": ("jobs being processed (gauge). Required.", "max", gauge_why),
        "delayed": ("jobs scheduled for later, retries in back-off (gauge).", "max", gauge_why),
        "waitingChildren": ("parent jobs waiting for children (gauge).", "max", gauge_why),
        "completedSet": ("completed jobs kept in Redis (gauge, trimmed by removeOnComplete).", "max", gauge_why),
        "failedSet": ("failed jobs kept in Redis (gauge, trimmed by removeOnFail).", "max", gauge_why),
        "completed": ("completed jobs (counter).", "sum", counter_why),
        "failed": ("failed jobs (counter).", "sum", counter_why),
        "retried": ("retried attempts (counter).", "sum", counter_why),
    }
    properties: dict = {
        "queueLabel": string("Label that holds the queue name. Default `queue`: what BullMQ and most exporters "
                             "use.", "queue", LABEL_NAME),
        "prefixLabel": string("Label that holds the Redis key prefix, if any. Default empty: no prefix label.",
                              "", OPTIONAL_LABEL_NAME),
    }
    for key, (meaning, aggregation, why) in concepts.items():
        properties[key] = _queue_source(key, meaning, aggregation, why)
    properties["duration"] = _queue_distribution("Processing time of a job (summary or histogram).",
                                                 ["seconds", "milliseconds"])
    properties["wait"] = _queue_distribution("Time a job waited before a worker took it.", ["seconds", "milliseconds"])
    properties["attempts"] = _queue_distribution("Attempts made per finished job.", None)
    return obj("How an in-house exporter names each concept (only with `exporter: custom`). Concepts left out "
               "are reported by the build, and the panels and alerts that need them are left out.",
               properties, required=("waiting", "active"))


def _queues() -> dict:
    item = obj(
        "One job queue the service produces to or consumes from.",
        {
            "name": string("Queue name, as the exporter's queue label holds it. Required.", REQUIRED, LABEL_VALUE,
                           maxLength=128),
            "exporter": {"type": "string", "enum": ["bullmq", "bull-exporter", "bull-prom", "custom"],
                         "default": "bullmq",
                         "description": "Metric convention: `bullmq` (Queue.exportPrometheusMetrics), "
                                        "`bull-exporter` (UpHabit bull_exporter), `bull-prom`, or `custom` with a "
                                        "`mapping`. Default bullmq: BullMQ exports it without another deployment."},
            "job": string("`job` label of the target that exports the queue's metrics. Default empty: the "
                          "service's own job (selector.job), as when the app exports its queues itself; set it "
                          "for a separate exporter deployment.", "", OPTIONAL_LABEL_VALUE, maxLength=128),
            "prefix": string("Redis key prefix to select, for exporters with a prefix label. Default empty: "
                             "every prefix (each shows as its own series).", "", OPTIONAL_LABEL_VALUE,
                             maxLength=128),
            "matchers": label_map("Extra equality matchers for the queue's series, for example the labels passed "
                                  "to exportPrometheusMetrics()."),
            "mapping": _queue_mapping(),
            "alerts": _queue_alerts(),
        },
        required=("name",),
    )
    item["if"] = {"properties": {"exporter": {"const": "custom"}}, "required": ["exporter"]}
    item["then"] = {"required": ["mapping"], "properties": {"mapping": {
        "description": "exporter: custom reads each concept's metric name from `mapping`"}}}
    return {"type": "array", "description": "Job queues to watch; each gets a dashboard row and its alerts. "
            "Default none.", "default": [], "items": item}


def _routing() -> dict:
    properties = {sev: string(f"Alertmanager receiver of this service's {sev} alerts. Default empty: the "
                              "team's (project file `alerting.teams`), else `alerting.route`'s.", "",
                              RECEIVER_OR_EMPTY, maxLength=100,
                              **{"x-meaning": "must be a receiver name: letters, digits, '-', '_', '.', '@' and '+'"})
                  for sev in SEVERITIES}
    return obj("Where this service's alerts go, when not where its team's go. Receivers are names the project "
               "file's `alerting.receivers` declares.", properties)


# A plausible range for every duration and size, so that a slip of unit (150m for 150ms) is an error at the
# line that has it, not an alert that can never fire. Patterns: `*` is one path element, `[]` a list item.
# The bounds are generous: anything outside them is a mistake in every setup we know of.
RANGES: tuple[tuple[str, str, str], ...] = (
    ("spec.resources.*.memory", "16Mi", "1Ti"),
    ("spec.dashboard.timeRange", "5m", "1y"),
    ("spec.dashboard.refresh", "5s", "1d"),
    ("spec.leakDetection.floorWindow", "5m", "1d"),
    ("spec.leakDetection.period", "1h", "7d"),
    ("spec.leakDetection.compareWindow", "5m", "1d"),
    ("spec.leakDetection.stepDuration", "5m", "2d"),
    ("spec.alerts.eventLoopLag.threshold", "1ms", "10s"),
    ("spec.alerts.restarts.window", "5m", "1d"),
    ("spec.alerts.oomKilled.window", "5m", "7d"),
    ("spec.alerts.*.minBytesPerPeriod", "64Ki", "16Gi"),
    ("spec.alerts.*.minBytes", "64Ki", "16Gi"),
    ("spec.alerts.*.window", "30m", "7d"),
    ("spec.alerts.*.warmup", "1m", "1d"),
    ("spec.alerts.memoryExhaustion.horizon", "1h", "7d"),
    ("spec.alerts.memoryExhaustion.fastWindow", "15m", "12h"),
    ("spec.alerts.memoryExhaustion.fastHorizon", "30m", "1d"),
    ("spec.alerts.memoryExhaustion.warningHorizon", "1h", "7d"),
    ("spec.alerts.*.for", "0s", "1d"),
    ("spec.queues.[].alerts.drainTime.threshold", "1m", "7d"),
    ("spec.queues.[].alerts.*.window", "1m", "1d"),
    ("spec.queues.[].alerts.*.for", "0s", "1d"),
    ("spec.rightsizing.window", "1h", "90d"),
    ("spec.slos.[].window", "1d", "90d"),
    ("spec.slos.[].threshold", "1ms", "1m"),
    ("spec.slos.[].alerts.*.for", "0s", "1h"),
    ("spec.rightsizing.youngAge", "1h", "30d"),
    ("spec.rightsizing.evaluationInterval", "1m", "1h"),
)


def range_of(path: tuple[str, ...]) -> tuple[str, str] | None:
    """The first RANGES entry that matches a field's path, as (lowest, highest)."""
    for pattern, low, high in RANGES:
        parts = pattern.split(".")
        if len(parts) == len(path) and all(p in ("*", q) for p, q in zip(parts, path)):
            return low, high
    return None


def _with_ranges(schema: dict) -> dict:
    for path, field in walk_fields(schema):
        if field.get("format") in ("duration", "duration-or-zero", "size"):
            bounds = range_of(path)
            if bounds is not None:
                field["x-range"] = list(bounds)
    return schema


def spec_schema() -> dict:
    """The whole spec language. A fresh copy each call, so callers may not mutate a shared one."""
    return _with_ranges(_spec_schema())


def _spec_schema() -> dict:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "obsgen service spec",
        "description": "A service to monitor: obsgen compiles it into a Grafana dashboard and Prometheus rules.",
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": API_VERSION, "description": "Spec language version.", "default": API_VERSION},
            "kind": {"const": "Service", "description": "What the document describes.", "default": "Service"},
            "metadata": obj(
                "Who the service is.",
                {
                    "name": string("Service name: a Kubernetes name (lowercase letters, digits, '-'), used for "
                                   "file names, uids and the `service` label of alerts. Required.",
                                   REQUIRED, DNS_LABEL, maxLength=63, minLength=1),
                    "team": string("Owning team, added as the `team` label of alerts. Default empty: no label.",
                                   "", r"^([A-Za-z0-9][A-Za-z0-9_.:/@+-]*)?$", maxLength=63),
                    "description": string("One line about the service, shown on the dashboard.", "",
                                          maxLength=500),
                },
                required=("name",),
            ),
            "spec": obj(
                "What to monitor and how.",
                {
                    "namespace": string("Kubernetes namespace the service runs in. Required.", REQUIRED, DNS_LABEL,
                                        maxLength=63, minLength=1),
                    "runtime": {"type": "string", "enum": ["nodejs"],
                                "description": "Runtime of the service's processes. Required; `nodejs` today."},
                    "container": string("Name of the app container in the pod. Default: the service name.",
                                        "{metadata.name}", DNS_LABEL, maxLength=63),
                    "selector": _selector(),
                    "resources": _resources(),
                    "nodejs": _nodejs(),
                    "dashboard": _dashboard(),
                    "leakDetection": _leak_detection(),
                    "alerts": _alerts(),
                    "routing": _routing(),
                    "rightsizing": _rightsizing(),
                    "queues": _queues(),
                    "http": _http(),
                    "slos": _slos(),
                    "rangeChecks": boolean(
                        "Check every duration and size against its plausible range. Default true: a slip of "
                        "unit (150m for 150ms) is an error, not an alert that can never fire. Set false only "
                        "for a test bed that compresses days into seconds (tests/live does).", True),
                },
                required=("namespace", "runtime"),
            ),
        },
    }


def walk_fields(schema: dict, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], dict]]:
    """Every documented field under an object schema, depth first, in declaration order."""
    out: list[tuple[tuple[str, ...], dict]] = []
    for name, sub in schema.get("properties", {}).items():
        out.append((path + (name,), sub))
        if sub.get("type") == "object" and "properties" in sub:
            out.extend(walk_fields(sub, path + (name,)))
        if sub.get("type") == "array" and isinstance(sub.get("items"), dict) and "properties" in sub["items"]:
            out.extend(walk_fields(sub["items"], path + (name, "[]")))
    return out


HTTP_CONVENTIONS = ["express-prom-bundle", "opentelemetry", "custom"]
ROUTE = r"^/[^\s\"'`\\${}]*$"
OPTIONAL_ROUTE = r"^(/[^\s\"'`\\${}]*)?$"


def _http() -> dict:
    schema = obj(
        "The service's HTTP server metrics: a request-duration histogram. Setting it (or `slos`) adds the HTTP "
        "dashboard row and per-route recording rules. Default unset: no HTTP row.",
        {
            "convention": {"type": "string", "enum": HTTP_CONVENTIONS, "default": "express-prom-bundle",
                           "description": "Metric convention: `express-prom-bundle` (http_request_duration_seconds "
                                          "with status_code, method and path; needs includeMethod and includePath), "
                                          "`opentelemetry` (http_server_request_duration_seconds, the HTTP "
                                          "semantic conventions as exported to Prometheus) or `custom` with a "
                                          "`mapping`. Default express-prom-bundle: the usual Express middleware."},
            "mapping": obj(
                "How an in-house histogram names things (only with `convention: custom`).",
                {
                    "metric": string("Histogram base name, without _bucket, _count or _sum. Required.", REQUIRED,
                                     METRIC_NAME, maxLength=200),
                    "routeLabel": string("Label holding the route. Default `route`.", "route", LABEL_NAME),
                    "methodLabel": string("Label holding the HTTP method. Default `method`.", "method", LABEL_NAME),
                    "statusLabel": string("Label holding the status code. Default `status_code`.", "status_code",
                                          LABEL_NAME),
                },
                required=("metric",)),
            "buckets": {"type": "array", "default": [], "uniqueItems": True,
                        "items": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600},
                        "description": "Bucket upper bounds the app's histogram is configured with, in seconds. "
                                       "Default empty: the convention's library defaults (express-prom-bundle: "
                                       "0.003, 0.03, 0.1, 0.3, 1.5, 10). A latency SLO's threshold must be one "
                                       "of them."},
            "excludeRoutes": {"type": "array", "uniqueItems": True,
                              "default": ["/api/ping", "/ping", "/health", "/healthz", "/livez", "/readyz",
                                          "/metrics"],
                              "items": {"type": "string", "pattern": ROUTE, "maxLength": 200,
                                        "x-meaning": "must be a route starting with '/', without spaces, quotes, "
                                                     "backslashes, braces or '$'"},
                              "description": "Routes (exact values of the route label) left out of every SLO, "
                                             "the error ratio, latency and top-k tables, and shown apart as "
                                             "health checks. Default: health, probe and metrics endpoints, which "
                                             "are many, fast and never fail, so they would hide real traffic."},
            "errors": {"type": "string", "enum": ["5xx", "4xx+5xx"], "default": "5xx",
                       "description": "Status codes that count as failed requests. Default 5xx: a 4xx is usually "
                                      "the client's mistake (the seed article's failing PATCH was a client "
                                      "sending bad requests), not the service failing."},
            "timeScale": integer("Divide every SLO window (burn-rate windows and the SLO window) by this. Default "
                                 "1. Only for test beds that compress days into seconds; needs rangeChecks: "
                                 "false.", 1, minimum=1, maximum=86400),
        })
    del schema["default"]  # opt in: a spec without `http` (and without slos) gets no HTTP row
    schema["if"] = {"properties": {"convention": {"const": "custom"}}, "required": ["convention"]}
    schema["then"] = {"required": ["mapping"], "properties": {"mapping": {
        "description": "convention: custom reads the histogram's name from `mapping`"}}}
    return schema


def _slo_alerts() -> dict:
    return obj(
        "Multi-window, multi-burn-rate alerts on the SLO's error budget (Google SRE Workbook, chapter 5). Each "
        "carries the label `slo`.",
        {
            "burnFast": alert(
                "Pages when the error budget burns fast: 14.4 times the sustainable rate over 1h and 5m (2% of "
                "a 30-day budget in an hour), or 6 times over 6h and 30m (5% in six hours).",
                "critical", "2m", "the short window already confirms the burn is still going on; two minutes "
                "ride out one evaluation."),
            "burnSlow": alert(
                "Opens a ticket when the error budget burns slowly: 3 times the sustainable rate over 1d and "
                "2h (10% of a 30-day budget in a day), or 1 time over 3d and 6h.",
                "warning", "2m", "the windows are hours and days long; two minutes ride out one evaluation."),
        },
    )


def _slos() -> dict:
    item = obj(
        "One service level objective over the service's HTTP requests (health checks left out).",
        {
            "name": string("Name of the SLO, the `slo` label of its records and alerts. Required.", REQUIRED,
                           DNS_LABEL, maxLength=63, minLength=1),
            "sli": {"type": "string", "enum": ["availability", "latency"], "default": "availability",
                    "description": "What counts as a bad request: `availability`, a failed one (spec.http.errors); "
                                   "`latency`, one slower than `threshold`. Default availability."},
            "objective": percent("Share of good requests over the window, for example 99.9%. Required.",
                                 REQUIRED),
            "window": duration("Window of the objective and of its error budget. Default 30d: the SRE "
                               "Workbook's, about a month.", "30d"),
            "threshold": {**duration("Latency SLIs only: a request slower than this is bad. Must be a bucket "
                                     "bound of the histogram (spec.http.buckets). Default unset.", ""),
                          "type": ["string", "null"], "default": None},
            "route": string("Select one route (the route label's exact value). Default empty: every route "
                            "but the excluded ones.", "", OPTIONAL_ROUTE, maxLength=200,
                            **{"x-meaning": "must be empty or a route starting with '/', without spaces, quotes, "
                                            "backslashes, braces or '$'"}),
            "method": string("Select one HTTP method, for example PATCH. Default empty: every method.", "",
                             r"^([A-Z]+)?$", maxLength=16),
            "minRequests": integer("Requests a window of an hour or more must hold before its burn rate is "
                                   "recorded, so one failed request on tiny traffic (a night at 1 request a "
                                   "minute) pages no one. Default 100: at 1 request a second an hour holds 3,600.",
                                   100, minimum=1),
            "alerts": _slo_alerts(),
        },
        required=("name", "objective"),
    )
    return {"type": "array", "description": "Service level objectives; each gets recording rules, burn-rate "
            "alerts and SLO panels in the HTTP row. Default none.", "default": [], "items": item}
