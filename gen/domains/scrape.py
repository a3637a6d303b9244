"""Scrape health: is Prometheus getting the service's metrics at all? Without them no other alert works."""
from __future__ import annotations

from gen.domains.alerts import (EVERY_OTHER_ALERT_OF_THE_SERVICE, SERVICE_DOWN, SERVICE_NOT_SCRAPED,
    SERVICE_TARGET_DOWN, AlertDefinition, Inhibition, Unsuperseded, alert_rule, build_alerts)
from gen.spec.model import AlertSettings, Service
from gen.promql.selectors import Scope, selector
from gen.ir import UNIT_COUNT, AlertRule, DomainOutput, Panel, Query, Row, RuleGroup, Threshold

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


def _all_down(s: Scope) -> str:
    return f"max by ({_service_group(s)}) ({_up(s)}) == 0"


def _service_down(service: Service, down: AlertSettings) -> tuple[AlertRule, ...]:
    s = Scope(service, dashboard=False)
    return (alert_rule(
        down, SERVICE_DOWN, _all_down(s),
        summary="%s is down: no target answers" % service.name,
        description=("None of the scrape targets of %s (job {{ $labels.job }}) has answered for %s. The "
                     "service is down or cannot be reached." % (service.name, down.for_.text)),
        panel_key=TARGETS_PANEL, pod_label=""),)


def _target_down(service: Service, target: AlertSettings) -> tuple[AlertRule, ...]:
    s = Scope(service, dashboard=False)
    return (alert_rule(
        target, SERVICE_TARGET_DOWN,
        # When every target is down, ServiceDown says it once instead of one alert per pod.
        f"{_up(s)} == 0 unless on ({_service_group(s)}) ({_all_down(s)})",
        summary="{{ $labels.instance }} of %s is down" % service.name,
        description=("Prometheus could not scrape {{ $labels.instance }} (%s) of %s for %s. The pod is "
                     "unhealthy, overloaded or its /metrics endpoint fails."
                     % ("{{ $labels.%s }}" % s.app_pod_label, service.name, target.for_.text)),
        panel_key=TARGETS_PANEL, pod_label=service.selector.pod_label),)


def _not_scraped(service: Service, absent: AlertSettings) -> tuple[AlertRule, ...]:
    return (alert_rule(
        absent, SERVICE_NOT_SCRAPED, f"absent({_absent_selector(service)})",
        summary="%s is not scraped" % service.name,
        description=("Prometheus has had no scrape target for %s (job %s) for %s, so none of its alerts "
                     "can fire. Check the ServiceMonitor or scrape config and the job label."
                     % (service.name, service.selector.job, absent.for_.text)),
        panel_key=TARGETS_PANEL, pod_label=""),)


ALERTS: tuple[AlertDefinition[Service], ...] = (
    AlertDefinition(SERVICE_DOWN, _service_down),
    AlertDefinition(SERVICE_TARGET_DOWN, _target_down),
    AlertDefinition(SERVICE_NOT_SCRAPED, _not_scraped),
)


def signals(service: Service) -> DomainOutput:
    rules = build_alerts(service, service.alerts.__getitem__, ALERTS)
    return DomainOutput(
        rows=(Row("scrape", "Scrape health", _panels(service)),),
        headlines=_headlines(service),
        groups=(RuleGroup(f"{service.name}.scrape", rules),) if rules else (),
    )


# ---- which alerts supersede which (Alertmanager inhibit rules; collected by gen.domains.inhibitions()) ----

INHIBITIONS: tuple[Inhibition, ...] = (
    Inhibition(SERVICE_DOWN, EVERY_OTHER_ALERT_OF_THE_SERVICE, ("service",),
               "the service is down: whatever else its alerts say is part of the outage"),
)
UNSUPERSEDED: tuple[Unsuperseded, ...] = (
    Unsuperseded(SERVICE_DOWN, "an outage is the widest incident obsgen knows"),
    Unsuperseded(SERVICE_TARGET_DOWN, "only ServiceDown (every target down) supersedes one target down"),
    Unsuperseded(SERVICE_NOT_SCRAPED, "monitoring is blind; it cannot fire together with the alerts it hides"),
)
