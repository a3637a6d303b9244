"""The vocabulary proofs are written in: a rule test, an alert that fires, an alert that stays silent."""
from __future__ import annotations

from dataclasses import dataclass

from gen.domains.alerts import Alert
from gen.ir import AlertCheck, ExpectedAlert, RuleTest, Series
from gen.synth.example_pods import labels
from gen.units import parse_duration

# Generated rule tests evaluate rules at this interval. Trend alerts need days of data, and
# promtool at one minute spends minutes on them; 5m is a common production setting too.
TEST_EVALUATION_INTERVAL = parse_duration("5m")


def fires(alert: Alert, at: str, series_labels: dict[str, str], value: float) -> AlertCheck:
    return AlertCheck(parse_duration(at), alert.name, (ExpectedAlert(labels(series_labels), value),))


def fires_many(alert: Alert, at: str, expected: list[tuple[dict[str, str], float]]) -> AlertCheck:
    return AlertCheck(parse_duration(at), alert.name, tuple(ExpectedAlert(labels(l), v) for l, v in expected))


def silent(alert: Alert, *times: str) -> tuple[AlertCheck, ...]:
    return tuple(AlertCheck(parse_duration(t), alert.name) for t in times)


def rule_test(name: str, interval: str, series: list[tuple[str, str]], *checks: AlertCheck | tuple) -> RuleTest:
    flat: list[AlertCheck] = []
    for check in checks:
        flat.extend(check if isinstance(check, tuple) else (check,))
    return RuleTest(name, parse_duration(interval), tuple(Series(s, v) for s, v in series), tuple(flat))


@dataclass(frozen=True)
class ProofSet:
    """What one domain's proofs give for a service: tests, and notes on checks its settings rule out."""

    tests: tuple[RuleTest, ...] = ()
    notes: tuple[str, ...] = ()
