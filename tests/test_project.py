"""The project file: defaults without it, the example's settings, and errors as good as the specs' errors."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from gen.errors import ObsgenError
from gen.spec.project import default_project, load_project, project_schema, reference_table
from gen.spec.schema import walk_fields
from tests.conftest import run_obsgen

MINIMAL = "apiVersion: obsgen/v1\nkind: Project\n"


def _load(tmp_path: Path, text: str):
    path = tmp_path / "obsgen.yaml"
    path.write_text(text)
    return load_project(path, tmp_path)


def _errors(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ObsgenError) as info:
        _load(tmp_path, text)
    return [p.format() for p in info.value.problems]


def test_without_a_project_file_obsgen_emits_rules_and_dashboards(tmp_path):
    # Rule tests are opt-in (issue 10): `obsgen test` generates them whether or not they are committed.
    project = load_project(tmp_path / "obsgen.yaml", tmp_path)
    t = project.targets
    assert (t.rules, t.rule_tests, t.dashboards, t.dashboard_layout) == (True, False, True, "flat")
    assert not (t.prometheus_rule or t.dashboard_config_map.enabled or t.grafana_provisioning.enabled
                or t.kustomization or t.mixin)
    assert project == default_project()


def test_a_minimal_project_file_means_the_defaults(tmp_path):
    project = _load(tmp_path, MINIMAL)
    assert project.targets == default_project().targets
    assert project.file == "obsgen.yaml"


def test_the_example_project_enables_every_target_but_committed_proofs_with_the_kube_prometheus_stack_selector(
        repo):
    project = load_project(repo / "obsgen.yaml", repo)
    t = project.targets
    assert not t.rule_tests  # `obsgen test` proves the alerts in CI without committing their series
    assert t.rules and t.dashboards and t.prometheus_rule and t.dashboard_config_map.enabled
    assert t.grafana_provisioning.enabled and t.kustomization and t.mixin
    assert ("release", "kube-prometheus-stack") in t.prometheus_rule_meta.labels
    assert dict(project.jsonnet.ext_vars) == {"env": "production"}


def test_unknown_key_names_file_line_and_a_suggestion(tmp_path):
    errors = _errors(tmp_path, MINIMAL + "targets:\n  prometheusRules:\n    enabled: true\n")
    assert errors == ["obsgen.yaml:4:3: targets.prometheusRules: unknown key 'prometheusRules' "
                      "(did you mean 'prometheusRule'?)"]


def test_kubernetes_label_keys_and_values_are_checked_in_words(tmp_path):
    errors = _errors(tmp_path, MINIMAL + "targets:\n  prometheusRule:\n    labels:\n      'bad key!': x\n"
                                         "      release: 'not ok'\n")
    assert errors[0].startswith("obsgen.yaml:6:7: targets.prometheusRule.labels.bad key!: 'bad key!' must be a "
                                "Kubernetes label key")
    assert errors[1].startswith("obsgen.yaml:7:16: targets.prometheusRule.labels.release: 'not ok' must be a "
                                "Kubernetes label value")


def test_wrong_types_and_enums_read_like_spec_errors(tmp_path):
    errors = _errors(tmp_path, MINIMAL + "targets:\n  mixin:\n    enabled: yes please\n  dashboards:\n"
                                         "    layout: folder\n")
    assert "obsgen.yaml:5:14: targets.mixin.enabled: expected true/false, got a string ('yes please')" in errors
    assert ("obsgen.yaml:7:13: targets.dashboards.layout: 'folder' is not one of: flat, folders "
            "(did you mean 'folders'?)") in errors


@pytest.mark.parametrize("settings, where, message", [
    ("targets:\n  grafanaProvisioning:\n    enabled: true\n", "obsgen.yaml:5:14",
     "the provider file needs the dashboard files in one directory per folder"),
    ("targets:\n  kustomization:\n    enabled: true\n", "obsgen.yaml:5:14",
     "the kustomization would list no resources"),
    ("targets:\n  ruleTests:\n    enabled: true\n  rules:\n    enabled: false\n", "obsgen.yaml:5:14",
     "rule tests need the rule files they test"),
    ("jsonnet:\n  libraryPaths: [vendor]\n", "obsgen.yaml:4:18", "library path 'vendor' is not a directory"),
])
def test_settings_that_only_work_together_are_checked(tmp_path, settings, where, message):
    errors = _errors(tmp_path, MINIMAL + settings)
    assert len(errors) == 1
    assert errors[0].startswith(where) and message in errors[0]


def test_a_project_file_holds_one_document(tmp_path):
    assert _errors(tmp_path, MINIMAL + "---\n" + MINIMAL) == [
        "obsgen.yaml: a project file holds exactly one document, found 2 documents (start it with "
        "'apiVersion: obsgen/v1' and 'kind: Project')"]


def test_bad_project_file_fails_the_cli_with_one_line_and_exit_1(repo, tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "a.yaml").write_text((repo / "specs" / "submission-api.yaml").read_text())
    (tmp_path / "obsgen.yaml").write_text(MINIMAL + "target: {}\n")
    result = run_obsgen("build", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "error: obsgen.yaml:3:1: target: unknown key 'target' (did you mean 'targets'?)\n"
    assert not (tmp_path / "out").exists()


def test_every_project_field_is_documented_in_the_gitops_guide(repo):
    guide = (repo / "docs" / "reference.md").read_text()
    table = reference_table()
    assert table in guide, "docs/reference.md: paste gen.project.reference_table() into the project file reference"
    alerting = reference_table(alerting=True)
    assert alerting in (repo / "docs" / "alertmanager.md").read_text(), \
        "docs/alertmanager.md: paste gen.spec.project.reference_table(alerting=True) into its reference"
    fields = {".".join(path) for path, _ in walk_fields(project_schema())} - {"apiVersion", "kind"}
    documented = table.splitlines()[2:] + alerting.splitlines()[2:]
    assert {re.match(r"\| `([^`]+)`", line).group(1) for line in documented} == fields


def test_project_schema_is_published_next_to_the_spec_schema(repo):
    result = run_obsgen("schema", "project", cwd=repo)
    assert result.returncode == 0
    assert result.stdout.strip() == (repo / "schema" / "obsgen-project-v1.schema.json").read_text().strip()


def test_an_explicit_project_file_must_exist(repo):
    result = run_obsgen("validate", "--project", "obsgen.yml", cwd=repo)
    assert result.returncode == 2
    assert "'obsgen.yml' does not exist" in result.stderr


# ---- The project file is input from a pull request too ----

def test_a_project_file_linked_inside_the_repository_is_read(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "obsgen.yaml").write_text(MINIMAL + "grafana:\n  defaultFolder: Shop\n")
    (tmp_path / "obsgen.yaml").symlink_to("config/obsgen.yaml")
    assert load_project(tmp_path / "obsgen.yaml", tmp_path).default_folder == "Shop"


def test_a_project_file_linked_out_of_the_repository_is_refused_unread(tmp_path):
    repo, secret = tmp_path / "repo", tmp_path / "kubeconfig"
    repo.mkdir()
    secret.write_text("token: do-not-print\n")
    (repo / "obsgen.yaml").symlink_to(secret)
    with pytest.raises(ObsgenError) as info:
        load_project(repo / "obsgen.yaml", repo)
    assert [p.format() for p in info.value.problems] == [
        f"obsgen.yaml: is a symlink to {secret}, outside the repository; obsgen reads only files inside {repo} "
        "(commit what it points to instead of the link)"]


def test_a_dangling_project_link_is_an_error_not_a_missing_file(tmp_path):
    (tmp_path / "obsgen.yaml").symlink_to("gone.yaml")
    assert [p.format() for p in pytest.raises(ObsgenError, load_project, tmp_path / "obsgen.yaml",
                                              tmp_path).value.problems] == [
        "obsgen.yaml: is a symlink to gone.yaml, which does not exist (remove the link or restore its file)"]


def test_a_project_file_that_is_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "obsgen.yaml")
    errors = [p.format() for p in pytest.raises(ObsgenError, load_project, tmp_path / "obsgen.yaml",
                                                tmp_path).value.problems]
    assert errors == ["obsgen.yaml: is a FIFO (named pipe), not a regular file; obsgen reads only regular files "
                      "(replace it with a regular file)"]


@pytest.mark.parametrize(("library", "says"), [
    ("/etc", "jsonnet.libraryPaths[0]: library path '/etc' resolves to /etc, outside the repository"),
    ("vendor", "jsonnet.libraryPaths[0]: library path 'vendor' is a symlink to {outside}, outside the repository"),
])
def test_library_paths_stay_inside_the_repository(tmp_path, library, says):
    """Imports are read from library paths: one outside would let a spec import any file of the machine."""
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    repo.mkdir()
    outside.mkdir()
    (repo / "vendor").symlink_to(outside, target_is_directory=True)
    errors = _errors(repo, MINIMAL + f"jsonnet:\n  libraryPaths: ['{library}']\n")
    assert len(errors) == 1 and says.format(outside=outside) in errors[0], errors
