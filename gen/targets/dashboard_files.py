"""Grafana dashboard JSON files, `dashboards/<service>.json` or, per folder, `dashboards/<folder>/<service>.json`.

The folder layout exists for Grafana's file provider, which maps one directory to
one folder (see provisioning.py).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from gen.write import to_json
from gen.errors import ObsgenError, Problem
from gen.render.layout import slug
from gen.targets.emitted import Emitted

if TYPE_CHECKING:
    from gen.spec.model import Service
    from gen.ir import ServiceOutput
    from gen.spec.project import Project

DIRECTORY = "dashboards"


def folder_directories(project: Project, services: Sequence[Service]) -> dict[str, str]:
    """Directory name of each Grafana folder the services' dashboards go to; two folders may not share one."""
    directories: dict[str, str] = {}
    owner: dict[str, str] = {}
    for service in services:
        title = project.folder(service.team)
        directory = slug(title)
        if directory in owner and owner[directory] != title:
            raise ObsgenError([Problem(project.file or service.source,
                                       f"Grafana folders '{owner[directory]}' and '{title}' would share the "
                                       f"directory dashboards/{directory}",
                                       hint="give one of them another title in grafana.folders")])
        owner[directory] = title
        directories[title] = directory
    return directories


def dashboard_path(project: Project, service: Service, directories: dict[str, str]) -> str:
    if project.targets.dashboard_layout == "folders":
        return f"{DIRECTORY}/{directories[project.folder(service.team)]}/{service.name}.json"
    return f"{DIRECTORY}/{service.name}.json"


def emit(project: Project, outputs: Sequence[ServiceOutput]) -> Emitted:
    if not project.targets.dashboards:
        return Emitted()
    directories = folder_directories(project, [o.service for o in outputs])
    return Emitted({dashboard_path(project, o.service, directories): to_json(o.dashboard.to_json_data()) for o in outputs})
