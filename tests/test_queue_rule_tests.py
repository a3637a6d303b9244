"""Generated queue rule tests: every alert is proven firing and silent, and promtool agrees with the derivation."""
from __future__ import annotations

import subprocess

import yaml

from gen.pipeline import compile_specs
from gen.domains.alerts import TEST_EVALUATION_INTERVAL
from gen.synth.promql_model import Clock, firing_value, over_range
from gen.synth.notation import notation
from gen.units import parse_duration

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
    growth = next(c for name, c in firing if c["alertname"] == "QueueBacklogGrowing" and "+3/min" in name)
    # The backlog grows 3 jobs a minute from the start: the floor of the last hour is the backlog an hour ago and
    # the floor of the hour before is the start, so at minute m the floor rose 3 * (m - 60) jobs.
    minutes = int(parse_duration(growth["eval_time"]).seconds // 60)
    assert 60 < minutes < 120
    assert growth["exp_alerts"][0]["exp_annotations"]["description"].startswith(
        f"Over the last 1h the lowest point of queue grading's queued backlog was {3 * (minutes - 60)} jobs higher")


def test_bull_prom_queue_with_custom_labels_and_settings_passes_promtool(tmp_path, promtool):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "mailer.yaml").write_text(BULL_PROM)
    compiled = compile_specs(tmp_path / "specs", tmp_path)
    (out,) = compiled.services
    _write(compiled, tmp_path / "out")
    checks = _queue_checks(out.test_file)
    assert checks[("QueueStuck", "outbound")]["fires"] >= 1
    assert checks[("QueueFailureRatioHigh", "outbound")]["fires"] >= 1
    series = [s["series"] for t in out.test_file["tests"] for s in t["input_series"]]
    assert any(s.startswith("jobs_duration_milliseconds_count{") and 'kubernetes_pod_name="mailer-' in s
               and 'status="failed"' in s for s in series)
    result = subprocess.run([promtool, "test", "rules", "mailer.test.yml"], cwd=tmp_path / "out" / "tests",
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


# The reference functions the expectations are derived with, against Prometheus itself.
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


def test_reference_functions_agree_with_promtool(tmp_path, promtool):
    clock = Clock(60.0)
    tests = []
    for fn, name, range_, offset in CASES:
        for minute in (5, 9, 12, 15):
            value = over_range(fn, clock, SERIES[name], minute * 60.0, float(range_), float(offset))
            shift = f" offset {offset // 60}m" if offset else ""
            expr = f"{fn}({name}[{range_ // 60}m]{shift})"
            samples = [] if value is None else [{"labels": "{}", "value": value}]
            tests.append({"expr": expr, "eval_time": f"{minute}m", "exp_samples": samples})
    (tmp_path / "empty.rules.yml").write_text("groups: []\n")
    doc = {"rule_files": ["empty.rules.yml"], "evaluation_interval": "1m",
           "tests": [{"interval": "1m", "input_series": [{"series": n, "values": notation(v)}
                                                          for n, v in SERIES.items()],
                      "promql_expr_test": tests}]}
    (tmp_path / "reference.test.yml").write_text(yaml.safe_dump(doc))
    result = subprocess.run([promtool, "test", "rules", "reference.test.yml"], cwd=tmp_path, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout[-4000:]
    assert len(tests) == 128


# A gauge scraped every minute, with an 11-minute gap: the rule recording it has no result for a while.
GAUGE = ([3, 3, 4, 0, 4, 7, 7, 7, 12, 12, 9, 9, 10, 10, 10, 11, 5, 4, 8, 8, 9, 9] + [None] * 11
         + [8, 8, 8, 9, 9, 9, 9, 2, 2, 7, 7, 7, 7, 7, 1, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7])
RECORDED_CASES = [("min_over_time", 600, 0), ("changes", 900, 0), ("resets", 600, 0), ("deriv", 1200, 0),
                  ("min_over_time", 600, 600), ("delta", 900, 0)]
ALERT_FOR = 420  # not a multiple of the evaluation interval: the alert needs ceil(for / E) evaluations


def test_recorded_series_and_for_follow_the_evaluation_interval(tmp_path, promtool):
    """The queue reference reads recorded series as one sample per evaluation and counts `for` in evaluations."""
    evaluations = Clock(TEST_EVALUATION_INTERVAL.seconds)
    minute = Clock(60.0)
    count = evaluations.count((len(GAUGE) - 1) * 60.0)
    recorded = [minute.instant(GAUGE, evaluations.step * k) for k in range(count)]
    condition = [v if v is not None and v > 6 else None for v in recorded]
    firing = [firing_value(condition, k, ALERT_FOR, evaluations) is not None for k in range(count)]
    # The case is only worth something if it has a missing result, pending evaluations and firing ones.
    assert None in recorded and any(firing) and not all(c is not None for c, f in zip(condition, firing) if not f)
    exprs, alerts = [], []
    for k in range(count):
        t = evaluations.step * k
        cases = [("rec", evaluations.latest(recorded, t)), ("rec offset 7m", evaluations.latest(recorded, t - 420))]
        cases += [(f"{fn}(rec[{range_ // 60}m]{f' offset {offset // 60}m' if offset else ''})",
                   over_range(fn, evaluations, recorded, t, range_, offset)) for fn, range_, offset in RECORDED_CASES]
        for expr, value in cases:
            samples = [] if value is None else [{"labels": "{__name__=\"rec\"}" if expr.startswith("rec") else "{}",
                                                 "value": value}]
            exprs.append({"expr": expr, "eval_time": f"{int(t // 60)}m", "exp_samples": samples})
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
    compiled = compile_specs(tmp_path / "specs", tmp_path)
    (out,) = compiled.services
    notes = [n for d in out.domains for n in d.notes]
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
    result = subprocess.run([promtool, "test", "rules", "edge.test.yml"], cwd=tmp_path / "out" / "tests",
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
