"""`alertmanager/alertmanager.yml`: obsgen's route subtree and inhibit rules, as a complete Alertmanager
configuration that `amtool check-config` accepts.

obsgen holds no secrets, so each receiver is a stub with its name only (Alertmanager drops what reaches a
receiver without configs). docs/alertmanager.md shows how to merge the file with the configuration that
defines the receivers: take `route.routes` and `inhibit_rules` from here, the receivers from yours.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from gen.render.alertmanager import inhibit_rule_yaml, inhibit_rules, obsgen_route, route_yaml, used_receivers
from gen.spec.project import DISCARD_RECEIVER
from gen.targets.emitted import Emitted
from gen.write import to_yaml

if TYPE_CHECKING:
    from gen.ir import ServiceOutput
    from gen.spec.project import Project

PATH = "alertmanager/alertmanager.yml"


def config(project: Project, outputs: Sequence[ServiceOutput]) -> dict:
    services = [out.service for out in outputs]
    subtree = obsgen_route(project, services)
    a = project.alerting
    root = {"receiver": DISCARD_RECEIVER, "group_by": list(a.group_by), "group_wait": a.group_wait.text,
            "group_interval": a.group_interval.text,
            "repeat_interval": dict(a.repeat_interval)["critical"].text,
            "routes": [route_yaml(subtree, project)]}
    receivers = sorted(used_receivers(subtree) | set(a.receivers) | {DISCARD_RECEIVER})
    out = {"route": root, "inhibit_rules": [inhibit_rule_yaml(r) for r in inhibit_rules(project)],
           "receivers": [{"name": name} for name in receivers]}
    if not out["inhibit_rules"]:
        del out["inhibit_rules"]
    return out


def emit(project: Project, outputs: Sequence[ServiceOutput]) -> Emitted:
    if not project.targets.alertmanager or not outputs:
        return Emitted()
    source = f"{project.file} and the specs" if project.file else "the specs"
    return Emitted({PATH: to_yaml(config(project, outputs), source)})
