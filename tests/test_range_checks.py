"""The plausible-range checks of durations and sizes, and their one documented way out."""
from __future__ import annotations

from gen.spec.documents import parse_yaml
from gen.spec.validate import validate_document

SPEC = """\
apiVersion: obsgen/v1
kind: Service
metadata:
  name: checkout-api
spec:
  namespace: shop
  runtime: nodejs
{extra}  leakDetection:
    period: 30s
"""


def _problems(extra: str = "") -> list[str]:
    (doc,) = parse_yaml("specs/checkout-api.yaml", SPEC.format(extra=extra).encode())
    return [p.format() for p in validate_document(doc)]


def test_a_window_of_seconds_is_out_of_range_by_default():
    problems = _problems()
    assert len(problems) == 1
    assert "spec.leakDetection.period: 30s is 30 seconds; this must be between 1h and 7d" in problems[0]
    assert "specs/checkout-api.yaml:9" in problems[0]


def test_range_checks_false_accepts_it_and_nothing_else_changes():
    assert _problems("  rangeChecks: false\n") == []
    # Type and format checks still apply with the range checks off.
    assert any("rangeChecks" in p for p in _problems("  rangeChecks: nope\n"))
