"""Scrape health: is Prometheus getting the service's metrics at all? Without them no other alert works."""
from __future__ import annotations

from gen.domains.alerts import alert_rule, fires, rule_test, silent
from gen.spec.model import Service
from gen.promql.selectors import Scope, selector
from gen.synth.notation import notation
from gen.ir import UNIT_COUNT, DomainOutput, Panel, Query, Row, RuleGroup, RuleTest, Threshold
from gen.spec.example_pods import example_pods

TARGETS_PANEL = "scrape.targets"


def applies(service: Service) -> bool:
    return True


def _up(s: Scope) -> str:
    return s.app("up")


def _service_group(s: Scope) -> str:
    return ", ".join(label for label in ("job", s.service.selector.namespace_label) if label)


def _panels(service: Service) -> tuple[Panel, ...]:
    s = Scope(service, dashboard=True)
    return (
        Panel(TARGETS_PANEL, "Scrape targets up",
              "Targets of the service that Prometheus scraped successfully, against all its targets. A gap "
              "between the lines is pods that do not answer /metrics; no lines at all means Prometheus has "
              "no target for the service.",
              UNIT_COUNT, (Query(f"sum({_up(s)})", "up"), Query(f"count({_up(s)})", "targets")), min=0,
              width=24, height=6),
    )


def _headlines(service: Service) -> tuple[Panel, ...]:
    s = Scope(service, dashboard=True)
    return (
        Panel("overview.targets", "Targets up", "Scrape targets that answered, out of all targets.",
              UNIT_COUNT, (Query(f"sum({_up(s)})", "up"),), kind="stat", width=6, height=4, decimals=0,
              thresholds=(Threshold(None, "red"), Threshold(1, "green"))),
    )


def _absent_selector(service: Service) -> str:
    """absent() can only copy equality matchers into its result, so use those alone."""
    s = Scope(service, dashboard=False)
    return selector("up", [m for m in s.app_matchers() if m.op == "="])


def _alerts(service: Service) -> list[tuple]:
    s = Scope(service, dashboard=False)
    by = _service_group(s)
    all_down = f"max by ({by}) ({_up(s)}) == 0"
    out = []
    down = service.alerts["serviceDown"]
    if down.enabled:
        out.append((alert_rule(
            down, "ServiceDown", all_down,
            summary="%s is down: no target answers" % service.name,
            description=("None of the scrape targets of %s (job {{ $labels.job }}) has answered for %s. The "
                         "service is down or cannot be reached." % (service.name, down.for_.text)),
            panel_key=TARGETS_PANEL, pod_label=""), _down_tests(service, down.for_.seconds)))
    target = service.alerts["targetDown"]
    if target.enabled:
        out.append((alert_rule(
            target, "ServiceTargetDown",
            # When every target is down, ServiceDown says it once instead of one alert per pod.
            f"{_up(s)} == 0 unless on ({by}) ({all_down})",
            summary="{{ $labels.instance }} of %s is down" % service.name,
            description=("Prometheus could not scrape {{ $labels.instance }} (%s) of %s for %s. The pod is "
                         "unhealthy, overloaded or its /metrics endpoint fails."
                         % ("{{ $labels.%s }}" % s.app_pod_label, service.name, target.for_.text)),
            panel_key=TARGETS_PANEL, pod_label=service.selector.pod_label), _target_tests(service, target.for_.seconds)))
    absent = service.alerts["notScraped"]
    if absent.enabled:
        out.append((alert_rule(
            absent, "ServiceNotScraped", f"absent({_absent_selector(service)})",
            summary="%s is not scraped" % service.name,
            description=("Prometheus has had no scrape target for %s (job %s) for %s, so none of its alerts "
                         "can fire. Check the ServiceMonitor or scrape config and the job label."
                         % (service.name, service.selector.job, absent.for_.text)),
            panel_key=TARGETS_PANEL, pod_label=""), _absent_tests(service, absent.for_.seconds)))
    return out


def _down_tests(service: Service, for_s: float) -> tuple[RuleTest, ...]:
    a, b = example_pods(service, 2)
    m = int(for_s // 60)
    group = {k: v for k, v in a.app_labels().items() if k in ("job", service.selector.namespace_label)}
    return (
        rule_test("every target down fires", "1m",
                  [(a.app("up"), notation([1] * 5 + [0] * (m + 20))), (b.app("up"), notation([1] * 5 + [0] * (m + 20)))],
                  fires("ServiceDown", f"{m + 10}m", group, 0)),
        rule_test("a rolling deploy (one target down at a time) stays silent", "1m",
                  [(a.app("up"), notation([1] * 5 + [0] * 2 + [1] * (m + 20))),
                   (b.app("up"), notation([1] * 8 + [0] * 2 + [1] * (m + 20)))],
                  silent("ServiceDown", *[f"{t}m" for t in range(2, m + 20, 2)])),
    )


def _target_tests(service: Service, for_s: float) -> tuple[RuleTest, ...]:
    a, b = example_pods(service, 2)
    m = int(for_s // 60)
    return (
        rule_test("one target down for long fires for that target", "1m",
                  [(a.app("up"), notation([1] * 5 + [0] * (m + 20))), (b.app("up"), notation([1] * (m + 25)))],
                  fires("ServiceTargetDown", f"{m + 10}m", a.app_labels(), 0)),
        rule_test("every target down leaves it to ServiceDown", "1m",
                  [(a.app("up"), notation([1] * 5 + [0] * (m + 20))), (b.app("up"), notation([1] * 5 + [0] * (m + 20)))],
                  silent("ServiceTargetDown", f"{m + 10}m", f"{m + 20}m")),
    )


def _absent_tests(service: Service, for_s: float) -> tuple[RuleTest, ...]:
    a = example_pods(service)[0]
    m = int(for_s // 60)
    absent_labels = {mt.label: mt.value for mt in Scope(service, dashboard=False).app_matchers() if mt.op == "="}
    return (
        rule_test("no target at all fires", "1m",
                  [(a.app("up"), notation([1] * 5 + [None] * (m + 30)))],
                  fires("ServiceNotScraped", f"{m + 20}m", absent_labels, 1)),
        rule_test("targets present, even down, stay silent", "1m",
                  [(a.app("up"), notation([1] * 5 + [0] * (m + 30)))],
                  silent("ServiceNotScraped", f"{m + 10}m", f"{m + 30}m")),
    )


def signals(service: Service) -> DomainOutput:
    alerts = _alerts(service)
    return DomainOutput(
        rows=(Row("scrape", "Scrape health", _panels(service)),),
        headlines=_headlines(service),
        groups=(RuleGroup(f"{service.name}.scrape", tuple(rule for rule, _ in alerts)),) if alerts else (),
        tests=tuple(t for _, tests in alerts for t in tests),
    )
