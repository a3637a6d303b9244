"""Rule tests rendered into a promtool test file for the service's rule file.

Expected alerts carry exactly the labels and annotations the rule file gives them
(`AlertContext`, the same code that renders the rules), with the templates
rendered as Prometheus renders them.
"""
from __future__ import annotations

from gen.ir import AlertCheck, AlertRule, RuleGroup, RuleTest
from gen.proofs.rule_tests import TEST_EVALUATION_INTERVAL
from gen.render import templates
from gen.render.rules import AlertContext
from gen.spec.model import Service


def alert_rules(groups: list[RuleGroup]) -> list[AlertRule]:
    return [r for g in groups for r in g.rules if isinstance(r, AlertRule)]


def _rule_for(rules: list[AlertRule], check: AlertCheck, labels: dict[str, str]) -> AlertRule:
    """The rule behind an expected alert. Several rules may share an alert name (one per queue, one per
    heap signal); the check's rule labels and the expected alert's own labels pick one."""
    wanted = set(check.rule_labels)
    matching = [r for r in rules if r.name == check.alert and wanted <= set(r.labels)
                and all(labels.get(k, v) == v for k, v in r.labels)]
    if len(matching) != 1:
        raise ValueError(f"rule test expects {check.alert} with labels {labels}, which matches "
                         f"{len(matching)} rules; give the check rule_labels that pick one")
    return matching[0]


def _expected(alert: AlertRule, ctx: AlertContext, series_labels: dict[str, str], value: float) -> dict:
    labels = {**series_labels, **ctx.labels(alert)}
    annotations = {k: templates.render(v, labels, value) for k, v in ctx.annotations(alert).items()}
    return {"exp_labels": dict(sorted(labels.items())), "exp_annotations": dict(sorted(annotations.items()))}


def _test(test: RuleTest, alerts: list[AlertRule], ctx: AlertContext) -> dict:
    checks = []
    for check in test.checks:
        expected = [_expected(_rule_for(alerts, check, dict(e.labels)), ctx, dict(e.labels), e.value)
                    for e in check.firing]
        checks.append({"eval_time": check.at.text, "alertname": check.alert, "exp_alerts": expected})
    return {
        "name": test.name,
        "interval": test.interval.text,
        "input_series": [{"series": s.selector, "values": s.values} for s in test.series],
        "alert_rule_test": checks,
    }


def build_test_file(service: Service, groups: list[RuleGroup], tests: list[RuleTest], rule_file: str) -> dict:
    ctx = AlertContext(service)
    alerts = alert_rules(groups)
    return {
        "rule_files": [rule_file],
        "evaluation_interval": TEST_EVALUATION_INTERVAL.text,
        # promtool would otherwise order groups by name; recorded series must be written before they are read.
        "group_eval_order": [g.name for g in groups],
        "tests": [_test(t, alerts, ctx) for t in tests],
    }
