"""The first hour: `obsgen init` in an empty folder, then build, check and diff there; the root found from below."""
from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest
import yaml

from gen.tools import scaffold
from gen.pipeline import compile_specs
from gen.spec.project import default_project, load_project
from gen.targets import rule_files as rule_file_target

from .conftest import REPO, run_obsgen


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout


@pytest.fixture()
def started(tmp_path: Path) -> Path:
    repo = tmp_path / "monitoring"
    result = run_obsgen("init", str(repo), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return repo


def test_init_writes_the_starter_files_and_says_what_next(tmp_path: Path):
    result = run_obsgen("init", "monitoring", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    repo = tmp_path / "monitoring"
    for rel in ("obsgen.yaml", "specs/example-api.yaml", ".gitignore", ".github/workflows/monitoring.yml",
                "schema/obsgen-v1.schema.json", "schema/obsgen-project-v1.schema.json"):
        assert (repo / rel).is_file(), rel
        assert f"created monitoring/{rel}" in result.stdout
    spec = (repo / "specs" / "example-api.yaml").read_text()
    assert spec.startswith("# yaml-language-server: $schema=../schema/obsgen-v1.schema.json\n")
    assert (repo / "specs" / "../schema/obsgen-v1.schema.json").is_file()  # the schema line points at a file
    assert f"about {scaffold.EXAMPLE_KB_PER_SERVICE} KB per service" in result.stdout
    assert "cd monitoring && obsgen build" in result.stdout


def test_init_turns_on_only_the_default_targets(started: Path):
    assert load_project(started / "obsgen.yaml", started).targets == default_project().targets
    assert f"about {scaffold.EXAMPLE_KB_PER_SERVICE} KB per service" in (started / "obsgen.yaml").read_text()


def test_init_then_build_check_and_diff(started: Path, promtool):
    assert run_obsgen("build", cwd=started).returncode == 0
    check = run_obsgen("check", cwd=started)
    assert check.returncode == 0, check.stderr
    assert sorted(p.relative_to(started / "out").as_posix() for p in (started / "out").rglob("*") if p.is_file()) \
        == [".obsgen-manifest.json", "dashboards/example-api.json", "rules/example-api.rules.yml"]
    git(started, "init", "-q", "-b", "main")
    git(started, "add", ".")
    git(started, "commit", "-qm", "start monitoring")
    assert run_obsgen("diff", cwd=started).returncode == 0
    spec = started / "specs" / "example-api.yaml"
    spec.write_text(spec.read_text() + "    eventLoopLag:\n      threshold: 300ms\n")
    diff = run_obsgen("diff", cwd=started)
    assert diff.returncode == 1, diff.stderr
    assert "~ NodejsEventLoopLagHigh: threshold 200ms -> 300ms" in diff.stdout
    assert run_obsgen("check", cwd=started).returncode == 1  # out/ is stale until the next build
    # Nothing init wrote is ignored by its own .gitignore.
    assert git(started, "status", "--porcelain", "--ignored") == " M specs/example-api.yaml\n"


def test_init_refuses_to_overwrite_and_writes_nothing(started: Path):
    (started / "specs" / "example-api.yaml").write_text("# mine\n")
    (started / "obsgen.yaml").unlink()
    result = run_obsgen("init", str(started), cwd=started.parent)
    assert result.returncode == 1
    assert "specs/example-api.yaml: exists; init never overwrites, so nothing was written" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (started / "obsgen.yaml").exists()
    assert (started / "specs" / "example-api.yaml").read_text() == "# mine\n"


def test_init_keeps_an_existing_gitignore_and_names_the_lines_it_lacks(tmp_path: Path):
    (tmp_path / ".gitignore").write_text("node_modules/\n.venv/\n")
    result = run_obsgen("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / ".gitignore").read_text() == "node_modules/\n.venv/\n"
    assert "add these lines to it: .obsgen-staging-*/ obsgen-diff.md" in result.stdout


def test_commands_run_from_a_subdirectory_find_the_root(started: Path):
    below = started / "specs" / "team-a"
    below.mkdir()
    build = run_obsgen("build", cwd=below)
    assert build.returncode == 0, build.stderr
    assert f"at the repository root {started}" in build.stderr
    assert (started / "out" / "rules" / "example-api.rules.yml").is_file()
    assert not (below / "out").exists()
    # A path given on the command line stays relative to where it was typed.
    elsewhere = run_obsgen("check", "--out", "../../out", cwd=below)
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert run_obsgen("validate", "-q", cwd=below).stderr == ""


def test_version_names_the_version():
    result = run_obsgen("--version", cwd=REPO)
    assert result.returncode == 0
    assert result.stdout == f"obsgen {scaffold.version()}\n"
    assert scaffold.version() == "0.1.0"


def test_the_sizes_init_quotes_are_measured(compiled):
    """init quotes what the example project (every target on but ruleTests) writes per service, what ruleTests
    adds, and what the defaults write: each within 35% of what the examples measure now."""
    def near(measured: float, quoted: float) -> bool:
        return abs(measured - quoted) / quoted < 0.35

    everything = compile_specs(REPO / "specs", REPO)
    assert not everything.project.targets.rule_tests
    per_service = sum(len(b) for b in everything.files.values()) / len(everything.services) / 1e3
    assert near(per_service, scaffold.EXAMPLE_KB_PER_SERVICE), per_service
    with_tests = dataclasses.replace(compiled.project,
                                     targets=dataclasses.replace(compiled.project.targets, rule_tests=True))
    tests = rule_file_target.emit(with_tests, compiled.services).files
    added = sum(len(b) for p, b in tests.items() if p.startswith("tests/")) / len(compiled.services) / 1e3
    assert near(added, scaffold.RULE_TESTS_KB_PER_SERVICE), added
    defaults = compile_specs(REPO / "specs", REPO, dataclasses.replace(default_project(),
                                                                       jsonnet=everything.project.jsonnet))
    default_kb = sum(len(b) for b in defaults.files.values()) / len(defaults.services) / 1e3
    assert abs(default_kb - scaffold.DEFAULT_KB_PER_SERVICE) / scaffold.DEFAULT_KB_PER_SERVICE < 0.35, default_kb


def test_the_workflow_init_writes_is_the_ci_example():
    assert scaffold.workflow_text() == (REPO / "examples" / "ci" / "github-actions.yml").read_text()
