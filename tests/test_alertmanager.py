"""Alertmanager routing and inhibition: the alert graph the domains declare, the two targets against amtool and
the AlertmanagerConfig CRD, routing bad input, and `obsgen diff` in routing terms."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator

from gen.domains import DOMAINS, inhibitions, unsuperseded
from gen.domains.alerts import EVERY_OTHER_ALERT_OF_THE_SERVICE, REGISTRY, SUBJECT_LABELS
from gen.pipeline import compile_specs
from gen.render.alertmanager import OBSGEN_ALERTS, inhibit_rules, inhibition_table, routing_table
from gen.spec.project import DISCARD_RECEIVER, reference_table
from gen.spec.schema import SEVERITIES
from gen.targets import alertmanager, alertmanager_config

from .conftest import REPO, run_obsgen

CRD = "prometheus-operator-monitoring.coreos.com_alertmanagerconfigs.crd.yaml"
DOCS = REPO / "docs" / "alertmanager.md"
# Key prefix labels: only some exporter conventions have them; an alert without one matches another without one.
OPTIONAL_EQUAL = {"prefix", "queue_prefix"}


def _names(alerts) -> set[str]:
    return {a.name for a in alerts}


# ---- the alert graph ----

def test_every_alert_is_superseded_by_a_named_alert_or_declared_unsuperseded():
    """A new alert in the registry fails here until its domain says what supersedes it, or that nothing does."""
    named_targets = {a.name for i in inhibitions() if i.targets != EVERY_OTHER_ALERT_OF_THE_SERVICE
                     for a in i.targets}
    declared = {u.alert.name for u in unsuperseded()}
    assert not named_targets & declared, "an alert is both superseded and declared unsuperseded"
    assert _names(REGISTRY) == named_targets | declared
    assert all(u.why for u in unsuperseded()) and all(i.why for i in inhibitions())


def test_each_domain_declares_only_its_own_unsuperseded_alerts_and_its_own_sources():
    for domain in DOMAINS:
        name = domain.__name__.split(".")[2]
        assert {u.alert.domain for u in domain.UNSUPERSEDED} <= {name}, domain.__name__
        assert {i.source.domain for i in domain.INHIBITIONS} <= {name}, domain.__name__


def test_service_down_inhibits_every_other_alert_of_the_registry_on_the_service():
    down = next(i for i in inhibitions() if i.source.name == "ServiceDown")
    assert _names(down.target_alerts()) == _names(REGISTRY) - {"ServiceDown"}
    assert down.equal == ("service",)


def _exp_labels(compiled) -> dict[str, list[set[str]]]:
    """Label names each alert fires with in the generated promtool tests: what the expressions really yield."""
    found: dict[str, list[set[str]]] = {}
    for out in compiled.services:
        for test in out.test_file["tests"]:
            for check in test.get("alert_rule_test", []):
                for alert in check.get("exp_alerts") or []:
                    found.setdefault(check["alertname"], []).append(set(alert["exp_labels"]))
    return found


def test_equal_labels_are_carried_by_both_sides_of_every_inhibition(compiled):
    """Otherwise `equal` compares empty with empty: pod A's forecast would suppress pod B's leak."""
    fired = _exp_labels(compiled)
    for inhibition in inhibitions():
        for alert in (inhibition.source, *inhibition.target_alerts()):
            assert fired.get(alert.name), f"{alert.name} never fires in the rule tests"
            for labels in fired[alert.name]:
                missing = set(inhibition.equal) - OPTIONAL_EQUAL - labels
                assert not missing, f"{inhibition.source.name} -> {alert.name}: {alert.name} lacks {missing}"


def test_subject_labels_are_carried_by_every_alert_of_the_subject(compiled):
    fired = _exp_labels(compiled)
    for alert in REGISTRY:
        for labels in fired[alert.name]:
            assert set(SUBJECT_LABELS[alert.subject]) <= labels, (alert.name, labels)


def test_inhibit_rules_match_only_obsgen_alerts_never_themselves_and_never_a_more_severe_target(compiled):
    rules = inhibit_rules(compiled.project)
    registry = _names(REGISTRY)
    assert rules
    for rule in rules:
        source = {m.name: m for m in rule.source}
        target = {m.name: m for m in rule.target}
        assert source["service"].value == target["service"].value == ".+"
        sources, targets = {source["alertname"].value}, set(target["alertname"].value.split("|"))
        assert sources <= registry and targets <= registry
        assert not sources & targets, "an alert would inhibit itself"
        allowed = SEVERITIES[SEVERITIES.index(source["severity"].value):]
        if "severity" in target:
            assert set(target["severity"].value.split("|")) == set(allowed)
        else:
            assert source["severity"].value == "critical"
        assert "info" not in source["severity"].value


def test_the_docs_list_the_inhibitions_and_the_alerting_fields():
    text = DOCS.read_text()
    assert inhibition_table() in text, "docs/alertmanager.md: paste gen.render.alertmanager.inhibition_table()"
    assert reference_table(alerting=True) in text
    assert "docs/alertmanager.md" in (REPO / "README.md").read_text()


# ---- alertmanager.yml against amtool ----

@pytest.fixture(scope="module")
def amtool() -> str:
    path = shutil.which("amtool")
    if path is None:
        pytest.fail("amtool not found; `make test` installs it (Debian package prometheus-alertmanager)")
    return path


@pytest.fixture(scope="module")
def config_file(compiled, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("am") / "alertmanager.yml"
    path.write_bytes(compiled.files[alertmanager.PATH])
    return path


def test_amtool_check_config_accepts_the_generated_config(amtool, config_file):
    result = subprocess.run([amtool, "check-config", str(config_file)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    n_rules = len(yaml.safe_load(config_file.read_text())["inhibit_rules"])
    assert f"{n_rules} inhibit rules" in result.stdout


def _route_test(amtool: str, config_file: Path, labels: dict[str, str]) -> str:
    result = subprocess.run([amtool, "config", "routes", "test", f"--config.file={config_file}",
                             *(f"{k}={v}" for k, v in labels.items())], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_each_severity_of_each_team_reaches_its_receiver(amtool, config_file, compiled):
    """amtool resolves a label set of every severity, team and service against the generated tree."""
    expected = routing_table(compiled.project, [o.service for o in compiled.services])
    assert expected["team assessments"] == {"critical": "pager-assessments", "warning": "tickets-assessments",
                                            "info": ""}
    assert expected["service report-builder"]["warning"] == "tickets-reports"
    for out in compiled.services:
        service = out.service
        who = f"service {service.name}" if f"service {service.name}" in expected else f"team {service.team}"
        for sev in SEVERITIES:
            labels = {"alertname": "PodMemoryLeak", "service": service.name, "namespace": service.namespace,
                      "severity": sev, **({"team": service.team} if service.team else {})}
            assert _route_test(amtool, config_file, labels) == (expected[who][sev] or DISCARD_RECEIVER), labels


def test_alerts_that_obsgen_did_not_generate_are_left_to_the_rest_of_the_tree(amtool, config_file):
    foreign = {"alertname": "KubeJobFailed", "service": "submission-api", "team": "assessments",
               "severity": "critical"}
    assert _route_test(amtool, config_file, foreign) == DISCARD_RECEIVER
    stranger = {"alertname": "PodMemoryLeak", "service": "not-ours", "severity": "critical"}
    assert _route_test(amtool, config_file, stranger) == DISCARD_RECEIVER


def test_receivers_are_name_only_stubs_plus_obsgens_discard(compiled):
    config = yaml.safe_load(compiled.files[alertmanager.PATH])
    names = [r["name"] for r in config["receivers"]]
    assert names == sorted({*compiled.project.alerting.receivers, DISCARD_RECEIVER})
    assert all(list(r) == ["name"] for r in config["receivers"])
    assert config["route"]["routes"][0]["matchers"][0] == f'alertname=~"{OBSGEN_ALERTS}"'


# ---- AlertmanagerConfig against the CRD ----

class _CrdLoader(yaml.SafeLoader):
    """The CRD lists the matcher type `=` unquoted, which YAML 1.1 tags as a `value`; it is the string '='."""


_CrdLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


@pytest.fixture(scope="module")
def amc_schema(upstream) -> dict:
    crd = yaml.load((upstream / CRD).read_text(), Loader=_CrdLoader)
    return next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1")["schema"]["openAPIV3Schema"]


def _child_routes(route: dict):
    for child in route.get("routes", []):
        yield child
        yield from _child_routes(child)


def _validate(schema: dict, resource: dict) -> list[str]:
    """The CRD, and each child route against the route schema (the CRD leaves child routes unchecked)."""
    errors = [e.message for e in Draft7Validator(schema).iter_errors(resource)]
    route_schema = schema["properties"]["spec"]["properties"]["route"]
    for child in _child_routes(resource["spec"]["route"]):
        errors += [e.message for e in Draft7Validator(route_schema).iter_errors(child)]
    return errors


def test_alertmanager_configs_validate_against_the_crd_one_per_namespace(compiled, amc_schema):
    files = {k: v for k, v in compiled.files.items() if k.startswith("kubernetes/alertmanagerconfigs/")}
    namespaces = sorted({o.service.namespace for o in compiled.services})
    assert sorted(files) == [f"kubernetes/alertmanagerconfigs/{ns}.yaml" for ns in namespaces]
    for path, content in files.items():
        resource = yaml.safe_load(content)
        assert _validate(amc_schema, resource) == [], path
        assert resource["metadata"]["namespace"] == Path(path).stem
        receivers = {r["name"] for r in resource["spec"]["receivers"]}
        used = {r["receiver"] for r in [resource["spec"]["route"], *_child_routes(resource["spec"]["route"])]
                if "receiver" in r}
        assert used <= receivers and resource["spec"]["route"]["receiver"] == DISCARD_RECEIVER
        services = resource["spec"]["route"]["matchers"][1]["value"].split("|")
        assert services == sorted(o.service.name for o in compiled.services
                                  if o.service.namespace == Path(path).stem)


def test_the_crd_schema_catches_what_it_should(amc_schema, compiled):
    resource = yaml.safe_load(compiled.files["kubernetes/alertmanagerconfigs/exam.yaml"])
    broken = yaml.safe_load(yaml.safe_dump(resource))
    broken["spec"]["inhibitRules"][0]["sourceMatch"][0]["matchType"] = "=="
    assert _validate(amc_schema, broken)
    broken = yaml.safe_load(yaml.safe_dump(resource))
    broken["spec"]["route"]["routes"][0]["groupWait"] = "soon"
    assert _validate(amc_schema, broken)


def test_the_kustomization_lists_the_alertmanager_configs(compiled):
    kustomization = yaml.safe_load(compiled.files["kubernetes/kustomization.yaml"])
    assert {f"alertmanagerconfigs/{ns}.yaml" for ns in alertmanager_config.namespaces(compiled.services)} <= \
        set(kustomization["resources"])


# ---- bad input: one line, file:line, and a fix ----

SPEC = """apiVersion: obsgen/v1
kind: Service
metadata:
  name: submission-api
  team: assessments
spec:
  namespace: exam
  runtime: nodejs
{routing}"""

PROJECT = """apiVersion: obsgen/v1
kind: Project
alerting:
  receivers: [pager, tickets, tickets-assessments]
  route:
    critical: {critical}
    warning: tickets
{extra}targets:
  ruleTests: {{enabled: false}}
  alertmanager: {{enabled: true}}
"""


def _build(tmp_path: Path, *, critical: str = "pager", extra: str = "", routing: str = "") -> list[str]:
    (tmp_path / "specs").mkdir(exist_ok=True)
    (tmp_path / "specs" / "submission-api.yaml").write_text(SPEC.format(routing=routing))
    (tmp_path / "obsgen.yaml").write_text(PROJECT.format(critical=critical, extra=extra))
    result = run_obsgen("build", cwd=tmp_path)
    assert result.returncode == (1 if result.stderr else 0), result.stderr
    return result.stderr.splitlines()


def test_a_good_project_builds(tmp_path):
    assert _build(tmp_path) == []
    assert (tmp_path / "out" / "alertmanager" / "alertmanager.yml").is_file()


def test_a_route_to_an_undeclared_receiver(tmp_path):
    assert _build(tmp_path, critical="pagr") == [
        "error: obsgen.yaml:6:15: alerting.route.critical: receiver 'pagr' is not declared "
        "(did you mean 'pager'? Or add 'pagr' to alerting.receivers)"]


def test_a_spec_routing_to_an_undeclared_receiver(tmp_path):
    assert _build(tmp_path, routing="  routing:\n    warning: tickets-assesments\n") == [
        "error: specs/submission-api.yaml:10:14: spec.routing.warning: receiver 'tickets-assesments' is not "
        "declared in obsgen.yaml (did you mean 'tickets-assessments'? Or add 'tickets-assesments' to "
        "alerting.receivers)"]


def test_a_team_override_for_an_unknown_team(tmp_path):
    assert _build(tmp_path, extra="  teams:\n    assesments:\n      warning: tickets-assessments\n") == [
        "error: obsgen.yaml:9:5: alerting.teams.assesments: no spec has team 'assesments' "
        "(did you mean 'assessments'?)"]


def test_a_group_by_label_no_alert_carries(tmp_path):
    assert _build(tmp_path, extra="  groupBy: [alertname, servce]\n") == [
        "error: obsgen.yaml:8:24: alerting.groupBy[1]: no obsgen alert carries the label 'servce', so grouping "
        "by it changes nothing (did you mean 'service'?)"]


def test_pages_that_would_reach_no_one(tmp_path):
    assert _build(tmp_path, critical='""') == [
        "error: obsgen.yaml:6:15: alerting.route.critical: critical alerts of team assessments would reach no "
        "receiver (set alerting.teams.assessments.critical or alerting.route.critical to a receiver in "
        "alerting.receivers)"]


# ---- obsgen diff speaks routing ----

def _git(cwd: Path, *args: str) -> None:
    result = subprocess.run(["git", "-c", "user.name=obsgen", "-c", "user.email=obsgen@example.com", *args],
                            cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_diff_reports_where_a_teams_alerts_now_go(tmp_path):
    _build(tmp_path)
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", "specs", "obsgen.yaml")
    _git(tmp_path, "commit", "-q", "-m", "base")
    _build(tmp_path, extra="  teams:\n    assessments:\n      warning: tickets-assessments\n")
    result = run_obsgen("diff", "--base", "main", cwd=tmp_path)
    assert "~ routing: warning alerts of team assessments now go to tickets-assessments (were tickets)" \
        in result.stdout, result.stdout + result.stderr


def test_output_is_deterministic(repo, compiled):
    again = compile_specs(repo / "specs", repo)
    for path in (alertmanager.PATH, "kubernetes/alertmanagerconfigs/exam.yaml"):
        assert again.files[path] == compiled.files[path]
        assert compiled.files[path].startswith(b"# Generated by obsgen from ")


def test_the_amtool_gate_of_build_and_check_rejects_a_broken_config(amtool):
    from gen.checks.amtool import amtool_check_config
    assert amtool_check_config({alertmanager.PATH: b"route: {receiver: nobody}\nreceivers: [{name: somebody}]\n"})
    assert amtool_check_config({}) == []


def test_extra_equal_labels_join_every_rule_and_inhibition_can_be_switched_off(compiled):
    import dataclasses
    alerting = dataclasses.replace(compiled.project.alerting, inhibition_equal=("cluster",))
    project = dataclasses.replace(compiled.project, alerting=alerting)
    assert all(rule.equal[-1] == "cluster" for rule in inhibit_rules(project))
    off = dataclasses.replace(compiled.project, alerting=dataclasses.replace(alerting, inhibition=False))
    assert "inhibit_rules" not in alertmanager.config(off, compiled.services)
