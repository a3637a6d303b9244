"""Render rule groups into a Prometheus rule file.

Alerts get their routing labels, runbook and dashboard links here, in one place,
so every domain's alerts look the same to the people they page.
"""
from __future__ import annotations

from dataclasses import dataclass

from gen.render import templates
from gen.render.layout import dashboard_uid, panel_id, slug
from gen.spec.model import Service
from gen.promql.selectors import layout
from gen.ir import AlertRule, DomainOutput, RecordingRule, RenderedAlert, RuleFile, RuleGroup


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
