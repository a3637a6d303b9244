"""PrometheusRule custom resources for the Prometheus Operator: `kubernetes/prometheusrules/<service>.yaml`.

The rule groups are the same as in the plain rule file. The Prometheus Operator
only loads rules whose labels its Prometheus' `ruleSelector` matches, so the
project's labels (for kube-prometheus-stack, `release: <release name>`) go on every
object.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from gen.write import to_yaml
from gen.targets.emitted import Emitted
from gen.targets.kubernetes import DIRECTORY, manifest

if TYPE_CHECKING:
    from gen.ir import ServiceOutput
    from gen.spec.project import Project

API_VERSION = "monitoring.coreos.com/v1"
KIND = "PrometheusRule"
SUBDIRECTORY = "prometheusrules"


def resource_path(service_name: str) -> str:
    """Relative to the kubernetes directory, as the kustomization lists it."""
    return f"{SUBDIRECTORY}/{service_name}.yaml"


def prometheus_rule(project: Project, out: ServiceOutput) -> dict:
    return manifest(API_VERSION, KIND, out.service.name, out.service, project.targets.prometheus_rule_meta,
                    {"spec": out.rule_file.to_dict()})


def emit(project: Project, outputs: Sequence[ServiceOutput]) -> Emitted:
    if not project.targets.prometheus_rule:
        return Emitted()
    files, promtool = {}, {}
    for out in outputs:
        path = f"{DIRECTORY}/{resource_path(out.service.name)}"
        resource = prometheus_rule(project, out)
        files[path] = to_yaml(resource, out.service.source)
        # What the operator hands Prometheus is the spec: promtool checks exactly that.
        promtool[f"{path} (spec)"] = to_yaml(resource["spec"], out.service.source)
    return Emitted(files, promtool)
