"""Generated queue rule tests: every alert is proven firing and silent, and promtool agrees with the derivation."""
from __future__ import annotations

import subprocess

import yaml

from gen.domains.queue.domain import rule_group
from gen.ir import AlertRule, RecordingRule, RuleGroup
from gen.pipeline import compile_specs
from gen.proofs.queue import Scale, scenarios
from gen.proofs.rule_tests import TEST_EVALUATION_INTERVAL
from gen.synth.notation import notation
from gen.synth.promql_eval import Storage, evaluate, evaluate_group
from gen.synth.promql_model import Clock, firing_value
from gen.synth.queue_simulation import input_series, render, rendered_series, simulate, targets
from gen.units import duration, parse_duration

from .conftest import run_obsgen
from .workspace import rule_tests_on

BULL_PROM = """\
apiVersion: obsgen/v1
kind: Service
metadata: {name: mailer}
spec:
  namespace: mail
  runtime: nodejs
  selector: {namespaceLabel: kubernetes_namespace, podLabel: kubernetes_pod_name}
  queues:
    - name: outbound
      exporter: bull-prom
      alerts:
        stuck: {window: 20m, for: 0s}
        failureRatio: {threshold: 25%, minVolume: 50}
"""


def _write(compiled, out_dir) -> None:
    for rel, content in compiled.files.items():
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def _queue_checks(test_file: dict) -> dict[tuple[str, str], dict[str, int]]:
    """(alert, queue) -> how many firing and silent checks the queue scenarios make."""
    out: dict[tuple[str, str], dict[str, int]] = {}
    for test in test_file["tests"]:
        if not test["name"].startswith("queue "):
            continue
        queue = test["name"].split()[1]
        for check in test["alert_rule_test"]:
            counts = out.setdefault((check["alertname"], queue), {"fires": 0, "silent": 0})
            counts["fires" if check["exp_alerts"] else "silent"] += 1
    return out


def test_every_queue_alert_of_the_examples_is_tested_firing_and_silent(compiled):
    for out in compiled.services:
        rules = [(r["alert"], r["labels"]["queue"]) for g in out.rule_file.to_dict()["groups"] for r in g["rules"]
                 if r.get("alert", "").startswith("Queue")]
        checks = _queue_checks(out.test_file)
        for key in rules:
            assert checks[key]["fires"] >= 1 and checks[key]["silent"] >= 1, (out.service.name, key)
    assert {out.service.name for out in compiled.services} >= {"submission-api", "notification-worker",
                                                                "report-builder"}


def test_firing_checks_expect_the_queue_label_and_derived_values(compiled):
    out = next(o for o in compiled.services if o.service.name == "submission-api")
    firing = [(t["name"], c) for t in out.test_file["tests"] for c in t["alert_rule_test"]
              if c["exp_alerts"] and c["alertname"].startswith("Queue")]
    assert firing
    for name, check in firing:
        (alert,) = check["exp_alerts"]
        assert alert["exp_labels"]["queue"] == "grading"
    # The default growth threshold of this queue's proof workload is minGrowth (25 jobs: 2% of the 600 jobs an
    # hour it completes is less), so the scenario adds 2 jobs a minute more than the workers complete.
    growth = next(c for name, c in firing if c["alertname"] == "QueueBacklogGrowing" and "+2/min" in name)
    # The backlog grows 2 jobs a minute from the start, so each hour's floor is the backlog at its start. Before
    # minute 120 the hour before reaches back to the scenario's start and the floors differ by a minute's growth
    # between Prometheus 2 (the sample on the window's start counts) and 3 (it does not); from minute 120 both
    # read two floors an hour apart, 120 jobs, and the check states that.
    minutes = int(parse_duration(growth["eval_time"]).seconds // 60)
    assert 120 <= minutes < 130
    assert growth["exp_alerts"][0]["exp_annotations"]["description"].startswith(
        "Over the last 1h the lowest point of queue grading's queued backlog was 120 jobs higher")


def test_the_proofs_cover_throughput_idle_hung_and_slow_consumers(compiled):
    """Busy healthy queues with ordinary failures stay silent at every throughput (an absolute failed-set floor
    fired on them); hung workers with nothing waiting and a consumer 10% too slow are caught."""
    out = next(o for o in compiled.services if o.service.name == "submission-api")
    checks: dict[str, dict[str, list[bool]]] = {}
    for test in out.test_file["tests"]:
        for check in test["alert_rule_test"]:
            checks.setdefault(test["name"], {}).setdefault(check["alertname"], []).append(bool(check["exp_alerts"]))
    busy = {n: c for n, c in checks.items() if "busy healthy queue" in n}
    assert {n.split("(")[2].split(" ")[0] for n in busy} == {"60", "1800", "20000"}, sorted(busy)
    for name, by_alert in busy.items():
        assert set(by_alert) >= {"QueueFailedSetGrowing", "QueueBacklogGrowing", "QueueFailureRatioHigh"}, name
        assert not any(any(fired) for fired in by_alert.values()), name
    idle = next(c for n, c in checks.items() if "idle from" in n)
    assert idle and not any(any(fired) for fired in idle.values())
    hung = next(c for n, c in checks.items() if "hung workers holding their jobs while nothing waits" in n)
    assert any(hung["QueueStuck"])
    slow = next(c for n, c in checks.items() if "consumer 10% slower" in n)
    assert any(slow["QueueBacklogGrowing"]) and not any(slow["QueueFailedSetGrowing"])


def test_bull_prom_queue_with_custom_labels_and_settings_passes_promtool(tmp_path, promtool):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "mailer.yaml").write_text(BULL_PROM)
    rule_tests_on(tmp_path)
    compiled = compile_specs(tmp_path / "specs", tmp_path)
    (out,) = compiled.services
    _write(compiled, tmp_path / "out")
    checks = _queue_checks(out.test_file)
    assert checks[("QueueStuck", "outbound")]["fires"] >= 1
    assert checks[("QueueFailureRatioHigh", "outbound")]["fires"] >= 1
    series = [s["series"] for t in out.test_file["tests"] for s in t["input_series"]]
    assert any(s.startswith("jobs_duration_milliseconds_count{") and 'kubernetes_pod_name="mailer-' in s
               and 'status="failed"' in s for s in series)
    assert (tmp_path / "out" / "tests" / "mailer.test.yml").exists()
    # As `obsgen test` proves them: in parts, each against the groups its alerts read (tests/test_proof_split.py).
    result = run_obsgen("test", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


# The evaluator the expectations are derived with, against Prometheus itself: range functions on scraped series.
SERIES = {
    # A counter with a reset, a gap and a late start.
    "c": [None, None, 5, 9, 14, 20, 2, 6, None, 11, 15, 15, 15, 30, 31, 33],
    # A gauge that dips, steps and falls.
    "g": [3, 3, 4, 0, 4, 7, 7, 7, 12, 12, 9, 9, 10, 10, 10, 11],
}
CASES = [(fn, name, range_, offset) for fn, name in (("rate", "c"), ("increase", "c"), ("delta", "g"),
                                                     ("changes", "g"), ("resets", "g"), ("resets", "c"),
                                                     ("min_over_time", "g"), ("deriv", "g"))
         for range_, offset in ((300, 0), (240, 0), (600, 0), (300, 300))]


def _samples(vector) -> list[dict]:
    return [{"labels": "{" + ", ".join(f'{k}="{v}"' for k, v in labels) + "}", "value": value}
            for labels, value in vector]


def test_range_functions_of_the_evaluator_agree_with_promtool(tmp_path, promtool):
    clock = Clock(60.0)
    storage = Storage.of(list(SERIES.items()), clock, clock)
    tests = []
    for fn, name, range_, offset in CASES:
        for minute in (5, 9, 12, 15):
            shift = f" offset {offset // 60}m" if offset else ""
            expr = f"{fn}({name}[{range_ // 60}m]{shift})"
            tests.append({"expr": expr, "eval_time": f"{minute}m",
                          "exp_samples": _samples(evaluate(expr, storage, minute * 60.0))})
    (tmp_path / "empty.rules.yml").write_text("groups: []\n")
    doc = {"rule_files": ["empty.rules.yml"], "evaluation_interval": "1m",
           "tests": [{"interval": "1m", "input_series": [{"series": n, "values": notation(v)}
                                                          for n, v in SERIES.items()],
                      "promql_expr_test": tests}]}
    (tmp_path / "reference.test.yml").write_text(yaml.safe_dump(doc))
    result = subprocess.run([promtool, "test", "rules", "reference.test.yml"], cwd=tmp_path, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout[-4000:]
    assert len(tests) == 128 and sum(1 for t in tests if t["exp_samples"]) > 100


# A gauge scraped every minute, with an 11-minute gap: the rule recording it has no result for a while.
GAUGE = ([3, 3, 4, 0, 4, 7, 7, 7, 12, 12, 9, 9, 10, 10, 10, 11, 5, 4, 8, 8, 9, 9] + [None] * 11
         + [8, 8, 8, 9, 9, 9, 9, 2, 2, 7, 7, 7, 7, 7, 1, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7])
RECORDED_CASES = [("min_over_time", 600, 0), ("changes", 900, 0), ("resets", 600, 0), ("deriv", 1200, 0),
                  ("min_over_time", 600, 600), ("delta", 900, 0)]
ALERT_FOR = 420  # not a multiple of the evaluation interval: the alert needs ceil(for / E) evaluations


def test_recorded_series_and_for_follow_the_evaluation_interval(tmp_path, promtool):
    """The evaluator records one sample per evaluation (stale when the rule has no result) and `for` counts
    evaluations."""
    evaluations = Clock(TEST_EVALUATION_INTERVAL.seconds)
    count = evaluations.count((len(GAUGE) - 1) * 60.0)
    group = RuleGroup("ref", (RecordingRule("rec", "g"),
                              AlertRule("High", "rec > 6", duration(ALERT_FOR), "warning", "", "", "")))
    storage = Storage.of([("g", GAUGE)], Clock(60.0), evaluations)
    condition = [v[0][1] if v else None for v in evaluate_group(group, storage, count)["High"]]
    recorded = storage.recorded[(("__name__", "rec"),)]
    firing = [firing_value(condition, k, ALERT_FOR, evaluations) is not None for k in range(count)]
    # The case is only worth something if it has a missing result, pending evaluations and firing ones.
    assert None in recorded and any(firing) and not all(c is not None for c, f in zip(condition, firing) if not f)
    exprs, alerts = [], []
    for k in range(count):
        t = evaluations.step * k
        cases = ["rec", "rec offset 7m"] + [f"{fn}(rec[{range_ // 60}m]{f' offset {offset // 60}m' if offset else ''})"
                                             for fn, range_, offset in RECORDED_CASES]
        for expr in cases:
            exprs.append({"expr": expr, "eval_time": f"{int(t // 60)}m",
                          "exp_samples": _samples(evaluate(expr, storage, t))})
        alerts.append({"eval_time": f"{int(t // 60)}m", "alertname": "High",
                       "exp_alerts": [{"exp_labels": {}}] if firing[k] else []})
    (tmp_path / "rec.rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "ref", "rules": [
        {"record": "rec", "expr": "g"}, {"alert": "High", "expr": "rec > 6", "for": f"{ALERT_FOR // 60}m"}]}]}))
    doc = {"rule_files": ["rec.rules.yml"], "evaluation_interval": TEST_EVALUATION_INTERVAL.text,
           "tests": [{"interval": "1m", "input_series": [{"series": "g", "values": notation(GAUGE)}],
                      "promql_expr_test": exprs, "alert_rule_test": alerts}]}
    (tmp_path / "rec.test.yml").write_text(yaml.safe_dump(doc))
    result = subprocess.run([promtool, "test", "rules", "rec.test.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:]


def test_the_real_queue_rules_evaluated_on_scenarios_agree_with_promtool(tmp_path, promtool):
    """Every recorded series and every alert expression of a queue's real rule group, evaluated on scenario
    series by the evaluator, at every evaluation of the test interval, labels and values as promtool has them."""
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "mailer.yaml").write_text(BULL_PROM)
    rule_tests_on(tmp_path)
    compiled = compile_specs(tmp_path / "specs", tmp_path)
    (out,) = compiled.services
    _write(compiled, tmp_path / "out")
    service = out.service
    (queue,) = service.queues
    group = rule_group(service, queue)
    where = targets(service, queue)
    evaluations = Clock(TEST_EVALUATION_INTERVAL.seconds)
    wanted = ("worker restart", "workers hung", "failure storm")
    tests, found = [], 0
    for scenario in scenarios(Scale.of(queue)):
        if not scenario.name.startswith(wanted):
            continue
        timeline = simulate(scenario.workload)
        rendered = render(timeline, queue, len(where), scenario.disturbance)
        series = rendered_series(queue, rendered, where)
        storage = Storage.of(series, Clock(60.0), evaluations)
        count = evaluations.count((timeline.minutes - 1) * 60.0)
        evaluate_group(group, storage, count)
        exprs = []
        for k in range(count):
            t = k * evaluations.step
            for rule in group.rules:
                expr = rule.record if isinstance(rule, RecordingRule) else rule.expr
                samples = _samples(evaluate(expr, storage, t))
                found += bool(samples) and isinstance(rule, AlertRule)
                exprs.append({"expr": expr, "eval_time": f"{int(t)}s", "exp_samples": samples})
        tests.append({"name": scenario.name, "interval": "1m",
                      "input_series": [{"series": s.selector, "values": s.values}
                                       for s in input_series(queue, rendered, where)],
                      "promql_expr_test": exprs})
    assert len(tests) == len(wanted) and found > 20
    rule_file = next((tmp_path / "out" / "rules").glob("*.yml"))
    doc = {"rule_files": [str(rule_file)], "evaluation_interval": TEST_EVALUATION_INTERVAL.text, "tests": tests}
    (tmp_path / "queue.test.yml").write_text(yaml.safe_dump(doc))
    result = subprocess.run([promtool, "test", "rules", "queue.test.yml"], cwd=tmp_path, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout[-4000:]


UNUSUAL = """\
apiVersion: obsgen/v1
kind: Service
metadata: {name: edge}
spec:
  namespace: ns
  runtime: nodejs
  queues:
    - name: q1
      alerts:
        drainTime: {for: 0s, threshold: 5m}
        stuck: {enabled: false}
        backlogGrowing: {window: 30m, minGrowth: 500}
        failureRatio: {threshold: 50%, minVolume: 200, window: 5m, for: 1m}
    - name: q2
      alerts:
        backlogGrowing: {enabled: false}
        stuck: {enabled: false}
        failureRatio: {enabled: false}
        drainTime: {enabled: false}
        failedGrowing: {enabled: false}
"""


def test_unusual_settings_leave_out_contradicted_checks_and_say_so(tmp_path, promtool):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "edge.yaml").write_text(UNUSUAL)
    rule_tests_on(tmp_path)
    compiled = compile_specs(tmp_path / "specs", tmp_path)
    (out,) = compiled.services
    notes = list(out.notes)
    # With for: 0s a 5m drain threshold fires on a queue that two 6-minute jobs at a time keep busy: at 10m the
    # completed counter rose by 2 in the last 5m and 6 jobs wait, 6 / (2 / 300s) = 15m. The build says so
    # instead of asserting "silent" and instead of asserting whatever the engine happens to do.
    assert ("queue q1: rule test 'jobs that take 6m each stay silent' leaves out its QueueDrainTimeLong check: "
            "with this queue's signals and settings QueueDrainTimeLong fires at 10m" in notes)
    alerts = {(r["alert"], r["labels"]["queue"]) for g in out.rule_file.to_dict()["groups"] for r in g["rules"]
              if "alert" in r and r["alert"].startswith("Queue")}
    assert {q for _, q in alerts} == {"q1"}  # q2 has every alert switched off: rows and records only
    checks = _queue_checks(out.test_file)
    assert all(c["fires"] >= 1 and c["silent"] >= 1 for key, c in checks.items()), checks
    _write(compiled, tmp_path / "out")
    assert (tmp_path / "out" / "tests" / "edge.test.yml").exists()
    # As `obsgen test` proves them: in parts, each against the groups its alerts read (tests/test_proof_split.py).
    result = run_obsgen("test", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
