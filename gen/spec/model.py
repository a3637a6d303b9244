"""Stage 3: validated documents become typed, frozen values with every default applied."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from gen.spec import schema as spec_schema
from gen.spec.documents import Document
from gen.spec.http_conventions import HttpConvention
from gen.spec.http_conventions import convention_for as http_convention_for
from gen.spec.queue_conventions import Convention, convention_for
from gen.units import Duration, Quantity, parse_cpu, parse_duration, parse_percent, parse_size

Labels = tuple[tuple[str, str], ...]

_CONVERTERS = {
    "duration": parse_duration,
    "duration-or-zero": parse_duration,
    "size": parse_size,
    "cpu": parse_cpu,
    "percent": parse_percent,
}


@dataclass(frozen=True)
class AlertSettings:
    """One alert's switches and thresholds, as the spec (or its defaults) set them."""

    key: str
    enabled: bool
    severity: str
    for_: Duration
    params: tuple[tuple[str, Any], ...] = ()

    def param(self, name: str) -> Any:
        for key, value in self.params:
            if key == name:
                return value
        raise KeyError(f"alert {self.key} has no setting {name}")


def _setting(settings: tuple[AlertSettings, ...], key: str) -> AlertSettings:
    for item in settings:
        if item.key == key:
            return item
    raise KeyError(key)


@dataclass(frozen=True)
class Alerting:
    runbook_base_url: str
    labels: Labels
    settings: tuple[AlertSettings, ...]

    def __getitem__(self, key: str) -> AlertSettings:
        return _setting(self.settings, key)


@dataclass(frozen=True)
class AlertSet:
    """Alert settings of one part of a service (a queue), looked up by key."""

    settings: tuple[AlertSettings, ...]

    def __getitem__(self, key: str) -> AlertSettings:
        return _setting(self.settings, key)


@dataclass(frozen=True)
class Queue:
    """A job queue, with its exporter convention resolved (built-in or the spec's custom mapping)."""

    name: str
    exporter: str
    job: str  # the exporting target's job label, the service's own job unless set
    prefix: str  # "" selects every prefix
    matchers: Labels  # extra equality matchers
    convention: Convention
    alerts: AlertSet


@dataclass(frozen=True)
class Http:
    """spec.http: the request-duration histogram, its convention resolved, and what is left out or counts as failed."""

    convention: HttpConvention
    buckets: tuple[float, ...]  # the configured bucket bounds (seconds): the spec's, else the convention's
    exclude_routes: tuple[str, ...]
    errors: str  # 5xx | 4xx+5xx
    time_scale: int = 1  # SLO windows are divided by this (test beds only)


@dataclass(frozen=True)
class Slo:
    """One SLO over the service's HTTP requests."""

    name: str
    sli: str  # availability | latency
    objective: float  # a ratio: 0.999 for 99.9%
    objective_text: str  # as the spec writes it: 99.9%
    window: Duration
    threshold: Duration | None  # latency SLIs only
    route: str  # "" for every route
    method: str  # "" for every method
    min_requests: int
    alerts: AlertSet

    @property
    def budget(self) -> float:
        """The error budget: the share of requests that may be bad."""
        return round(1 - self.objective, 12)


@dataclass(frozen=True)
class Selector:
    job: str
    pod_regex: str
    matchers: Labels
    namespace_label: str
    pod_label: str


@dataclass(frozen=True)
class Resources:
    cpu_request: Quantity | None
    cpu_limit: Quantity | None
    memory_request: Quantity | None
    memory_limit: Quantity | None


@dataclass(frozen=True)
class DashboardSettings:
    title: str
    tags: tuple[str, ...]
    time_range: Duration
    refresh: Duration
    grafana_url: str


@dataclass(frozen=True)
class LeakDetection:
    floor_window: Duration
    period: Duration
    compare_window: Duration
    step_duration: Duration


@dataclass(frozen=True)
class Rightsizing:
    """spec.rightsizing: the strategy `obsgen rightsize` uses and its multipliers."""

    strategy: str
    window: Duration
    cpu_request_per_average: float
    cpu_limit_per_peak: float
    memory_request_per_use: float
    memory_limit_per_use: float
    krr_cpu_percentile: float
    krr_memory_buffer: float  # a ratio: 0.15 for 15%
    young_age: Duration
    leak_growth: float  # a ratio
    evaluation_interval: Duration = parse_duration("5m")


DEFAULT_RIGHTSIZING = Rightsizing("seed", parse_duration("7d"), 3, 6, 1.2, 2, 99, 0.15, parse_duration("24h"), 0.1)


@dataclass(frozen=True)
class Service:
    name: str
    team: str
    description: str
    namespace: str
    runtime: str
    container: str
    selector: Selector
    resources: Resources
    nodejs_metric_prefix: str
    dashboard: DashboardSettings
    leak: LeakDetection
    alerts: Alerting
    source: str  # spec file, as named in headers and errors
    queues: tuple[Queue, ...] = ()
    # Alertmanager receiver per severity (spec.routing), as (severity, name); empty: the team's.
    routing: Labels = ()
    rightsizing: Rightsizing = DEFAULT_RIGHTSIZING
    http: Http | None = None  # None: the spec sets neither `http` nor `slos`
    slos: tuple[Slo, ...] = ()


def apply_defaults(schema: dict, value: Any, context: dict[str, str]) -> Any:
    """`value` with every missing field filled from the schema's defaults, recursively."""
    if schema.get("type") == "object" and isinstance(value, dict):
        out = dict(value)
        for name, sub in schema.get("properties", {}).items():
            if name not in out and "default" in sub:
                out[name] = _substitute(copy.deepcopy(sub["default"]), context)
            if name in out:
                out[name] = apply_defaults(sub, out[name], context)
        return out
    if schema.get("type") == "array" and isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(schema["items"], item, context) for item in value]
    return value


def _substitute(default: Any, context: dict[str, str]) -> Any:
    if isinstance(default, str):
        for key, replacement in context.items():
            default = default.replace("{" + key + "}", replacement)
    return default


def _convert(field: dict, value: Any) -> Any:
    converter = _CONVERTERS.get(field.get("format", ""))
    if converter is None or value is None:
        return value
    return converter(value)


def _labels(mapping: dict[str, str]) -> Labels:
    return tuple(sorted(mapping.items()))


def _alert_settings(schema: dict, data: dict) -> Alerting:
    return Alerting(data["runbookBaseUrl"], _labels(data["labels"]), _alert_list(schema, data))


def _alert_list(schema: dict, data: dict) -> tuple[AlertSettings, ...]:
    settings = []
    for key, field in schema["properties"].items():
        if "enabled" not in field.get("properties", {}):
            continue  # not an alert (runbookBaseUrl, labels)
        raw = data[key]
        params = tuple(
            (name, _convert(field["properties"][name], raw[name]))
            for name in field["properties"]
            if name not in ("enabled", "severity", "for")
        )
        settings.append(AlertSettings(key, raw["enabled"], raw["severity"], parse_duration(raw["for"]), params))
    return tuple(settings)


def _queue(schema: dict, raw: dict, selector: Selector) -> Queue:
    # The app's own extra matchers apply when the app exports the queue itself (same target, same labels).
    own_target = not raw["job"]
    matchers = {**(dict(selector.matchers) if own_target else {}), **raw["matchers"]}
    return Queue(
        name=raw["name"],
        exporter=raw["exporter"],
        job=raw["job"] or selector.job,
        prefix=raw["prefix"],
        matchers=_labels(matchers),
        convention=convention_for(raw["exporter"], raw.get("mapping")),
        alerts=AlertSet(_alert_list(schema["properties"]["alerts"], raw["alerts"])),
    )


def _quantity(parse, value: Any) -> Quantity | None:
    return None if value is None else parse(value)


def build_service(doc: Document, schema: dict | None = None) -> Service:
    """The typed service of a valid spec; `schema` (only read) is the spec schema, when the caller has it."""
    schema = schema or spec_schema.spec_schema()
    context = {"metadata.name": doc.data["metadata"]["name"]}
    data = apply_defaults(schema, doc.data, context)
    meta, spec = data["metadata"], data["spec"]
    sel, res, dash = spec["selector"], spec["resources"], spec["dashboard"]
    alerts_schema = schema["properties"]["spec"]["properties"]["alerts"]
    queue_schema = schema["properties"]["spec"]["properties"]["queues"]["items"]
    selector = Selector(sel["job"], sel["pod"], _labels(sel["matchers"]), sel["namespaceLabel"], sel["podLabel"])
    return Service(
        name=meta["name"],
        team=meta["team"],
        description=meta["description"],
        namespace=spec["namespace"],
        runtime=spec["runtime"],
        container=spec["container"],
        selector=selector,
        resources=Resources(
            cpu_request=_quantity(parse_cpu, res["requests"]["cpu"]),
            cpu_limit=_quantity(parse_cpu, res["limits"]["cpu"]),
            memory_request=_quantity(parse_size, res["requests"]["memory"]),
            memory_limit=_quantity(parse_size, res["limits"]["memory"]),
        ),
        nodejs_metric_prefix=spec["nodejs"]["metricPrefix"],
        dashboard=DashboardSettings(dash["title"], tuple(dash["tags"]), parse_duration(dash["timeRange"]),
                                    parse_duration(dash["refresh"]), dash["grafanaUrl"].rstrip("/")),
        leak=LeakDetection(*(parse_duration(spec["leakDetection"][k]) for k in ("floorWindow", "period",
                                                                                   "compareWindow",
                                                                                   "stepDuration"))),
        alerts=_alert_settings(alerts_schema, spec["alerts"]),
        source=doc.source or doc.file,
        queues=tuple(_queue(queue_schema, q, selector) for q in spec["queues"]),
        routing=tuple((sev, spec["routing"][sev]) for sev in spec_schema.SEVERITIES),
        rightsizing=_rightsizing(spec["rightsizing"]),
        http=_http(schema, spec),
        slos=tuple(_slo(schema, raw) for raw in spec["slos"]),
    )


def _http(schema: dict, spec: dict) -> Http | None:
    if "http" not in spec and not spec["slos"]:
        return None
    raw = apply_defaults(schema["properties"]["spec"]["properties"]["http"], spec.get("http", {}), {})
    convention = http_convention_for(raw["convention"], raw.get("mapping"))
    buckets = tuple(sorted(float(b) for b in raw["buckets"])) or convention.buckets
    return Http(convention, buckets, tuple(raw["excludeRoutes"]), raw["errors"], raw["timeScale"])


def _slo(schema: dict, raw: dict) -> Slo:
    objective = parse_percent(raw["objective"])
    alerts_schema = schema["properties"]["spec"]["properties"]["slos"]["items"]["properties"]["alerts"]
    return Slo(
        name=raw["name"], sli=raw["sli"], objective=round(objective.value, 12), objective_text=raw["objective"],
        window=parse_duration(raw["window"]),
        threshold=parse_duration(raw["threshold"]) if raw.get("threshold") else None,
        route=raw["route"], method=raw["method"], min_requests=raw["minRequests"],
        alerts=AlertSet(_alert_list(alerts_schema, raw["alerts"])),
    )


def _rightsizing(raw: dict) -> Rightsizing:
    seed, krr = raw["seed"], raw["krr"]
    return Rightsizing(
        strategy=raw["strategy"], window=parse_duration(raw["window"]),
        cpu_request_per_average=float(seed["cpuRequestPerAverage"]), cpu_limit_per_peak=float(seed["cpuLimitPerPeak"]),
        memory_request_per_use=float(seed["memoryRequestPerUse"]),
        memory_limit_per_use=float(seed["memoryLimitPerUse"]),
        krr_cpu_percentile=float(krr["cpuPercentile"]), krr_memory_buffer=parse_percent(krr["memoryBuffer"]).value,
        young_age=parse_duration(raw["youngAge"]), leak_growth=parse_percent(raw["leakGrowth"]).value,
        evaluation_interval=parse_duration(raw["evaluationInterval"]))


def build_model(documents: list[Document]) -> list[Service]:
    schema = spec_schema.spec_schema()  # built once for the whole fleet: it is the same for every service
    services = [build_service(doc, schema) for doc in documents]
    return sorted(services, key=lambda s: s.name)
