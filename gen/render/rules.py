"""Render rule groups into a Prometheus rule file, and rule tests into a promtool test file.

Alerts get their routing labels, runbook and dashboard links here, in one place,
so every domain's alerts look the same to the people they page.
"""
from __future__ import annotations

from dataclasses import dataclass

from gen.render import templates
from gen.domains.alerts import TEST_EVALUATION_INTERVAL
from gen.render.layout import dashboard_uid, panel_id, slug
from gen.spec.model import Service
from gen.promql.selectors import layout
from gen.ir import (AlertCheck, AlertRule, DomainOutput, RecordingRule, RenderedAlert, RuleFile, RuleGroup,
    RuleTest)


@dataclass(frozen=True)
class AlertContext:
    """What an alert needs to know about its service to label and link itself."""

    service: Service

    def labels(self, alert: AlertRule) -> dict[str, str]:
        labels = {"severity": alert.severity, "service": self.service.name}
        if self.service.team:
            labels["team"] = self.service.team
        labels.update(dict(self.service.alerts.labels))
        labels.update(dict(alert.labels))
        return labels

    def dashboard_url(self, alert: AlertRule) -> str:
        svc = self.service
        url = (f"{svc.dashboard.grafana_url}/d/{dashboard_uid(svc.name)}/{slug(svc.dashboard.title)}"
               f"?viewPanel={panel_id(alert.panel_key)}&var-namespace={svc.namespace}")
        if alert.pod_label:
            url += "&var-pod={{ $labels.%s }}" % alert.pod_label
        return url

    def annotations(self, alert: AlertRule) -> dict[str, str]:
        base = self.service.alerts.runbook_base_url.rstrip("/")
        annotations = {
            "summary": alert.summary,
            "description": alert.description,
            "runbook_url": f"{base}/{alert.name}",
            "dashboard_url": self.dashboard_url(alert),
        }
        for text in annotations.values():
            templates.check(text)
        return annotations


def _rule(rule: RecordingRule | AlertRule, ctx: AlertContext) -> RecordingRule | RenderedAlert:
    if isinstance(rule, RecordingRule):
        return RecordingRule(rule.record, layout(rule.expr), rule.labels)
    return RenderedAlert(rule.name, layout(rule.expr), rule.for_.text, tuple(sorted(ctx.labels(rule).items())),
                         tuple(sorted(ctx.annotations(rule).items())))


def _group(group: RuleGroup, ctx: AlertContext) -> RuleGroup:
    return RuleGroup(group.name, tuple(_rule(r, ctx) for r in group.rules), group.interval)  # type: ignore[arg-type]


def rule_groups(service: Service, domains: list[DomainOutput]) -> list[RuleGroup]:
    return [group for d in domains for group in d.groups]


def build_rule_file(service: Service, domains: list[DomainOutput]) -> RuleFile:
    ctx = AlertContext(service)
    return RuleFile(tuple(_group(g, ctx) for g in rule_groups(service, domains)))


def alert_rules(service: Service, domains: list[DomainOutput]) -> list[AlertRule]:
    return [r for g in rule_groups(service, domains) for r in g.rules if isinstance(r, AlertRule)]


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


def build_test_file(service: Service, domains: list[DomainOutput], rule_file: str) -> dict:
    ctx = AlertContext(service)
    alerts = alert_rules(service, domains)
    tests = [t for d in domains for t in d.tests]
    return {
        "rule_files": [rule_file],
        "evaluation_interval": TEST_EVALUATION_INTERVAL.text,
        # promtool would otherwise order groups by name; recorded series must be written before they are read.
        "group_eval_order": [g.name for g in rule_groups(service, domains)],
        "tests": [_test(t, alerts, ctx) for t in tests],
    }
