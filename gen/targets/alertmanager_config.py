"""AlertmanagerConfig resources (monitoring.coreos.com/v1alpha1) for the Prometheus Operator:
`kubernetes/alertmanagerconfigs/<namespace>.yaml`, one per namespace of the services, in that namespace.

The operator scopes an AlertmanagerConfig to the alerts whose `namespace` label is the object's own (its
default `alertmanagerConfigMatcherStrategy`, OnNamespace), on the route and on both sides of every inhibit
rule. So one object per namespace routes exactly the alerts of the services there. Receivers are name-only
stubs, as in alertmanager.yml; docs/alertmanager.md shows how to give them configs from Secrets.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from gen.render.alertmanager import inhibit_rule_crd, inhibit_rules, obsgen_route, route_crd, used_receivers
from gen.spec.project import DISCARD_RECEIVER
from gen.targets.emitted import Emitted
from gen.targets.kubernetes import DIRECTORY, MANAGED_BY, SOURCE_ANNOTATION, kubernetes_object
from gen.write import to_yaml

if TYPE_CHECKING:
    from gen.ir import ServiceOutput
    from gen.spec.project import Project

API_VERSION = "monitoring.coreos.com/v1alpha1"
KIND = "AlertmanagerConfig"
SUBDIRECTORY = "alertmanagerconfigs"


def resource_path(namespace: str) -> str:
    """Relative to the kubernetes directory, as the kustomization lists it."""
    return f"{SUBDIRECTORY}/{namespace}.yaml"


def namespaces(outputs: Sequence[ServiceOutput]) -> list[str]:
    return sorted({out.service.namespace for out in outputs})


def alertmanager_config(project: Project, outputs: Sequence[ServiceOutput], namespace: str) -> dict:
    services = [out.service for out in outputs if out.service.namespace == namespace]
    target = project.targets.alertmanager_config
    subtree = obsgen_route(project, services)
    sources = ", ".join(sorted(s.source for s in services))
    spec: dict = {"route": route_crd(subtree, project),
                  "receivers": [{"name": n} for n in sorted(used_receivers(subtree) | {DISCARD_RECEIVER})]}
    rules = [inhibit_rule_crd(r) for r in inhibit_rules(project)]
    if rules:
        spec["inhibitRules"] = rules
    return kubernetes_object(API_VERSION, KIND, target.name, namespace, {**MANAGED_BY, **dict(target.labels)},
                             {SOURCE_ANNOTATION: sources, **dict(target.annotations)}, {"spec": spec})


def emit(project: Project, outputs: Sequence[ServiceOutput]) -> Emitted:
    if not project.targets.alertmanager_config.enabled:
        return Emitted()
    files = {}
    for namespace in namespaces(outputs):
        # Routing comes from the project file's alerting section as much as from the specs.
        sources = ([project.file] if project.file else []) + \
            sorted(out.service.source for out in outputs if out.service.namespace == namespace)
        files[f"{DIRECTORY}/{resource_path(namespace)}"] = to_yaml(alertmanager_config(project, outputs, namespace),
                                                                   ", ".join(sources))
    return Emitted(files)
