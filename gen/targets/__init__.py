"""Stage 6a: targets turn compiled services into output files, one module per kind of output.

A target only adds entries to the in-memory `files` mapping; `emit` remains the
one place that writes, so removing a spec or switching a target off removes its
files through the manifest like any other stale output.
"""
from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Callable, Sequence

from gen.targets import (alertmanager, alertmanager_config, configmap, dashboard_files, kustomization, mixin,
                         prometheus_rule, provisioning, rule_files)
from gen.targets.emitted import Emitted

if TYPE_CHECKING:
    from gen.ir import ServiceOutput
    from gen.spec.project import Project, Targets


# Each module: `emit(project, outputs) -> Emitted`, empty when the project switches it off.
TARGETS: tuple[ModuleType, ...] = (rule_files, dashboard_files, prometheus_rule, configmap, provisioning,
                                   kustomization, mixin, alertmanager, alertmanager_config)


# Where each target writes in out/, and whether the project turns it on: what `check` names when a file
# of a target that was switched off is still there (build removes it through the manifest).
OWNED_PATHS: tuple[tuple[str, str, Callable[[Targets], bool]], ...] = (
    ("tests/", "targets.ruleTests", lambda t: t.rules and t.rule_tests),
    ("rules/", "targets.rules", lambda t: t.rules),
    ("dashboards/", "targets.dashboards", lambda t: t.dashboards),
    ("kubernetes/prometheusrules/", "targets.prometheusRule", lambda t: t.prometheus_rule),
    ("kubernetes/grafana-dashboards/", "targets.dashboardConfigMap", lambda t: t.dashboard_config_map.enabled),
    ("kubernetes/alertmanagerconfigs/", "targets.alertmanagerConfig", lambda t: t.alertmanager_config.enabled),
    ("kubernetes/kustomization.yaml", "targets.kustomization", lambda t: t.kustomization),
    ("grafana/", "targets.grafanaProvisioning", lambda t: t.grafana_provisioning.enabled),
    ("mixin/", "targets.mixin", lambda t: t.mixin),
    ("alertmanager/", "targets.alertmanager", lambda t: t.alertmanager),
)


def stale_reason(project: Project, rel: str) -> str:
    """Why a file obsgen generated before is no longer generated: its target is off, or its spec is gone."""
    for prefix, setting, enabled in OWNED_PATHS:
        if rel.startswith(prefix) and not enabled(project.targets):
            return f"stale: {setting} is off (`obsgen build` removes it)"
    return "stale: its spec is gone"


def emit_targets(project: Project, outputs: Sequence[ServiceOutput]) -> Emitted:
    files: dict[str, bytes] = {}
    promtool: dict[str, bytes] = {}
    for target in TARGETS:
        emitted = target.emit(project, outputs)
        clash = set(files) & set(emitted.files)
        if clash:
            raise AssertionError(f"targets write the same path: {sorted(clash)}")
        files.update(emitted.files)
        promtool.update(emitted.promtool)
    return Emitted(files, promtool)


__all__ = ["Emitted", "OWNED_PATHS", "TARGETS", "emit_targets", "stale_reason"]
