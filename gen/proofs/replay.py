"""Replay a generated promtool test file through the reference PromQL model, with either range boundary.

Prometheus 2.x holds the sample at the start of a range (`[t - r, t]`), Prometheus 3 does not
(`(t - r, t]`, the lookback too). A proof whose outcome hangs on a sample exactly on a window
edge would pass on one and fail on the other. `replay` evaluates every rule of the test file's
rule groups on each test's input series, as promtool does (groups in order at 0, E, 2E, ...),
and gives each alert check's firing alerts, with labels and rendered annotations, so a test can
hold them against the file's expectations under both boundaries.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

from gen.ir import RecordingRule, RenderedAlert, RuleFile
from gen.proofs.split import groups_for
from gen.render import templates
from gen.synth.notation import STALE, expand
from gen.synth.promql_eval import METRIC_NAME, Storage, evaluate_group
from gen.synth.promql_model import Clock, firing_value
from gen.units import parse_duration

# An alert check's outcome: the firing alerts as promtool states them, sorted.
Outcome = list[dict[str, dict[str, str]]]


def _alert_key(group_index: int, rule_index: int) -> str:
    return f"{group_index}/{rule_index}"


def _storage(test: dict, evaluation_step: float, boundary: str) -> Storage:
    series = []
    for entry in test["input_series"]:
        samples = expand(entry["values"])
        if STALE in samples:
            raise NotImplementedError("staleness markers in rule-test input are not modelled")
        series.append((entry["series"], samples))
    return Storage.of(series, Clock(parse_duration(test["interval"]).seconds, boundary),
                      Clock(evaluation_step, boundary))


def _firing(alert: RenderedAlert, results: list[list], evaluation: int, step: float) -> Outcome:
    """The alert's firing instances at `evaluation`, given its expression's result at every evaluation."""
    held = parse_duration(alert.for_).seconds if alert.for_ else 0.0
    by_labels: dict[tuple, list[float | None]] = {}
    for k, vector in enumerate(results[:evaluation + 1]):
        for labels, value in vector:
            by_labels.setdefault(labels, [None] * (evaluation + 1))[k] = value
    out = []
    for labels, values in by_labels.items():
        value = firing_value(values, evaluation, held, Clock(step))
        if value is None:
            continue
        full = {k: v for k, v in labels if k != METRIC_NAME}
        full.update(dict(alert.labels))
        out.append({"exp_labels": dict(sorted(full.items())),
                    "exp_annotations": {k: templates.render(v, full, value)
                                        for k, v in sorted(dict(alert.annotations).items())}})
    return out


def _sorted(alerts: Outcome) -> Outcome:
    return sorted(alerts, key=lambda a: sorted(a["exp_labels"].items()))


def replay(test_file: dict[str, Any], rule_file: RuleFile, boundary: str) -> list[tuple[str, Any, Outcome]]:
    """(test name, eval_time, firing alerts) for every alert check of the file, under `boundary`."""
    step = parse_duration(test_file["evaluation_interval"]).seconds
    order = {name: i for i, name in enumerate(test_file.get("group_eval_order", []))}
    groups = sorted(rule_file.groups, key=lambda g: order.get(g.name, len(order)))
    out = []
    for test in test_file["tests"]:
        checks = test.get("alert_rule_test", [])
        if not checks:
            continue
        last = max(parse_duration(c["eval_time"]).seconds for c in checks)
        evaluations = int(last // step) + 1
        storage = _storage(test, step, boundary)
        alerts: dict[str, list[tuple[RenderedAlert, list]]] = {}
        # Only the groups the checked alerts read: the others cannot change their outcome (gen.proofs.split).
        needed = {g.name for g in groups_for(rule_file, {c["alertname"] for c in checks}).groups}
        # Group after group over every evaluation is what promtool's interleaving gives: a group reads only
        # the recorded series of groups before it (group_eval_order), never of one after it.
        for g, group in enumerate(groups):
            if group.name not in needed:
                continue
            keyed = tuple(rule if isinstance(rule, RecordingRule) else dataclasses.replace(rule, name=_alert_key(g, r))
                          for r, rule in enumerate(group.rules))
            results = evaluate_group(dataclasses.replace(group, rules=keyed), storage, evaluations)
            for r, rule in enumerate(group.rules):
                if isinstance(rule, RenderedAlert):
                    alerts.setdefault(rule.name, []).append((rule, results[_alert_key(g, r)]))
        for check in checks:
            evaluation = int(math.floor(parse_duration(check["eval_time"]).seconds / step))
            firing = [a for rule, results in alerts.get(check["alertname"], [])
                      for a in _firing(rule, results, evaluation, step)]
            out.append((test["name"], check["eval_time"], _sorted(firing)))
    return out


def expected(test_file: dict[str, Any]) -> list[tuple[str, Any, Outcome]]:
    """(test name, eval_time, firing alerts) as the test file expects them."""
    return [(test["name"], check["eval_time"], _sorted(check["exp_alerts"]))
            for test in test_file["tests"] for check in test.get("alert_rule_test", [])]
