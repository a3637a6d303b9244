"""HTTP and SLOs against real components: an Express API with express-prom-bundle (tests/live/app/http-server.js,
npm packages from the lock file) scraped by a real Prometheus that evaluates the rules obsgen generated from
tests/live/specs-http. Two services, one process each: `live-http`, whose submissions the test makes fail
through the app's admin endpoint (a fast burn: many 5xx), must page with SloErrorBudgetBurnFast; the steady
`live-http-steady` must raise no alert at all.

This module has its own test bed (it shares nothing with test_live.py's), so `--dist loadfile` may run it
on another worker. SLO windows are compressed by `spec.http.timeScale: 60` (the 1h/5m page pair is 1m/5s).
"""
from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from gen.domains.alerts import SLO_ERROR_BUDGET_BURN_FAST
from gen.pipeline import compile_specs, paths_for
from gen.spec.project import default_project
from gen.tools import probe
from gen.tools.grafana_query import TimeWindow
from gen.tools.prometheus_api import Prometheus

from .components import (APP_DIR, LIVE, NAMESPACE, REPO, SCRAPE_INTERVAL_SECONDS, InstallFailed,
                         ensure_debian_packages, ensure_npm_packages)
from .processes import StartupFailed, Supervisor, free_port, wait_until
from .watch import all_rules, alerts_fired_since, every_rule_evaluated, poll, wait_for_alert

pytestmark = pytest.mark.live

SPEC_DIR = LIVE / "specs-http"
BURNING, STEADY = "live-http", "live-http-steady"
REQUESTS_PER_SECOND = 20
FAST_BURN_TIMEOUT = 90  # the 1m window must fill past 14.4x, then `for: 5s`
RULES_TIMEOUT = 30


@dataclass(frozen=True)
class HttpBed:
    prometheus: Prometheus
    ports: dict[str, int]  # service -> the app's port
    rule_files: dict[str, Path]
    started_at: float
    dashboards: dict[str, object]  # service -> ir.Dashboard


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def _prometheus_config(ports: dict[str, int], rule_files: list[Path], own: int) -> dict:
    return {
        "global": {"scrape_interval": f"{SCRAPE_INTERVAL_SECONDS}s", "scrape_timeout": f"{SCRAPE_INTERVAL_SECONDS}s",
                   "evaluation_interval": f"{SCRAPE_INTERVAL_SECONDS}s"},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [
            *({"job_name": service, "static_configs": [{"targets": [f"127.0.0.1:{port}"],
                                                        "labels": {"namespace": NAMESPACE, "pod": f"{service}-0"}}]}
              for service, port in ports.items()),
            {"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{own}"]}]},
        ],
    }


@pytest.fixture(scope="module")
def http_bed(tmp_path_factory) -> HttpBed:
    try:
        ensure_debian_packages()
        ensure_npm_packages()
    except InstallFailed as err:
        pytest.fail(f"live test bed: {err}", pytrace=False)
    compiled = compile_specs(SPEC_DIR, REPO, default_project())
    work = tmp_path_factory.mktemp("live-http")
    rule_files = {}
    for service in (BURNING, STEADY):
        rel = paths_for(service)["rules"]
        path = work / "out" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(compiled.files[rel])
        rule_files[service] = path
    supervisor = Supervisor(work)
    try:
        ports = {}
        for service in (BURNING, STEADY):
            ports[service] = free_port()
            app = supervisor.start(service, ["node", "http-server.js"], cwd=APP_DIR, env={
                "PORT": str(ports[service]), "REQUESTS_PER_SECOND": str(REQUESTS_PER_SECOND)})
            wait_until(lambda p=ports[service]: _http_ok(f"http://127.0.0.1:{p}/api/ping"), what="/api/ping",
                       process=app, timeout=30)
        own = free_port()
        config = work / "prometheus.yml"
        config.write_text(json.dumps(_prometheus_config(ports, list(rule_files.values()), own)))
        prometheus = supervisor.start("prometheus", [
            "prometheus", f"--config.file={config}", f"--storage.tsdb.path={work / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{own}", "--log.level=info"])
        api = Prometheus(f"http://127.0.0.1:{own}", timeout=10)
        wait_until(api.ready, what="ready /-/ready", process=prometheus, timeout=60)
        started = time.time()
        targets = poll(api.targets, lambda ts: len(ts) == 3 and all(t["health"] == "up" for t in ts), timeout=30)
        if not (len(targets) == 3 and all(t["health"] == "up" for t in targets)):
            raise StartupFailed(f"Prometheus does not scrape the apps: {targets}")
    except (StartupFailed, OSError) as err:
        supervisor.close()
        pytest.fail(f"live HTTP test bed did not start: {err}", pytrace=False)
    except BaseException:
        supervisor.close()
        raise
    dashboards = {out.service.name: out.dashboard for out in compiled.services}
    yield HttpBed(api, ports, rule_files, started, dashboards)
    supervisor.close()


def test_express_prom_bundle_exports_the_convention_obsgen_reads(http_bed):
    series = http_bed.prometheus.series([f'http_request_duration_seconds_bucket{{job="{BURNING}", le="0.5"}}'])
    labels = {(s["method"], s["path"], s["status_code"]) for s in series}
    assert ("POST", "/api/submissions", "201") in labels and ("GET", "/api/ping", "200") in labels, labels
    assert ("GET", "/api/submissions/#val", "200") in labels, labels  # express-prom-bundle's normalised path


def test_the_generated_http_and_slo_rules_load_and_evaluate(http_bed):
    groups = poll(http_bed.prometheus.rule_groups, every_rule_evaluated, timeout=RULES_TIMEOUT)
    names = {g["name"] for g in groups}
    assert {f"{BURNING}.http", f"{BURNING}.slo.availability", f"{BURNING}.slo.latency"} <= names
    unhealthy = [f"{g}/{r['name']}: {r.get('lastError', '')}" for g, r in all_rules(groups)
                 if r["health"] != "ok" or r.get("lastError")]
    assert not unhealthy, unhealthy
    # Health checks are left out of the per-route records, which the top-10 tables read.
    routes = poll(lambda: http_bed.prometheus.query(f'route_method:http_requests:rate5m{{service="{BURNING}"}}'),
                  lambda found: len(found) >= 2, timeout=RULES_TIMEOUT)
    paths = {r["metric"]["path"] for r in routes}
    assert paths == {"/api/submissions", "/api/submissions/#val"}, routes
    burn = poll(lambda: http_bed.prometheus.query(f'slo:burnrate30s{{service="{BURNING}", slo="availability"}}'),
                bool, timeout=RULES_TIMEOUT)
    assert burn and float(burn[0]["value"][1]) == 0.0, burn  # nothing failed yet


def test_a_fast_burn_pages_with_slo_error_budget_burn_fast(http_bed):
    state = _post(f"http://127.0.0.1:{http_bed.ports[BURNING]}/admin/mode", {"failRatio": 0.5})
    assert state["failRatio"] == 0.5
    fired = wait_for_alert(http_bed.prometheus, SLO_ERROR_BUDGET_BURN_FAST.name, timeout=FAST_BURN_TIMEOUT,
                           service=BURNING, slo="availability")
    assert fired, f"{SLO_ERROR_BUDGET_BURN_FAST.name} did not fire within {FAST_BURN_TIMEOUT}s of 50% of " \
                  f"submissions failing"
    (alert,) = fired
    assert alert["labels"]["severity"] == "critical"
    burn = float(alert["value"])
    assert burn > 14.4, alert  # the value the description humanises: times the sustainable rate
    assert "times as fast as the objective allows" in alert["annotations"]["description"]


def _probe_http_row(http_bed: HttpBed) -> list:
    now = time.time()
    window = TimeWindow(now - 120, now)
    prober = probe.Prober(http_bed.prometheus, window, SCRAPE_INTERVAL_SECONDS, probe.catalog(http_bed.prometheus, window))
    result = prober.dashboard(http_bed.dashboards[BURNING], "live-http.json")
    ids = {p.id for p in http_bed.dashboards[BURNING].panels if p.body.get("datasource") and
           (p.title.startswith("SLO ") or p.title in HTTP_PANELS)}
    return [panel for panel in result.panels if panel.panel_id in ids]


HTTP_PANELS = {"Requests by status class", "Error ratio", "Latency p50 / p90 / p99", "Health checks and metrics scrapes",
               "Slowest routes (top 10 by p99)", "Most failing routes (top 10 by error ratio)"}


def test_every_http_and_slo_panel_shows_data(http_bed):
    """After the fast burn every panel of the HTTP row has data, the most-failing table too."""
    panels = poll(lambda: _probe_http_row(http_bed), lambda ps: ps and all(p.status == probe.OK for p in ps),
                  timeout=45, interval=2)
    assert len(panels) == len(HTTP_PANELS) + 2 * 3, [p.title for p in panels]
    failing = [(p.title, [(q.expr, q.status, q.reason) for q in p.queries]) for p in panels if p.status != probe.OK]
    assert not failing, failing


def test_the_steady_service_fires_no_alert(http_bed):
    fired = [a for a in alerts_fired_since(http_bed.prometheus, http_bed.started_at)
             if a.get("service") == STEADY]
    assert not fired, f"the steady Express service raised alerts: {fired}"
    latency = [a for a in alerts_fired_since(http_bed.prometheus, http_bed.started_at)
               if a.get("slo") == "latency"]
    assert not latency, f"failing fast is no latency problem: {latency}"
