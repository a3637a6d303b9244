"""HTTP and SLOs (issue 12): the `http` and `slos` spec sections, their errors, the recording rules, the
multi-window multi-burn-rate alerts and the HTTP dashboard row, compiled from real specs."""
from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest
from jsonschema import Draft7Validator

from gen.domains.http import PAGE, TICKET
from gen.pipeline import compile_specs
from gen.spec.http_conventions import EXPRESS_PROM_BUNDLE, OPENTELEMETRY
from gen.spec.load import load_specs
from gen.spec.model import build_model
from gen.spec.validate import validate

from .conftest import UPSTREAM, run_obsgen

HEAD = """\
apiVersion: obsgen/v1
kind: Service
metadata: {name: svc}
spec:
  namespace: ns
  runtime: nodejs
"""

TWO_SLOS = """\
http:
  buckets: [0.003, 0.03, 0.1, 0.3, 0.5, 1.5, 10]
slos:
  - name: availability
    objective: 99.9%
  - name: latency
    sli: latency
    objective: 99%
    threshold: 500ms
"""


def write_spec(root: Path, body: str) -> Path:
    (root / "specs").mkdir(parents=True, exist_ok=True)
    path = root / "specs" / "svc.yaml"
    path.write_text(HEAD + textwrap.indent(textwrap.dedent(body), "  "))
    return path


def model(root: Path):
    docs = load_specs(root / "specs", root)
    validate(docs)
    return build_model(docs)[0]


def compiled_service(root: Path):
    return compile_specs(root / "specs", root).services[0]


def rules_of(out) -> dict[str, dict]:
    return {f"{g['name']}/{r.get('record') or r['alert']}": r for g in out.rule_file.to_dict()["groups"]
            for r in g["rules"]}


# --- spec: defaults and conventions -------------------------------------------------------------------------

def test_a_spec_without_http_or_slos_gets_no_http_row_or_rules(tmp_path):
    write_spec(tmp_path, "")
    out = compiled_service(tmp_path)
    assert out.service.http is None and out.service.slos == ()
    assert not any(g.name.endswith(".http") or ".slo." in g.name for g in out.rule_file.groups)
    assert not any(p.title.startswith("HTTP") for p in out.dashboard.panels if p.is_row)


def test_defaults_of_a_one_line_slo(tmp_path):
    write_spec(tmp_path, "slos:\n  - {name: availability, objective: 99.9%}\n")
    service = model(tmp_path)
    assert service.http.convention is EXPRESS_PROM_BUNDLE
    assert service.http.buckets == (0.003, 0.03, 0.1, 0.3, 1.5, 10.0)  # express-prom-bundle's own default
    assert "/api/ping" in service.http.exclude_routes and "/metrics" in service.http.exclude_routes
    assert service.http.errors == "5xx"
    (slo,) = service.slos
    assert (slo.sli, slo.objective, slo.budget, slo.window.text, slo.min_requests) == (
        "availability", 0.999, 0.001, "30d", 100)
    fast, slow = slo.alerts["burnFast"], slo.alerts["burnSlow"]
    assert (fast.severity, fast.for_.text, slow.severity, slow.for_.text) == ("critical", "2m", "warning", "2m")


def test_the_conventions_name_upstream_metrics_and_labels():
    assert EXPRESS_PROM_BUNDLE.metric == "http_request_duration_seconds"
    assert (EXPRESS_PROM_BUNDLE.status_label, EXPRESS_PROM_BUNDLE.method_label, EXPRESS_PROM_BUNDLE.route_label) == (
        "status_code", "method", "path")
    assert 0.5 not in EXPRESS_PROM_BUNDLE.buckets
    assert OPENTELEMETRY.metric == "http_server_request_duration_seconds"
    assert (OPENTELEMETRY.status_label, OPENTELEMETRY.method_label, OPENTELEMETRY.route_label) == (
        "http_response_status_code", "http_request_method", "http_route")
    assert OPENTELEMETRY.buckets[:3] == (0.005, 0.01, 0.025) and 0.5 in OPENTELEMETRY.buckets


def test_opentelemetry_and_custom_conventions_change_names_not_shapes(tmp_path):
    write_spec(tmp_path, "http: {convention: opentelemetry}\nslos:\n  - {name: lat, sli: latency, objective: 99%, "
                         "threshold: 500ms}\n")
    rules = rules_of(compiled_service(tmp_path))
    sli = rules["svc.slo.lat/slo:sli_error:ratio_rate5m"]["expr"]
    assert 'http_server_request_duration_seconds_bucket{' in sli and 'le="0.5"' in sli
    assert 'http_route!~"/api/ping|' in sli
    write_spec(tmp_path, "http:\n  convention: custom\n  mapping: {metric: api_seconds, routeLabel: handler}\n"
                         "  buckets: [0.25, 1]\nslos:\n  - {name: lat, sli: latency, objective: 99%, threshold: 1s}\n")
    rules = rules_of(compiled_service(tmp_path))
    sli = rules["svc.slo.lat/slo:sli_error:ratio_rate5m"]["expr"]
    # A whole bound: prom-client writes le="1", Prometheus 3 normalises it to le="1.0"; both are read.
    assert 'api_seconds_bucket{' in sli and 'le=~"1|1\\\\.0"' in sli and 'handler!~' in sli


# --- spec: errors --------------------------------------------------------------------------------------------

BAD = [
    ("threshold not a bucket bound", "slos:\n  - {name: l, sli: latency, objective: 99%, threshold: 500ms}\n",
     "specs/svc.yaml:8:58: spec.slos[0].threshold: 500ms is not a bucket bound of the histogram; its bounds "
     "(express-prom-bundle's default buckets) are 3ms, 30ms, 100ms, 300ms, 1.5s, 10s (pick one of those bounds, or "
     "list the buckets the app really configures in spec.http.buckets)"),
    ("latency without threshold", "slos:\n  - {name: l, sli: latency, objective: 99%}\n",
     "spec.slos[0]: a latency SLO needs a threshold"),
    ("threshold on availability", "slos:\n  - {name: a, objective: 99%, threshold: 300ms}\n",
     "spec.slos[0].threshold: threshold is only read by latency SLOs (remove it, or set sli: latency)"),
    ("duplicate SLO", "slos:\n  - {name: a, objective: 99%}\n  - {name: a, objective: 98%}\n",
     "spec.slos[1].name: duplicate SLO name 'a' (also at specs/svc.yaml:8)"),
    ("objective of 100%", "slos:\n  - {name: a, objective: 100%}\n",
     "spec.slos[0].objective: an objective of 100% leaves no error budget"),
    ("route that is excluded", "slos:\n  - {name: a, objective: 99%, route: /healthz}\n",
     "spec.slos[0].route: route /healthz is in spec.http.excludeRoutes"),
    ("misspelt convention", "http: {convention: express-prom-bundel}\n",
     "spec.http.convention: 'express-prom-bundel' is not one of: express-prom-bundle, opentelemetry, custom "
     "(did you mean 'express-prom-bundle'?)"),
    ("custom without mapping", "http: {convention: custom}\n", "spec.http: missing required key 'mapping'"),
    ("mapping on a built-in convention", "http: {mapping: {metric: x}}\n",
     "spec.http.mapping: mapping is only read with convention: custom, not express-prom-bundle"),
    ("unsafe route", "http: {excludeRoutes: ['/a\"} or vector(1)']}\n",
     "spec.http.excludeRoutes[0]: '/a\"} or vector(1)' must be a route starting with '/'"),
    ("typo in an SLO key", "slos:\n  - {name: a, objetive: 99%}\n",
     "spec.slos[0].objetive: unknown key 'objetive' (did you mean 'objective'?)"),
    ("window far too short", "slos:\n  - {name: a, objective: 99%, window: 30m}\n",
     "spec.slos[0].window: 30m is 30 minutes; this must be between 1d and 90d (did you mean 30h or 30d?)"),
    ("time scale outside a test bed", "http: {timeScale: 60}\n",
     "spec.http.timeScale: timeScale compresses SLO windows for test beds only"),
]


@pytest.mark.parametrize("case,body,expected", BAD, ids=[b[0] for b in BAD])
def test_bad_http_specs_fail_with_one_line_pointing_at_the_problem(tmp_path, case, body, expected):
    write_spec(tmp_path, body)
    result = run_obsgen("validate", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert expected in lines[0], lines[0]
    assert "Traceback" not in result.stderr


# --- rules and alerts ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_slos(tmp_path_factory):
    root = tmp_path_factory.mktemp("http")
    write_spec(root, TWO_SLOS)
    return compiled_service(root)


def test_sli_and_burn_rate_records_over_the_workbook_windows_labelled_by_service_and_slo(two_slos):
    rules = rules_of(two_slos)
    for slo in ("availability", "latency"):
        for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d"):
            for name in (f"slo:sli_error:ratio_rate{window}", f"slo:burnrate{window}"):
                rule = rules[f"svc.slo.{slo}/{name}"]
                assert rule["labels"] == {"service": "svc", "slo": slo}, name
        assert f"svc.slo.{slo}/slo:sli_error:ratio_rate30d" in rules
        budget = rules[f"svc.slo.{slo}/slo:error_budget:remaining"]["expr"]
        assert budget == f'1 - slo:sli_error:ratio_rate30d{{service="svc", slo="{slo}"}} / ' + (
            "0.001" if slo == "availability" else "0.01")
    availability = rules["svc.slo.availability/slo:sli_error:ratio_rate5m"]["expr"]
    assert 'status_code=~"5.."' in availability and 'path!~"/api/ping|/ping|/health|/healthz|' in availability
    latency = rules["svc.slo.latency/slo:sli_error:ratio_rate5m"]["expr"]
    assert 'le="0.5"' in latency and "status_code" not in latency


def test_burn_rates_over_an_hour_or_more_need_the_minimum_request_count(two_slos):
    rules = rules_of(two_slos)
    for window in ("5m", "30m"):
        assert "increase" not in rules[f"svc.slo.availability/slo:burnrate{window}"]["expr"]
    for window in ("1h", "2h", "6h", "1d", "3d"):
        expr = rules[f"svc.slo.availability/slo:burnrate{window}"]["expr"]
        assert expr.endswith(f"[{window}])) >= 100"), expr


def test_alerts_are_the_workbooks_multiwindow_multi_burn_rate_pairs(two_slos):
    rules = rules_of(two_slos)
    assert [(p.long, p.short, p.factor) for p in PAGE] == [("1h", "5m", 14.4), ("6h", "30m", 6)]
    assert [(p.long, p.short, p.factor) for p in TICKET] == [("1d", "2h", 3), ("3d", "6h", 1)]
    fast = rules["svc.slo.latency/SloErrorBudgetBurnFast"]
    sel = '{service="svc", slo="latency"}'
    # The short window first: its burn rate, the burn going on now, is the alert's value.
    assert fast["expr"] == (f"slo:burnrate5m{sel} > 14.4\nand slo:burnrate1h{sel} > 14.4\n"
                            f"or slo:burnrate30m{sel} > 6\nand slo:burnrate6h{sel} > 6")
    assert (fast["for"], fast["labels"]["severity"], fast["labels"]["slo"]) == ("2m", "critical", "latency")
    slow = rules["svc.slo.availability/SloErrorBudgetBurnSlow"]
    assert slow["labels"]["severity"] == "warning" and "slo:burnrate3d" in slow["expr"]
    description = fast["annotations"]["description"]
    assert "{{ $value | humanize }} times as fast" in description
    assert "gone at 14.4x in 2d2h, at 6x in 5d" in description
    assert "at least 100 requests" in description
    for rule in rules.values():
        if "alert" in rule:
            assert len(rule["expr"]) <= 400 and rule["expr"].count("\n") < 4


def test_one_route_and_method_can_be_selected(tmp_path):
    write_spec(tmp_path, "slos:\n  - {name: patch, objective: 99%, route: /api/submissions/#val, method: PATCH}\n")
    expr = rules_of(compiled_service(tmp_path))["svc.slo.patch/slo:sli_error:ratio_rate1h"]["expr"]
    assert 'path="/api/submissions/#val", method="PATCH"' in expr and "path!~" not in expr


def test_errors_can_include_4xx(tmp_path):
    write_spec(tmp_path, "http: {errors: 4xx+5xx}\nslos:\n  - {name: a, objective: 99%}\n")
    assert 'status_code=~"[45].."' in rules_of(compiled_service(tmp_path))["svc.slo.a/slo:sli_error:ratio_rate5m"]["expr"]


def test_promtool_accepts_the_rule_file(two_slos, tmp_path, promtool):
    path = tmp_path / "svc.rules.yml"
    path.write_text(json.dumps(two_slos.rule_file.to_dict()))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0 and "FAILED" not in result.stdout, result.stdout + result.stderr


def test_a_test_bed_compresses_the_windows(tmp_path):
    write_spec(tmp_path, "rangeChecks: false\nhttp: {timeScale: 60}\nslos:\n  - {name: a, objective: 99%}\n")
    rules = rules_of(compiled_service(tmp_path))
    assert "svc.slo.a/slo:burnrate1m" in rules and "svc.slo.a/slo:sli_error:ratio_rate12h" in rules
    assert rules["svc.slo.a/SloErrorBudgetBurnFast"]["expr"].startswith('slo:burnrate5s{service="svc", slo="a"} > 14.4')
    assert rules["svc.slo.a/slo:burnrate1m"]["expr"].endswith("[1m])) >= 100")  # the guard keeps its meaning


# --- dashboard -----------------------------------------------------------------------------------------------

def test_the_http_row_has_traffic_tables_health_checks_and_a_panel_set_per_slo(two_slos):
    panels = [p for p in two_slos.dashboard.panels]
    titles = [p.title for p in panels]
    assert "HTTP (express-prom-bundle)" in titles
    for title in ("Requests by status class", "Error ratio", "Latency p50 / p90 / p99",
                  "Health checks and metrics scrapes", "Slowest routes (top 10 by p99)",
                  "Most failing routes (top 10 by error ratio)"):
        assert title in titles, title
    for slo in ("availability", "latency"):
        for what in ("SLI vs objective", "error budget left", "burn rate"):
            assert f"SLO {slo}: {what}" in titles
    health = next(p for p in panels if p.title == "Health checks and metrics scrapes")
    assert 'path=~"/api/ping|' in health.queries[0].expr
    slowest = next(p for p in panels if p.title.startswith("Slowest routes"))
    assert slowest.type == "table" and slowest.queries[0].expr.startswith("topk(10, ")
    assert all(t.get("instant") and t["format"] == "table" for t in slowest.body["targets"])


def test_table_panels_validate_against_grafanas_table_schema(two_slos):
    schema = json.loads((UPSTREAM / "grafana-foundation-sdk-main-table.jsonschema.json").read_text())
    options = Draft7Validator({"$ref": "#/definitions/Options", "definitions": schema["definitions"]})
    tables = [p for p in two_slos.dashboard.panels if p.type == "table"]
    assert len(tables) == 2
    for panel in tables:
        assert not [e.message for e in options.iter_errors(panel.body["options"])]
        assert [t["id"] for t in panel.body["transformations"]] == ["merge", "organize"]


def test_alerts_link_to_their_slo_burn_rate_panel(two_slos):
    ids = {p.title: p.id for p in two_slos.dashboard.panels}
    alerts = [a for a in two_slos.rule_file.alerts if a.name.startswith("Slo")]
    assert len(alerts) == 4
    for alert in alerts:
        slo = dict(alert.labels)["slo"]
        assert f"viewPanel={ids[f'SLO {slo}: burn rate']}&" in dict(alert.annotations)["dashboard_url"]


# --- docs ------------------------------------------------------------------------------------------------------

def test_the_readme_and_docs_show_the_generated_slo_alert_table():
    from gen.tools.alert_table import example_slo_alert_table

    from .conftest import REPO
    table = example_slo_alert_table(REPO)
    assert "`SloErrorBudgetBurnFast` | availability, latency | critical" in table
    for page in (REPO / "README.md", REPO / "docs" / "http.md"):
        assert table in page.read_text(), f"{page.name}: paste gen.tools.alert_table.example_slo_alert_table()"
    assert "## HTTP and SLOs" in (REPO / "README.md").read_text()


# --- backtest workloads ----------------------------------------------------------------------------------------

def test_a_scenario_http_section_renders_the_convention_series(two_slos):
    from gen.synth.http_workloads import HttpLoad, http_series

    load = HttpLoad.parse({"perSecond": 1, "pings": 0.5, "nights": {"from": "0s", "to": "1h", "perSecond": 0.1},
                           "incidents": [{"at": "2h", "for": "1h", "failed": "10%", "slowRoute": 0.5}]})
    assert load.problem_start == 7200
    series = http_series(two_slos.service, load, 4 * 60 + 1, 60.0)
    ok = next(v for k, v in series.items() if k.startswith("http_request_duration_seconds_count{")
              and 'path="/api/submissions"' in k and 'status_code="200"' in k)
    failed = next(v for k, v in series.items() if 'status_code="500"' in k and "_count" in k)
    assert ok[59] == 60 * 6 and ok[60] == 60 * 6 + 60  # 6 a minute at night, 60 from 01:00
    assert failed[119] is None and failed[120] == 6  # the series appears with the first failure
    buckets = [k for k in series if "_bucket" in k]
    assert buckets and all('le="0.5"' in k for k in buckets)  # the latency SLO's threshold
    pings = next(v for k, v in series.items() if 'path="/api/ping"' in k and "_count" in k)
    assert pings[-1] == 241 * 30
