"""Shared mechanics for building alerts and their proofs in domain modules."""
from __future__ import annotations

from gen.spec.model import AlertSettings
from gen.ir import AlertCheck, AlertRule, ExpectedAlert, RuleTest, Series
from gen.spec.example_pods import labels
from gen.units import parse_duration

# Generated rule tests evaluate rules at this interval. Trend alerts need days of data, and
# promtool at one minute spends minutes on them; 5m is a common production setting too.
TEST_EVALUATION_INTERVAL = parse_duration("5m")


def alert_rule(settings: AlertSettings, name: str, expr: str, summary: str, description: str, panel_key: str,
               *, pod_label: str = "pod") -> AlertRule:
    return AlertRule(name=name, expr=expr, for_=settings.for_, severity=settings.severity, summary=summary,
                     description=description, panel_key=panel_key, pod_label=pod_label, setting=settings.key)


def fires(alert: str, at: str, series_labels: dict[str, str], value: float) -> AlertCheck:
    return AlertCheck(parse_duration(at), alert, (ExpectedAlert(labels(series_labels), value),))


def fires_many(alert: str, at: str, expected: list[tuple[dict[str, str], float]]) -> AlertCheck:
    return AlertCheck(parse_duration(at), alert, tuple(ExpectedAlert(labels(l), v) for l, v in expected))


def silent(alert: str, *times: str) -> tuple[AlertCheck, ...]:
    return tuple(AlertCheck(parse_duration(t), alert) for t in times)


def rule_test(name: str, interval: str, series: list[tuple[str, str]], *checks: AlertCheck | tuple) -> RuleTest:
    flat: list[AlertCheck] = []
    for check in checks:
        flat.extend(check if isinstance(check, tuple) else (check,))
    return RuleTest(name, parse_duration(interval), tuple(Series(s, v) for s, v in series), tuple(flat))

