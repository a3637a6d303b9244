"""Render a service's rows into a modern Grafana dashboard: grafanalib builds it, `modernize` cleans it.

grafanalib still writes keys from Grafana 5-7 (rows, style, hideControls, span,
...) and nulls for every unset option. `modernize` removes them so the result is
a current dashboard (schemaVersion 39) that validates against Grafana's schema.
"""
from __future__ import annotations

from typing import Any

from grafanalib import core as g

from gen.render.layout import Placed, dashboard_uid, place
from gen.spec.model import Service
from gen.promql.selectors import Scope, selector
from gen.ir import Dashboard, DomainOutput, Panel, Row, SeriesStyle

SCHEMA_VERSION = 39
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
LEGEND_CALCS = ["mean", "max", "lastNotNull"]

# Keys grafanalib writes that current Grafana no longer reads, by object kind.
LEGACY_KEYS = {
    "dashboard": {"__inputs", "rows", "style", "hideControls", "sharedCrosshair", "gnetId", "id", "version"},
    "panel": {"cacheTimeout", "editable", "error", "height", "hideTimeOverride", "minSpan", "span", "maxDataPoints",
              "repeatDirection", "maxPerRow", "thresholds", "thresholdType", "timeFrom", "timeShift", "links",
              "transformations", "transparent", "interval"},
    "target": {"query", "target", "metric", "step", "intervalFactor", "interval", "hide"},
    "variable": {"useTags", "tagsQuery", "tagValuesQuery", "auto", "auto_min", "auto_count"},
    "timepicker": {"time_options", "nowDelay"},
}


ROW_KEYS = {"collapsed", "gridPos", "id", "panels", "title", "type"}


def _target(query, ref: str) -> g.Target:
    return g.Target(expr=query.expr, legendFormat=query.legend, refId=ref, instant=query.instant,
                    datasource=DATASOURCE)


def _refs(panel: Panel) -> list[g.Target]:
    return [_target(q, chr(ord("A") + i)) for i, q in enumerate(panel.queries)]


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


def _common(panel: Panel, spot: Placed) -> dict:
    """What every panel type takes: identity, place, description and queries."""
    return {"title": panel.title, "description": panel.description, "id": spot.id,
            "gridPos": g.GridPos(h=spot.h, w=spot.w, x=spot.x, y=spot.y), "dataSource": DATASOURCE,
            "targets": _refs(panel)}


def _timeseries(panel: Panel, spot: Placed) -> g.TimeSeries:
    return g.TimeSeries(
        **_common(panel, spot),
        unit=panel.unit,
        legendDisplayMode="table",
        legendPlacement="bottom",
        legendCalcs=list(LEGEND_CALCS),
        tooltipMode="multi",
        tooltipSort="desc",
        drawStyle="bars" if panel.bars else "line",
        fillOpacity=10 if panel.stacked or panel.bars else 0,
        stacking={"mode": "normal", "group": "A"} if panel.stacked else {"mode": "none", "group": "A"},
        thresholdsStyleMode="line" if panel.show_thresholds else "off",
        thresholds=_thresholds(panel),
        overrides=[_override(s) for s in panel.styles],
        showPoints="never",
        valueDecimals=panel.decimals,
    )


def _stat(panel: Panel, spot: Placed) -> g.Stat:
    return g.Stat(
        **_common(panel, spot),
        format=panel.unit,
        reduceCalc="lastNotNull",
        graphMode="area",
        colorMode="value",
        thresholds=_thresholds(panel),
        decimals=panel.decimals,
        noValue=panel.no_value,
    )


_BUILDERS = {"timeseries": _timeseries, "stat": _stat}
_CURRENT_OPTIONS: dict[str, dict] = {
    "timeseries": {},
    "stat": {"wideLayout": True, "showPercentChange": False, "percentChangeColorMode": "standard"},
}


def _panel_json(spot: Placed) -> dict:
    if spot.panel is None:
        row = g.RowPanel(title=spot.row.title, id=spot.id, gridPos=g.GridPos(h=spot.h, w=spot.w, x=spot.x, y=spot.y),
                         collapsed=False, panels=[])
        return _to_json(row)
    panel = spot.panel
    data = _to_json(_BUILDERS[panel.kind](panel, spot))
    # Options Grafana 10+ writes on save that grafanalib does not know.
    data["options"].update(_CURRENT_OPTIONS[panel.kind])
    if "legend" in data["options"]:
        data["options"]["legend"]["showLegend"] = True
    defaults = data["fieldConfig"]["defaults"]
    if panel.min is not None:
        defaults["min"] = panel.min
    if panel.max is not None:
        defaults["max"] = panel.max
    return data


def _to_json(obj: Any) -> Any:
    """Plain JSON data from grafanalib objects, through their public `to_json_data()`."""
    while hasattr(obj, "to_json_data"):
        obj = obj.to_json_data()
    if isinstance(obj, dict):
        return {str(k): _to_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_json(v) for v in obj]
    return obj


def _variables(service: Service) -> list[g.Template]:
    s = Scope(service, dashboard=False)
    sel = service.selector
    job_only = selector("up", [m for m in s.app_matchers() if m.label == "job"])
    variables = [
        g.Template(name="datasource", label="Data source", query="prometheus", type="datasource", default="",
                   includeAll=False),
    ]
    if sel.namespace_label:
        variables.append(g.Template(
            name="namespace", label="Namespace", type="query", dataSource=DATASOURCE,
            query=f"label_values({job_only}, {sel.namespace_label})", default=service.namespace, refresh=1))
    else:
        variables.append(g.Template(name="namespace", label="Namespace", type="custom", query=service.namespace,
                                    default=service.namespace))
    pod_label = sel.pod_label or "instance"
    ns_matchers = [m for m in Scope(service, dashboard=True).app_matchers() if m.label != pod_label]
    variables.append(g.Template(
        name="pod", label="Pod", type="query", dataSource=DATASOURCE,
        query=f"label_values({selector('up', ns_matchers)}, {pod_label})",
        includeAll=True, multi=True, allValue=sel.pod_regex, default="$__all", refresh=2))
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
    placed = place(rows)
    description = f"Generated by obsgen from {service.source}. Do not edit: change the spec and run obsgen build."
    if service.description:
        description = f"{service.description} {description}"
    tags = ["obsgen", f"runtime:{service.runtime}", *([f"team:{service.team}"] if service.team else []),
            *service.dashboard.tags]
    dash = g.Dashboard(
        title=service.dashboard.title,
        uid=dashboard_uid(service.name),
        description=description,
        tags=list(dict.fromkeys(tags)),
        timezone="utc",
        editable=False,
        graphTooltip=1,
        refresh=service.dashboard.refresh.text,
        time=g.Time(f"now-{service.dashboard.time_range.text}", "now"),
        templating=g.Templating(list=_variables(service)),
        panels=[],
    )
    data = _to_json(dash)
    data["panels"] = [_panel_json(spot) for spot in placed]
    data["annotations"] = {"list": _annotations(service, [a for d in domains for a in d.annotations])}
    return Dashboard.from_json(modernize(data))


def _strip_nulls(value: Any, keep_null: bool = False) -> Any:
    if isinstance(value, dict):
        return {k: _strip_nulls(v, keep_null=(k == "steps")) for k, v in value.items()
                if v is not None or (keep_null and k == "value")}
    if isinstance(value, list):
        return [_strip_nulls(v, keep_null) for v in value]
    return value


def _drop(obj: dict, kind: str) -> None:
    for key in LEGACY_KEYS[kind]:
        obj.pop(key, None)


def _modern_variable(var: dict) -> None:
    _drop(var, "variable")
    current = var.get("current") or {}
    if var["type"] == "datasource":
        var["current"] = {}
        var.pop("current")
    elif current.get("value") == "$__all":
        var["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
    elif current:
        var["current"] = {"selected": True, "text": current.get("text", ""), "value": current.get("value", "")}
    for key in ("allValue", "regex"):
        if var.get(key) in (None, ""):
            var.pop(key, None)
    if var["type"] != "custom":
        var["options"] = []


def modernize(data: dict) -> dict:
    """Drop legacy keys and nulls so the dashboard is what Grafana 10/11 itself would save."""
    data = _strip_nulls(data)
    _drop(data, "dashboard")
    data["schemaVersion"] = SCHEMA_VERSION
    timepicker = data.get("timepicker", {})
    _drop(timepicker, "timepicker")
    data["timepicker"] = timepicker
    for var in data["templating"]["list"]:
        _modern_variable(var)
    for panel in data["panels"]:
        _drop(panel, "panel")
        if panel["type"] == "row":
            for key in set(panel) - ROW_KEYS:
                del panel[key]
            continue
        if panel.get("repeat") in ("", None):
            panel.pop("repeat", None)
        for target in panel.get("targets", []):
            _drop(target, "target")
            target["editorMode"] = "code"
            target["range"] = not target.get("instant", False)
            if not target.get("legendFormat"):
                target.pop("legendFormat", None)
    return data
