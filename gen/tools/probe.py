"""`obsgen probe`: run every panel query of a dashboard against a live Prometheus and say which
panels would be empty.

Each query is interpolated as Grafana would (gen/tools/grafana_query.py) and run over a recent window.
A query that returns nothing is EMPTY, unless every metric it reads (after expanding recorded
series into the metrics their rules read) is a Kubernetes metric and this Prometheus has no series
at all of one of them: then it is SKIPPED, because no scrape config can fix that outside a cluster
and an empty panel there says nothing about obsgen's names.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Mapping

import yaml

from gen.ir import Dashboard
from gen.promql.parse import UnknownMetric, is_recorded, selected_series
from gen.tools.grafana_query import (ALL_VALUE, PromRequest, QueryTemplateError, TimeWindow, Variable, build_request,
    dashboard_variables, interpolate)
from gen.tools.prometheus_api import Prometheus, QueryError

OK = "ok"
EMPTY = "EMPTY"
SKIPPED = "SKIPPED"
ERROR = "ERROR"
FAILING = (EMPTY, ERROR)

# Metric name prefixes of exporters that only exist inside a Kubernetes cluster.
KUBERNETES_EXPORTERS = (
    ("container_", "cAdvisor"),
    ("machine_", "cAdvisor"),
    ("kube_", "kube-state-metrics"),
)


def kubernetes_exporter(metric: str) -> str | None:
    for prefix, exporter in KUBERNETES_EXPORTERS:
        if metric.startswith(prefix):
            return exporter
    return None



@dataclass(frozen=True)
class MetricCatalog:
    """What the probed Prometheus knows: recording rules (name -> exprs) and metric names with series."""

    recorded: Mapping[str, tuple[str, ...]]
    present: frozenset[str]

    def base_metrics(self, names: Iterable[str]) -> tuple[set[str], set[str]]:
        """(scraped metrics behind `names`, recorded names no rule defines), recorded series expanded."""
        base: set[str] = set()
        undefined: set[str] = set()
        pending = list(names)
        seen: set[str] = set()
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in self.recorded:
                for expr in self.recorded[name]:
                    try:
                        pending.extend(selected_series(expr))
                    except ValueError:  # a rule this parser does not know: it could read anything
                        pending.append(UnknownMetric(f"{{metrics read by the rule recording {name}}}"))
            elif is_recorded(name):
                undefined.add(name)
            else:
                base.add(name)
        return base, undefined


def recording_rules(groups: Iterable[dict]) -> dict[str, tuple[str, ...]]:
    """record name -> exprs, from rule groups as the rules API or a rule file has them."""
    out: dict[str, tuple[str, ...]] = {}
    for group in groups:
        for rule in group.get("rules", []):
            name = rule.get("record") or (rule.get("name") if rule.get("type") == "recording" else None)
            if name:
                out[name] = out.get(name, ()) + (rule.get("expr") or rule.get("query", ""),)
    return out


def rule_file_groups(paths: Iterable[Path]) -> list[dict]:
    groups: list[dict] = []
    for path in paths:
        data = yaml.safe_load(path.read_text()) or {}
        groups.extend(data.get("groups", []))
    return groups


def catalog(prometheus: Prometheus, window: TimeWindow, extra_rule_groups: Iterable[dict] = ()) -> MetricCatalog:
    """Recording rules loaded in Prometheus (plus any given, for series Prometheus does not record)
    and the names of metrics that have series in the window."""
    recorded = recording_rules(extra_rule_groups)
    recorded.update(recording_rules(prometheus.rule_groups()))
    present = prometheus.label_values("__name__", start=window.start, end=window.end)
    return MetricCatalog(recorded, frozenset(present))


@dataclass(frozen=True)
class QueryProbe:
    ref_id: str
    expr: str  # as the dashboard has it
    query: str  # as sent to Prometheus
    status: str
    series: int = 0
    reason: str = ""

    def to_json(self) -> dict:
        return {"refId": self.ref_id, "expr": self.expr, "query": self.query, "status": self.status,
                "series": self.series, "reason": self.reason}


@dataclass(frozen=True)
class PanelProbe:
    panel_id: int | None
    title: str
    queries: tuple[QueryProbe, ...]

    @property
    def status(self) -> str:
        statuses = {q.status for q in self.queries}
        for status in (ERROR, EMPTY):
            if status in statuses:
                return status
        return SKIPPED if statuses == {SKIPPED} else OK

    def to_json(self) -> dict:
        return {"id": self.panel_id, "title": self.title, "status": self.status,
                "queries": [q.to_json() for q in self.queries]}


@dataclass(frozen=True)
class DashboardProbe:
    source: str
    title: str
    uid: str
    window: TimeWindow
    step: float
    panels: tuple[PanelProbe, ...]
    variables: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def failing(self) -> tuple[PanelProbe, ...]:
        return tuple(p for p in self.panels if p.status in FAILING)

    def counts(self) -> dict[str, int]:
        out = {OK: 0, SKIPPED: 0, EMPTY: 0, ERROR: 0}
        for panel in self.panels:
            out[panel.status] += 1
        return out

    def to_json(self) -> dict:
        return {"source": self.source, "title": self.title, "uid": self.uid,
                "window": {"start": self.window.start, "end": self.window.end, "step": self.step},
                "variables": {k: list(v) for k, v in sorted(self.variables.items())},
                "counts": self.counts(), "panels": [p.to_json() for p in self.panels]}


def panels_with_queries(dashboard: dict) -> Iterator[dict]:
    """Every panel that has queries, including those inside collapsed rows, in dashboard order."""
    for panel in dashboard.get("panels", []):
        if panel.get("targets"):
            yield panel
        for inner in panel.get("panels", []):  # a collapsed row keeps its panels inside it
            if inner.get("targets"):
                yield inner


def _is_prometheus(target: dict, panel: dict) -> bool:
    datasource = target.get("datasource") or panel.get("datasource") or {}
    kind = datasource.get("type") if isinstance(datasource, dict) else None
    return kind in (None, "prometheus") and "expr" in target


class Prober:
    """Probes dashboards against one Prometheus, over one window, with one catalog of metrics."""

    def __init__(self, prometheus: Prometheus, window: TimeWindow, scrape_interval: float,
                 metrics: MetricCatalog, overrides: Mapping[str, str] = {}):
        self.prometheus = prometheus
        self.window = window
        self.scrape_interval = scrape_interval
        self.metrics = metrics
        self.overrides = dict(overrides)

    def dashboard(self, dashboard: dict | Dashboard, source: str) -> DashboardProbe:
        if isinstance(dashboard, Dashboard):
            dashboard = dashboard.to_json_data()
        variables = dashboard_variables(dashboard, self.overrides)
        panels = tuple(self.panel(panel, variables) for panel in panels_with_queries(dashboard))
        step = build_request({"expr": ""}, {}, variables, self.window, self.scrape_interval).step
        shown = {name: v.value for name, v in variables.items()}
        return DashboardProbe(source, dashboard.get("title", ""), dashboard.get("uid", ""), self.window, step,
                              panels, shown)

    def panel(self, panel: dict, variables: Mapping[str, Variable]) -> PanelProbe:
        queries = tuple(self.target(target, panel, variables) for target in panel["targets"])
        return PanelProbe(panel.get("id"), panel.get("title", ""), queries)

    def _all_values(self, variable: Variable, variables: Mapping[str, Variable]) -> tuple[str, ...]:
        """The options of a query variable (label_values(...)), as Grafana lists them for All."""
        label, match = _label_values_query(variable.query)
        if label is None:
            raise QueryTemplateError(f"cannot list the options of variable ${variable.name} "
                                     f"(query {variable.query!r}); pass --var {variable.name}=VALUE")
        matches = [interpolate(match, variables, {})] if match else []
        return tuple(self.prometheus.label_values(label, matches, self.window.start, self.window.end)) or (".*",)

    def target(self, target: dict, panel: dict, variables: Mapping[str, Variable]) -> QueryProbe:
        ref, expr = target.get("refId", ""), target.get("expr", "")
        if target.get("hide"):
            return QueryProbe(ref, expr, "", SKIPPED, reason="hidden in the dashboard; Grafana does not run it")
        if not _is_prometheus(target, panel):
            return QueryProbe(ref, expr, "", SKIPPED, reason="not a Prometheus query")
        try:
            request = build_request(target, panel, variables, self.window, self.scrape_interval,
                                    lambda variable: self._all_values(variable, variables))
        except QueryTemplateError as err:
            return QueryProbe(ref, expr, "", ERROR, reason=str(err))
        try:
            metrics = selected_series(request.expr)
        except ValueError as err:
            return QueryProbe(ref, expr, request.expr, ERROR, reason=f"PromQL does not parse after substitution: {err}")
        try:
            result = self._run(request)
        except QueryError as err:
            return QueryProbe(ref, expr, request.expr, ERROR, reason=f"Prometheus rejected the query: {err}")
        if result:
            return QueryProbe(ref, expr, request.expr, OK, series=len(result))
        status, reason = explain_empty(metrics, self.metrics)
        return QueryProbe(ref, expr, request.expr, status, reason=reason)

    def _run(self, request: PromRequest) -> list[dict]:
        if request.instant:
            return self.prometheus.query(request.expr, request.end)
        return self.prometheus.query_range(request.expr, request.start, request.end, request.step)


def explain_empty(metrics: set[str], catalog: MetricCatalog) -> tuple[str, str]:
    """(SKIPPED or EMPTY, why) for a query that returned no data and selects `metrics`."""
    base, undefined = catalog.base_metrics(metrics)
    absent = sorted(m for m in base if m not in catalog.present and not isinstance(m, UnknownMetric))
    exporters = {m: kubernetes_exporter(m) for m in base}
    # A Kubernetes-only query with one exporter missing (cAdvisor scraped, kube-state-metrics not) cannot show data
    # outside a cluster either: a ratio to the limit needs both.
    if base and not undefined and all(exporters.values()) and absent:
        listed = ", ".join(f"{m} ({exporters[m]})" for m in absent)
        return SKIPPED, f"reads only Kubernetes metrics, and this Prometheus has no series of: {listed}"
    notes = []
    if undefined:
        notes.append("no rule loaded in Prometheus records " + ", ".join(sorted(undefined))
                     + " (load the generated rule file)")
    if absent:
        notes.append("no series at all of " + ", ".join(absent)
                     + " (a wrong metric name, or a target that is not scraped)")
    if not notes:
        notes.append("every metric it reads has series, so its label matchers or variable values select "
                     "none of them")
    return EMPTY, "no data: " + "; ".join(notes)


def _label_values_query(query: str) -> tuple[str | None, str | None]:
    """(label, series selector or None) of a `label_values(...)` variable query."""
    text = query.strip()
    if not (text.startswith("label_values(") and text.endswith(")")):
        return None, None
    inner = text[len("label_values("):-1]
    selector, _, label = inner.rpartition(",")
    return label.strip(), (selector.strip() or None)


def format_text(probes: Iterable[DashboardProbe], prometheus_url: str) -> list[str]:
    lines: list[str] = []
    totals = {OK: 0, SKIPPED: 0, EMPTY: 0, ERROR: 0}
    for probe in probes:
        counts = probe.counts()
        for key, value in counts.items():
            totals[key] += value
        variables = ", ".join(f"{k}={'All' if ALL_VALUE in v else '|'.join(v)}"
                              for k, v in sorted(probe.variables.items()))
        lines.append(f"dashboard {probe.title!r} ({probe.source}): {len(probe.panels)} panels, "
                     f"{_summary(counts)}; step {probe.step:g}s" + (f"; {variables}" if variables else ""))
        for panel in probe.panels:
            lines.append(f"  {panel.status:8} {panel.title}")
            lines.extend(_query_lines(panel))
    lines.append(f"obsgen probe: {prometheus_url}: {_summary(totals)}")
    return lines


def _query_lines(panel: PanelProbe) -> list[str]:
    """What went wrong with a panel's queries; queries with the same outcome share one line."""
    grouped: dict[tuple[str, str], list[QueryProbe]] = {}
    for query in panel.queries:
        if query.status != OK:
            grouped.setdefault((query.status, query.reason), []).append(query)
    lines = []
    for (status, reason), queries in grouped.items():
        lines.append(f"           {', '.join(q.ref_id for q in queries)}: {status}: {reason}")
        if status in FAILING:
            lines.extend(f"             {q.ref_id}: {q.query}" for q in queries if q.query)
    return lines


def _summary(counts: Mapping[str, int]) -> str:
    return (f"{counts[OK]} ok, {counts[SKIPPED]} skipped, {counts[EMPTY]} empty"
            + (f", {counts[ERROR]} failed" if counts[ERROR] else ""))


def to_json(probes: Iterable[DashboardProbe], prometheus_url: str) -> str:
    probes = list(probes)
    data = {"prometheus": prometheus_url, "dashboards": [p.to_json() for p in probes],
            "failing": sum(len(p.failing) for p in probes)}
    return json.dumps(data, indent=2, sort_keys=True)
