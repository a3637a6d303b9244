"""Writing out/: obsgen replaces and removes only what it generated, and a failure half way changes nothing."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from gen import cli, write as emit
from gen.errors import OutputConflict, OutputError
from gen.pipeline import compile_specs

from .conftest import run_obsgen
from .workspace import FOREIGN_FILES, Entry, copy_of, files_of, good_build, second_service, snapshot

SUBMISSION_FILES = ["dashboards/submission-api.json", "rules/submission-api.rules.yml",
                    "tests/submission-api.test.yml"]
OLD = 1_000_000_000 * 10**9  # 2001, in nanoseconds: a time no build in this test run writes


def billing_files(name: str = "billing-api") -> list[str]:
    return [f"dashboards/{name}.json", f"rules/{name}.rules.yml", f"tests/{name}.test.yml"]


@pytest.fixture(scope="module")
def two_services(tmp_path_factory) -> Path:
    """A previous build of two services, plus foreign files in out/."""
    root = good_build(tmp_path_factory.mktemp("previous") / "repo")
    (root / "specs" / "billing-api.yaml").write_text(second_service("billing-api"))
    result = run_obsgen("build", cwd=root)
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture
def repo(two_services: Path, tmp_path: Path) -> Path:
    return copy_of(two_services, tmp_path / "repo")


def build(repo: Path, *args: str):
    return run_obsgen("build", *args, cwd=repo)


def age(out: Path) -> None:
    """Set every file's time far back, so that any rewrite shows."""
    for path in out.rglob("*"):
        if path.is_file():
            os.utime(path, ns=(OLD, OLD))


def contents(tree: dict[str, Entry]) -> dict[str, tuple[str, bytes, int]]:
    """A snapshot without directory times, which moving files in and back out changes."""
    return {rel: (e.kind, e.content, e.mtime_ns if e.kind == "file" else 0) for rel, e in tree.items()}


def test_manifest_lists_exactly_the_generated_files(repo: Path):
    manifest = json.loads((repo / "out" / emit.MANIFEST).read_text())
    assert manifest["generated"] == sorted(SUBMISSION_FILES + billing_files())
    assert emit.owned_files(repo / "out") == set(SUBMISSION_FILES + billing_files())


def test_build_replaces_generated_files_and_keeps_foreign_ones(repo: Path):
    spec = repo / "specs" / "billing-api.yaml"
    spec.write_text(spec.read_text().replace("team: payments", "team: invoicing"))
    result = build(repo)
    assert result.returncode == 0, result.stderr
    rules = (repo / "out" / "rules" / "billing-api.rules.yml").read_text()
    assert "team: invoicing" in rules and "team: payments" not in rules
    assert files_of(repo / "out") == {**compile_specs(repo / "specs", repo).files,
                                      emit.MANIFEST: emit.manifest_bytes(SUBMISSION_FILES + billing_files()),
                                      **FOREIGN_FILES}


def test_build_removes_files_whose_spec_is_gone(repo: Path):
    (repo / "specs" / "billing-api.yaml").unlink()
    result = build(repo)
    assert result.returncode == 0, result.stderr
    assert "3 removed" in result.stdout
    assert sorted(files_of(repo / "out")) == sorted([*SUBMISSION_FILES, emit.MANIFEST, *FOREIGN_FILES])
    for rel, content in FOREIGN_FILES.items():
        assert (repo / "out" / rel).read_bytes() == content
    assert json.loads((repo / "out" / emit.MANIFEST).read_text())["generated"] == SUBMISSION_FILES


def test_removing_every_spec_is_refused_not_a_wipe(repo: Path):
    for spec in (repo / "specs").iterdir():
        spec.unlink()
    before = snapshot(repo / "out")
    result = build(repo)
    assert result.returncode == 1
    assert result.stderr.startswith("error: specs: no spec files (*.yaml, *.yml, *.jsonnet) found")
    assert snapshot(repo / "out") == before


def test_unchanged_files_are_not_rewritten(repo: Path):
    age(repo / "out")
    before = snapshot(repo / "out")
    result = build(repo)
    assert result.stdout.splitlines()[0] == "obsgen: 2 service(s): 0 file(s) written, 0 removed, 6 unchanged in out"
    assert snapshot(repo / "out") == before


def test_only_changed_files_get_a_new_time(repo: Path):
    age(repo / "out")
    spec = repo / "specs" / "billing-api.yaml"
    spec.write_text(spec.read_text().replace("team: payments", "team: invoicing"))
    assert build(repo).returncode == 0
    times = {p.relative_to(repo / "out").as_posix(): p.stat().st_mtime_ns
             for p in (repo / "out").rglob("*") if p.is_file()}
    rewritten = sorted(rel for rel, mtime in times.items() if mtime != OLD)
    changed = [rel for rel in billing_files() if b"invoicing" in (repo / "out" / rel).read_bytes()]
    assert changed, "the team label must show in the billing-api output"
    assert rewritten == sorted(changed), "only files whose bytes changed are written; the manifest is the same"


def test_foreign_file_where_obsgen_wants_to_write_is_refused(repo: Path):
    # out/dashboards/hand-made.json was put there by a person; a service named hand-made would overwrite it.
    (repo / "specs" / "hand-made.yaml").write_text(second_service("hand-made"))
    before = snapshot(repo / "out")
    result = build(repo)
    assert result.returncode == 1
    assert result.stderr == ("error: out/dashboards/hand-made.json exists and was not generated by obsgen; "
                             "move it away or rename the service\n")
    assert snapshot(repo / "out") == before


def file_in_place_of_tests_dir(out: Path) -> None:
    (out / "tests").rename(out / "moved")
    (out / "tests").write_text("notes\n")


def dir_in_place_of_manifest(out: Path) -> None:
    (out / emit.MANIFEST).unlink()
    (out / emit.MANIFEST).mkdir()


@pytest.mark.parametrize(("make", "says"), [
    pytest.param(lambda out: (out / "dashboards" / "orders-api.json").mkdir(),
                 "error: out/dashboards/orders-api.json is a directory, but obsgen needs to write a file there",
                 id="directory-at-a-file-path"),
    pytest.param(file_in_place_of_tests_dir, "error: out/tests is a file, but obsgen needs a directory there",
                 id="file-at-a-directory-path"),
    pytest.param(dir_in_place_of_manifest, "error: out/.obsgen-manifest.json is a directory",
                 id="directory-at-the-manifest"),
])
def test_paths_obsgen_cannot_take_are_refused(make, says: str, repo: Path):
    (repo / "specs" / "orders-api.yaml").write_text(second_service("orders-api"))
    make(repo / "out")
    before = snapshot(repo / "out")
    result = build(repo)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(says), result.stderr
    assert all(line.startswith("error: out/") for line in result.stderr.splitlines())
    assert snapshot(repo / "out") == before


def test_without_a_manifest_obsgen_recognises_its_files_by_their_header(repo: Path):
    (repo / "out" / emit.MANIFEST).unlink()
    (repo / "specs" / "billing-api.yaml").unlink()
    result = build(repo)
    assert result.returncode == 0, result.stderr
    assert sorted(files_of(repo / "out")) == sorted([*SUBMISSION_FILES, emit.MANIFEST, *FOREIGN_FILES])


def test_a_corrupt_manifest_is_treated_as_missing(repo: Path):
    (repo / "out" / emit.MANIFEST).write_text("{not json")
    result = build(repo)
    assert result.returncode == 0, result.stderr
    assert json.loads((repo / "out" / emit.MANIFEST).read_text())["generated"] == sorted(
        SUBMISSION_FILES + billing_files())


def test_a_manifest_cannot_make_obsgen_remove_files_outside_out(repo: Path):
    outside = repo / "outside.txt"
    outside.write_text("keep me\n")
    (repo / "out" / emit.MANIFEST).write_text(json.dumps(
        {"generated": ["../outside.txt", str(outside), *SUBMISSION_FILES, *billing_files()]}))
    result = build(repo)
    assert result.returncode == 0, result.stderr
    assert outside.read_text() == "keep me\n"


class FailingReplace:
    """os.replace that fails on its Nth call, as a full disk or a lost mount would."""

    def __init__(self, fail_on: int) -> None:
        self.fail_on = fail_on
        self.calls = 0
        self.real = os.replace

    def __call__(self, source, target) -> None:
        self.calls += 1
        if self.calls == self.fail_on:
            raise OSError(28, "No space left on device", str(source), None, str(target))
        self.real(source, target)


def _changed_specs(repo: Path) -> dict[str, bytes]:
    """A build that changes one service, removes one and adds one."""
    spec = repo / "specs" / "submission-api.yaml"
    spec.write_text(spec.read_text().replace("team: assessments", "team: grading"))
    (repo / "specs" / "billing-api.yaml").unlink()
    (repo / "specs" / "orders-api.yaml").write_text(second_service("orders-api"))
    return compile_specs(repo / "specs", repo).files


def _replace_calls(repo: Path, files: dict[str, bytes], monkeypatch) -> int:
    counter = FailingReplace(fail_on=0)
    monkeypatch.setattr(emit.os, "replace", counter)
    emit.write_output(repo / "out", files)
    monkeypatch.undo()
    return counter.calls


def test_a_failure_at_any_step_of_the_swap_rolls_back(two_services: Path, tmp_path: Path, monkeypatch):
    # One compile serves every attempt: the swap writes the same files over the same out/ each time.
    counted = copy_of(two_services, tmp_path / "count")
    files = _changed_specs(counted)
    calls = _replace_calls(counted, files, monkeypatch)
    # 3 changed + 3 removed + 3 added + manifest: each replaced file is moved away, then the new one in.
    assert calls >= 10
    for fail_on in range(1, calls + 1):
        repo = copy_of(two_services, tmp_path / f"fail-{fail_on}")
        before = snapshot(repo / "out")
        monkeypatch.setattr(emit.os, "replace", FailingReplace(fail_on))
        with pytest.raises(OutputError) as caught:
            emit.write_output(repo / "out", files)
        monkeypatch.undo()
        assert contents(snapshot(repo / "out")) == contents(before), f"not rolled back after call {fail_on}"
        assert len(caught.value.lines) == 1
        assert caught.value.lines[0].startswith(f"cannot write {repo / 'out'}")
        assert caught.value.lines[0].endswith(f"No space left on device; {repo / 'out'} was left as it was")
        assert not isinstance(caught.value, OutputConflict)


def test_a_failed_write_through_the_cli_exits_1_and_leaves_out_as_it_was(repo: Path, monkeypatch):
    _changed_specs(repo)
    before = snapshot(repo / "out")
    monkeypatch.chdir(repo)
    monkeypatch.setattr(emit.os, "replace", FailingReplace(fail_on=4))
    result = CliRunner().invoke(cli.main, ["build"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error: cannot write out/")
    assert result.output.endswith("No space left on device; out was left as it was\n")
    monkeypatch.undo()
    assert contents(snapshot(repo / "out")) == contents(before)


def test_a_failed_first_build_leaves_no_out_directory(tmp_path: Path, two_services: Path, monkeypatch):
    repo = copy_of(two_services, tmp_path / "repo")
    files = compile_specs(repo / "specs", repo).files
    out = repo / "fresh" / "out"
    monkeypatch.setattr(emit.os, "replace", FailingReplace(fail_on=2))
    with pytest.raises(OutputError):
        emit.write_output(out, files)
    monkeypatch.undo()
    assert not (repo / "fresh").exists()


def test_a_successful_write_leaves_no_staging_directory(repo: Path):
    _changed_specs(repo)
    assert build(repo).returncode == 0
    assert not [p for p in (repo / "out").iterdir() if p.name.startswith(emit.STAGING_PREFIX)]
    assert run_obsgen("check", cwd=repo).returncode == 0
