"""Each target against its schema and against the tools that read it: the PrometheusRule CRD, SchemaStore's
rule file schema, promtool, Grafana's provisioning format, kustomize's resource list and Jsonnet itself."""
from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from pathlib import Path

import _jsonnet
import pytest
import yaml
from jsonschema import Draft7Validator

from gen.write import from_yaml, write_output
from gen.errors import ObsgenError
from gen.pipeline import compile_specs
from gen.spec.project import default_project
from gen.targets import configmap, mixin
from gen.targets.configmap import MAX_CONFIGMAP_BYTES
from gen.ir import Dashboard

CRD = "prometheus-operator-monitoring.coreos.com_prometheusrules.crd.yaml"
RE2_PATTERN = "^(?i)(abort|warn)?$"
# Kubernetes names: DNS subdomains; label keys and values as the API server checks them.
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                       r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
CONFIGMAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def _files(compiled, prefix: str) -> dict[str, bytes]:
    return {k: v for k, v in compiled.files.items() if k.startswith(prefix)}


def _re2_to_python(node, patched: list) -> None:
    """The CRD's one RE2-only pattern: RE2 accepts a flag group after '^', Python's re does not.
    `(?i)^(abort|warn)?$` means the same in both."""
    if isinstance(node, dict):
        if node.get("pattern") == RE2_PATTERN:
            node["pattern"] = "(?i)^(abort|warn)?$"
            patched.append(node)
        for value in node.values():
            _re2_to_python(value, patched)
    elif isinstance(node, list):
        for value in node:
            _re2_to_python(value, patched)


@pytest.fixture(scope="module")
def crd_schema(upstream) -> Draft7Validator:
    crd = yaml.safe_load((upstream / CRD).read_text())
    schema = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")["schema"]["openAPIV3Schema"]
    patched: list = []
    _re2_to_python(schema, patched)
    assert len(patched) == 1, "the CRD changed: revisit the RE2 pattern patch"
    return Draft7Validator(schema)


@pytest.fixture(scope="module")
def rules_schema(upstream) -> Draft7Validator:
    return Draft7Validator(json.loads((upstream / "schemastore-prometheus.rules.json").read_text()))


def _k8s_metadata_ok(resource: dict, kind: str, api_version: str) -> None:
    assert (resource["apiVersion"], resource["kind"]) == (api_version, kind)
    meta = resource["metadata"]
    assert DNS_SUBDOMAIN.match(meta["name"]) and len(meta["name"]) <= 253
    assert DNS_SUBDOMAIN.match(meta["namespace"])
    for key, value in meta["labels"].items():
        assert LABEL_KEY.match(key) and LABEL_VALUE.match(value) and len(value) <= 63, (key, value)
    for key, value in meta["annotations"].items():
        assert LABEL_KEY.match(key) and isinstance(value, str)
    assert list(resource)[:3] == ["apiVersion", "kind", "metadata"]


def test_prometheus_rules_validate_against_the_crd_and_the_strict_rule_schema(compiled, crd_schema, rules_schema):
    resources = _files(compiled, "kubernetes/prometheusrules/")
    assert len(resources) == len(compiled.services)
    for path, content in resources.items():
        resource = from_yaml(content)
        assert not list(crd_schema.iter_errors(resource)), path
        # The CRD lets unknown keys through (the API server prunes them); SchemaStore's schema does not.
        assert not list(rules_schema.iter_errors(resource["spec"])), path
        _k8s_metadata_ok(resource, "PrometheusRule", "monitoring.coreos.com/v1")
        assert resource["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_the_two_schemas_catch_what_they_should(compiled, crd_schema, rules_schema):
    resource = from_yaml(next(iter(_files(compiled, "kubernetes/prometheusrules/").values())))
    no_expr = json.loads(json.dumps(resource))
    del no_expr["spec"]["groups"][0]["rules"][0]["expr"]
    assert [e.validator for e in crd_schema.iter_errors(no_expr)] == ["required"]
    typo = json.loads(json.dumps(resource))
    typo["spec"]["groups"][0]["rules"][0]["anotations"] = {}
    assert not list(crd_schema.iter_errors(typo))  # the CRD lets it through ...
    assert list(rules_schema.iter_errors(typo["spec"]))  # ... SchemaStore's schema does not


def test_prometheus_rules_carry_exactly_the_plain_rule_groups(compiled):
    for out in compiled.services:
        name = out.service.name
        resource = from_yaml(compiled.files[f"kubernetes/prometheusrules/{name}.yaml"])
        assert resource["spec"] == from_yaml(compiled.files[f"rules/{name}.rules.yml"])
        assert resource["metadata"]["annotations"]["obsgen.dev/spec"] == out.service.source


def test_rule_groups_inside_the_crd_pass_promtool(compiled, promtool, tmp_path):
    paths = []
    for path, content in _files(compiled, "kubernetes/prometheusrules/").items():
        spec = tmp_path / Path(path).name
        spec.write_text(yaml.safe_dump(from_yaml(content)["spec"], sort_keys=False))
        paths.append(str(spec))
    result = subprocess.run([promtool, "check", "rules", *paths], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(paths)


def test_dashboard_configmaps_hold_the_dashboard_json_for_the_sidecar(compiled, repo):
    resources = _files(compiled, "kubernetes/grafana-dashboards/")
    assert len(resources) == len(compiled.services)
    for out in compiled.services:
        resource = from_yaml(resources[f"kubernetes/grafana-dashboards/{out.service.name}.yaml"])
        _k8s_metadata_ok(resource, "ConfigMap", "v1")
        assert resource["metadata"]["labels"]["grafana_dashboard"] == "1"  # a string, as labels must be
        assert resource["metadata"]["annotations"]["grafana_folder"] == compiled.project.folder(out.service.team)
        assert list(resource) == ["apiVersion", "kind", "metadata", "data"]
        (key, value), = resource["data"].items()
        assert CONFIGMAP_KEY.match(key) and key == f"{out.service.name}.json"
        assert json.loads(value) == out.dashboard.to_json_data()
        assert len(value.encode()) <= MAX_CONFIGMAP_BYTES
    assert compiled.project.folder("assessments") == "Assessments"


def _padded(out, size: int):
    """`out` with its dashboard padded so that its JSON is exactly `size` bytes."""
    body = out.dashboard.to_json_data()
    base = len(configmap.dashboard_json({**body, "description": ""}))
    return dataclasses.replace(out, dashboard=Dashboard.from_json({**body, "description": "x" * (size - base)}))


def test_a_dashboard_larger_than_a_configmap_holds_is_an_error(compiled):
    out = compiled.services[0]
    at_limit = configmap.config_map(compiled.project, _padded(out, MAX_CONFIGMAP_BYTES))
    assert len(next(iter(at_limit["data"].values())).encode()) == MAX_CONFIGMAP_BYTES
    with pytest.raises(ObsgenError) as info:
        configmap.config_map(compiled.project, _padded(out, MAX_CONFIGMAP_BYTES + 1))
    problem, = info.value.problems
    assert problem.file == out.service.source
    assert problem.message == (f"the dashboard of {out.service.name} is {MAX_CONFIGMAP_BYTES + 1} bytes, more than "
                               f"a ConfigMap holds ({MAX_CONFIGMAP_BYTES} bytes, 1 MiB)")


# Grafana's dashboard provider file, as its documentation describes it (there is no published JSON Schema).
PROVIDER_FILE = {
    "type": "object", "additionalProperties": False, "required": ["apiVersion", "providers"],
    "properties": {
        "apiVersion": {"const": 1},
        "providers": {"type": "array", "minItems": 1, "items": {
            "type": "object", "additionalProperties": False,
            "required": ["name", "type", "folder", "options"],
            "properties": {
                "name": {"type": "string", "minLength": 1}, "orgId": {"type": "integer", "minimum": 1},
                "folder": {"type": "string"}, "folderUid": {"type": "string", "maxLength": 40},
                "type": {"const": "file"}, "disableDeletion": {"type": "boolean"},
                "updateIntervalSeconds": {"type": "integer", "minimum": 1}, "allowUiUpdates": {"type": "boolean"},
                "options": {"type": "object", "additionalProperties": False, "required": ["path"],
                            "properties": {"path": {"type": "string", "pattern": "^/"},
                                           "foldersFromFilesStructure": {"type": "boolean"}}},
            }}},
    },
}


def test_provider_file_has_one_provider_per_folder_reading_that_folders_dashboards(compiled):
    provider_file = from_yaml(compiled.files["grafana/provisioning/dashboards/obsgen.yaml"])
    assert not list(Draft7Validator(PROVIDER_FILE).iter_errors(provider_file))
    providers = provider_file["providers"]
    assert len({p["name"] for p in providers}) == len(providers)
    mount = compiled.project.targets.grafana_provisioning.path
    seen = set()
    for provider in providers:
        directory = provider["options"]["path"].removeprefix(mount + "/")
        dashboards = {k for k in compiled.files if k.startswith(f"dashboards/{directory}/")}
        teams = {o.service.name: o.service.team for o in compiled.services}
        assert dashboards, f"provider {provider['name']} reads an empty directory"
        for path in dashboards:
            assert compiled.project.folder(teams[Path(path).stem]) == provider["folder"]
        seen |= dashboards
    assert seen == {k for k in compiled.files if k.startswith("dashboards/")}


def test_kustomization_lists_every_generated_kubernetes_resource(compiled):
    kustomization = from_yaml(compiled.files["kubernetes/kustomization.yaml"])
    assert (kustomization["apiVersion"], kustomization["kind"]) == ("kustomize.config.k8s.io/v1beta1",
                                                                    "Kustomization")
    resources = {k.removeprefix("kubernetes/") for k in _files(compiled, "kubernetes/")} - {"kustomization.yaml"}
    assert kustomization["resources"] == sorted(resources)
    for rel in resources:
        resource = from_yaml(compiled.files[f"kubernetes/{rel}"])
        assert resource["kind"] in ("PrometheusRule", "ConfigMap", "AlertmanagerConfig")


def _evaluate_mixin(compiled, tmp_path: Path, expression: str):
    for path, content in _files(compiled, "mixin/").items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    snippet = f"local m = import 'mixin.libsonnet'; {expression}"
    return json.loads(_jsonnet.evaluate_snippet(str(tmp_path / "mixin" / "main.jsonnet"), snippet))


def test_mixin_fields_are_the_generated_rules_and_dashboards(compiled, tmp_path):
    result = _evaluate_mixin(compiled, tmp_path, "{alerts: m.prometheusAlerts, rules: m.prometheusRules, "
                                                 "dashboards: m.grafanaDashboards}")
    alerts = {g["name"]: g for g in result["alerts"]["groups"]}
    records = {g["name"]: g for g in result["rules"]["groups"]}
    for out in compiled.services:
        assert result["dashboards"][f"{out.service.name}.json"] == out.dashboard.to_json_data()
        for group in out.rule_file.to_dict()["groups"]:
            joined = records.pop(group["name"] + mixin.RECORDING_SUFFIX, {"rules": []})["rules"] + \
                alerts.pop(group["name"], {"rules": []})["rules"]
            key = lambda r: (r.get("alert") or r.get("record"), r["expr"])  # noqa: E731
            assert sorted(joined, key=key) == sorted(group["rules"], key=key)
    assert not alerts and not records, "the mixin has groups no rule file has"
    assert len(result["dashboards"]) == len(compiled.services)


def test_mixin_fields_are_hidden_as_mixins_expect(compiled, tmp_path):
    assert _evaluate_mixin(compiled, tmp_path, "m") == {}


def test_mixin_rules_as_one_rule_file_pass_promtool(compiled, promtool, tmp_path):
    result = _evaluate_mixin(compiled, tmp_path, "{groups: m.prometheusAlerts.groups + m.prometheusRules.groups}")
    path = tmp_path / "mixin.rules.yml"
    path.write_text(yaml.safe_dump(result))
    check = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_every_file_says_it_is_generated_and_output_is_deterministic(compiled, repo):
    for path, content in compiled.files.items():
        if path.endswith(".json"):
            assert "Generated by obsgen" in json.loads(content)["description"]
        else:
            first = content.decode().splitlines()[0]
            assert first.startswith(("# Generated by obsgen from ", "// Generated by obsgen from ")), path
    assert compile_specs(repo / "specs", repo).files == compiled.files


def test_promtool_gate_covers_every_form_of_the_rules(compiled):
    assert set(compiled.promtool_files) == {
        *(k for k in compiled.files if k.startswith("rules/")),
        *(f"{k} (spec)" for k in compiled.files if k.startswith("kubernetes/prometheusrules/")),
        "mixin/mixin.libsonnet (alerts and rules)",
    }


def test_switching_targets_off_removes_their_files_from_out(compiled, repo, tmp_path):
    out = tmp_path / "out"
    write_output(out, compiled.files)
    assert (out / "kubernetes" / "kustomization.yaml").is_file()
    plain = compile_specs(repo / "specs", repo, dataclasses.replace(default_project(),
                                                                    jsonnet=compiled.project.jsonnet))
    changes = write_output(out, plain.files)
    assert not (out / "kubernetes").exists() and not (out / "mixin").exists() and not (out / "grafana").exists()
    assert set(changes.removed) == set(compiled.files) - set(plain.files)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == \
        sorted([*plain.files, ".obsgen-manifest.json"])
