"""The shapes that domain modules produce and renderers consume: panels, rules and rule tests.

Nothing here knows Grafana JSON or YAML layout; that is the render stage's job.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from gen.spec.model import Labels, Service
from gen.spec.project import Project, default_project
from gen.units import Duration

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
    kind: str = "timeseries"  # timeseries | stat
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
    name: str
    rules: tuple[Rule, ...]
    interval: Duration | None = None


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


@dataclass(frozen=True)
class ServiceOutput:
    service: Service
    domains: tuple[DomainOutput, ...]
    dashboard: dict
    rule_file: dict
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
