"""HTTP server metric conventions as data: which histogram holds request durations, and its label names.

One entry per convention. The HTTP domain (panels, recording rules, SLO alerts,
proofs) asks this table for the histogram and its labels instead of branching on
the convention's name, so a `custom` mapping from a spec works exactly like a
built-in one. A histogram's `_count` is the request counter (every request is
observed once), its `_bucket{le=...}` series count requests at or under a bound.

Names were checked against upstream; each convention names where:

- express-prom-bundle: jochen-schweizer/express-prom-bundle src/index.js (makeHttpMetric): histogram
  `http_request_duration_seconds` (option httpDurationMetricName), labels `status_code`, then `method` with
  includeMethod: true and `path` with includePath: true (both off by default: obsgen needs them on), buckets
  `opts.buckets || [0.003, 0.03, 0.1, 0.3, 1.5, 10]`. It also registers a gauge named `up` unless
  includeUp: false, which shadows Prometheus' own `up`: set includeUp: false.
- OpenTelemetry HTTP semantic conventions (https://opentelemetry.io/docs/specs/semconv/http/http-metrics/,
  metric `http.server.request.duration`, unit s, attributes `http.request.method`,
  `http.response.status_code`, `http.route`, advised buckets 0.005 ... 10) exported to Prometheus: dots
  become underscores and the unit a suffix (OpenTelemetry's Prometheus compatibility specification), so
  `http_server_request_duration_seconds` with labels `http_request_method`, `http_response_status_code`,
  `http_route`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HttpConvention:
    key: str
    title: str
    upstream: str  # where the names were checked
    metric: str  # histogram base name (without _bucket, _count, _sum)
    route_label: str
    method_label: str
    status_label: str
    buckets: tuple[float, ...]  # the library's default bucket upper bounds, in seconds; () when unknown
    setup: str = ""  # what the app must configure for these labels to exist

    @property
    def count(self) -> str:
        return f"{self.metric}_count"

    @property
    def bucket(self) -> str:
        return f"{self.metric}_bucket"


EXPRESS_PROM_BUNDLE = HttpConvention(
    key="express-prom-bundle",
    title="express-prom-bundle",
    upstream="jochen-schweizer/express-prom-bundle src/index.js (makeHttpMetric)",
    metric="http_request_duration_seconds",
    route_label="path",
    method_label="method",
    status_label="status_code",
    buckets=(0.003, 0.03, 0.1, 0.3, 1.5, 10.0),
    setup="promBundle({includeMethod: true, includePath: true, includeUp: false})",
)

OPENTELEMETRY = HttpConvention(
    key="opentelemetry",
    title="OpenTelemetry HTTP semantic conventions",
    upstream="https://opentelemetry.io/docs/specs/semconv/http/http-metrics/ (http.server.request.duration)",
    metric="http_server_request_duration_seconds",
    route_label="http_route",
    method_label="http_request_method",
    status_label="http_response_status_code",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0),
    setup="the HTTP instrumentation's http.server.request.duration, exported to Prometheus",
)

BUILT_IN: dict[str, HttpConvention] = {c.key: c for c in (EXPRESS_PROM_BUNDLE, OPENTELEMETRY)}
CONVENTIONS = (*BUILT_IN, "custom")

# Routes left out of every SLO and top-k view unless the spec says otherwise: health checks, probes and the
# metrics endpoint, which are many, fast and never fail, so they would hide real traffic.
DEFAULT_EXCLUDED_ROUTES = ("/api/ping", "/ping", "/health", "/healthz", "/livez", "/readyz", "/metrics")

# What counts as a failed request: the status classes, as a regular expression over the status code label.
ERROR_CLASSES = {"5xx": "5..", "4xx+5xx": "[45].."}


def custom_convention(mapping: dict[str, Any]) -> HttpConvention:
    """The convention a spec's `mapping` describes, in the same shape as the built-in ones."""
    return HttpConvention(
        key="custom",
        title="custom",
        upstream="the spec's mapping",
        metric=mapping["metric"],
        route_label=mapping.get("routeLabel", "route"),
        method_label=mapping.get("methodLabel", "method"),
        status_label=mapping.get("statusLabel", "status_code"),
        buckets=(),
    )


def convention_for(key: str, mapping: dict[str, Any] | None) -> HttpConvention:
    if key == "custom":
        return custom_convention(mapping or {})
    return BUILT_IN[key]


def bound_text(seconds: float) -> str:
    """A bucket bound as a person reads it: 3ms, 500ms, 1.5s, 10s."""
    if seconds < 1:
        return f"{round(seconds * 1000, 3):g}ms"
    return f"{seconds:g}s"
