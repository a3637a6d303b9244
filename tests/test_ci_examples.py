"""The CI examples run as written: their shell steps, in a shallow clone of a repository with a pull request."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.test_diff import ALERTS, edit, git


@pytest.fixture()
def pull_request(tmp_path_factory, repo) -> Path:
    """A shallow clone of a branch that raises a threshold, with out/ rebuilt and committed, as CI sees it."""
    origin = tmp_path_factory.mktemp("origin")
    (origin / "specs").mkdir()
    shutil.copy(repo / "specs" / "submission-api.yaml", origin / "specs")
    obsgen = [sys.executable, "-m", "gen"]
    subprocess.run([*obsgen, "build"], cwd=origin, check=True, capture_output=True)
    git(origin, "init", "-q", "-b", "main")
    git(origin, "add", ".")
    git(origin, "commit", "-qm", "base")
    git(origin, "checkout", "-qb", "raise-threshold")
    edit(origin, ALERTS, ALERTS + "    eventLoopLag:\n      threshold: 300ms\n")
    subprocess.run([*obsgen, "build"], cwd=origin, check=True, capture_output=True)
    git(origin, "commit", "-qam", "raise the lag threshold")
    clone = tmp_path_factory.mktemp("ci")
    git(clone, "clone", "-q", "--depth=1", "--branch", "raise-threshold", f"file://{origin}", ".")
    return clone


def _run(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PATH": path, **env})


def test_github_workflow_checks_then_comments_the_diff_then_tests(repo, pull_request, tmp_path, promtool):
    workflow = yaml.safe_load((repo / "examples" / "ci" / "github-actions.yml").read_text())
    steps = [s for s in workflow["jobs"]["obsgen"]["steps"] if "run" in s and "Install" not in s.get("name", "")]
    assert [s["run"].split()[:2] for s in steps] == [["obsgen", "check"], ["#", "The"], ["obsgen", "test"]]
    summary = tmp_path / "summary.md"
    env = {"BASE_REF": "main", "PR_NUMBER": "7", "GH_TOKEN": "", "GITHUB_STEP_SUMMARY": str(summary)}
    for step in steps:
        result = _run(step["run"], pull_request, env)
        assert result.returncode == 0, (step["name"], result.stdout, result.stderr)
    diff = (pull_request / "obsgen-diff.md").read_text()
    assert "- ~ `NodejsEventLoopLagHigh`: threshold 200ms -> 300ms" in diff
    assert summary.read_text() == diff


def test_gitlab_job_runs_check_diff_and_tests(repo, pull_request, promtool):
    job = yaml.safe_load((repo / "examples" / "ci" / "gitlab-ci.yml").read_text())["obsgen"]
    env = {"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main", "OBSGEN_NOTE_TOKEN": ""}
    result = _run("\n".join(job["script"]), pull_request, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "- ~ `NodejsEventLoopLagHigh`: threshold 200ms -> 300ms" in result.stdout
    assert "rule test file(s) passed" in result.stdout


def test_pre_commit_hooks_run_obsgen_commands(repo):
    hooks = yaml.safe_load((repo / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"]: h["entry"] for h in hooks} == {"obsgen-build": "obsgen build", "obsgen-check": "obsgen check"}
    assert all(h["language"] == "python" and h["pass_filenames"] is False for h in hooks)
    config = yaml.safe_load((repo / "examples" / "ci" / "pre-commit-config.yaml").read_text())
    assert {h["id"] for r in config["repos"] for h in r["hooks"]} <= {h["id"] for h in hooks}
