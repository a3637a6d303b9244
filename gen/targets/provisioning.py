"""A Grafana file-provisioning provider file: `grafana/provisioning/dashboards/obsgen.yaml`.

Grafana's file provider puts every dashboard under one path into one folder, so
there is a provider per folder, each reading its own directory of the dashboard
files (`targets.dashboards.layout: folders`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from gen.write import to_yaml
from gen.render.layout import dashboard_uid
from gen.targets.dashboard_files import folder_directories
from gen.targets.emitted import Emitted

if TYPE_CHECKING:
    from gen.ir import ServiceOutput
    from gen.spec.project import Project

PATH = "grafana/provisioning/dashboards/obsgen.yaml"


def provider_file(project: Project, outputs: Sequence[ServiceOutput]) -> dict:
    settings = project.targets.grafana_provisioning
    directories = folder_directories(project, [o.service for o in outputs])
    providers = []
    for title, directory in sorted(directories.items(), key=lambda item: item[1]):
        providers.append({
            "name": f"obsgen-{directory}",
            "orgId": settings.org_id,
            "folder": title,
            "folderUid": dashboard_uid(f"obsgen-{directory}"),
            "type": "file",
            "disableDeletion": settings.disable_deletion,
            "allowUiUpdates": settings.allow_ui_updates,
            "updateIntervalSeconds": settings.update_interval_seconds,
            "options": {"path": f"{settings.path}/{directory}", "foldersFromFilesStructure": False},
        })
    return {"apiVersion": 1, "providers": providers}


def emit(project: Project, outputs: Sequence[ServiceOutput]) -> Emitted:
    if not project.targets.grafana_provisioning.enabled:
        return Emitted()
    return Emitted({PATH: to_yaml(provider_file(project, outputs), project.file or "the specs")})
