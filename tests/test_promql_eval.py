"""The PromQL evaluator the queue proofs derive their expectations with: values worked out by hand, and promtool."""
from __future__ import annotations

import math
import random
import subprocess

import pytest
import yaml

from gen.ir import AlertRule, RecordingRule, RuleGroup
from gen.synth.notation import notation
from gen.synth.promql_eval import Storage, evaluate, evaluate_group
from gen.synth import promql_model
from gen.synth.promql_model import BOUNDARIES, LEFT_OPEN, Clock, firing_value
from gen.units import parse_duration

MINUTE = Clock(60.0)

# At t=2m (index 2): up{a,1}=3, up{a,2}=30, up{b,1}=100, down{a,1}=2.
SERIES = [
    ('up{inst="1", job="a"}', [1, 2, 3, 4, 5]),
    ('up{inst="2", job="a"}', [10, 20, 30, 40, 50]),
    ('up{inst="1", job="b"}', [100, 100, 100, 100, 100]),
    ('down{inst="1", job="a"}', [2, 2, 2, 2, 2]),
]
T = 120.0


def at(expr: str, t: float = T):
    result = evaluate(expr, Storage.of(SERIES, MINUTE, MINUTE), t)
    return result if not isinstance(result, list) else {_text(labels): value for labels, value in result}


def _text(labels) -> str:
    return ",".join(f"{k}={v}" for k, v in labels)


def test_label_matchers_select_series_sorted_by_labels():
    assert at('up{job="a"}') == {"__name__=up,inst=1,job=a": 3, "__name__=up,inst=2,job=a": 30}
    assert at('up{job!="a"}') == {"__name__=up,inst=1,job=b": 100}
    assert at('up{inst=~"1|2", job=~"a"}') == {"__name__=up,inst=1,job=a": 3, "__name__=up,inst=2,job=a": 30}
    assert at('up{inst!~"2"}') == {"__name__=up,inst=1,job=a": 3, "__name__=up,inst=1,job=b": 100}
    assert at('{__name__=~"up|down", inst="1", job="a"}') == {"__name__=down,inst=1,job=a": 2,
                                                               "__name__=up,inst=1,job=a": 3}
    assert at('up{zone=""}') == at("up")  # an absent label matches the empty value
    # Sorted label by label, in name order: inst 1 (jobs a, b) before inst 2.
    result = evaluate("up", Storage.of(SERIES, MINUTE, MINUTE), T)
    assert [dict(labels)["job"] + dict(labels)["inst"] for labels, _ in result] == ["a1", "b1", "a2"]


def test_arithmetic_matches_on_all_labels_but_the_name_and_drops_it():
    assert at("up / down") == {"inst=1,job=a": 1.5}  # 3 / 2; up's other series have no partner
    assert at('2 * up{job="b"}') == {"inst=1,job=b": 200}
    assert at('up{job="b"} - 1') == {"inst=1,job=b": 99}
    assert at('up{job="b"} / 0') == {"inst=1,job=b": math.inf}  # as Go divides, not an error
    assert at("1 + 2 * 3") == 7.0
    assert at('up{inst="2"} / ignoring(inst) down') == {"job=a": 15}  # 30 / 2, inst dropped from the result
    assert at('up / on(job, inst) down') == {"inst=1,job=a": 1.5}


def test_aggregation_by_labels():
    assert at("sum by (job) (up)") == {"job=a": 33, "job=b": 100}
    assert at("max by (job) (up)") == {"job=a": 30, "job=b": 100}
    assert at("min by (inst) (up)") == {"inst=1": 3, "inst=2": 30}
    assert at("sum(up)") == {"": 133}
    assert at("max without (inst) (up)") == {"job=a": 30, "job=b": 100}
    assert at("sum by (job) (up > 1000)") == {}


def test_and_or_unless_with_and_without_on():
    assert at("up and down") == {"__name__=up,inst=1,job=a": 3}
    # on(job): both of job a's series have a partner; the left side's labels and values are kept.
    assert at("up and on(job) down") == {"__name__=up,inst=1,job=a": 3, "__name__=up,inst=2,job=a": 30}
    assert at("up unless down") == {"__name__=up,inst=2,job=a": 30, "__name__=up,inst=1,job=b": 100}
    assert at("up unless on(job) down") == {"__name__=up,inst=1,job=b": 100}
    assert at("up unless ignoring(inst) down") == {"__name__=up,inst=1,job=b": 100}
    # or: all of the left, and the right's series whose labels the left has not.
    assert at("down or up") == {"__name__=down,inst=1,job=a": 2, "__name__=up,inst=2,job=a": 30,
                                "__name__=up,inst=1,job=b": 100}
    assert at('down or on(job) up') == {"__name__=down,inst=1,job=a": 2, "__name__=up,inst=1,job=b": 100}


def test_offset_and_range_functions():
    assert at('up{inst="2"} offset 1m') == {"__name__=up,inst=2,job=a": 20}
    assert at('up{inst="2"} offset 5m') == {}  # before the first sample
    # Samples 10, 20, 30 at 0s, 60s, 120s fill [0s, 120s] exactly: no extrapolation, the increase is 20.
    assert at('increase(up{inst="2"}[2m] offset 1m)', 180.0) == {"inst=2,job=a": 20}
    assert at('min_over_time(up{job="a"}[1m])') == {"inst=1,job=a": 2, "inst=2,job=a": 20}
    assert at('max_over_time(up{job="a"}[1m] offset 1m)') == {"inst=1,job=a": 2, "inst=2,job=a": 20}


def test_comparisons_filter_and_keep_the_name():
    assert at("up > 20") == {"__name__=up,inst=2,job=a": 30, "__name__=up,inst=1,job=b": 100}
    assert at("25 < up") == at("up > 20")  # the vector's value, also when the scalar is on the left
    assert at("up > down") == {"__name__=up,inst=1,job=a": 3}
    assert at("down >= up") == {}
    assert at('up{job="a"} != 3') == {"__name__=up,inst=2,job=a": 30}
    assert at("(up > 20) <= 30") == {"__name__=up,inst=2,job=a": 30}


@pytest.mark.parametrize("expr, construct", [
    ("topk(1, up)", "topk"), ("count(up)", "count"), ("up ^ 2", "^"), ("abs(up)", "abs"),
    ("up > bool 2", "bool"), ("-up", "UnaryExpr"), ("up / on(job) group_left down", "group_left"),
    ("rate(up[5m:1m])", "rate"), ("up @ 60", "@"),
])
def test_what_is_not_modelled_is_refused_by_name(expr, construct):
    with pytest.raises(NotImplementedError, match=construct.replace("^", r"\^")):
        evaluate(expr, Storage.of(SERIES, MINUTE, MINUTE), T)


def test_one_to_one_matching_refuses_duplicates():
    with pytest.raises(ValueError, match="duplicate series"):
        evaluate("down / ignoring(inst) up", Storage.of(SERIES, MINUTE, MINUTE), T)


def test_a_group_records_before_its_alerts_read_and_marks_vanished_series_stale():
    group = RuleGroup("g", (
        RecordingRule("job:up:sum", "sum by (job) (up)", (("team", "x"),)),
        RecordingRule("low", 'up{inst="2"} < 25'),
        AlertRule("Big", "job:up:sum > 50", parse_duration("0s"), "warning", "", "", ""),
        AlertRule("Low", "low", parse_duration("0s"), "warning", "", "", ""),
    ))
    storage = Storage.of(SERIES, MINUTE, MINUTE)
    alerts = evaluate_group(group, storage, 5)
    # At 0s job a sums to 11 and job b to 100; the alert reads this evaluation's record, labels and name kept.
    big = (("__name__", "job:up:sum"), ("job", "b"), ("team", "x"))
    assert alerts["Big"][0] == [(big, 100.0)]
    # job a: 1 + 10, 2 + 20, 3 + 30, 4 + 40, 5 + 50: above 50 at the fifth evaluation only.
    assert [len(v) for v in alerts["Big"]] == [1, 1, 1, 1, 2]
    # up{inst="2"} is 10, 20, then 30 and 40: `low` is recorded twice, then a stale marker hides it at once,
    # where a scraped series would still be seen for 5 minutes.
    low = (("__name__", "low"), ("inst", "2"), ("job", "a"))
    assert storage.recorded[low] == [10, 20, None]
    assert [v[0][1] if v else None for v in alerts["Low"]] == [10, 20, None, None, None]


# --- against promtool ----------------------------------------------------------------------------------

# A counter with a reset and a gap, a gauge per job; rules that record, compare, match on labels and offset.
PROMTOOL_SERIES = [
    ('jobs_total{instance="p1", job="w"}', [0, 4, 9, 15, 2, 7, None, None, 19, 26, 30, 30, 30, 31, 40, 52]),
    ('jobs_total{instance="p2", job="w"}', [5, 5, 6, 8, 11, 15, 20, 26, 33, 41, 50, 50, 50, 50, 51, 60]),
    ('waiting{instance="p1", job="w"}', [3, 3, 4, 0, 4, 7, 7, 7, 12, 12, 9, 9, 10, 10, 10, 11]),
    ('waiting{instance="p2", job="w"}', [3, 3, 4, 0, 4, 7, 7, 7, 12, 12, 9, 9, 10, 10, 10, 11]),
]
PROMTOOL_RULES = RuleGroup("tiny", (
    RecordingRule("w:rate2m", "sum by (job) (rate(jobs_total[2m]))", (("svc", "s"),)),
    RecordingRule("w:waiting", "max by (job) (waiting)", (("svc", "s"),)),
    AlertRule("SlowDrain", "w:waiting / (w:rate2m > 0) > 35\nand on (job) w:waiting offset 3m\n"
                           "unless on (job) (increase(jobs_total[3m]) > 20)",
              parse_duration("2m"), "warning", "", "", ""),
))
PROMTOOL_EXPRS = [
    "w:rate2m", "w:waiting", PROMTOOL_RULES.rules[2].expr, "deriv(w:waiting[6m]) * 60",
    "sum by (job) (increase(jobs_total[4m] offset 1m)) / on (job) max by (job) (waiting)",
    "min_over_time(w:waiting[5m]) - min_over_time(w:waiting[5m] offset 5m) >= 0 or w:waiting",
    # The functions the leak and pod rules use as well.
    "avg_over_time(waiting[5m])", "avg_over_time(jobs_total[7m])", "quantile_over_time(0.5, jobs_total[4m])",
    "quantile_over_time(0.9, waiting[5m])", "predict_linear(waiting[6m], 600)", "round(w:rate2m * 7)",
    "avg by (job) (jobs_total)", 'absent(missing{job="w"})', 'absent(waiting{job="w"})',
]


def test_a_tiny_rule_group_agrees_with_promtool(tmp_path, promtool):
    evaluations = Clock(120.0)
    count = evaluations.count(15 * 60.0)
    storage = Storage.of(PROMTOOL_SERIES, MINUTE, evaluations)
    alerts = evaluate_group(PROMTOOL_RULES, storage, count)
    tests, alert_tests = [], []
    for k in range(count):
        t = k * evaluations.step
        for expr in PROMTOOL_EXPRS:
            samples = [{"labels": "{" + ", ".join(f'{n}="{v}"' for n, v in labels) + "}", "value": value}
                       for labels, value in evaluate(expr, storage, t)]
            tests.append({"expr": expr, "eval_time": f"{int(t)}s", "exp_samples": samples})
        condition = [v[0][1] if v else None for v in alerts["SlowDrain"]]
        value = firing_value(condition, k, 120.0, evaluations)
        alert_tests.append({"eval_time": f"{int(t)}s", "alertname": "SlowDrain",
                            "exp_alerts": [] if value is None else [{"exp_labels": {"job": "w", "svc": "s"}}]})
    firing = sum(1 for a in alert_tests if a["exp_alerts"])
    # The case is only worth something if the alert is pending at some evaluations and fires at others, and
    # if `unless` removes a result.
    assert 0 < firing < sum(1 for v in alerts["SlowDrain"] if v), alerts["SlowDrain"]
    assert evaluate(PROMTOOL_RULES.rules[2].expr.split("unless")[0], storage, 600.0) and not alerts["SlowDrain"][5]
    rules = {"groups": [{"name": "tiny", "rules": [
        {"record": r.record, "expr": r.expr, "labels": dict(r.labels)} if isinstance(r, RecordingRule)
        else {"alert": r.name, "expr": r.expr, "for": r.for_.text} for r in PROMTOOL_RULES.rules]}]}
    (tmp_path / "tiny.rules.yml").write_text(yaml.safe_dump(rules))
    doc = {"rule_files": ["tiny.rules.yml"], "evaluation_interval": "2m",
           "tests": [{"interval": "1m", "input_series": [{"series": s, "values": notation(v)}
                                                          for s, v in PROMTOOL_SERIES],
                      "promql_expr_test": tests, "alert_rule_test": alert_tests}]}
    (tmp_path / "tiny.test.yml").write_text(yaml.safe_dump(doc))
    result = subprocess.run([promtool, "test", "rules", "tiny.test.yml"], cwd=tmp_path, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


# --- Prometheus 2.x (closed) and 3 (left-open) range boundaries --------------------------------------------

def test_a_left_open_range_leaves_out_the_sample_on_its_start_and_a_closed_one_holds_it():
    series = [('x{job="a"}', [0, 1, 2, 3, 4, 5, 6])]
    closed = Storage.of(series, Clock(60.0), Clock(60.0))
    left_open = Storage.of(series, Clock(60.0, LEFT_OPEN), Clock(60.0, LEFT_OPEN))
    value = lambda expr, storage, t=300.0: [v for _, v in evaluate(expr, storage, t)]
    # [5m] at 5m: the samples at 0..5m in 2.x, 1m..5m in 3.
    assert value("min_over_time(x[5m])", closed) == [0] and value("min_over_time(x[5m])", left_open) == [1]
    assert value("changes(x[5m])", closed) == [5] and value("changes(x[5m])", left_open) == [4]
    # Off the sample grid, both read the same samples.
    assert value("min_over_time(x[5m])", closed, 330.0) == value("min_over_time(x[5m])", left_open, 330.0) == [1]
    # The lookback too: a sample exactly 5m old is seen by 2.x only.
    alone = [('y{job="a"}', [7, None, None, None, None, None, None])]
    assert value("y", Storage.of(alone, Clock(60.0), Clock(60.0))) == [7]
    assert value("y", Storage.of(alone, Clock(60.0, LEFT_OPEN), Clock(60.0, LEFT_OPEN))) == []
    with pytest.raises(ValueError, match="boundary"):
        Clock(60.0, "half-open")


# --- the model's fast paths give its plain answers to the bit ----------------------------------------------

def _random_points(rng: random.Random, step: float) -> list[tuple[float, float]]:
    start = rng.randrange(0, 10 ** 6) * step
    size = rng.choice([1e-9, 1.0, 1e3, 3e8, 1e15])
    values, value = [], rng.uniform(-size, size)
    for _ in range(rng.randrange(2, 300)):
        value = rng.choice([value, value + rng.uniform(-size, size) / 50, rng.uniform(-size, size),
                            float(rng.randrange(10))])
        values.append(value)
    times = [start + i * step for i in range(len(values)) if rng.random() > 0.1] or [start, start + step]
    return [(t, values[k % len(values)]) for k, t in enumerate(times)]


def test_sums_over_whole_seconds_are_the_compensated_sums_to_the_bit():
    """The exact-integer shortcut of linear regression (deriv, predict_linear) against Neumaier's sums."""
    rng = random.Random(20261207)
    for _ in range(4000):
        points = _random_points(rng, rng.choice([1.0, 15.0, 60.0, 300.0]))
        intercept = rng.choice([points[0][0], points[-1][0] + rng.randrange(0, 20) * 60.0])
        fast = promql_model._sums_over_whole_seconds(points, intercept)
        plain = promql_model._four_compensated_sums(points, intercept)
        assert [v.hex() for v in fast] == [v.hex() for v in plain], (points, intercept)


def test_a_windows_values_are_its_points_values():
    rng = random.Random(20261207)
    for boundary in BOUNDARIES:
        clock = Clock(60.0, boundary)
        samples = [None if rng.random() < 0.2 else float(i) for i in range(200)]
        for _ in range(2000):
            end, range_ = rng.randrange(-30, 260) * rng.choice([30.0, 60.0]), rng.randrange(0, 90) * 60.0
            assert clock.values(samples, end, range_) == [v for _, v in clock.points(samples, end, range_)]
