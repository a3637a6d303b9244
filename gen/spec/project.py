"""The project file (`obsgen.yaml` at the repository root): which targets to emit and how.

It is read, validated and defaulted by the same machinery as specs: positions for
every key, the same one-line errors with did-you-mean hints, defaults from its
JSON Schema. Without a project file obsgen behaves as before it existed: plain
rule files, dashboards and rule tests.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from gen.errors import ObsgenError, Problem, quoted
from gen.spec.confine import Confinement, SizeLimit
from gen.spec.jsonnet import JsonnetSettings, Pairs
from gen.spec.documents import MAX_FILE_BYTES, Document, display_name, parse_yaml
from gen.spec.model import apply_defaults
from gen.spec.schema import (API_VERSION, DNS_LABEL, LABEL_NAME, RECEIVER_NAME, RECEIVER_OR_EMPTY, SEVERITIES,
                             TEAM, boolean, duration, integer, obj, string, walk_fields)
from gen.units import Duration, parse_duration
from gen.spec.validate import _suggest, format_checker, validate_document

PROJECT_FILE = "obsgen.yaml"
PROJECT_SIZE = SizeLimit(MAX_FILE_BYTES, "project files")
PROJECT_SCHEMA_ID = "https://obsgen.dev/schema/obsgen-project-v1.json"

# Kubernetes label and annotation keys: an optional DNS-subdomain prefix, then a name.
K8S_KEY = (r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
           r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
K8S_LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
# An absolute POSIX path without white space or quotes: it lands in YAML read by Grafana.
ABSOLUTE_PATH = r"^/[^\s\"'`$]*$"
LAYOUTS = ("flat", "folders")
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"

KEY_MEANING = {"x-meaning": "must be a Kubernetes label key: an optional DNS prefix and '/', then letters, digits, "
                            "'-', '_' and '.', starting and ending with a letter or digit"}
VALUE_MEANING = {"x-meaning": "must be a Kubernetes label value: at most 63 letters, digits, '-', '_' and '.', "
                              "starting and ending with a letter or digit"}


def _k8s_labels(description: str) -> dict:
    return {"type": "object", "description": description, "default": {},
            "propertyNames": {"pattern": K8S_KEY, "maxLength": 316, **KEY_MEANING},
            "additionalProperties": {"type": "string", "pattern": K8S_LABEL_VALUE, "maxLength": 63, **VALUE_MEANING}}


def _k8s_annotations(description: str) -> dict:
    return {"type": "object", "description": description, "default": {},
            "propertyNames": {"pattern": K8S_KEY, "maxLength": 316, **KEY_MEANING},
            "additionalProperties": {"type": "string"}}


def _string_map(description: str, key_pattern: str, key_meaning: str) -> dict:
    return {"type": "object", "description": description, "default": {},
            "propertyNames": {"pattern": key_pattern, "x-meaning": key_meaning},
            "additionalProperties": {"type": "string"}}


def _enabled(default: bool, what: str) -> dict:
    return boolean(f"Emit {what}.", default)


def _targets() -> dict:
    namespace = ("Namespace of the generated objects. Default `monitoring`, where kube-prometheus-stack usually "
                 "runs; by default its Prometheus reads PrometheusRules, and its Grafana sidecar dashboard "
                 "ConfigMaps (`searchNamespace: ALL`), from every namespace.")
    return obj(
        "What obsgen writes into out/. Without a project file: rules and dashboards.",
        {
            "rules": obj("Plain Prometheus rule files, `out/rules/<service>.rules.yml`.",
                         {"enabled": _enabled(True, "plain rule files")}),
            "ruleTests": obj("promtool unit tests of the alerts, `out/tests/<service>.test.yml`, committed for "
                             "review. Off by default: `obsgen test` generates the same tests in a temporary "
                             "folder and runs promtool on them whether or not they are committed. Needs `rules`.",
                             {"enabled": _enabled(False, "promtool rule tests")}),
            "dashboards": obj(
                "Grafana dashboard JSON files, for file provisioning or import.",
                {
                    "enabled": _enabled(True, "dashboard JSON files"),
                    "layout": {"type": "string", "enum": list(LAYOUTS), "default": "flat",
                               "description": "`flat`: `out/dashboards/<service>.json`. `folders`: "
                                              "`out/dashboards/<folder>/<service>.json`, one directory per Grafana "
                                              "folder, as Grafana's file provider needs (see grafanaProvisioning)."},
                },
            ),
            "prometheusRule": obj(
                "PrometheusRule custom resources (monitoring.coreos.com/v1) for the Prometheus Operator, "
                "`out/kubernetes/prometheusrules/<service>.yaml`.",
                {
                    "enabled": _enabled(False, "PrometheusRule resources"),
                    "namespace": string(namespace, "monitoring", DNS_LABEL, maxLength=63),
                    "labels": _k8s_labels("Labels of every PrometheusRule. Put the labels your Prometheus' "
                                          "`ruleSelector` matches here: kube-prometheus-stack selects "
                                          "`release: <its release name>` and ignores rules without it."),
                    "annotations": _k8s_annotations("Annotations of every PrometheusRule."),
                },
            ),
            "dashboardConfigMap": obj(
                "Grafana dashboards as ConfigMaps for Grafana's dashboard sidecar (kube-prometheus-stack), "
                "`out/kubernetes/grafana-dashboards/<service>.yaml`.",
                {
                    "enabled": _enabled(False, "dashboard ConfigMaps"),
                    "namespace": string(namespace, "monitoring", DNS_LABEL, maxLength=63),
                    "labels": _k8s_labels("Extra labels of every dashboard ConfigMap."),
                    "annotations": _k8s_annotations("Extra annotations of every dashboard ConfigMap."),
                    "sidecarLabel": string("Label the sidecar looks for (`sidecar.dashboards.label` in the "
                                           "Grafana chart). Default `grafana_dashboard`, the chart's.",
                                           "grafana_dashboard", K8S_KEY, **KEY_MEANING),
                    "sidecarLabelValue": string("Value of that label (`sidecar.dashboards.labelValue`). Default "
                                                "\"1\", as kube-prometheus-stack sets it.", "1", K8S_LABEL_VALUE,
                                                **VALUE_MEANING),
                    "folderAnnotation": string("Annotation that names the Grafana folder "
                                               "(`sidecar.dashboards.folderAnnotation`). Default `grafana_folder`.",
                                               "grafana_folder", K8S_KEY, **KEY_MEANING),
                },
            ),
            "grafanaProvisioning": obj(
                "A Grafana file-provisioning provider file, `out/grafana/provisioning/dashboards/obsgen.yaml`, "
                "with one provider per folder pointing at the dashboard files. Needs `dashboards` with "
                "`layout: folders`.",
                {
                    "enabled": _enabled(False, "the provider file"),
                    "path": string("Where Grafana sees `out/dashboards` (the directory you mount or copy it to). "
                                   "Each folder's provider reads `<path>/<folder>`.",
                                   "/var/lib/grafana/dashboards/obsgen", ABSOLUTE_PATH,
                                   **{"x-meaning": "must be an absolute path without spaces or quotes"}),
                    "orgId": integer("Grafana organisation the dashboards belong to.", 1, minimum=1),
                    "updateIntervalSeconds": integer("How often Grafana rereads the files.", 60, minimum=1),
                    "allowUiUpdates": boolean("Let people save changes from the UI. Default false: the next "
                                              "build would overwrite them; change the spec instead.", False),
                    "disableDeletion": boolean("Keep a dashboard in Grafana when its file is gone. Default false: "
                                               "removing a spec removes its dashboard.", False),
                },
            ),
            "kustomization": obj(
                "`out/kubernetes/kustomization.yaml` listing every generated Kubernetes resource, so Argo CD or "
                "Flux can apply `out/kubernetes` as it is. Needs prometheusRule or dashboardConfigMap.",
                {"enabled": _enabled(False, "the kustomization")},
            ),
            "alertmanager": obj(
                "An Alertmanager configuration, `out/alertmanager/alertmanager.yml`: the route tree of the "
                "`alerting` section and the inhibit rules of obsgen's alerts, with a name-only stub of each "
                "receiver (docs/alertmanager.md shows how to merge it with the config that defines them).",
                {"enabled": _enabled(False, "alertmanager.yml")},
            ),
            "alertmanagerConfig": obj(
                "AlertmanagerConfig resources (monitoring.coreos.com/v1alpha1) for the Prometheus Operator, one "
                "per namespace of the services, `out/kubernetes/alertmanagerconfigs/<namespace>.yaml`, in that "
                "namespace: the operator only routes alerts whose `namespace` label is the object's.",
                {
                    "enabled": _enabled(False, "AlertmanagerConfig resources"),
                    "name": string("Name of each AlertmanagerConfig.", "obsgen", DNS_LABEL, maxLength=63),
                    "labels": _k8s_labels("Labels of every AlertmanagerConfig. Put the labels your Alertmanager's "
                                          "`alertmanagerConfigSelector` matches here (kube-prometheus-stack "
                                          "selects none by default: set the selector in its values)."),
                    "annotations": _k8s_annotations("Annotations of every AlertmanagerConfig."),
                },
            ),
            "mixin": obj(
                "A Jsonnet monitoring mixin, `out/mixin/mixin.libsonnet`, exposing `prometheusAlerts`, "
                "`prometheusRules` and `grafanaDashboards` for kube-prometheus and jsonnet-bundler users.",
                {"enabled": _enabled(False, "the mixin")},
            ),
        },
    )


DISCARD_RECEIVER = "obsgen-discard"  # a receiver without configs: Alertmanager drops what reaches it
DEFAULT_GROUP_BY = ["alertname", "service", "namespace"]


def severity_receivers(description: str, nowhere: str) -> dict:
    """A receiver name per severity; empty means `nowhere`."""
    props = {}
    for sev in SEVERITIES:
        props[sev] = {"type": "string", "default": "", "description": f"Receiver of {sev} alerts. Default empty: "
                      f"{nowhere}.", "pattern": RECEIVER_OR_EMPTY, "maxLength": 100,
                      "x-meaning": "must be a receiver name: letters, digits, '-', '_', '.', '@' and '+'"}
    return obj(description, props)


def _alerting() -> dict:
    return obj(
        "Where alerts go (Alertmanager routing and inhibition; docs/alertmanager.md). obsgen holds no secrets: "
        "receivers are names, and your Alertmanager configuration defines them.",
        {
            "receivers": {"type": "array", "default": [], "uniqueItems": True,
                          "items": {"type": "string", "pattern": RECEIVER_NAME, "maxLength": 100,
                                    "x-meaning": "must be a receiver name: letters, digits, '-', '_', '.', '@' "
                                                 f"and '+' (and not {DISCARD_RECEIVER}, obsgen's own)"},
                          "description": "Names of the receivers routes may use, as your Alertmanager configuration "
                                         "defines them. obsgen adds `obsgen-discard`, which drops alerts."},
            "route": severity_receivers(
                "Receivers per severity of every team without its own and of services without a team: "
                "critical pages, warning opens a ticket, info goes nowhere.",
                "the alerts go nowhere (an error for critical and warning when an Alertmanager target is on)"),
            "teams": {"type": "object", "default": {},
                      "description": "Receivers per severity of one team (`metadata.team`), over `route`; a "
                                     "spec's `spec.routing` overrides its team's for that service.",
                      "propertyNames": {"pattern": TEAM, "x-meaning": "must be a team name, as in metadata.team"},
                      "additionalProperties": severity_receivers("Receivers of the team's alerts.",
                                                                 "as `alerting.route` says")},
            "groupBy": {"type": "array", "default": list(DEFAULT_GROUP_BY), "uniqueItems": True, "minItems": 1,
                        "items": {"type": "string", "pattern": r"^([a-zA-Z_][a-zA-Z0-9_]*|\.\.\.)$",
                                  "x-meaning": "must be a label name, or `...` (every label)"},
                        "description": "Labels that make one notification: alerts with the same values go "
                                       "together. Default `[alertname, service, namespace]`: one notification "
                                       "per alert and service, listing every pod or queue it fires for."},
            "groupWait": duration("How long a new group waits for more alerts before its first notification. "
                                  "Default 30s, Alertmanager's: the alerts of one incident arrive together, "
                                  "and an inhibiting alert in time to suppress the others.", "30s"),
            "groupInterval": duration("How long a group waits before notifying about alerts added to it. "
                                      "Default 5m, Alertmanager's.", "5m"),
            "repeatInterval": obj(
                "How often a notification that is still firing is sent again, per severity.",
                {
                    "critical": duration("Default 4h, Alertmanager's: a page not acted on comes back within "
                                         "a shift.", "4h"),
                    "warning": duration("Default 24h: a ticket is a reminder, not a new ticket every few hours.",
                                        "24h"),
                    "info": duration("Default 24h, when info alerts are routed at all.", "24h"),
                }),
            "inhibition": obj(
                "Inhibit rules generated from obsgen's alerts (which alert supersedes which).",
                {
                    "enabled": boolean("Emit the inhibit rules.", True),
                    "equal": {"type": "array", "default": [], "uniqueItems": True,
                              "items": {"type": "string", "pattern": LABEL_NAME},
                              "description": "Labels added to the `equal` list of every inhibit rule, for one "
                                             "Alertmanager that receives alerts from several Prometheus servers: "
                                             "their external labels (for example `cluster`), so an outage in one "
                                             "cluster does not suppress another's alerts. Default none."},
                }),
        },
    )


def project_schema() -> dict:
    """The project file's language. A fresh copy each call."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": PROJECT_SCHEMA_ID,
        "title": "obsgen project file",
        "description": "Which targets obsgen emits and their settings; `obsgen.yaml` at the repository root.",
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind"],
        "properties": {
            "apiVersion": {"const": API_VERSION, "description": "Project file version.", "default": API_VERSION},
            "kind": {"const": "Project", "description": "What the document describes.", "default": "Project"},
            "jsonnet": obj(
                "How `.jsonnet` specs are evaluated.",
                {
                    "libraryPaths": {"type": "array", "default": [], "uniqueItems": True,
                                     "items": {"type": "string", "minLength": 1, "pattern": r"^[^\0]+$"},
                                     "description": "Directories, relative to this file, that Jsonnet specs may "
                                                    "import from besides the specs directory itself."},
                    "extVars": _string_map("External string variables (`std.extVar`). "
                                           "`--ext-str KEY=VALUE` on the command line overrides them.",
                                           IDENTIFIER, "must be a Jsonnet identifier"),
                    "extCode": _string_map("External variables holding Jsonnet code. "
                                           "`--ext-code KEY=CODE` overrides them.", IDENTIFIER,
                                           "must be a Jsonnet identifier"),
                },
            ),
            "grafana": obj(
                "Where dashboards go in Grafana.",
                {
                    "folders": _string_map("Folder title per team (`metadata.team`). Default: the team's name.",
                                           r"^[A-Za-z0-9][A-Za-z0-9_.:/@+-]*$", "must be a team name, as in "
                                           "metadata.team"),
                    "defaultFolder": string("Folder of services without a team.", "obsgen", r"^\S(.*\S)?$",
                                            maxLength=100),
                },
            ),
            "alerting": _alerting(),
            "targets": _targets(),
        },
    }


# Documented in docs/alertmanager.md (alerting_reference_table), not in the README's table.
ALERTING_FIELDS = ("alerting", "targets.alertmanager", "targets.alertmanagerConfig")


def _alerting_field(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in ALERTING_FIELDS)


def reference_table(alerting: bool = False) -> str:
    """The project file's fields as a Markdown table, for the GitOps guide (a test keeps the guide in step).

    With `alerting`, only the Alertmanager fields, for docs/alertmanager.md; without, every other field."""
    lines = ["| field | default | meaning |", "|---|---|---|"]
    for path, sub in walk_fields(project_schema()):
        name = ".".join(path)
        if name in ("apiVersion", "kind") or _alerting_field(name) != alerting:
            continue
        section = sub.get("type") == "object" and "properties" in sub
        default = "" if section else f"`{json.dumps(sub.get('default'))}`"
        meaning = sub.get("description", "").replace("|", "\\|")
        lines.append(f"| `{name}` | {default} | {meaning} |")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class KubernetesMeta:
    namespace: str
    labels: Pairs
    annotations: Pairs


@dataclass(frozen=True)
class ConfigMapTarget:
    enabled: bool
    meta: KubernetesMeta
    sidecar_label: str
    sidecar_label_value: str
    folder_annotation: str


@dataclass(frozen=True)
class ProvisioningTarget:
    enabled: bool
    path: str
    org_id: int
    update_interval_seconds: int
    allow_ui_updates: bool
    disable_deletion: bool


@dataclass(frozen=True)
class AlertmanagerConfigTarget:
    enabled: bool
    name: str
    labels: Pairs
    annotations: Pairs


# Receiver per severity, as (severity, receiver name); an empty name: not set here.
SeverityReceivers = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class AlertingSettings:
    receivers: tuple[str, ...]
    route: SeverityReceivers
    teams: tuple[tuple[str, SeverityReceivers], ...]
    group_by: tuple[str, ...]
    group_wait: Duration
    group_interval: Duration
    repeat_interval: tuple[tuple[str, Duration], ...]
    inhibition: bool
    inhibition_equal: tuple[str, ...]

    def team(self, name: str) -> SeverityReceivers:
        return dict(self.teams).get(name, tuple((sev, "") for sev in SEVERITIES))


@dataclass(frozen=True)
class Targets:
    rules: bool
    rule_tests: bool
    dashboards: bool
    dashboard_layout: str
    prometheus_rule: bool
    prometheus_rule_meta: KubernetesMeta
    dashboard_config_map: ConfigMapTarget
    grafana_provisioning: ProvisioningTarget
    kustomization: bool
    mixin: bool
    alertmanager: bool = False
    alertmanager_config: AlertmanagerConfigTarget = AlertmanagerConfigTarget(False, "obsgen", (), ())


@dataclass(frozen=True)
class Project:
    file: str  # as named in errors; empty when there is no project file
    jsonnet: JsonnetSettings
    folders: Pairs
    default_folder: str
    targets: Targets
    # Every setting, defaults applied, as (dotted path, value): what `obsgen diff` compares.
    settings: tuple[tuple[str, Any], ...]
    alerting: AlertingSettings | None = None  # None: the defaults (default_project fills them in)
    # The project file as read, to point build-time problems (routing against the specs) at their line.
    document: Document | None = field(default=None, compare=False, repr=False)

    def folder(self, team: str) -> str:
        """The Grafana folder title of a team's dashboards."""
        if not team:
            return self.default_folder
        return dict(self.folders).get(team, team)


def _pairs(mapping: dict[str, str]) -> Pairs:
    return tuple(sorted(mapping.items()))


def _meta(data: dict) -> KubernetesMeta:
    return KubernetesMeta(data["namespace"], _pairs(data["labels"]), _pairs(data["annotations"]))


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        out = []
        for key, sub in value.items():
            out.extend(_flatten(sub, f"{prefix}.{key}" if prefix else key))
        return out
    return [(prefix, tuple(value) if isinstance(value, list) else value)]


def _severity_receivers(data: dict) -> SeverityReceivers:
    return tuple((sev, data.get(sev, "")) for sev in SEVERITIES)


def _alerting_model(a: dict) -> AlertingSettings:
    return AlertingSettings(
        receivers=tuple(a["receivers"]),
        route=_severity_receivers(a["route"]),
        teams=tuple(sorted((team, _severity_receivers(r)) for team, r in a["teams"].items())),
        group_by=tuple(a["groupBy"]),
        group_wait=parse_duration(a["groupWait"]),
        group_interval=parse_duration(a["groupInterval"]),
        repeat_interval=tuple((sev, parse_duration(a["repeatInterval"][sev])) for sev in SEVERITIES),
        inhibition=a["inhibition"]["enabled"],
        inhibition_equal=tuple(a["inhibition"]["equal"]),
    )


def _model(data: dict, file: str, root: Path, document: Document | None = None) -> Project:
    t = data["targets"]
    cm, prov = t["dashboardConfigMap"], t["grafanaProvisioning"]
    targets = Targets(
        rules=t["rules"]["enabled"],
        rule_tests=t["ruleTests"]["enabled"],
        dashboards=t["dashboards"]["enabled"],
        dashboard_layout=t["dashboards"]["layout"],
        prometheus_rule=t["prometheusRule"]["enabled"],
        prometheus_rule_meta=_meta(t["prometheusRule"]),
        dashboard_config_map=ConfigMapTarget(cm["enabled"], _meta(cm), cm["sidecarLabel"], cm["sidecarLabelValue"],
                                             cm["folderAnnotation"]),
        grafana_provisioning=ProvisioningTarget(prov["enabled"], prov["path"].rstrip("/") or "/", prov["orgId"],
                                                prov["updateIntervalSeconds"], prov["allowUiUpdates"],
                                                prov["disableDeletion"]),
        kustomization=t["kustomization"]["enabled"],
        mixin=t["mixin"]["enabled"],
        alertmanager=t["alertmanager"]["enabled"],
        alertmanager_config=AlertmanagerConfigTarget(t["alertmanagerConfig"]["enabled"], t["alertmanagerConfig"]["name"],
                                                     _pairs(t["alertmanagerConfig"]["labels"]),
                                                     _pairs(t["alertmanagerConfig"]["annotations"])),
    )
    j = data["jsonnet"]
    jsonnet = JsonnetSettings(tuple(root / p for p in j["libraryPaths"]), _pairs(j["extVars"]), _pairs(j["extCode"]))
    g = data["grafana"]
    settings = tuple((k, v) for k, v in _flatten(data) if k not in ("apiVersion", "kind"))
    return Project(file, jsonnet, _pairs(g["folders"]), g["defaultFolder"], targets, settings,
                   _alerting_model(data["alerting"]), document)


# Settings that only work together: (needs this, when this is on, message).
def _consistency(doc: Document, data: dict, root: Path, confinement: Confinement) -> list[Problem]:
    t = data["targets"]
    problems = []
    if t["ruleTests"]["enabled"] and not t["rules"]["enabled"]:
        # Point at what the user wrote: switching rules off, when rule tests are on by default.
        written = "ruleTests" in doc.data.get("targets", {})
        problems.append(doc.problem(("targets", "ruleTests" if written else "rules", "enabled"),
                                    "rule tests need the rule files they test",
                                    "enable targets.rules, or disable targets.ruleTests"))
    if t["grafanaProvisioning"]["enabled"]:
        dashboards = t["dashboards"]
        if not dashboards["enabled"] or dashboards["layout"] != "folders":
            problems.append(doc.problem(
                ("targets", "grafanaProvisioning", "enabled"),
                "the provider file needs the dashboard files in one directory per folder",
                "set targets.dashboards.layout: folders (Grafana's file provider takes a folder per directory)"))
    if t["kustomization"]["enabled"] and not (t["prometheusRule"]["enabled"] or t["dashboardConfigMap"]["enabled"]
                                              or t["alertmanagerConfig"]["enabled"]):
        problems.append(doc.problem(("targets", "kustomization", "enabled"),
                                    "the kustomization would list no resources",
                                    "enable targets.prometheusRule or targets.dashboardConfigMap"))
    for i, name in enumerate(data["alerting"]["receivers"]):
        if name == DISCARD_RECEIVER:
            problems.append(doc.problem(("alerting", "receivers", i), f"'{name}' is obsgen's own receiver, which "
                                        "drops alerts", "leave a severity's receiver empty to route it nowhere"))
    problems += _undeclared_receivers(doc, data["alerting"])
    for i, rel in enumerate(data["jsonnet"]["libraryPaths"]):
        where = ("jsonnet", "libraryPaths", i)
        if not confinement.contains(root / rel):
            # Imports are read from library paths: one outside the repository would open the machine to specs.
            outside = confinement.outside(root / rel, quoted_as=f"library path {quoted(rel)}")
            problems.append(doc.problem(where, outside.message, f"paths are relative to {doc.file}'s directory and "
                                        "must stay inside the repository"))
        elif not (root / rel).is_dir():
            problems.append(doc.problem(where, f"library path {quoted(rel)} is not a directory",
                                        f"paths are relative to {doc.file}'s directory"))
    return problems


def _undeclared_receivers(doc: Document, alerting: dict) -> list[Problem]:
    declared = alerting["receivers"]
    routes = [(("alerting", "route"), alerting["route"])]
    routes += [(("alerting", "teams", team), r) for team, r in alerting["teams"].items()]
    problems = []
    for path, receivers in routes:
        for sev in SEVERITIES:
            name = receivers.get(sev, "")
            if name and name not in declared:
                problems.append(doc.problem(path + (sev,), f"receiver '{name}' is not declared",
                                            undeclared_hint(name, declared)))
    return problems


def undeclared_hint(name: str, declared: list[str] | tuple[str, ...]) -> str:
    guess = _suggest(name, declared)
    if guess:
        return f"did you mean '{guess}'? Or add '{name}' to alerting.receivers"
    return f"add '{name}' to alerting.receivers in {PROJECT_FILE}, next to the receivers your Alertmanager defines"


def default_project() -> Project:
    """What obsgen does without a project file."""
    data = apply_defaults(project_schema(), {"apiVersion": API_VERSION, "kind": "Project"}, {})
    return _model(data, "", Path("."))


def load_project(path: Path, base: Path) -> Project:
    """The project file at `path`, validated and defaulted; the defaults when there is none."""
    if not os.path.lexists(path):  # a dangling link is not "no project file": reading it says what is wrong
        return default_project()
    name = display_name(path, base)
    confinement = Confinement.for_input(path, base)
    documents = parse_yaml(name, confinement.read(path, PROJECT_SIZE))
    if len(documents) != 1:
        found = "no document" if not documents else f"{len(documents)} documents"
        raise ObsgenError([Problem(name, f"a project file holds exactly one document, found {found}",
                                   hint="start it with 'apiVersion: obsgen/v1' and 'kind: Project'")])
    doc = documents[0]
    if not isinstance(doc.data, dict):
        raise ObsgenError([doc.problem((), "a project file must be a mapping",
                                       "start it with 'apiVersion: obsgen/v1' and 'kind: Project'")])
    validator = Draft202012Validator(project_schema(), format_checker=format_checker())
    problems = validate_document(doc, validator)
    if problems:
        raise ObsgenError(problems)
    root = path.resolve().parent
    data = apply_defaults(project_schema(), doc.data, {})
    problems = _consistency(doc, data, root, confinement)
    if problems:
        raise ObsgenError(problems)
    return _model(data, name, root, doc)
