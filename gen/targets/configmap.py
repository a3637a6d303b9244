"""Grafana dashboards as ConfigMaps for Grafana's dashboard sidecar: `kubernetes/grafana-dashboards/<service>.yaml`.

The sidecar (kube-prometheus-stack's Grafana) loads every ConfigMap carrying its
label, and with `folderAnnotation` set puts the dashboard in the folder the
annotation names.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from gen.targets.dashboard_files import dashboard_json
from gen.write import to_yaml
from gen.errors import ObsgenError, Problem
from gen.targets.emitted import Emitted
from gen.targets.kubernetes import DIRECTORY, manifest

if TYPE_CHECKING:
    from gen.ir import ServiceOutput
    from gen.spec.project import Project

SUBDIRECTORY = "grafana-dashboards"
# Kubernetes refuses a ConfigMap whose data is larger than this (core.MaxSecretSize).
MAX_CONFIGMAP_BYTES = 1024 * 1024


def resource_path(service_name: str) -> str:
    """Relative to the kubernetes directory, as the kustomization lists it."""
    return f"{SUBDIRECTORY}/{service_name}.yaml"


def config_map(project: Project, out: ServiceOutput) -> dict:
    target = project.targets.dashboard_config_map
    service = out.service
    key = f"{service.name}.json"
    dashboard = dashboard_json(out.dashboard.to_json_data()).decode()
    size = len(dashboard.encode())
    if size > MAX_CONFIGMAP_BYTES:
        raise ObsgenError([Problem(
            service.source, f"the dashboard of {service.name} is {size} bytes, more than a ConfigMap holds "
                            f"({MAX_CONFIGMAP_BYTES} bytes, 1 MiB)",
            hint="Kubernetes would refuse it; trim custom panels or disable targets.dashboardConfigMap and "
                 "provision the dashboard files instead")])
    return manifest("v1", "ConfigMap", f"{service.name}-dashboard", service, target.meta,
                    {"data": {key: dashboard}},
                    labels={target.sidecar_label: target.sidecar_label_value},
                    annotations={target.folder_annotation: project.folder(service.team)})


def emit(project: Project, outputs: Sequence[ServiceOutput]) -> Emitted:
    if not project.targets.dashboard_config_map.enabled:
        return Emitted()
    return Emitted({f"{DIRECTORY}/{resource_path(o.service.name)}": to_yaml(config_map(project, o), o.service.source)
                    for o in outputs})
