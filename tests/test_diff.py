"""`obsgen diff` on real spec edits in a temporary git repository: text and markdown, exit codes, shallow clones."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from gen.tools.diff import MARKER, Change, Report, ServiceDiff, dashboard_changes, render_markdown
from gen.ir import Dashboard
from tests.conftest import run_obsgen

ALERTS = "  alerts:\n    runbookBaseUrl: https://runbooks.example.com/assessments\n"


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", "-c", "user.name=obsgen", "-c", "user.email=obsgen@example.com", *args],
                            cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture()
def work(tmp_path, repo) -> Path:
    """A git repository holding the example's submission-api spec, committed on main."""
    (tmp_path / "specs").mkdir()
    shutil.copy(repo / "specs" / "submission-api.yaml", tmp_path / "specs")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    return tmp_path


def edit(work: Path, old: str, new: str, file: str = "specs/submission-api.yaml") -> None:
    path = work / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def changes(output: str) -> list[str]:
    """The change lines of a text report (indented by two, not the four of expression details)."""
    return [line.strip() for line in output.splitlines() if line.startswith("  ") and not line.startswith("    ")]


def test_no_changes_exits_0(work):
    result = run_obsgen("diff", cwd=work)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "obsgen diff HEAD -> working tree: no changes to alerts, rules or dashboards\n"


def test_a_threshold_change_is_one_line_in_spec_terms(work):
    edit(work, ALERTS, ALERTS + "    eventLoopLag:\n      threshold: 300ms\n")
    result = run_obsgen("diff", cwd=work)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ("obsgen diff HEAD -> working tree: 1 service changed\n"
                             "submission-api (specs/submission-api.yaml): changed\n"
                             "  ~ NodejsEventLoopLagHigh: threshold 200ms -> 300ms\n")


def test_markdown_is_a_pull_request_comment(work):
    edit(work, ALERTS, ALERTS + "    eventLoopLag:\n      threshold: 300ms\n      for: 20m\n")
    result = run_obsgen("diff", "--format", "markdown", "--base", "main", cwd=work)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == MARKER
    assert lines[1] == "### obsgen: 1 service changed"
    assert "#### `submission-api` changed (`specs/submission-api.yaml`)" in lines
    assert "- ~ `NodejsEventLoopLagHigh`: for 15m -> 20m, threshold 200ms -> 300ms" in lines


def test_disabling_an_alert_removes_it_and_enabling_adds_it(work):
    edit(work, ALERTS, ALERTS + "    eventLoopLag:\n      enabled: false\n")
    removed = run_obsgen("diff", cwd=work)
    assert removed.returncode == 1
    assert changes(removed.stdout) == ["- NodejsEventLoopLagHigh: alert removed (alerts.eventLoopLag disabled)"]
    git(work, "commit", "-qam", "disable lag alert")
    edit(work, "      enabled: false\n", "      enabled: true\n")
    added = run_obsgen("diff", cwd=work)
    assert added.returncode == 1
    assert changes(added.stdout) == ["+ NodejsEventLoopLagHigh: alert added (alerts.eventLoopLag enabled)"]


def test_a_selector_change_shows_each_changed_query_and_expression(work):
    edit(work, "  selector:\n    job: submission-api\n", "  selector:\n    job: submissions\n")
    result = run_obsgen("diff", cwd=work)
    assert result.returncode == 1
    lines = changes(result.stdout)
    assert "~ panel 'Event-loop lag': query A changed" in lines
    assert "~ NodejsEventLoopLagHigh: expression changed" in lines
    assert "~ variable 'namespace': changed" in lines
    details = result.stdout.splitlines()
    at = details.index("  ~ panel 'Event-loop lag': query A changed")
    assert details[at + 1].startswith("      - nodejs_eventloop_lag_p99_seconds{job=\"submission-api\"")
    assert details[at + 2].startswith("      + nodejs_eventloop_lag_p99_seconds{job=\"submissions\"")
    # Container-level series do not use the job: their panels and rules are untouched.
    assert not any("Memory working set" in line for line in lines)


def test_a_new_spec_adds_a_service_and_a_deleted_one_removes_it(work):
    shutil.copy(work / "specs" / "submission-api.yaml", work / "specs" / "grading.yaml")
    edit(work, "name: submission-api", "name: grading", "specs/grading.yaml")
    edit(work, "    job: submission-api\n", "    job: grading\n", "specs/grading.yaml")
    (work / "specs" / "submission-api.yaml").unlink()
    result = run_obsgen("diff", cwd=work)
    assert result.returncode == 1, result.stderr
    out = result.stdout.splitlines()
    assert out[0] == "obsgen diff HEAD -> working tree: 1 service added, 1 service removed"
    assert "grading (specs/grading.yaml): added" in out
    assert "submission-api (specs/submission-api.yaml): removed" in out
    assert "  + NodejsEventLoopLagHigh: alert added" in out and "  - NodejsEventLoopLagHigh: alert removed" in out


def test_project_settings_and_jsonnet_fleets_compare_too(work, repo):
    shutil.copy(repo / "specs" / "fleet.jsonnet", work / "specs")
    shutil.copytree(repo / "specs" / "lib", work / "specs" / "lib")
    shutil.copy(repo / "obsgen.yaml", work / "obsgen.yaml")
    git(work, "add", ".")
    git(work, "commit", "-qm", "fleet")
    edit(work, "lagThreshold='500ms'", "lagThreshold='750ms'", "specs/fleet.jsonnet")
    edit(work, "release: kube-prometheus-stack", "release: monitoring", "obsgen.yaml")
    result = run_obsgen("diff", cwd=work)
    assert result.returncode == 1, result.stderr
    assert result.stdout == (
        "obsgen diff HEAD -> working tree: 1 service changed, 1 project setting changed\n"
        "  ~ obsgen.yaml: targets.prometheusRule.labels.release: kube-prometheus-stack -> monitoring\n"
        "report-api (specs/fleet.jsonnet): changed\n"
        "  ~ NodejsEventLoopLagHigh: threshold 500ms -> 750ms\n")


def test_ext_str_applies_to_both_sides(work, repo):
    shutil.copy(repo / "specs" / "fleet.jsonnet", work / "specs")
    shutil.copytree(repo / "specs" / "lib", work / "specs" / "lib")
    git(work, "add", ".")
    git(work, "commit", "-qm", "fleet without a project file")
    assert run_obsgen("diff", "--ext-str", "env=staging", cwd=work).returncode == 0
    failed = run_obsgen("diff", cwd=work)
    assert failed.returncode == 2
    assert failed.stderr == "error: HEAD:specs/lib/nodejs-service.libsonnet:6:17: jsonnet: undefined external " \
                            "variable: env\n"


def test_an_unknown_ref_is_exit_2_with_a_hint(work):
    result = run_obsgen("diff", "--base", "origin/main", cwd=work)
    assert result.returncode == 2
    assert result.stderr == ("error: --base: git ref 'origin/main' not found in this clone (in CI, fetch it first, "
                             "e.g. `git fetch --depth=1 origin main` and pass --base origin/main)\n")


def test_broken_specs_at_the_base_are_exit_2_and_named_by_ref(work):
    edit(work, "  runtime: nodejs\n", "  runtime: nodejs\n  colour: blue\n")
    git(work, "commit", "-qam", "broken")
    fixed = work / "specs" / "submission-api.yaml"
    fixed.write_text(fixed.read_text().replace("  colour: blue\n", ""))
    result = run_obsgen("diff", cwd=work)
    assert result.returncode == 2
    assert result.stderr.startswith("error: HEAD:specs/submission-api.yaml:13:3: spec.colour: unknown key 'colour'")


def test_outside_a_git_repository_is_exit_2(tmp_path, repo):
    (tmp_path / "specs").mkdir()
    shutil.copy(repo / "specs" / "submission-api.yaml", tmp_path / "specs")
    result = run_obsgen("diff", cwd=tmp_path)
    assert result.returncode == 2
    assert "not inside a git repository" in result.stderr


def test_works_in_a_shallow_clone_against_a_fetched_ref(work, tmp_path_factory):
    edit(work, ALERTS, ALERTS + "    eventLoopLag:\n      threshold: 300ms\n")
    git(work, "commit", "-qam", "raise threshold")
    clone = tmp_path_factory.mktemp("clone")
    git(clone, "clone", "-q", "--depth=1", f"file://{work}", ".")
    assert git(clone, "rev-parse", "--is-shallow-repository").strip() == "true"
    edit(clone, "threshold: 300ms", "threshold: 400ms")
    result = run_obsgen("diff", "--base", "origin/main", cwd=clone)
    assert result.returncode == 1, result.stderr
    assert changes(result.stdout) == ["~ NodejsEventLoopLagHigh: threshold 300ms -> 400ms"]
    missing = run_obsgen("diff", "--base", "HEAD~1", cwd=clone)
    assert missing.returncode == 2 and "git ref 'HEAD~1' not found in this clone" in missing.stderr


def test_works_from_a_subdirectory_of_the_repository(work):
    monitoring = work / "monitoring"
    monitoring.mkdir()
    git(work, "mv", "specs", "monitoring/specs")
    git(work, "commit", "-qm", "move")
    edit(monitoring, ALERTS, ALERTS + "    eventLoopLag:\n      threshold: 250ms\n")
    result = run_obsgen("diff", cwd=monitoring)
    assert result.returncode == 1, result.stderr
    assert "submission-api (specs/submission-api.yaml): changed" in result.stdout


# Panels added, removed and moved: no spec field adds a panel yet, so these edit a real dashboard.

def test_panels_added_removed_and_moved(compiled):
    dashboard = compiled.services[0].dashboard.to_json_data()
    panels = dashboard["panels"]
    rows = [i for i, p in enumerate(panels) if p["type"] == "row"]
    first, second, last = panels[rows[1]], panels[rows[2]], panels[rows[-1]]
    a, b = panels[rows[1] + 1], panels[rows[1] + 2]

    def diff(new_panels: list[dict]) -> list[str]:
        return [f"{c.sign} {c.subject}: {c.text}"
                for c in dashboard_changes(Dashboard.from_json(dashboard),
                                           Dashboard.from_json({**dashboard, "panels": new_panels}))]

    assert diff(panels) == []
    assert diff([p for p in panels if p is not a]) == [f"- panel '{a['title']}': removed (row '{first['title']}')"]
    assert diff(panels + [{**a, "id": 42, "title": "Brand new"}]) == \
        [f"+ panel 'Brand new': added (row '{last['title']}')"]
    swapped = list(panels)
    swapped[rows[1] + 1], swapped[rows[1] + 2] = b, a
    moved = diff(swapped)
    assert len(moved) == 1 and f"moved within row '{first['title']}'" in moved[0]
    assert moved[0].startswith((f"~ panel '{a['title']}'", f"~ panel '{b['title']}'"))
    relocated = [p for p in panels if p is not a]
    relocated.insert(relocated.index(second) + 1, a)
    assert diff(relocated) == [f"~ panel '{a['title']}': moved from row '{first['title']}' to row "
                               f"'{second['title']}'"]
    renamed = [{**p, "title": "Lag"} if p is a else p for p in panels]
    assert diff(renamed) == [f"~ panel '{a['title']}': renamed to 'Lag'"]


def test_markdown_folds_long_changes_and_stays_under_githubs_comment_limit(work):
    edit(work, "  selector:\n    job: submission-api\n", "  selector:\n    job: submissions\n")
    result = run_obsgen("diff", "--format", "markdown", cwd=work)
    assert result.returncode == 1
    text = result.stdout
    assert "- ~ `spec`: selector.job submission-api -> submissions" in text
    assert "<details><summary>~ <code>NodejsEventLoopLagHigh</code>: expression changed</summary>" in text
    assert text.count("<details>") == text.count("</details>") > 10
    big = Report("main", "working tree", (ServiceDiff("a", "specs/a.yaml", "changed", tuple(
        Change("~", f"A{i}", "expression changed", "x" * 500, "y" * 500) for i in range(200))),), ())
    capped = render_markdown(big, limit=20_000)
    assert len(capped) <= 20_000
    assert capped.endswith("_The summary is cut here: run `obsgen diff` locally for the rest._\n")


def test_a_renamed_row_is_one_change_not_every_panel_moving(compiled):
    dashboard = compiled.services[0].dashboard.to_json_data()
    row = next(p for p in dashboard["panels"] if p["type"] == "row" and p["title"] != "Overview")
    panels = [{**p, "title": "Runtime"} if p is row else p for p in dashboard["panels"]]
    changes = dashboard_changes(Dashboard.from_json(dashboard), Dashboard.from_json({**dashboard, "panels": panels}))
    assert [f"{c.subject}: {c.text}" for c in changes] == [f"row '{row['title']}': renamed to 'Runtime'"]


def test_alerts_that_share_a_name_are_told_apart_by_their_signal(tmp_path):
    """NodejsHeapLeak is one alert per heap signal; the diff names each once, with its signal label."""
    from gen.pipeline import compile_specs
    from gen.tools import diff as semantic_diff

    def compiled(extra: str):
        specs = tmp_path / extra.count("\n").__str__() / "specs"
        specs.mkdir(parents=True)
        (specs / "a.yaml").write_text("apiVersion: obsgen/v1\nkind: Service\nmetadata:\n  name: a\nspec:\n"
                                      "  namespace: shop\n  runtime: nodejs\n" + extra)
        return compile_specs(specs, specs.parent)

    old = compiled("")
    new = compiled("  alerts:\n    heapLeak:\n      growthPerPeriod: 5%\n    heapLeakWithinProcess:\n"
                   "      enabled: false\n")
    text = semantic_diff.render_text(semantic_diff.compare(old, new, "HEAD", "working tree"))
    lines = [line.strip() for line in text.splitlines() if "NodejsHeapLeak" in line]
    assert lines == [
        "~ NodejsHeapLeak{signal=old_space}: growthPerPeriod 3% -> 5%",
        "~ NodejsHeapLeak{signal=heap_used}: growthPerPeriod 3% -> 5%",
        "~ NodejsHeapLeak{signal=external}: growthPerPeriod 3% -> 5%",
        "- NodejsHeapLeakWithinProcess{signal=old_space}: alert removed (alerts.heapLeakWithinProcess disabled)",
        "- NodejsHeapLeakWithinProcess{signal=heap_used}: alert removed (alerts.heapLeakWithinProcess disabled)",
        "- NodejsHeapLeakWithinProcess{signal=external}: alert removed (alerts.heapLeakWithinProcess disabled)",
    ]
    assert len(lines) == len(set(lines))
