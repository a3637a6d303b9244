"""Cross-checks: each has a failing fixture, and the problem names both services and where their specs are."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gen.checks import crosscheck
from gen.errors import ObsgenError
from gen.spec.load import load_specs
from gen.pipeline import compile_specs
from gen.spec.pod_patterns import Unsupported, common_name
from gen.ir import Dashboard, RuleFile
from tests.conftest import run_obsgen


def spec(name: str, *, namespace: str = "exam", extra: str = "") -> str:
    return (f"apiVersion: obsgen/v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n"
            f"  namespace: {namespace}\n  runtime: nodejs\n  container: app\n{extra}")


def _write(tmp_path: Path, specs: dict[str, str]) -> Path:
    spec_dir = tmp_path / "specs"
    spec_dir.mkdir(exist_ok=True)
    for name, text in specs.items():
        (spec_dir / name).write_text(text)
    return spec_dir


def _problems(tmp_path: Path, specs: dict[str, str]) -> list[str]:
    with pytest.raises(ObsgenError) as info:
        compile_specs(_write(tmp_path, specs), tmp_path)
    return [p.format() for p in info.value.problems]


@pytest.fixture()
def pair(tmp_path):
    """Two valid services, compiled, with the index of their documents."""
    spec_dir = _write(tmp_path, {"a.yaml": spec("alpha"), "b.yaml": spec("beta")})
    compiled = compile_specs(spec_dir, tmp_path)
    index = crosscheck.SpecIndex.of(load_specs(spec_dir, tmp_path))
    return compiled.services, index


def test_one_alert_name_in_many_services_is_normal(compiled):
    names = [a.name for o in compiled.services for a in o.rule_file.alerts]
    assert names.count("NodejsEventLoopLagHigh") == len(compiled.services) > 1


def test_duplicate_dashboard_titles(tmp_path):
    title = "  dashboard:\n    title: Exams\n"
    assert _problems(tmp_path, {"a.yaml": spec("alpha", extra=title), "b.yaml": spec("beta", extra=title)}) == [
        "specs/b.yaml:10:12: spec.dashboard.title: dashboard title 'Exams' of service beta is used also by service "
        "alpha (specs/a.yaml:10) (Grafana search, links and folders need distinct titles; set spec.dashboard.title)"]


def test_duplicate_dashboard_uids(pair):
    outputs, index = pair
    alpha, beta = outputs
    clash = dataclasses.replace(beta, dashboard=Dashboard.from_json({**beta.dashboard.to_json_data(), "uid": alpha.dashboard.uid}))
    assert [p.format() for p in crosscheck.duplicate_names((alpha, clash), index)] == [
        "specs/b.yaml:4:9: metadata.name: dashboard uid 'alpha' of service beta is used also by service alpha "
        "(specs/a.yaml:4) (dashboard uids derive from service names; rename one of the services)"]


def test_duplicate_rule_group_names(pair):
    outputs, index = pair
    alpha, beta = outputs
    groups = [{**g, "name": "alpha.pod"} if g["name"] == "beta.pod" else g for g in beta.rule_file.to_dict()["groups"]]
    clash = dataclasses.replace(beta, rule_file=RuleFile.from_dict({"groups": groups}))
    problems = [p.format() for p in crosscheck.duplicate_names((alpha, clash), index)]
    assert problems == ["specs/b.yaml:4:9: metadata.name: rule group 'alpha.pod' of service beta is used also by "
                        "service alpha (specs/a.yaml:4) (Prometheus reports rule groups by name; two groups of one "
                        "name cannot be told apart)"]


def test_a_service_whose_name_prefixes_another_selects_its_pods(tmp_path):
    problems = _problems(tmp_path, {"api.yaml": spec("api"), "api-admin.yaml": spec("api-admin")})
    assert problems == [
        "specs/api-admin.yaml:6:14: spec.namespace: services api (specs/api.yaml:4) and api-admin select the same "
        "pods: both match pod 'api-admin-7d9f8b6c5d-x2k4p' with container 'app' in namespace exam, so its alerts "
        "would fire twice and both would record the same series (make their spec.selector.pod patterns disjoint; "
        "for Deployments, 'api-[a-z0-9]+-[a-z0-9]{5}' and 'api-admin-[a-z0-9]+-[a-z0-9]{5}' are disjoint)"]


def test_the_suggested_patterns_resolve_the_overlap(tmp_path):
    narrow = "  selector:\n    pod: '{}-[a-z0-9]+-[a-z0-9]{{5}}'\n"
    compiled = compile_specs(_write(tmp_path, {"api.yaml": spec("api", extra=narrow.format("api")),
                                               "api-admin.yaml": spec("api-admin", extra=narrow.format("api-admin"))}),
                             tmp_path)
    assert len(compiled.services) == 2


def test_services_sharing_a_job_overlap_on_app_metrics_even_with_other_containers(tmp_path):
    shared = "  selector:\n    job: web\n    pod: 'web-.*'\n"
    a = spec("web-a", extra=shared).replace("container: app", "container: a")
    b = spec("web-b", extra=shared).replace("container: app", "container: b")
    problems = _problems(tmp_path, {"a.yaml": a, "b.yaml": b})
    assert len(problems) == 1
    assert problems[0].startswith("specs/b.yaml:11:10: spec.selector.pod: services web-a (specs/a.yaml:11) and "
                                  "web-b select the same pods: both match pod 'web-")
    assert "with job 'web' in namespace exam" in problems[0]


def test_other_namespaces_or_disjoint_patterns_do_not_overlap(tmp_path):
    compiled = compile_specs(_write(tmp_path, {"a.yaml": spec("api"), "b.yaml": spec("api-admin", namespace="ops"),
                                               "c.yaml": spec("web")}), tmp_path)
    assert len(compiled.services) == 3


def test_pod_pattern_intersection_is_exact():
    assert common_name("api-.*", "api-admin-.*") == "api-admin-"
    assert common_name("api-[a-z0-9]+-[a-z0-9]{5}", "api-admin-[a-z0-9]+-[a-z0-9]{5}") is None
    assert common_name("(?i)WEB-[0-9]+", "web-1.*") == "web-1"
    assert common_name("a{2,4}", "a{5}") is None
    assert common_name("(foo|bar)-.*", "ba[rz]-[^a-z]") == "bar--"


def test_a_dashboard_reading_a_recorded_series_no_rule_file_defines(pair):
    outputs, index = pair
    alpha, beta = outputs
    record = "namespace_pod_container:container_memory_working_set_bytes:ratio_limit"
    groups = [{**g, "rules": [r for r in g["rules"] if r.get("record") != record]}
              for g in beta.rule_file.to_dict()["groups"]]
    without = [dataclasses.replace(o, rule_file=RuleFile.from_dict({"groups": [
        {**g, "rules": [r for r in g["rules"] if r.get("record") != record]} for g in o.rule_file.to_dict()["groups"]]}))
        for o in (alpha, beta)]
    assert crosscheck.undefined_recordings((alpha, dataclasses.replace(beta, rule_file=RuleFile.from_dict({"groups": groups}))),
                                           index) == []  # alpha's rule file still records it
    problems = [p.format() for p in crosscheck.undefined_recordings(without, index)]
    assert problems[0] == ("specs/a.yaml:4:9: metadata.name: dashboard of alpha: panel 'Worst memory / limit' "
                           f"query A reads recorded series {record}, which no rule file defines")
    assert {p.split(":")[0] for p in problems} == {"specs/a.yaml", "specs/b.yaml"}


def test_an_alert_linking_to_a_panel_the_dashboard_lacks(pair):
    outputs, index = pair
    alpha, beta = outputs
    lag = next(p for p in beta.dashboard.to_json_data()["panels"] if p.get("title") == "Event-loop lag")
    panels = [p for p in beta.dashboard.to_json_data()["panels"] if p is not lag]
    broken = dataclasses.replace(beta, dashboard=Dashboard.from_json({**beta.dashboard.to_json_data(), "panels": panels}))
    assert crosscheck.broken_links((alpha, beta), index) == []
    assert [p.format() for p in crosscheck.broken_links((alpha, broken), index)] == [
        f"specs/b.yaml:4:9: metadata.name: alert NodejsEventLoopLagHigh of beta: dashboard link points at panel "
        f"{lag['id']} of dashboard 'beta', which has no such panel"]


def test_an_alert_linking_to_a_dashboard_obsgen_does_not_generate(pair):
    outputs, index = pair
    alpha, _ = outputs
    assert [p.format() for p in crosscheck.broken_links((alpha,), index)] == []
    assert crosscheck._link_problem("/d/nope/x?viewPanel=1", {}) == \
        "dashboard link points at dashboard uid 'nope', which obsgen does not generate"


def test_cross_check_problems_fail_the_build_with_exit_1_and_leave_out_alone(tmp_path):
    _write(tmp_path, {"api.yaml": spec("api"), "api-admin.yaml": spec("api-admin")})
    result = run_obsgen("build", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: specs/api-admin.yaml:6:14: spec.namespace: services api ")
    assert not (tmp_path / "out").exists()


def test_a_pattern_too_large_to_compare_gives_up_instead_of_exhausting_memory():
    with pytest.raises(Unsupported):
        common_name("((a{200}){200}){200}", "a+")


def test_validate_runs_every_cross_service_check_that_build_runs(tmp_path):
    """Overlapping pod patterns used to pass `validate` and fail only at `build`."""
    _write(tmp_path, {"api.yaml": spec("api"), "api-admin.yaml": spec("api-admin")})
    validate = run_obsgen("validate", cwd=tmp_path)
    build = run_obsgen("build", cwd=tmp_path)
    assert validate.returncode == build.returncode == 1
    assert "select the same pods" in validate.stderr
    assert validate.stderr == build.stderr
    assert not (tmp_path / "out").exists()
