"""Proofs for the scrape-health alerts: all targets down, one target down, no target at all; and rollouts and
scrapes that time out for a while, which are not outages."""
from __future__ import annotations

from gen.domains.alerts import SERVICE_DOWN, SERVICE_NOT_SCRAPED, SERVICE_TARGET_DOWN
from gen.ir import RuleTest
from gen.promql.selectors import Scope
from gen.proofs.rule_tests import ProofSet, fires, rule_test, silent
from gen.synth.example_pods import example_pods
from gen.spec.model import Service
from gen.synth.notation import notation

def _timeout(m: int) -> int:
    """Minutes a /metrics may time out without an alert of `for` m minutes: a scrape failure, not an outage
    (ten minutes at the default `for`; 5 minutes of margin for the evaluation that sees it first)."""
    return min(10, m - 5)


def _down_tests(service: Service, for_s: float) -> tuple[RuleTest, ...]:
    a, b = example_pods(service, 2)
    m = int(for_s // 60)
    group = {k: v for k, v in a.app_labels().items() if k in ("job", service.selector.namespace_label)}
    gap = _timeout(m)
    timeout = (rule_test(f"the only target's /metrics timing out for {gap}m stays silent", "1m",
                         [(a.app("up"), notation([1] * 5 + [0] * gap + [1] * (m + 20)))],
                         silent(SERVICE_DOWN, *[f"{t}m" for t in range(5, m + 25, 5)])),) if gap > 0 else ()
    return timeout + (
        rule_test("every target down fires", "1m",
                  [(a.app("up"), notation([1] * 5 + [0] * (m + 20))), (b.app("up"), notation([1] * 5 + [0] * (m + 20)))],
                  fires(SERVICE_DOWN, f"{m + 10}m", group, 0)),
        rule_test("a rolling deploy (one target down at a time) stays silent", "1m",
                  [(a.app("up"), notation([1] * 5 + [0] * 2 + [1] * (m + 20))),
                   (b.app("up"), notation([1] * 8 + [0] * 2 + [1] * (m + 20)))],
                  silent(SERVICE_DOWN, *[f"{t}m" for t in range(2, m + 20, 2)])),
    )


def _target_tests(service: Service, for_s: float) -> tuple[RuleTest, ...]:
    a, b = example_pods(service, 2)
    m = int(for_s // 60)
    gap = _timeout(m)
    timeout = (rule_test(f"one target's /metrics timing out for {gap}m stays silent", "1m",
                         [(a.app("up"), notation([1] * 5 + [0] * gap + [1] * (m + 20))),
                          (b.app("up"), notation([1] * (m + 25 + gap)))],
                         silent(SERVICE_TARGET_DOWN, *[f"{t}m" for t in range(5, m + 25, 5)])),) if gap > 0 else ()
    return timeout + (
        rule_test("one target down for long fires for that target", "1m",
                  [(a.app("up"), notation([1] * 5 + [0] * (m + 20))), (b.app("up"), notation([1] * (m + 25)))],
                  fires(SERVICE_TARGET_DOWN, f"{m + 10}m", a.app_labels(), 0)),
        rule_test("every target down leaves it to ServiceDown", "1m",
                  [(a.app("up"), notation([1] * 5 + [0] * (m + 20))), (b.app("up"), notation([1] * 5 + [0] * (m + 20)))],
                  silent(SERVICE_TARGET_DOWN, f"{m + 10}m", f"{m + 20}m")),
    )


def _absent_tests(service: Service, for_s: float) -> tuple[RuleTest, ...]:
    a = example_pods(service)[0]
    m = int(for_s // 60)
    absent_labels = {mt.label: mt.value for mt in Scope(service, dashboard=False).app_matchers() if mt.op == "="}
    return (
        rule_test("no target at all fires", "1m",
                  [(a.app("up"), notation([1] * 5 + [None] * (m + 30)))],
                  fires(SERVICE_NOT_SCRAPED, f"{m + 20}m", absent_labels, 1)),
        rule_test("targets present, even down, stay silent", "1m",
                  [(a.app("up"), notation([1] * 5 + [0] * (m + 30)))],
                  silent(SERVICE_NOT_SCRAPED, f"{m + 10}m", f"{m + 30}m")),
    )


_PROOFS = ((SERVICE_DOWN, _down_tests), (SERVICE_TARGET_DOWN, _target_tests), (SERVICE_NOT_SCRAPED, _absent_tests))


def proofs(service: Service, generated: frozenset[str]) -> ProofSet:
    return ProofSet(tuple(test for alert, tests in _PROOFS if alert.name in generated
                          for test in tests(service, service.alerts[alert.setting].for_.seconds)))
