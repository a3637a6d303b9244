"""What obsgen generated, loaded into a real Prometheus scraping a real Node.js service with
prom-client and BullMQ on Redis: rules load and evaluate, every panel shows data (or honestly
cannot outside Kubernetes), the app behaves in each mode, each misbehaving process raises its
alert, and the steady process fires none.

The tests run in file order and share one test bed; the steady check comes last so that it covers
the whole run.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from datetime import datetime
from typing import Callable

import pytest
import yaml

from gen.tools import probe
from gen.tools import rightsize as sizing
from gen.tools.grafana_query import TimeWindow
from gen.tools.prometheus_api import Prometheus
from tests.conftest import run_obsgen

from .components import SCRAPE_INTERVAL_SECONDS, SPEC_DIR, app_mode, set_app_mode
from .watch import all_rules, alerts_fired_since, alerts_now, every_rule_evaluated, poll, wait_for_alert

pytestmark = pytest.mark.live

RULES_TIMEOUT = 30
PANELS_TIMEOUT = 45
PROBE_SINCE = "5m"

# Metric names the generated output relies on, exactly as the real exporters emit them.
PROM_CLIENT_METRICS = (
    "nodejs_eventloop_lag_p99_seconds", "nodejs_eventloop_lag_mean_seconds", "nodejs_heap_size_used_bytes",
    "nodejs_heap_size_total_bytes", "nodejs_heap_space_size_used_bytes", "nodejs_external_memory_bytes",
    "nodejs_gc_duration_seconds_count", "nodejs_gc_duration_seconds_sum", "nodejs_active_handles_total",
    "nodejs_active_requests_total", "process_resident_memory_bytes", "process_cpu_user_seconds_total",
    "process_cpu_system_seconds_total", "process_start_time_seconds",
)
BULLMQ_METRICS = ("bullmq_job_count", "bullmq_job_completed_total", "bullmq_job_failed_total")


def _scalar(prometheus: Prometheus, expr: str) -> float | None:
    result = prometheus.query(expr)
    return float(result[0]["value"][1]) if result else None


def test_every_instance_is_scraped_with_real_exporter_metrics(testbed):
    names = set(testbed.prometheus.label_values("__name__"))
    missing = [m for m in PROM_CLIENT_METRICS + BULLMQ_METRICS if m not in names]
    assert not missing, f"the real exporters do not emit {missing}"
    for instance in testbed.apps:
        series = testbed.prometheus.series([f'up{{job="live-app", namespace="live", pod="{instance.pod}"}}'])
        assert len(series) == 1, f"{instance.pod} is not scraped with namespace and pod labels: {series}"


def test_every_rule_group_loads_and_evaluates_without_errors(testbed):
    groups = poll(testbed.prometheus.rule_groups, every_rule_evaluated, timeout=RULES_TIMEOUT)
    generated = {g["name"]: [r.get("alert") or r.get("record") for r in g["rules"]]
                 for g in testbed.output.rule_file.to_dict()["groups"]}
    loaded = {g["name"]: [r["name"] for r in g["rules"]] for g in groups}
    assert loaded == generated, "Prometheus did not load every generated rule group and rule"
    not_evaluated = [f"{g}/{r['name']}" for g, r in all_rules(groups) if r["lastEvaluation"].startswith("0001-")]
    assert not not_evaluated, f"rules never evaluated within {RULES_TIMEOUT}s: {not_evaluated}"
    unhealthy = [f"{g}/{r['name']}: health {r['health']}: {r.get('lastError', '')}"
                 for g, r in all_rules(groups) if r["health"] != "ok" or r.get("lastError")]
    assert not unhealthy, "rules fail to evaluate:\n" + "\n".join(unhealthy)
    failures = _scalar(testbed.prometheus, 'sum(prometheus_rule_evaluation_failures_total{job="prometheus"})')
    assert failures == 0, f"Prometheus counted {failures} rule evaluation failures"


def _probe_dashboard(testbed) -> probe.DashboardProbe:
    now = time.time()
    window = TimeWindow(now - 300, now)
    catalog = probe.catalog(testbed.prometheus, window)
    prober = probe.Prober(testbed.prometheus, window, SCRAPE_INTERVAL_SECONDS, catalog)
    return prober.dashboard(testbed.output.dashboard, str(testbed.dashboard_file))


def test_every_panel_shows_data_or_is_skipped_as_kubernetes_only(testbed):
    # Rates need a few scrapes and recorded series a few evaluations: allow the test bed that long.
    result = poll(lambda: _probe_dashboard(testbed), lambda r: not r.failing, timeout=PANELS_TIMEOUT, interval=2)
    report = "\n".join(probe.format_text([result], testbed.url))
    assert not result.failing, f"panels without data against the live Prometheus:\n{report}"
    counts = result.counts()
    assert counts[probe.OK] > 0 and counts[probe.OK] + counts[probe.SKIPPED] == len(result.panels), report
    for panel in result.panels:
        for query in panel.queries:
            if query.status == probe.SKIPPED:
                assert "cAdvisor" in query.reason or "kube-state-metrics" in query.reason, report
    print(report)  # shown with -rP: which panels were skipped and why


def test_probe_command_checks_the_dashboard_against_live_prometheus(testbed, repo):
    text = run_obsgen("probe", "--prometheus", testbed.url, "--out", str(testbed.out_dir), "--since",
                      PROBE_SINCE, "--scrape-interval", f"{SCRAPE_INTERVAL_SECONDS}s", cwd=repo)
    assert text.returncode == 0, text.stdout + text.stderr
    assert "0 empty" in text.stdout.splitlines()[-1], text.stdout
    assert "SKIPPED" in text.stdout and "kube-state-metrics" in text.stdout, text.stdout

    as_json = run_obsgen("probe", "--prometheus", testbed.url, "--dashboard", str(testbed.dashboard_file),
                         "--scrape-interval", f"{SCRAPE_INTERVAL_SECONDS}s", "--json", cwd=repo)
    assert as_json.returncode == 0, as_json.stdout + as_json.stderr
    report = json.loads(as_json.stdout)
    (dashboard,) = report["dashboards"]
    assert report["failing"] == 0 and dashboard["uid"] == "live-app"
    assert dashboard["variables"]["namespace"] == ["live"]
    queries = [q for p in dashboard["panels"] for q in p["queries"]]
    sent = [q["query"] for q in queries if q["status"] == probe.OK]
    assert sent and not any("$" in q for q in sent), "template variables left in queries sent to Prometheus"
    assert any('pod=~"live-app-.*"' in q for q in sent), "$pod (All) was not replaced by its allValue"
    assert any("[4s]" in q for q in sent), "$__rate_interval was not 4 x the 1s scrape interval"


def test_probe_command_lists_panels_that_would_be_empty(testbed, repo):
    # The dashboard opened on a namespace where the service does not run: every app panel is empty.
    result = run_obsgen("probe", "--prometheus", testbed.url, "--dashboard", str(testbed.dashboard_file),
                        "--scrape-interval", f"{SCRAPE_INTERVAL_SECONDS}s", "--var", "namespace=elsewhere",
                        "--json", cwd=repo)
    assert result.returncode == 1, result.stdout + result.stderr
    (dashboard,) = json.loads(result.stdout)["dashboards"]
    empty = {p["title"] for p in dashboard["panels"] if p["status"] == probe.EMPTY}
    assert {"Event-loop lag", "Heap used and total", "Scrape targets up"} <= empty, empty
    reasons = {q["reason"] for p in dashboard["panels"] for q in p["queries"] if q["status"] == probe.EMPTY}
    assert any("select none of them" in r for r in reasons), reasons


def test_app_modes_show_in_the_scraped_metrics(testbed):
    """The test bed itself: each mode does to the real metrics what the alerts will look for."""
    prom = testbed.prometheus
    pod = {i.mode: i.pod for i in testbed.apps}
    queue = {i.mode: i.queue for i in testbed.apps}
    window = 20

    def old_space_growth(mode: str) -> float | None:
        # Floors of old space now and `window` seconds ago: GC sawtooth aside, retained objects raise it.
        sel = f'nodejs_heap_space_size_used_bytes{{pod="{pod[mode]}", space="old"}}'
        return _scalar(prom, f"min_over_time({sel}[10s]) - min_over_time({sel}[10s] offset {window}s)")

    def rate(metric: str, mode: str) -> float | None:
        return _scalar(prom, f'rate({metric}{{pod="{pod[mode]}", queue="{queue[mode]}"}}[{window}s])')

    def seen() -> dict:
        return {
            "leak growth": old_space_growth("leak"),
            "steady growth": old_space_growth("steady"),
            "failing failed/s": rate("bullmq_job_failed_total", "failing"),
            "failing completed/s": rate("bullmq_job_completed_total", "failing"),
            "stuck completed/s": rate("bullmq_job_completed_total", "stuck"),
            "stuck waiting": _scalar(prom, f'bullmq_job_count{{pod="{pod["stuck"]}", state="waiting"}}'),
            "steady completed/s": rate("bullmq_job_completed_total", "steady"),
            "steady failed/s": rate("bullmq_job_failed_total", "steady"),
        }

    def failed_share(s: dict) -> float:
        return s["failing failed/s"] / max(s["failing failed/s"] + s["failing completed/s"], 1e-9)

    expectations = {
        "leak: old space floor grows by more than 10 MB in 20s": lambda s: s["leak growth"] > 10e6,
        "leak: grows 4 times faster than steady": lambda s: s["leak growth"] > 4 * max(s["steady growth"], 1e6),
        "failing: about half the jobs fail": lambda s: 0.3 < failed_share(s) < 0.7,
        "stuck: nothing completes": lambda s: s["stuck completed/s"] == 0,
        "stuck: jobs pile up waiting": lambda s: s["stuck waiting"] > 50,
        "steady: jobs complete": lambda s: s["steady completed/s"] > 5,
        "steady: no job fails": lambda s: s["steady failed/s"] == 0,
    }

    def unmet(s: dict) -> list[str]:
        if None in s.values():
            return ["every series present"]
        return [name for name, holds in expectations.items() if not holds(s)]

    observed = poll(seen, lambda s: not unmet(s), timeout=60, interval=2)
    assert not unmet(observed), f"the app's modes do not show in Prometheus as expected: {unmet(observed)}; " \
                                f"observed {observed}"


def test_modes_switch_at_run_time_through_the_admin_endpoint(testbed):
    instance = testbed.instance("failing")
    port = testbed.apps[instance]
    assert app_mode(port)["mode"] == "failing"
    code, body = set_app_mode(port, mode="sideways")
    assert code == 400 and "unknown mode" in body["error"]
    code, body = set_app_mode(port, failRatio=0.5)  # the ratio it runs with: the test bed stays as it was
    assert code == 200 and body["mode"] == "failing" and body["failRatio"] == 0.5


@dataclass(frozen=True)
class ExpectedAlert:
    """An alert a misbehaving instance must raise, how it names the instance, and by when."""

    name: str
    mode: str
    names_by: str  # "pod" or "queue": the label that points at the instance
    budget: float  # seconds after the test bed started
    # The alert's $value, from the instance's /mode status: (low, high).
    value: Callable[[dict], tuple[float, float]]
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return "-".join([self.name, *self.labels.values()])

    def selector(self, testbed) -> dict[str, str]:
        instance = testbed.instance(self.mode)
        return {self.names_by: instance.pod if self.names_by == "pod" else instance.queue, **self.labels}


def _leak_per_hour(status: dict) -> tuple[float, float]:
    # NodejsHeapLeakWithinProcess' value: floor growth in bytes per hour, about the app's leak rate.
    return 0.7 * status["leakBytesPerSecond"] * 3600, 1.3 * status["leakBytesPerSecond"] * 3600


def _leak_per_period(status: dict) -> tuple[float, float]:
    # NodejsHeapLeak's value: floor growth over the spec's 30s period.
    return 0.7 * status["leakBytesPerSecond"] * 30, 1.3 * status["leakBytesPerSecond"] * 30


# Ordered by when they fire, so that each wait overlaps the ones before. The budgets are about
# 1.6 times what the spec's settings need (tests/live/README.md has the measured times):
# - QueueFailureRatioHigh: 30s window, 10s `for`; `increase` extrapolates over partial windows.
# - QueueStuck: the worker hangs 10s after the start; 30s window without progress, then 10s `for`.
# - NodejsHeapLeak: uptime 2 x 30s period + 10s average + 10s floor window = 80s, then 10s `for`.
# - NodejsHeapLeakWithinProcess: uptime 60s window + 30s warmup + 10s floor window = 100s, 10s `for`.
EXPECTED_ALERTS = (
    ExpectedAlert("QueueFailureRatioHigh", "failing", "queue", 90,
                  lambda status: (status["failRatio"] - 0.15, status["failRatio"] + 0.15)),
    ExpectedAlert("QueueStuck", "stuck", "queue", 100, lambda status: (1, status["produced"])),
    *(ExpectedAlert("NodejsHeapLeak", "leak", "pod", 150, _leak_per_period, {"signal": signal})
      for signal in ("old_space", "heap_used")),
    *(ExpectedAlert("NodejsHeapLeakWithinProcess", "leak", "pod", 180, _leak_per_hour, {"signal": signal})
      for signal in ("old_space", "heap_used")),
)


@pytest.mark.parametrize("expected", EXPECTED_ALERTS, ids=lambda e: e.id)
def test_misbehaving_instance_raises_its_alert(testbed, expected):
    selector = expected.selector(testbed)
    timeout = max(1.0, testbed.started_at + expected.budget - time.time())
    firing = wait_for_alert(testbed.prometheus, expected.name, timeout=timeout, **selector)
    assert firing, (f"{expected.name} {selector} did not fire within {expected.budget}s of the start; active "
                    f"alerts: {[(a['labels'], a['state']) for a in alerts_now(testbed.prometheus)]}")
    (alert,) = firing
    low, high = expected.value(app_mode(testbed.apps[testbed.instance(expected.mode)]))
    assert low <= float(alert["value"]) <= high, \
        f"{expected.name} {selector} fires with value {alert['value']}, expected {low:g} to {high:g}"
    pending_at = datetime.fromisoformat(alert["activeAt"]).timestamp() - testbed.started_at
    print(f"{expected.id}: {selector} pending {pending_at:.0f}s after the start (then `for`), seen firing "
          f"{time.time() - testbed.started_at:.0f}s, value {float(alert['value']):g} (expected {low:g} to {high:g})")


def _not_fired_yet(testbed) -> list[str]:
    fired = alerts_fired_since(testbed.prometheus, testbed.started_at)
    wanted = {e.id: {"alertname": e.name, **e.selector(testbed)} for e in EXPECTED_ALERTS}
    return [key for key, want in wanted.items()
            if not any(all(labels.get(k) == v for k, v in want.items()) for labels in fired)]


def test_steady_process_fires_no_alert_during_the_run(testbed):
    """Late on purpose: it looks back over the whole run, whatever the other processes did.

    Silence only counts once the same rules have fired for the other instances: the steady one
    started with them, so by then it has been judged for as long as they were."""
    steady = testbed.instance("steady")
    budget = max(e.budget for e in EXPECTED_ALERTS)
    missing = poll(lambda: _not_fired_yet(testbed), lambda m: not m,
                   timeout=max(1.0, testbed.started_at + budget - time.time()))
    assert not missing, f"never fired for their instances within {budget}s, so silence proves nothing: {missing}"
    assert not testbed.dead_processes(), testbed.dead_processes()

    def concerns_steady(labels: dict) -> bool:
        # Per-pod alerts of the steady pod, per-queue alerts of its queue, and service-wide alerts.
        if "pod" in labels or "queue" in labels:
            return labels.get("pod") == steady.pod or labels.get("queue") == steady.queue
        return True

    fired = [labels for labels in alerts_fired_since(testbed.prometheus, testbed.started_at)
             if concerns_steady(labels)]
    assert not fired, f"alerts fired for the steady process or the whole service: {fired}"
    # Silence only means something if the steady process was watched the whole time.
    elapsed = int(time.time() - testbed.started_at)
    scrapes = _scalar(testbed.prometheus, f'sum_over_time(up{{pod="{steady.pod}"}}[{elapsed}s])')
    assert scrapes is not None and scrapes >= 0.8 * elapsed / SCRAPE_INTERVAL_SECONDS - 5, \
        f"{steady.pod} was scraped successfully {scrapes} times in {elapsed}s"
    for line in _steady_leak_margins(testbed, steady.pod, elapsed):
        print(line)  # shown with -rP: how far the steady process stayed from the leak thresholds


def _steady_leak_margins(testbed, pod: str, elapsed: int) -> list[str]:
    """The steady process' largest floor growth over the run, next to the byte thresholds of the
    leak alerts (its relative growth can exceed minGrowth while its heap is small: bytes guard it)."""
    alerts = testbed.output.service.alerts
    within, across = alerts["heapLeakWithinProcess"], alerts["heapLeak"]
    window = within.param("window")
    lines = []
    for record in ("instance:nodejs_heap_old_space_used_bytes", "instance:nodejs_heap_used_bytes"):
        floor = f'{record}:floor{{pod="{pod}"}}'
        per_window = _scalar(testbed.prometheus, f"max_over_time((deriv({floor}[{window.text}]) * "
                                                 f"{window.seconds:g})[{elapsed}s:1s])")
        per_period = _scalar(testbed.prometheus, f'max_over_time({record}:floor_growth{{pod="{pod}"}}[{elapsed}s])')
        lines.append(f"{pod} {record}: peak growth {(per_window or 0) / 2**20:.1f} MiB per {window.text} "
                     f"(NodejsHeapLeakWithinProcess needs {within.param('minBytes').value / 2**20:g} MiB), "
                     f"{(per_period or 0) / 2**20:.1f} MiB per period "
                     f"(NodejsHeapLeak needs {across.param('minBytesPerPeriod').value / 2**20:g} MiB)")
    return lines


RIGHTSIZE_AFTER = 150  # seconds after the test bed started


def _one_service_per_instance(directory: Path, modes: tuple[str, ...]) -> Path:
    """The live spec once per app instance, each selecting only its pod: right-sizing is per service."""
    (document,) = yaml.safe_load_all((SPEC_DIR / "live-app.yaml").read_text())
    directory.mkdir()
    for mode in modes:
        document["metadata"]["name"] = document["spec"]["selector"]["pod"] = f"live-app-{mode}"
        (directory / f"{mode}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return directory


def test_rightsize_recommends_from_steady_use_and_sizes_the_leaking_process_on_its_youth(testbed, tmp_path):
    """`obsgen rightsize` against the real Prometheus: the steady process is sized on what it used, the leaking
    one is recognised by its rising working-set floor and sized on its first seconds (the live spec's youngAge
    stands in for a day), not on the leak."""
    specs = _one_service_per_instance(tmp_path / "specs", ("steady", "leak"))
    # Five times the young age: the leak has then grown well past the young peak (the alert tests before this one
    # take about as long, so this seldom waits).
    time.sleep(max(0.0, testbed.started_at + RIGHTSIZE_AFTER - time.time()))
    window = f"{int(time.time() - testbed.started_at) + 30}s"
    result = run_obsgen("rightsize", "--prometheus", testbed.url, "--specs", str(specs), "--window", window,
                        "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    recs = {r["service"]: r for r in json.loads(result.stdout)}
    steady, leak = recs["live-app-steady"], recs["live-app-leak"]
    print(json.dumps(recs, indent=1))  # shown with -rP

    # The steady process: no leak, each value the seed rule of thumb over its measured use.
    assert steady["leak"] is None, steady["leak"]
    peak = steady["usage"]["memory.peak"]
    measured = _scalar(testbed.prometheus, f'max_over_time(process_resident_memory_bytes{{pod="live-app-steady"}}'
                                           f'[{window}])')
    assert 0.8 * measured <= peak <= measured, (peak, measured)  # sampled each minute of the window
    for field, factor in (("requests.memory", 1.2), ("limits.memory", 2.0)):
        assert steady["resources"][field]["recommended"] == sizing.memory_text(sizing.round_memory(factor * peak))
    cpu = steady["usage"]["cpu.average"]
    assert 0 < cpu < 1, cpu
    assert steady["resources"]["requests.cpu"]["recommended"] == sizing.cpu_text(sizing.round_cpu(3 * cpu))
    assert all(v["currentFrom"] == "unset" for v in steady["resources"].values())  # no kube-state-metrics here

    # The leaking process: flagged, and its memory sized on its youth, well below its leaked peak.
    assert leak["leak"] is not None, leak
    assert leak["leak"]["reason"].startswith("memory grows "), leak["leak"]
    assert leak["leak"]["sizedOn"] == "sized on processes younger than 30s", leak["leak"]
    young, leaked = leak["leak"]["youngPeakBytes"], leak["usage"]["memory.peak"]
    assert young < 0.6 * leaked, (young, leaked)
    assert leak["resources"]["limits.memory"]["recommended"] == sizing.memory_text(sizing.round_memory(2 * young))
    assert "young pods' peak memory" in leak["resources"]["requests.memory"]["why"]
