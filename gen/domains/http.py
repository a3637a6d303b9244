"""HTTP requests and SLOs: the HTTP dashboard row, per-route records, SLIs and multi-window burn-rate alerts.

The histogram and its labels come from the convention table (gen/spec/http_conventions.py).
Health checks and the metrics endpoint (spec.http.excludeRoutes) are left out of every SLO,
ratio, percentile and top-k table, and shown on a panel of their own.

Each SLO gets one rule group, `<service>.slo.<name>`, after Sloth's and the SRE Workbook's
(chapter 5) pattern: the error ratio of its requests over 5m, 30m, 1h, 2h, 6h, 1d and 3d and
over the SLO window (`slo:sli_error:ratio_rate<window>`), the burn rate over each of the seven
windows (`slo:burnrate<window>`: error ratio / error budget), and the error budget remaining.
Every record carries `service` and `slo`. A burn rate over a window of an hour or more is
recorded only while the window holds `minRequests` requests, so the alerts, two short
conditions on burn rates, stay silent when one failed request on tiny traffic would otherwise
look like a 100% error rate.
"""
from __future__ import annotations

from dataclasses import dataclass

from gen.domains.alerts import (SLO_ERROR_BUDGET_BURN_FAST, SLO_ERROR_BUDGET_BURN_SLOW, Alert, AlertDefinition,
    Inhibition, Unsuperseded, alert_rule, build_alerts)
from gen.ir import (UNIT_PER_SECOND, UNIT_RATIO, UNIT_SECONDS, AlertRule, DomainOutput, Panel, Query, RecordingRule,
    Row, RuleGroup, SeriesStyle, Threshold)
from gen.promql.selectors import Matcher, Scope, eq, re_, selector
from gen.spec.http_conventions import ERROR_CLASSES, HttpConvention
from gen.spec.model import AlertSettings, Http, Service, Slo
from gen.units import Duration, duration, number, parse_duration

ROW_KEY = "http"
RULE_RATE_WINDOW = "5m"
# The SRE Workbook's windows (chapter 5, "Multiwindow, Multi-Burn-Rate Alerts"), for a 30-day SLO.
SLI_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
GUARDED_FROM = 3600.0  # burn rates over windows this long or longer need minRequests requests
QUANTILES = (0.5, 0.9, 0.99)
TOP = 10
UNIT_BURN = "suffix: x"
UNIT_REQUESTS = "reqps"


@dataclass(frozen=True)
class BurnPair:
    long: str
    short: str
    factor: float


# Page: 2% of the budget in an hour, or 5% in six hours. Ticket: 10% in a day, or 10% in three days.
PAGE = (BurnPair("1h", "5m", 14.4), BurnPair("6h", "30m", 6))
TICKET = (BurnPair("1d", "2h", 3), BurnPair("3d", "6h", 1))

REC_SLI = "slo:sli_error:ratio_rate"
REC_BURN = "slo:burnrate"
REC_BUDGET = "slo:error_budget:remaining"
REC_ROUTE_RATE = "route_method:http_requests:rate5m"
REC_ROUTE_ERRORS = "route_method:http_requests_failed:ratio_rate5m"
REC_ROUTE_QUANTILE = "route_method:http_request_duration_seconds:p%d"


def applies(service: Service) -> bool:
    return service.http is not None


def _escape(route: str) -> str:
    """A route as an RE2 literal."""
    return "".join("\\" + c if c in ".+*?()[]{}|^$\\" else c for c in route)


def window(service: Service, text: str) -> Duration:
    """A window of the SRE Workbook's table, divided by spec.http.timeScale (test beds only)."""
    assert service.http is not None
    return duration(parse_duration(text).seconds / service.http.time_scale)


def le_matcher(bound: float) -> Matcher:
    """The bucket of `bound`: prom-client writes 0.5 and 10; Prometheus 3 normalises whole bounds to 10.0."""
    text = number(bound)
    if "." in text or "e" in text:
        return eq("le", text)
    return re_("le", f"{text}|{text}\\.0")


@dataclass(frozen=True)
class HttpQueries:
    """PromQL over the service's request histogram, in dashboard form ($namespace, $pod) or rule form."""

    service: Service
    dashboard: bool

    @property
    def http(self) -> Http:
        assert self.service.http is not None
        return self.service.http

    @property
    def conv(self) -> HttpConvention:
        return self.http.convention

    @property
    def scope(self) -> Scope:
        return Scope(self.service, self.dashboard)

    @property
    def rate_window(self) -> str:
        return self.scope.rate_window

    def excluded(self) -> str:
        return "|".join(_escape(r) for r in self.http.exclude_routes)

    def matchers(self, slo: Slo | None = None, *extra: Matcher) -> list[Matcher]:
        """The service's requests, health checks left out; one route or method when the SLO selects it."""
        out = self.scope.app_matchers()
        if slo is not None and slo.route:
            out.append(eq(self.conv.route_label, slo.route))
        elif self.http.exclude_routes:
            out.append(Matcher(self.conv.route_label, "!~", self.excluded()))
        if slo is not None and slo.method:
            out.append(eq(self.conv.method_label, slo.method))
        return out + list(extra)

    def health(self) -> str:
        return selector(self.conv.count, self.scope.app_matchers(re_(self.conv.route_label, self.excluded())))

    def count(self, slo: Slo | None = None, *extra: Matcher) -> str:
        return selector(self.conv.count, self.matchers(slo, *extra))

    def failed(self, slo: Slo | None = None) -> str:
        return self.count(slo, re_(self.conv.status_label, ERROR_CLASSES[self.http.errors]))

    def rate(self, series: str, window: str, by: str = "") -> str:
        grouping = f" by ({by}) " if by else ""
        return f"sum{grouping}(rate({series}[{window}]))"

    def failed_ratio(self, slo: Slo | None, window: str, by: str = "") -> str:
        """Failed / all requests; 0 (not nothing) while no request failed, as no error series exists yet."""
        failed, total = self.rate(self.failed(slo), window, by), self.rate(self.count(slo), window, by)
        return f"({failed} or 0 * {total}) / {total}"

    def slow_ratio(self, slo: Slo, window: str) -> str:
        assert slo.threshold is not None
        fast = selector(self.conv.bucket, self.matchers(slo, le_matcher(slo.threshold.seconds)))
        return f"1 - {self.rate(fast, window)} / {self.rate(self.count(slo), window)}"

    def bad_ratio(self, slo: Slo, window: str) -> str:
        return self.slow_ratio(slo, window) if slo.sli == "latency" else self.failed_ratio(slo, window)

    def quantile(self, q: float, window: str, by: str = "") -> str:
        buckets = selector(self.conv.bucket, self.matchers())
        return f"histogram_quantile({number(q)}, sum by ({by + ', ' if by else ''}le) (rate({buckets}[{window}])))"

    @property
    def route_by(self) -> str:
        return f"{self.conv.method_label}, {self.conv.route_label}"


def recorded(service: Service, name: str, slo: Slo | None = None) -> str:
    matchers = [eq("service", service.name)] + ([eq("slo", slo.name)] if slo is not None else [])
    return selector(name, matchers)


# --- rules ----------------------------------------------------------------------------------------------

def _route_group(service: Service) -> RuleGroup:
    q = HttpQueries(service, dashboard=False)
    labels = (("service", service.name),)
    by = q.route_by
    rules = [RecordingRule(REC_ROUTE_RATE, q.rate(q.count(), RULE_RATE_WINDOW, by), labels),
             RecordingRule(REC_ROUTE_ERRORS, q.failed_ratio(None, RULE_RATE_WINDOW, by), labels)]
    rules += [RecordingRule(REC_ROUTE_QUANTILE % round(p * 100), q.quantile(p, RULE_RATE_WINDOW, by), labels)
              for p in QUANTILES]
    return RuleGroup(f"{service.name}.http", tuple(rules))


def slo_windows(service: Service) -> tuple[Duration, ...]:
    return tuple(window(service, w) for w in SLI_WINDOWS)


def slo_window(service: Service, slo: Slo) -> Duration:
    """The SLO's own window (as the spec writes it, unless a test bed compresses time)."""
    scale = service.http.time_scale if service.http else 1
    return slo.window if scale == 1 else duration(slo.window.seconds / scale)


def _slo_records(service: Service, slo: Slo) -> tuple[RecordingRule, ...]:
    q = HttpQueries(service, dashboard=False)
    labels = (("service", service.name), ("slo", slo.name))
    total = slo_window(service, slo)
    rules = [RecordingRule(REC_SLI + w.text, q.bad_ratio(slo, w.text), labels) for w in (*slo_windows(service), total)]
    budget = number(slo.budget)
    for w in slo_windows(service):
        expr = f"{recorded(service, REC_SLI + w.text, slo)} / {budget}"
        if w.seconds * q.http.time_scale >= GUARDED_FROM:
            expr += f" and on () sum(increase({q.count(slo)}[{w.text}])) >= {slo.min_requests}"
        rules.append(RecordingRule(REC_BURN + w.text, expr, labels))
    rules.append(RecordingRule(REC_BUDGET, f"1 - {recorded(service, REC_SLI + total.text, slo)} / {budget}", labels))
    return _unique(rules)


def _unique(rules: list[RecordingRule]) -> tuple[RecordingRule, ...]:
    seen: dict[str, RecordingRule] = {}
    for rule in rules:
        seen.setdefault(rule.record, rule)
    return tuple(seen.values())


def _condition(service: Service, slo: Slo, pairs: tuple[BurnPair, ...]) -> str:
    clauses = []
    for pair in pairs:
        long, short = window(service, pair.long).text, window(service, pair.short).text
        factor = number(pair.factor)
        # The short window first: its burn rate is the alert's value, the rate of the burn going on now.
        clauses.append(f"{recorded(service, REC_BURN + short, slo)} > {factor} and "
                       f"{recorded(service, REC_BURN + long, slo)} > {factor}")
    return "\nor ".join(clauses)


def _what(slo: Slo) -> str:
    if slo.sli == "latency":
        return f"requests served within {slo.threshold}"
    return "requests that did not fail"


def _scope_words(slo: Slo) -> str:
    parts = [p for p in (slo.method, slo.route) if p]
    return f" ({' '.join(parts)})" if parts else ""


def _description(service: Service, slo: Slo, pairs: tuple[BurnPair, ...]) -> str:
    windows = " or ".join(f"{number(p.factor)}x over {window(service, p.short)} and {window(service, p.long)}"
                          for p in pairs)
    gone = ", ".join(f"at {number(p.factor)}x in {duration(slo.window.seconds / p.factor).text}" for p in pairs)
    guard = window(service, "1h")
    return (f"SLO {slo.name}{_scope_words(slo)}: {slo.objective_text} of {_what(slo)} over {slo.window}. The error "
            f"budget burns {{{{ $value | humanize }}}} times as fast as the objective allows over the short window, "
            f"and the alert holds at {windows}. A "
            f"full {slo.window} budget is gone {gone}. Windows of {guard} or more count only with at least "
            f"{slo.min_requests} requests, so one failed request on tiny traffic does not alert.")


def panel_key(slo: Slo, what: str) -> str:
    return f"http.slo.{slo.name}.{what}"


def _alert(alert: Alert, pairs: tuple[BurnPair, ...], summary: str, subject: tuple[Service, Slo],
           settings: AlertSettings) -> tuple[AlertRule, ...]:
    service, slo = subject
    return (alert_rule(settings, alert, _condition(service, slo, pairs), summary % (service.name, slo.name),
                       _description(service, slo, pairs), panel_key(slo, "burn-rate"), pod_label="",
                       labels=(("slo", slo.name),)),)


def _fast(subject: tuple[Service, Slo], settings: AlertSettings) -> tuple[AlertRule, ...]:
    return _alert(SLO_ERROR_BUDGET_BURN_FAST, PAGE, "%s: SLO %s burns its error budget fast", subject, settings)


def _slow(subject: tuple[Service, Slo], settings: AlertSettings) -> tuple[AlertRule, ...]:
    return _alert(SLO_ERROR_BUDGET_BURN_SLOW, TICKET, "%s: SLO %s burns its error budget", subject, settings)


ALERTS: tuple[AlertDefinition[tuple[Service, Slo]], ...] = (
    AlertDefinition(SLO_ERROR_BUDGET_BURN_FAST, _fast),
    AlertDefinition(SLO_ERROR_BUDGET_BURN_SLOW, _slow),
)


def rule_group(service: Service, slo: Slo) -> RuleGroup:
    """The SLO's rule group as the rule file holds it: its records, then its alerts."""
    return RuleGroup(f"{service.name}.slo.{slo.name}",
                     _slo_records(service, slo) + build_alerts((service, slo), slo.alerts.__getitem__, ALERTS))


# --- panels ---------------------------------------------------------------------------------------------

def _legend(label: str) -> str:
    return "{{%s}}" % label


def _traffic_panels(service: Service) -> tuple[Panel, ...]:
    q = HttpQueries(service, dashboard=True)
    w = q.rate_window
    status = q.conv.status_label
    # One query for every class (1xx to 5xx), so none is a query that is empty by design: the first digit of
    # the status code becomes a `class` label, shown as 2xx, 4xx, 5xx.
    by_class = f'sum by (class) (label_replace(rate({q.count()}[{w}]), "class", "$1", "{status}", "([0-9]).."))'
    classes = (Query(by_class, "{{class}}xx"),)
    route, method = q.conv.route_label, q.conv.method_label
    excluded = ", ".join(q.http.exclude_routes) or "none"
    return (
        Panel("http.status", "Requests by status class",
              f"Requests per second by status class, health checks ({excluded}) left out. 5xx are the service "
              "failing; a rise of 4xx is usually one client sending bad requests.",
              UNIT_PER_SECOND, classes, min=0, stacked=True, width=8),
        Panel("http.error-ratio", "Error ratio",
              f"Share of requests that failed ({q.http.errors}), health checks left out, overall and for the five "
              "routes failing most.",
              UNIT_RATIO, (Query(q.failed_ratio(None, w), "all routes"),
                           Query(f"topk(5, {q.failed_ratio(None, w, q.route_by)})",
                                 f"{_legend(method)} {_legend(route)}")), min=0, width=8),
        Panel("http.latency", "Latency p50 / p90 / p99",
              "Request duration percentiles over every route but the health checks, from the histogram's buckets "
              "(a percentile is only as precise as the bucket bounds around it).",
              UNIT_SECONDS, tuple(Query(q.quantile(p, w), f"p{round(p * 100)}") for p in QUANTILES), min=0, width=8),
        Panel("http.health", "Health checks and metrics scrapes",
              f"Requests to the excluded routes ({excluded}), apart so they do not hide real traffic. A health check "
              "that slows down or fails is the probe's problem before it is the users'.",
              UNIT_PER_SECOND, (Query(q.rate(q.health(), w, f"{method}, {route}, {status}"),
                                      f"{_legend(method)} {_legend(route)} {_legend(status)}"),), min=0, width=24,
              height=6),
    )


def _table_panels(service: Service) -> tuple[Panel, ...]:
    route = HttpQueries(service, dashboard=True).route_by
    rate, errors = recorded(service, REC_ROUTE_RATE), recorded(service, REC_ROUTE_ERRORS)
    p99 = recorded(service, REC_ROUTE_QUANTILE % 99)
    return (
        Panel("http.slowest", "Slowest routes (top 10 by p99)",
              "The ten routes with the highest p99 request duration over the last 5 minutes, with their request "
              "rate and error ratio. Health checks are left out.",
              UNIT_SECONDS, (Query(f"topk({TOP}, {p99})", "p99", instant=True),
                             Query(f"{rate} and on ({route}) topk({TOP}, {p99})", "requests/s", instant=True),
                             Query(f"{errors} and on ({route}) topk({TOP}, {p99})", "error ratio", instant=True)),
              kind="table", width=12, height=9,
              column_units=(("requests/s", UNIT_REQUESTS), ("error ratio", UNIT_RATIO))),
        Panel("http.failing", "Most failing routes (top 10 by error ratio)",
              "The ten routes with the highest share of failed requests over the last 5 minutes, with their "
              "request rate and p99. One route failing over and over (the seed article's PATCH endpoint, fed bad "
              "requests by a client) shows here first.",
              UNIT_RATIO, (Query(f"topk({TOP}, {errors} > 0)", "error ratio", instant=True),
                           Query(f"{rate} and on ({route}) topk({TOP}, {errors} > 0)", "requests/s", instant=True),
                           Query(f"{p99} and on ({route}) topk({TOP}, {errors} > 0)", "p99", instant=True)),
              kind="table", width=12, height=9,
              column_units=(("requests/s", UNIT_REQUESTS), ("p99", UNIT_SECONDS))),
    )


def _slo_panels(service: Service, slo: Slo) -> tuple[Panel, ...]:
    total = slo_window(service, slo)
    hour, long = window(service, "1h"), window(service, "1d")
    sli = [Query(f"1 - {recorded(service, REC_SLI + w.text, slo)}", f"SLI over {w.text}") for w in (hour, long, total)]
    objective = Query(f"vector({number(slo.objective)})", "objective")
    burns = tuple(Query(recorded(service, REC_BURN + window(service, p.long).text, slo),
                        f"burn rate {window(service, p.long)}") for p in (*PAGE, *TICKET))
    what = _what(slo) + _scope_words(slo)
    return (
        Panel(panel_key(slo, "sli"), f"SLO {slo.name}: SLI vs objective",
              f"Share of {what} over 1h, 1d and the SLO window ({slo.window}), against the objective "
              f"({slo.objective_text}).", UNIT_RATIO, (*sli, objective), max=1,
              styles=(SeriesStyle("objective", color="red", dashed=True),), width=10),
        Panel(panel_key(slo, "budget"), f"SLO {slo.name}: error budget left",
              f"Share of the {slo.window} error budget ({number(round(slo.budget * 100, 10))}% of requests) not "
              "yet spent. Below 0 the objective is missed.",
              UNIT_RATIO, (Query(recorded(service, REC_BUDGET, slo), "budget left"),), kind="stat", width=4,
              decimals=1, thresholds=(Threshold(None, "red"), Threshold(0, "orange"), Threshold(0.25, "green"))),
        Panel(panel_key(slo, "burn-rate"), f"SLO {slo.name}: burn rate",
              "How fast the error budget burns, as a multiple of the rate that spends it exactly over the SLO "
              "window. Pages at 14.4x over 1h (and 5m) or 6x over 6h (and 30m); a ticket at 3x over 1d or 1x over "
              f"3d. Windows of an hour or more show only with at least {slo.min_requests} requests.",
              UNIT_BURN, burns, min=0, thresholds=(Threshold(None, "green"), Threshold(1, "orange"),
                                             Threshold(14.4, "red")), show_thresholds=True, width=10),
    )


def _row(service: Service) -> Row:
    panels = _traffic_panels(service) + _table_panels(service)
    for slo in service.slos:
        panels += _slo_panels(service, slo)
    # Right after Leak watch (rank 0): requests are what users feel.
    return Row(ROW_KEY, f"HTTP ({service.http.convention.title})" if service.http else "HTTP", panels, rank=50)


def signals(service: Service) -> DomainOutput:
    return DomainOutput(rows=(_row(service),),
                        groups=(_route_group(service), *(rule_group(service, slo) for slo in service.slos)))


# ---- which alerts supersede which (Alertmanager inhibit rules; collected by gen.domains.inhibitions()) ----

INHIBITIONS: tuple[Inhibition, ...] = (
    Inhibition(SLO_ERROR_BUDGET_BURN_FAST, (SLO_ERROR_BUDGET_BURN_SLOW,), ("service", "slo"),
               "a fast burn is the same budget burning; the page says it"),
)
UNSUPERSEDED: tuple[Unsuperseded, ...] = (
    Unsuperseded(SLO_ERROR_BUDGET_BURN_FAST, "only ServiceDown supersedes it"),
)
