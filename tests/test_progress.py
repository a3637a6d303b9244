"""What long commands say while they run: a bar on a terminal, plain lines in CI, nothing with --quiet; NO_COLOR;
and build notes said once, when they first appear or change."""
from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import run_obsgen
from .workspace import copy_of, good_build

# Three tiny promtool test files, so the progress of `obsgen test` is tested in seconds, not minutes.
RULES = "groups:\n  - name: g\n    rules:\n      - record: job:up:sum\n        expr: sum(up)\n"
TEST = ("rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n"
        "    input_series:\n      - series: up{job=\"a\"}\n        values: 1x5\n"
        "    promql_expr_test:\n      - expr: job:up:sum\n        eval_time: 2m\n"
        "        exp_samples:\n          - labels: job:up:sum\n            value: VALUE\n")


@pytest.fixture()
def rule_tests(tmp_path: Path) -> Path:
    tests = tmp_path / "out" / "tests"
    tests.mkdir(parents=True)
    (tests / "rules.yml").write_text(RULES)
    for name in ("alpha", "beta", "gamma"):
        (tests / f"{name}.test.yml").write_text(TEST.replace("VALUE", "1"))
    return tmp_path


def run_in_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run obsgen with stdout and stderr on a pseudo-terminal, as a person at a shell sees it."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "gen", *args], cwd=cwd, stdin=subprocess.DEVNULL,
                               stdout=follower, stderr=follower, env={**os.environ, **env})
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        if not ready:
            break
        try:
            data = os.read(leader, 4096)
        except OSError:  # the other side closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return process.wait(timeout=60), b"".join(chunks).decode(errors="replace")


def test_test_in_ci_prints_a_plain_line_per_file_with_progress(rule_tests: Path, promtool):
    result = run_obsgen("test", "--committed", cwd=rule_tests)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    for done, line in enumerate(lines[:3], start=1):
        assert re.fullmatch(rf"ok     out/tests/(alpha|beta|gamma)\.test\.yml  \[{done}/3, \S+ elapsed"
                            rf"(, about \S+ left)?\]", line), line
    assert re.fullmatch(r"obsgen: 3 rule test file\(s\) passed in \S+", lines[3])
    assert result.stderr == "obsgen: rule tests: 3 to run\n"
    assert "\r" not in result.stdout + result.stderr and "\x1b" not in result.stdout + result.stderr


def test_test_on_a_terminal_draws_a_bar(rule_tests: Path, promtool):
    env = {"TERM": "xterm"}
    env.pop("NO_COLOR", None)
    code, screen = run_in_terminal(["test", "--committed"], rule_tests, {**env})
    assert code == 0, screen
    assert "\r" in screen  # redrawn in place
    assert re.search(r"rule tests: .*3/3", screen), screen
    assert "elapsed" in screen
    assert "obsgen: 3 rule test file(s) passed" in screen
    assert "\x1b[32m" in screen  # the bar is green
    assert "ok     out/tests/" not in screen  # the bar replaces the per-file lines


def test_no_color_turns_colour_off_on_a_terminal(rule_tests: Path, promtool):
    code, screen = run_in_terminal(["test", "--committed"], rule_tests, {"TERM": "xterm", "NO_COLOR": "1"})
    assert code == 0, screen
    assert re.search(r"rule tests: .*3/3", screen)
    assert not re.search(r"\x1b\[[0-9;]*m", screen), repr(screen)


def test_quiet_prints_nothing_on_success_and_only_failures_otherwise(rule_tests: Path, promtool):
    quiet = run_obsgen("test", "--committed", "--quiet", cwd=rule_tests)
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    code, screen = run_in_terminal(["test", "--committed", "-q"], rule_tests, {"TERM": "xterm"})
    assert code == 0 and screen == ""
    (rule_tests / "out" / "tests" / "beta.test.yml").write_text(TEST.replace("VALUE", "2"))
    failed = run_obsgen("test", "--committed", "-q", cwd=rule_tests)
    assert failed.returncode == 1
    assert failed.stdout == "FAILED out/tests/beta.test.yml\n"
    assert failed.stderr.endswith("error: 1 of 3 rule test file(s) failed\n")


def test_service_picks_the_rule_tests_to_run(rule_tests: Path, promtool):
    result = run_obsgen("test", "--committed", "--service", "gamma", "--service", "alpha", cwd=rule_tests)
    assert result.returncode == 0, result.stderr
    assert [line.split()[1] for line in result.stdout.splitlines()[:-1]] == [
        "out/tests/alpha.test.yml", "out/tests/gamma.test.yml"] or [
        line.split()[1] for line in result.stdout.splitlines()[:-1]] == [
        "out/tests/gamma.test.yml", "out/tests/alpha.test.yml"]
    assert "obsgen: 2 rule test file(s) passed" in result.stdout
    unknown = run_obsgen("test", "--committed", "--service", "delta", cwd=rule_tests)
    assert unknown.returncode == 2
    assert unknown.stderr == "error: no rule tests for service 'delta' in out/tests (there are: alpha, beta, gamma)\n"


NOTE = "note: submission-api: queue grading (BullMQ): no processing-duration metric, so the duration panel is left out"


def test_build_notes_are_said_when_they_first_appear_or_change(tmp_path_factory, tmp_path: Path):
    repo = copy_of(good_build(tmp_path_factory.mktemp("notes") / "repo"), tmp_path / "repo")
    again = run_obsgen("build", cwd=repo)
    assert again.returncode == 0, again.stderr
    assert NOTE not in again.stdout
    assert "obsgen: 1 note(s) unchanged since the last build; --verbose prints them" in again.stdout
    verbose = run_obsgen("build", "--verbose", cwd=repo)
    assert verbose.stdout.count(NOTE) == 1
    spec = repo / "specs" / "submission-api.yaml"
    spec.write_text(spec.read_text().replace("team: assessments", "team: grading"))
    changed = run_obsgen("build", cwd=repo)
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.count(NOTE) == 1
    assert run_obsgen("build", "-q", cwd=repo).stdout == ""


def test_a_fresh_build_says_every_note(tmp_path: Path):
    assert NOTE in good_build_output(tmp_path)


def good_build_output(tmp_path: Path) -> str:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "submission-api.yaml").write_bytes(
        (Path(__file__).parent.parent / "specs" / "submission-api.yaml").read_bytes())
    result = run_obsgen("build", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return result.stdout
