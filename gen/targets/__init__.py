"""Stage 6a: targets turn compiled services into output files, one module per kind of output.

A target only adds entries to the in-memory `files` mapping; `emit` remains the
one place that writes, so removing a spec or switching a target off removes its
files through the manifest like any other stale output.
"""
from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Sequence

from gen.targets import (alertmanager, alertmanager_config, configmap, dashboard_files, kustomization, mixin,
                         prometheus_rule, provisioning, rule_files)
from gen.targets.emitted import Emitted

if TYPE_CHECKING:
    from gen.ir import ServiceOutput
    from gen.spec.project import Project


# Each module: `emit(project, outputs) -> Emitted`, empty when the project switches it off.
TARGETS: tuple[ModuleType, ...] = (rule_files, dashboard_files, prometheus_rule, configmap, provisioning,
                                   kustomization, mixin, alertmanager, alertmanager_config)


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


__all__ = ["Emitted", "TARGETS", "emit_targets"]
