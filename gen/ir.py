"""The shapes that domain modules produce and renderers consume: panels, rules and rule tests.

Nothing here knows Grafana JSON or YAML layout; that is the render stage's job.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from gen.spec.model import Labels, Service
from gen.spec.project import Project, default_project
from gen.units import Duration, parse_duration

# Grafana unit ids used by obsgen, named for what they measure.
UNIT_SECONDS = "s"
UNIT_BYTES = "bytes"
UNIT_BYTES_PER_SECOND = "Bps"
UNIT_RATIO = "percentunit"
UNIT_PER_SECOND = "ops"
UNIT_PACKETS_PER_SECOND = "pps"
UNIT_CORES = "suffix: cores"
UNIT_COUNT = "short"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str
    instant: bool = False


@dataclass(frozen=True)
class SeriesStyle:
    """How to draw the series whose display name is `name` (a reference line, a forecast, ...)."""

    name: str
    color: str = ""
    regex: bool = False  # `name` is a regular expression over display names
    dashed: bool = False
    fill: int | None = None
    width: int | None = None


@dataclass(frozen=True)
class Threshold:
    value: float | None  # None is the base step
    color: str


@dataclass(frozen=True)
class Panel:
    """One dashboard panel. `key` is its stable identity: ids and alert links derive from it."""

    key: str
    title: str
    description: str
    unit: str
    queries: tuple[Query, ...]
    kind: str = "timeseries"  # timeseries | stat | table
    width: int = 12
    height: int = 8
    min: float | None = None
    max: float | None = None
    styles: tuple[SeriesStyle, ...] = ()
    stacked: bool = False
    bars: bool = False
    thresholds: tuple[Threshold, ...] = ()
    show_thresholds: bool = False
    decimals: int | None = None
    no_value: str = "no data"
    # A table's columns, (column name = a query's legend, unit), for columns whose unit is not the panel's.
    column_units: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Row:
    key: str
    title: str
    panels: tuple[Panel, ...]
    rank: int = 100  # dashboard order; lower comes first, equal ranks keep domain order


@dataclass(frozen=True)
class RecordingRule:
    record: str
    expr: str
    labels: Labels = ()


@dataclass(frozen=True)
class AlertRule:
    """An alert as a domain defines it. Routing labels, runbook and dashboard links are added at render."""

    name: str
    expr: str
    for_: Duration
    severity: str
    summary: str
    description: str
    panel_key: str
    labels: Labels = ()
    # The label naming the pod an alert is about, for the dashboard link; empty for service-wide alerts.
    pod_label: str = "pod"
    # The spec's alert settings key (spec.alerts.<setting>) it comes from, so `obsgen diff` can speak in spec terms.
    setting: str = ""


Rule = RecordingRule | AlertRule


@dataclass(frozen=True)
class RuleGroup:
    """A domain's group of rules; in a rendered `RuleFile`, its alerts are `RenderedAlert`s."""

    name: str
    rules: tuple[Rule | RenderedAlert, ...]
    interval: Duration | None = None

    def to_dict(self) -> dict:
        out: dict = {"name": self.name}
        if self.interval is not None:
            out["interval"] = self.interval.text
        out["rules"] = [rule_dict(r) for r in self.rules]
        return out


@dataclass(frozen=True)
class Series:
    """One input series of a rule test, in promtool's expanding notation."""

    selector: str
    values: str


@dataclass(frozen=True)
class ExpectedAlert:
    """An alert that must be firing: the labels its expression yields and the `$value` it must carry."""

    labels: Labels
    value: float


@dataclass(frozen=True)
class AlertCheck:
    at: Duration
    alert: str
    firing: tuple[ExpectedAlert, ...] = ()
    # Static labels that pick one rule when several share the alert's name (one rule per queue).
    rule_labels: Labels = ()


@dataclass(frozen=True)
class RuleTest:
    """A named scenario: input series and what each alert must (or must not) do."""

    name: str
    interval: Duration
    series: tuple[Series, ...]
    checks: tuple[AlertCheck, ...]


@dataclass(frozen=True)
class DomainOutput:
    """What one domain contributes for one service."""

    rows: tuple[Row, ...] = ()
    headlines: tuple[Panel, ...] = ()  # stat panels for the dashboard's overview row
    groups: tuple[RuleGroup, ...] = ()
    annotations: tuple[dict, ...] = ()  # dashboard annotation queries (Grafana JSON)
    notes: tuple[str, ...] = field(default=())


# ---- rendered output: what targets and tools receive; only serialization turns it into dicts ----

@dataclass(frozen=True)
class RenderedAlert:
    """An alert as Prometheus loads it: routing labels, runbook and dashboard links added, expression laid out."""

    name: str
    expr: str
    for_: str
    labels: Labels
    annotations: Labels

    def to_dict(self) -> dict:
        return {"alert": self.name, "expr": self.expr, "for": self.for_, "labels": dict(self.labels),
                "annotations": dict(self.annotations)}


def rule_dict(rule: Rule | RenderedAlert) -> dict:
    """A rendered rule as a rule file holds it."""
    if isinstance(rule, RecordingRule):
        out: dict = {"record": rule.record, "expr": rule.expr}
        if rule.labels:
            out["labels"] = dict(rule.labels)
        return out
    if isinstance(rule, RenderedAlert):
        return rule.to_dict()
    raise TypeError(f"alert {rule.name} is not rendered")


@dataclass(frozen=True)
class RuleFile:
    """A Prometheus rule file: recording rules and rendered alerts, one group per domain."""

    groups: tuple[RuleGroup, ...]

    def rules(self) -> Iterator[tuple[RuleGroup, RecordingRule | RenderedAlert]]:
        for group in self.groups:
            for rule in group.rules:
                yield group, rule  # type: ignore[misc]

    @property
    def alerts(self) -> tuple[RenderedAlert, ...]:
        return tuple(r for _, r in self.rules() if isinstance(r, RenderedAlert))

    @property
    def records(self) -> tuple[RecordingRule, ...]:
        return tuple(r for _, r in self.rules() if isinstance(r, RecordingRule))

    def to_dict(self) -> dict:
        return {"groups": [g.to_dict() for g in self.groups]}

    @classmethod
    def from_dict(cls, data: dict) -> "RuleFile":
        """A rule file as YAML holds it (every rule a recording rule or an alert)."""
        def rule(r: dict) -> RecordingRule | RenderedAlert:
            if "record" in r:
                return RecordingRule(r["record"], r["expr"], tuple(r.get("labels", {}).items()))
            return RenderedAlert(r["alert"], r["expr"], r.get("for", ""), tuple(r.get("labels", {}).items()),
                                 tuple(r.get("annotations", {}).items()))
        return cls(tuple(RuleGroup(g["name"], tuple(rule(r) for r in g.get("rules", [])),
                                   parse_duration(g["interval"]) if g.get("interval") else None)
                         for g in data.get("groups", [])))


@dataclass(frozen=True)
class PanelQuery:
    """One PromQL query of a dashboard: a panel target or an annotation query."""

    ref: str  # refId for a panel target, the annotation's name for an annotation
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class DashboardPanel:
    """A placed panel (or row header) of a rendered dashboard; `body` is its Grafana JSON."""

    id: int
    type: str  # row | timeseries | stat | ...
    title: str
    queries: tuple[PanelQuery, ...]
    body: dict = field(compare=False, hash=False, repr=False)

    @property
    def is_row(self) -> bool:
        return self.type == "row"


@dataclass(frozen=True)
class Dashboard:
    """A rendered Grafana dashboard: its identity, panels and queries typed; `body` the JSON-ready dashboard."""

    uid: str
    title: str
    panels: tuple[DashboardPanel, ...]
    annotations: tuple[PanelQuery, ...]
    body: dict = field(repr=False)

    @classmethod
    def from_json(cls, body: dict) -> "Dashboard":
        panels = tuple(DashboardPanel(p.get("id", 0), p.get("type", ""), p.get("title", ""),
                                      tuple(PanelQuery(t.get("refId", ""), t.get("expr", ""), t.get("legendFormat", ""))
                                            for t in p.get("targets", []) if "expr" in t), p)
                       for p in body.get("panels", []))
        annotations = tuple(PanelQuery(a.get("name", ""), a["expr"])
                            for a in body.get("annotations", {}).get("list", []) if "expr" in a)
        return cls(body.get("uid", ""), body.get("title", ""), panels, annotations, body)

    @property
    def content_panels(self) -> tuple[DashboardPanel, ...]:
        """Panels without the row headers."""
        return tuple(p for p in self.panels if not p.is_row)

    def exprs(self) -> Iterator[tuple[str, str]]:
        """(where, expr) for every PromQL query: panel targets, then annotation queries."""
        for panel in self.panels:
            for query in panel.queries:
                yield f"panel '{panel.title}' query {query.ref}", query.expr
        for annotation in self.annotations:
            yield f"annotation '{annotation.ref}'", annotation.expr

    def to_json_data(self) -> dict[str, Any]:
        return self.body


@dataclass(frozen=True)
class ServiceOutput:
    service: Service
    domains: tuple[DomainOutput, ...]
    dashboard: Dashboard
    rule_file: RuleFile
    test_file: dict | None = None  # None when the build makes no proofs
    proof_notes: tuple[str, ...] = ()

    @property
    def notes(self) -> tuple[str, ...]:
        """What the build says about this service: signals a convention lacks, checks its settings rule out."""
        return tuple(n for d in self.domains for n in d.notes) + self.proof_notes


@dataclass(frozen=True)
class Compiled:
    services: tuple[ServiceOutput, ...]
    files: dict[str, bytes]
    project: Project = field(default_factory=default_project)
    # Every rule file in every form a target writes it (plain, PrometheusRule spec, mixin), as promtool reads it.
    promtool_files: dict[str, bytes] = field(default_factory=dict)

    @property
    def rule_files(self) -> dict[str, bytes]:
        return {k: v for k, v in self.files.items() if k.startswith("rules/")}
