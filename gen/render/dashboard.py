"""Render a service's rows into a modern Grafana dashboard (schemaVersion 39), straight from ir's Panel and Row.

The JSON is what Grafana 10/11 loads for these panels: no legacy keys (rows, style,
span, ...), no nulls for unset options, and no field Grafana fills in by itself with the
same value (a time series' line style, a query's format and editor mode): a reviewer reads
only what this dashboard chooses. What Grafana's schema requires stays, defaults or not (a
stat panel's options, a legend, `overrides`). It validates against Grafana's schema
(tests/test_dashboards.py checks it). See docs/architecture.md for why this no longer goes
through grafanalib.
"""
from __future__ import annotations

from typing import Any, Callable

from gen.render.layout import Placed, dashboard_uid, place
from gen.spec.model import Service
from gen.promql.selectors import Scope, selector
from gen.ir import Dashboard, DomainOutput, Panel, Row, SeriesStyle

SCHEMA_VERSION = 39
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
LEGEND_CALCS = ["mean", "max", "lastNotNull"]
REFRESH_INTERVALS = ["5s", "10s", "30s", "1m", "5m", "15m", "30m", "1h", "2h", "1d"]
# Grafana's own defaults of a time series' field options (its timeseries panel's defaultGraphConfig):
# a value equal to these is left out, so that what a panel states is what it chooses.
TIMESERIES_DEFAULTS = {
    "drawStyle": "line", "fillOpacity": 0, "showPoints": "auto", "stacking": {"group": "A", "mode": "none"},
    "thresholdsStyle": {"mode": "off"},
}
STAT_OPTIONS = {
    "colorMode": "value", "graphMode": "area", "justifyMode": "auto", "orientation": "auto",
    "percentChangeColorMode": "standard", "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
    "showPercentChange": False, "textMode": "auto", "wideLayout": True,
}


def _grid(spot: Placed) -> dict:
    return {"h": spot.h, "w": spot.w, "x": spot.x, "y": spot.y}


def _targets(panel: Panel) -> list[dict]:
    """A panel's queries. They take the panel's data source; a range query in time-series format is
    Grafana's default, so only an instant query says what it is, and a table's queries their format."""
    table = {"format": "table"} if panel.kind == "table" else {}
    return [{"expr": q.expr, **table, **({"instant": True, "range": False} if q.instant else {}),
             **({"legendFormat": q.legend} if q.legend else {}), "refId": chr(ord("A") + i)}
            for i, q in enumerate(panel.queries)]


def _thresholds(panel: Panel) -> list[dict]:
    if not panel.thresholds:
        return [{"color": "green", "value": None}]
    return [{"color": t.color, "value": t.value} for t in panel.thresholds]


def _override(style: SeriesStyle) -> dict:
    properties = []
    if style.color:
        properties.append({"id": "color", "value": {"fixedColor": style.color, "mode": "fixed"}})
    if style.dashed:
        properties.append({"id": "custom.lineStyle", "value": {"dash": [10, 10], "fill": "dash"}})
    if style.width is not None:
        properties.append({"id": "custom.lineWidth", "value": style.width})
    if style.fill is not None:
        properties.append({"id": "custom.fillOpacity", "value": style.fill})
    return {"matcher": {"id": "byRegexp" if style.regex else "byName", "options": style.name},
            "properties": properties}


def _timeseries(panel: Panel, defaults: dict) -> dict:
    """Fill a time series panel's field defaults; return its options."""
    custom = {
        "drawStyle": "bars" if panel.bars else "line",
        "fillOpacity": 10 if panel.stacked or panel.bars else 0,
        # Points only where a series has a single sample would clutter days-long leak panels.
        "showPoints": "never",
        "stacking": {"group": "A", "mode": "normal" if panel.stacked else "none"},
        "thresholdsStyle": {"mode": "line" if panel.show_thresholds else "off"},
    }
    defaults["custom"] = {k: v for k, v in custom.items() if TIMESERIES_DEFAULTS[k] != v}
    return {"legend": {"calcs": list(LEGEND_CALCS), "displayMode": "table", "placement": "bottom",
                       "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"}}


def _stat(panel: Panel, defaults: dict) -> dict:
    """Fill a stat panel's field defaults; return its options (every one of them, as Grafana's schema requires)."""
    defaults["noValue"] = panel.no_value
    return dict(STAT_OPTIONS)


def _table(panel: Panel, defaults: dict) -> dict:
    """A table of instant queries, one column per query (named by its legend), sorted by the first. Grafana's
    schema requires a table's cell alignment and inspect switch; these are its defaults."""
    defaults["custom"] = {"align": "auto", "inspect": False}
    return {"frameIndex": 0, "showHeader": True, "sortBy": [{"desc": True, "displayName": panel.queries[0].legend}]}


def _table_transformations(panel: Panel) -> list[dict]:
    """Instant queries in table format give one frame each, with a `Value #<refId>` column: merge them on
    their labels, drop the time, and name each value column after its query."""
    names = {f"Value #{chr(ord('A') + i)}": q.legend for i, q in enumerate(panel.queries)}
    return [{"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": {"Time": True}, "renameByName": names}}]


def _column_override(name: str, unit: str) -> dict:
    return {"matcher": {"id": "byName", "options": name}, "properties": [{"id": "unit", "value": unit}]}


_KINDS: dict[str, Callable[[Panel, dict], dict]] = {"timeseries": _timeseries, "stat": _stat, "table": _table}


def _panel_json(spot: Placed) -> dict:
    if spot.panel is None:
        return {"collapsed": False, "gridPos": _grid(spot), "id": spot.id, "panels": [], "title": spot.row.title,
                "type": "row"}
    panel = spot.panel
    defaults: dict[str, Any] = {"unit": panel.unit}
    # A stat colours its value by thresholds, so it states them even when only green: without them Grafana
    # applies its own red step at 80. A time series draws in palette colours and shows thresholds only when
    # asked to, so one without any leaves them out.
    if panel.thresholds or panel.kind != "timeseries":
        defaults["thresholds"] = {"mode": "absolute", "steps": _thresholds(panel)}
    options = _KINDS[panel.kind](panel, defaults)
    for key, value in (("decimals", panel.decimals), ("min", panel.min), ("max", panel.max)):
        if value is not None:
            defaults[key] = value
    overrides = [_override(s) for s in panel.styles] + [_column_override(n, u) for n, u in panel.column_units]
    body = {"datasource": DATASOURCE, "description": panel.description,
            "fieldConfig": {"defaults": defaults, "overrides": overrides},
            "gridPos": _grid(spot), "id": spot.id, "options": options, "targets": _targets(panel),
            "title": panel.title, "type": panel.kind}
    if panel.kind == "table":
        body["transformations"] = _table_transformations(panel)
    return body


def _variable(name: str, label: str, kind: str, query: str, refresh: int, **more: Any) -> dict:
    return {"hide": 0, "includeAll": False, "label": label, "multi": False, "name": name, "options": [],
            "query": query, "refresh": refresh, "sort": 1, "type": kind, **more}


def _variables(service: Service) -> list[dict]:
    s = Scope(service, dashboard=False)
    sel = service.selector
    job_only = selector("up", [m for m in s.app_matchers() if m.label == "job"])
    namespace = {"selected": True, "text": service.namespace, "value": service.namespace}
    variables = [_variable("datasource", "Data source", "datasource", "prometheus", 1)]
    if sel.namespace_label:
        variables.append(_variable("namespace", "Namespace", "query",
                                   f"label_values({job_only}, {sel.namespace_label})", 1,
                                   current=namespace, datasource=DATASOURCE))
    else:
        # A custom variable lists its one value as its option.
        variables.append(_variable("namespace", "Namespace", "custom", service.namespace, 1, current=namespace,
                                   options=[dict(namespace)]))
    pod_label = sel.pod_label or "instance"
    ns_matchers = [m for m in Scope(service, dashboard=True).app_matchers() if m.label != pod_label]
    variables.append(_variable(
        "pod", "Pod", "query", f"label_values({selector('up', ns_matchers)}, {pod_label})", 2,
        allValue=sel.pod_regex, current={"selected": True, "text": ["All"], "value": ["$__all"]},
        datasource=DATASOURCE, includeAll=True, multi=True))
    return variables


def _annotations(service: Service, extra: list[dict]) -> list[dict]:
    s = Scope(service, dashboard=True)
    start = f"{service.nodejs_metric_prefix}process_start_time_seconds"
    return [
        {"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True, "hide": True,
         "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard"},
        {"datasource": DATASOURCE, "enable": True, "hide": False, "iconColor": "blue", "name": "Process restarts",
         "expr": f"changes({s.app(start)}[2m]) > 0", "step": "1m", "titleFormat": "Restart",
         "textFormat": "{{%s}} started a new process" % s.app_pod_label},
        *extra,
    ]


def overview_row(domains: list[DomainOutput]) -> Row:
    return Row("overview", "Overview", tuple(p for d in domains for p in d.headlines))


def build_dashboard(service: Service, domains: list[DomainOutput]) -> Dashboard:
    rows = [overview_row(domains)] + sorted((row for d in domains for row in d.rows), key=lambda r: r.rank)
    description = f"Generated by obsgen from {service.source}. Do not edit: change the spec and run obsgen build."
    if service.description:
        description = f"{service.description} {description}"
    tags = ["obsgen", f"runtime:{service.runtime}", *([f"team:{service.team}"] if service.team else []),
            *service.dashboard.tags]
    return Dashboard.from_json({
        "annotations": {"list": _annotations(service, [a for d in domains for a in d.annotations])},
        "description": description,
        "editable": False,
        "graphTooltip": 1,
        "links": [],
        "panels": [_panel_json(spot) for spot in place(rows)],
        "refresh": service.dashboard.refresh.text,
        "schemaVersion": SCHEMA_VERSION,
        "tags": list(dict.fromkeys(tags)),
        "templating": {"list": _variables(service)},
        "time": {"from": f"now-{service.dashboard.time_range.text}", "to": "now"},
        "timepicker": {"hidden": False, "refresh_intervals": list(REFRESH_INTERVALS)},
        "timezone": "utc",
        "title": service.dashboard.title,
        "uid": dashboard_uid(service.name),
    })
