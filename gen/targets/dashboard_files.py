"""Grafana dashboard JSON files, `dashboards/<service>.json` or, per folder, `dashboards/<folder>/<service>.json`.

The folder layout exists for Grafana's file provider, which maps one directory to
one folder (see provisioning.py).
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Sequence

from gen.errors import ObsgenError, Problem
from gen.render.layout import slug
from gen.targets.emitted import Emitted

if TYPE_CHECKING:
    from gen.spec.model import Service
    from gen.ir import ServiceOutput
    from gen.spec.project import Project

DIRECTORY = "dashboards"


def _line(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def dashboard_json(data: dict[str, Any]) -> bytes:
    """A dashboard as compact JSON that still diffs line by line: one line per top-level key, one per panel.

    Indented JSON spent half its bytes on indentation and spread a panel over 100 lines; here a
    change to a panel (a threshold, a query) is a change to that panel's line and nothing else.
    """
    lines = []
    for key in sorted(data):
        if key == "panels":
            panels = ",\n".join(f"    {_line(p)}" for p in data[key])
            lines.append(f'  "panels": [\n{panels}\n  ]' if panels else '  "panels": []')
        else:
            lines.append(f"  {_line(key)}: {_line(data[key])}")
    return ("{\n" + ",\n".join(lines) + "\n}\n").encode()


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
    return Emitted({dashboard_path(project, o.service, directories): dashboard_json(o.dashboard.to_json_data()) for o in outputs})
