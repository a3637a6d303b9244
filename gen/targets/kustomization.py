"""`kubernetes/kustomization.yaml`: every generated Kubernetes resource, so Argo CD or Flux can apply the
directory as it is."""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from gen.write import to_yaml
from gen.targets import alertmanager_config, configmap, prometheus_rule
from gen.targets.emitted import Emitted
from gen.targets.kubernetes import DIRECTORY

if TYPE_CHECKING:
    from gen.ir import ServiceOutput
    from gen.spec.project import Project

PATH = f"{DIRECTORY}/kustomization.yaml"


def kustomization(project: Project, outputs: Sequence[ServiceOutput]) -> dict:
    resources = []
    for out in outputs:
        if project.targets.prometheus_rule:
            resources.append(prometheus_rule.resource_path(out.service.name))
        if project.targets.dashboard_config_map.enabled:
            resources.append(configmap.resource_path(out.service.name))
    if project.targets.alertmanager_config.enabled:
        resources += [alertmanager_config.resource_path(ns) for ns in alertmanager_config.namespaces(outputs)]
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "resources": sorted(resources)}


def emit(project: Project, outputs: Sequence[ServiceOutput]) -> Emitted:
    if not project.targets.kustomization:
        return Emitted()
    return Emitted({PATH: to_yaml(kustomization(project, outputs), project.file or "the specs")})
