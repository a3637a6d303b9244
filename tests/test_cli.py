"""The command line as users and CI run it: exit codes, help, `check`, and byte-for-byte determinism."""
from __future__ import annotations

import re

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from gen import cli

from .conftest import run_obsgen
from .workspace import FOREIGN_FILES, copy_of, files_of, good_build, second_service, snapshot

COMMANDS = sorted(cli.main.commands)


@pytest.fixture(scope="module")
def previous_build(tmp_path_factory) -> Path:
    return good_build(tmp_path_factory.mktemp("previous") / "repo")


@pytest.fixture
def repo(previous_build: Path, tmp_path: Path) -> Path:
    return copy_of(previous_build, tmp_path / "repo")


def test_the_commands_the_readme_promises_exist():
    assert {"build", "check", "schema", "test", "validate", "docs", "backtest"} <= set(COMMANDS)


@pytest.mark.parametrize("command", [[], *[[name] for name in COMMANDS]], ids=["obsgen", *COMMANDS])
def test_help_works_on_every_command(command: list[str], tmp_path: Path):
    result = run_obsgen(*command, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: ")
    assert result.stderr == ""
    if command:
        # The help says what the command does: the first line of its docstring.
        assert cli.main.commands[command[0]].help.split("\n")[0][:40] in result.stdout.replace("\n  ", " ")


@pytest.mark.parametrize("args", [
    pytest.param([], id="no-command"),
    pytest.param(["biuld"], id="unknown-command"),
    pytest.param(["build", "--nope"], id="unknown-option"),
    pytest.param(["build", "--specs"], id="option-without-value"),
    pytest.param(["check", "extra"], id="unexpected-argument"),
    pytest.param(["--specs", "specs"], id="option-before-command"),
])
def test_usage_errors_exit_2_and_change_nothing(args: list[str], repo: Path):
    before = snapshot(repo)
    result = run_obsgen(*args, cwd=repo)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    # Click says what is wrong ("Error: ...") or, with no command at all, shows the usage.
    assert "Error: " in result.stderr or result.stdout.startswith("Usage: ") or result.stderr.startswith("Usage: ")
    assert snapshot(repo) == before


def test_unknown_command_suggests_the_right_one(repo: Path):
    result = run_obsgen("biuld", cwd=repo)
    assert "No such command 'biuld'" in result.stderr


def test_build_validate_check_exit_0_on_a_fresh_build(repo: Path):
    build = run_obsgen("build", cwd=repo)
    assert (build.returncode, build.stderr) == (0, "")
    assert build.stdout.splitlines()[0] == "obsgen: 1 service(s): 0 file(s) written, 0 removed, 3 unchanged in out"
    # Nothing was written, so the service's notes are the last build's: said in one line, not repeated.
    assert all(re.fullmatch(r"obsgen: \d+ note\(s\) unchanged since the last build; --verbose prints them", line)
               for line in build.stdout.splitlines()[1:])
    validate = run_obsgen("validate", cwd=repo)
    assert (validate.returncode, validate.stdout) == (0, "obsgen: 1 spec(s) valid\n")
    check = run_obsgen("check", cwd=repo)
    assert (check.returncode, check.stderr) == (0, "")
    assert check.stdout == "obsgen: out is up to date (3 files, 1 service(s))\n"


def test_check_names_differing_missing_and_stale_files_and_the_fix(repo: Path):
    (repo / "specs" / "billing-api.yaml").write_text(second_service("billing-api"))
    assert run_obsgen("build", cwd=repo).returncode == 0
    (repo / "specs" / "billing-api.yaml").unlink()
    (repo / "out" / "rules" / "submission-api.rules.yml").write_text("groups: []\n")
    (repo / "out" / "tests" / "submission-api.test.yml").unlink()
    before = snapshot(repo / "out")

    check = run_obsgen("check", cwd=repo)

    assert check.returncode == 1
    assert check.stderr.splitlines() == [
        "error: out/rules/submission-api.rules.yml: differs",
        "error: out/tests/submission-api.test.yml: missing",
        "error: out/dashboards/billing-api.json: stale: its spec is gone",
        "error: out/rules/billing-api.rules.yml: stale: its spec is gone",
        "error: out/tests/billing-api.test.yml: stale: its spec is gone",
        "error: out/.obsgen-manifest.json: differs",
        "error: out is out of date with specs; run `obsgen build` and commit the result",
    ]
    assert snapshot(repo / "out") == before, "check must not write"
    assert run_obsgen("build", cwd=repo).returncode == 0
    assert run_obsgen("check", cwd=repo).returncode == 0


def test_check_prints_a_fix_with_the_same_directories(repo: Path, tmp_path: Path):
    out = tmp_path / "generated output"
    check = run_obsgen("check", "--specs", "specs", "--out", str(out), cwd=repo)
    assert check.returncode == 1
    assert f"error: {out}/dashboards/submission-api.json: missing" in check.stderr.splitlines()
    assert check.stderr.splitlines()[-1] == (
        f"error: {out} is out of date with specs; run `obsgen build --out '{out}'` and commit the result")
    assert not out.exists()


def test_check_fails_on_a_hand_edit_even_when_the_manifest_is_intact(repo: Path):
    dashboard = repo / "out" / "dashboards" / "submission-api.json"
    data = json.loads(dashboard.read_text())
    data["title"] = "edited by hand"
    dashboard.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    check = run_obsgen("check", cwd=repo)
    assert check.returncode == 1
    assert "error: out/dashboards/submission-api.json: differs" in check.stderr.splitlines()


@pytest.mark.parametrize(("setup", "args", "says"), [
    pytest.param(lambda repo: None, ["--specs", "nowhere"], "error: nowhere: spec directory not found",
                 id="specs-missing"),
    pytest.param(lambda repo: (repo / "empty").mkdir(), ["--specs", "empty"], "error: empty: no spec files",
                 id="specs-empty"),
    pytest.param(lambda repo: (repo / "a-file").write_text("x"), ["--specs", "a-file"],
                 "error: a-file: is a file, not a directory of specs", id="specs-is-a-file"),
])
def test_bad_spec_directories_exit_1(setup, args: list[str], says: str, repo: Path):
    setup(repo)
    before = snapshot(repo / "out")
    for command in ("build", "validate", "check"):
        result = run_obsgen(command, *args, cwd=repo)
        assert result.returncode == 1, (command, result.stderr)
        assert result.stderr.startswith(says), (command, result.stderr)
    assert snapshot(repo / "out") == before


def test_out_that_is_a_file_exits_1(repo: Path):
    (repo / "out-file").write_text("not a directory\n")
    result = run_obsgen("build", "--out", "out-file", cwd=repo)
    assert result.returncode == 1
    assert result.stderr == "error: out-file is a file, but obsgen needs a directory there; move it away\n"
    assert (repo / "out-file").read_text() == "not a directory\n"


def test_schema_prints_the_json_schema(tmp_path: Path):
    result = run_obsgen("schema", cwd=tmp_path)
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["properties"]["apiVersion"]["const"] == "obsgen/v1"


def test_test_command_committed_without_committed_tests_exits_1(tmp_path: Path, promtool: str):
    result = run_obsgen("test", "--committed", "--out", "out", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == ("error: no rule tests in out/tests; enable targets.ruleTests and run `obsgen build`, "
                             "or run `obsgen test` without --committed\n")


def test_test_command_generates_and_runs_the_rule_tests_even_when_not_committed(repo: Path, promtool: str):
    (repo / "obsgen.yaml").unlink(missing_ok=True)  # the default targets: rule tests are not committed
    assert run_obsgen("build", cwd=repo).returncode == 0
    assert not (repo / "out" / "tests").exists()
    result = run_obsgen("test", "--service", "submission-api", cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr
    # In parts, each against the rule groups its alerts read (gen/proofs/split.py).
    assert "ok     tests/submission-api.test.yml (generated; groups pod, leak)" in result.stdout
    assert not (repo / "out" / "tests").exists()


def test_a_bug_in_obsgen_exits_3_without_a_traceback(repo: Path, monkeypatch):
    def broken(*_args, **_kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli, "compile_specs", broken)
    monkeypatch.chdir(repo)
    monkeypatch.delenv("OBSGEN_DEBUG", raising=False)
    result = CliRunner().invoke(cli.main, ["build"])
    assert result.exit_code == 3
    assert result.output == ("obsgen: internal error: ZeroDivisionError: division by zero "
                             "(a bug in obsgen; set OBSGEN_DEBUG=1 for a traceback)\n")


def test_build_is_deterministic(repo: Path, tmp_path: Path):
    first = files_of(repo / "out")
    shutil.rmtree(repo / "out")
    assert run_obsgen("build", cwd=repo).returncode == 0
    assert files_of(repo / "out") == {k: v for k, v in first.items() if k not in FOREIGN_FILES}


def test_build_from_another_directory_with_absolute_paths_gives_the_same_bytes(repo: Path, tmp_path: Path):
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    out = tmp_path / "absolute-out"
    result = run_obsgen("build", "--specs", str(repo / "specs"), "--out", str(out), "--project",
                        str(repo / "obsgen.yaml"), cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    expected = {k: v for k, v in files_of(repo / "out").items() if k not in FOREIGN_FILES}
    assert files_of(out) == expected
    assert list(elsewhere.iterdir()) == []
