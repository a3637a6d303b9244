"""Broken specs: every one is refused by the real CLI with one line per problem, exit 1, and out/ untouched.

The corpus is tests/bad_specs/: one file per case, or a directory when a case needs several
files. CASES below says, for each, where the error must point (`file:line:` under specs/, or
`file: ` when the file has no meaningful line) and a part of what it must say.
"""
from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
import yaml

from .conftest import run_obsgen
from .workspace import copy_of, good_build, second_service, snapshot

BAD_SPECS = Path(__file__).parent / "bad_specs"

CASES: dict[str, tuple[str, str]] = {
    # Misspelt keys, at several depths: the closest valid key is suggested.
    "typo_top_level.yaml": ("typo_top_level.yaml:2:", "unknown key 'knd' (did you mean 'kind'?)"),
    "typo_metadata.yaml": ("typo_metadata.yaml:5:", "unknown key 'teams' (did you mean 'team'?)"),
    "typo_namespace.yaml": ("typo_namespace.yaml:7:", "unknown key 'namespce' (did you mean 'namespace'?)"),
    "typo_selector.yaml": ("typo_selector.yaml:10:", "unknown key 'jobb' (did you mean 'job'?)"),
    "typo_resources.yaml": ("typo_resources.yaml:12:", "unknown key 'memroy' (did you mean 'memory'?)"),
    "typo_alert_name.yaml": ("typo_alert_name.yaml:17:", "did you mean 'memoryNearLimit'?"),
    "typo_alert_param.yaml": ("typo_alert_param.yaml:18:", "unknown key 'treshold' (did you mean 'threshold'?)"),
    # Keys valid at another level: where they go.
    "misplaced_key_top_level.yaml": ("misplaced_key_top_level.yaml:8:1:", "unknown key 'queues' (did you mean "
                                     "`spec.queues`? 'queues' is valid there, not here)"),
    "misplaced_key_in_spec.yaml": ("misplaced_key_in_spec.yaml:8:3:", "spec.team: unknown key 'team' (did you "
                                   "mean `metadata.team`?"),
    # Wrong types.
    "type_number_for_string.yaml": ("type_number_for_string.yaml:7:", "expected a string, got a number (42)"),
    "type_bool_for_string.yaml": ("type_bool_for_string.yaml:5:", "expected a string, got true/false (true) "
                                  "(quote it: YAML reads yes/no/on/off/true/false as booleans)"),
    "type_string_for_bool.yaml": ("type_string_for_bool.yaml:15:", "expected true/false, got a string ('false')"),
    "type_string_for_integer.yaml": ("type_string_for_integer.yaml:15:", "got a string ('3') (remove the quotes)"),
    "type_float_for_integer.yaml": ("type_float_for_integer.yaml:15:", "expected a whole number, got a number (2.5)"),
    "type_list_for_mapping.yaml": ("type_list_for_mapping.yaml:10:", "spec.selector: expected a mapping, got a list"),
    "type_list_for_string.yaml": ("type_list_for_string.yaml:8:", "spec.runtime: expected a string, got a list"),
    "type_mapping_for_string.yaml": ("type_mapping_for_string.yaml:10:", "expected a string, got a mapping"),
    # Durations.
    "duration_with_space.yaml": ("duration_with_space.yaml:16:", "'15 min' is not a duration; write it like"),
    "duration_without_unit.yaml": ("duration_without_unit.yaml:16:", "expected a duration such as 15m, got a "
                                   "number (15) (add a unit: 15m or 15h)"),
    # The unit hint fits the field: only units that give a plausible value are offered.
    "duration_without_unit_fits_field.yaml": ("duration_without_unit_fits_field.yaml:15:", "got a number (150) "
                                              "(add a unit: 150ms)"),
    # Every duration and size has a plausible range; outside it, the error says what the value means.
    "duration_out_of_range.yaml": ("duration_out_of_range.yaml:15:", "spec.alerts.eventLoopLag.threshold: 150m is "
                                   "2.5 hours; this must be between 1ms and 10s (did you mean 150ms?)"),
    "duration_window_too_long.yaml": ("duration_window_too_long.yaml:15:", "16d is 16 days; this must be between "
                                      "30m and 7d (did you mean 16h?)"),
    "size_bare_number_out_of_range.yaml": ("size_bare_number_out_of_range.yaml:9:", "2 is 2 bytes; this must be "
                                           "between 16Mi and 1Ti (did you mean 2Gi?)"),
    "size_out_of_range.yaml": ("size_out_of_range.yaml:10:", "4Ti is 4 TiB; this must be between 64Ki and 16Gi"),
    "duration_units_out_of_order.yaml": ("duration_units_out_of_order.yaml:16:", "'1m1h' is not a duration"),
    "duration_zero_window.yaml": ("duration_zero_window.yaml:16:", "'0s' is zero; a window must be longer than 0s"),
    # Sizes, CPU, percentages, and resources Kubernetes would reject.
    "size_with_bytes_suffix.yaml": ("size_with_bytes_suffix.yaml:12:", "'2GB' is not a size; write it like 512Mi"),
    "size_negative.yaml": ("size_negative.yaml:12:", "'-1Gi' is not a size"),
    "size_negative_number.yaml": ("size_negative_number.yaml:12:", "-5 is negative; it must be 0 or more"),
    "cpu_bad_unit.yaml": ("cpu_bad_unit.yaml:12:", "'500x' is not a CPU amount; write cores like 0.5"),
    "cpu_negative.yaml": ("cpu_negative.yaml:12:", "-0.5 is negative"),
    "number_infinite.yaml": ("number_infinite.yaml:12:", "'.inf' is not a number a spec can use"),
    "percent_over_100.yaml": ("percent_over_100.yaml:18:", "'150%' is more than 100%"),
    "percent_as_number.yaml": ("percent_as_number.yaml:18:", "got a number (0.9) (write it as '90%')"),
    "request_above_limit.yaml": ("request_above_limit.yaml:12:", "memory request 2Gi is more than the limit 1Gi"),
    "limit_zero.yaml": ("limit_zero.yaml:12:", "limits.memory: a memory limit of 0 leaves the container nothing"),
    # Duplicates.
    "duplicate_name_in_one_file.yaml": ("duplicate_name_in_one_file.yaml:23:", "duplicate service name 'broken-api' "
                                        "(also at specs/duplicate_name_in_one_file.yaml:4)"),
    "duplicate_name_across_files": ("b-second.yaml:4:", "duplicate service name 'broken-api' "
                                    "(also at specs/a-first.yaml:4)"),
    # Sorted by file name, the valid spec comes second, so it is the one named as the duplicate.
    "duplicate_name_of_other_spec.yaml": ("submission-api.yaml:7:", "duplicate service name 'submission-api' "
                                          "(also at specs/duplicate_name_of_other_spec.yaml:4)"),
    "duplicate_yaml_key.yaml": ("duplicate_yaml_key.yaml:9:", "duplicate key 'namespace' (first defined at line 7)"),
    "duplicate_yaml_key_nested.yaml": ("duplicate_yaml_key_nested.yaml:17:", "spec.alerts.restarts.window: "
                                       "duplicate key 'window' (first defined at line 16)"),
    "dashboard_tags_repeated.yaml": ("dashboard_tags_repeated.yaml:14:", "lists 'shop' more than once"),
    # Not YAML, or not text.
    "tab_indentation.yaml": ("tab_indentation.yaml:7:", "indent with spaces; YAML does not allow tabs"),
    # Indentation slips: PyYAML's words, plus where the line probably belongs.
    "indentation_too_deep.yaml": ("indentation_too_deep.yaml:8:5:", "mapping values are not allowed here "
                                  "(indentation: line 8 is indented 4 spaces, deeper than 'namespace' on line 7, "
                                  "which already has a value; indent 'runtime' by 2 spaces to put it beside "
                                  "'namespace', under 'spec' (line 6))"),
    "indentation_between_levels.yaml": ("indentation_between_levels.yaml:11:6:", "it probably belongs under "
                                        "'restarts' (line 9): indent 'window' by 6 spaces (or by 4, under 'alerts')"),
    "unclosed_bracket.yaml": ("unclosed_bracket.yaml:12:", "not valid YAML: '{' is not closed"),
    "unclosed_quote.yaml": ("unclosed_quote.yaml:5:", "runs on to line 12, where reading fails"),
    "binary.yaml": ("binary.yaml: ", "this is a binary file, not a YAML spec"),
    "not_utf8.yaml": ("not_utf8.yaml:6:", "not valid UTF-8 (byte 0xe9) (save the file as UTF-8)"),
    "utf16.yaml": ("utf16.yaml: ", "saved as UTF-16, not UTF-8"),
    "control_character.yaml": ("control_character.yaml:5:", "control character U+0007 is not allowed in YAML"),
    # Escapes that would repaint a CI log (clear the screen, set the window title, hide text, reverse it):
    # quoted escaped, so the line shows what the spec holds and does nothing to the terminal.
    "ansi_escape_in_value.yaml": ("ansi_escape_in_value.yaml:5:", "metadata.team: '\\x1b[2J\\x1b[1;31mpayments"
                                  "\\x1b[0m\\u202e' must be empty or hold only"),
    "ansi_escape_in_key.yaml": ("ansi_escape_in_key.yaml:5:", "unknown key '\\x1b]0;pwned\\x07tea\\x1b[8mm\\r\\n"
                                "error: all good'"),
    # Hostile YAML.
    "alias_bomb.yaml": ("alias_bomb.yaml:5:", "document expands to more than 50000 values"),
    "deep_nesting.yaml": ("deep_nesting.yaml:1:", "nested more than 40 levels deep"),
    "deep_nesting_unclosed.yaml": ("deep_nesting_unclosed.yaml:1:", "nested more than 40 levels deep"),
    # PyYAML quotes an undefined alias' name whole: only an excerpt is printed.
    "undefined_alias_long.yaml": ("undefined_alias_long.yaml:6:9: not valid YAML: found undefined alias "
                                  "'leakleakleak", "leakleakl..."),
    "recursive_alias.yaml": ("recursive_alias.yaml:9:", "spec.selector.matchers: recursive alias"),
    "yaml_python_tag.yaml": ("yaml_python_tag.yaml:7:", "YAML tag '!!python/object/apply:os.system' is not used"),
    "yaml_custom_tag_on_mapping.yaml": ("yaml_custom_tag_on_mapping.yaml:9:", "YAML tag '!custom' is not used"),
    # Names unsafe as file names or Kubernetes names.
    "name_path_traversal.yaml": ("name_path_traversal.yaml:4:", "'../etc' must be a Kubernetes name"),
    "name_uppercase_underscore.yaml": ("name_uppercase_underscore.yaml:4:", "(not allowed: 'F', '_', 'B')"),
    "name_too_long.yaml": ("name_too_long.yaml:4:", "is 64 characters long; the limit is 63"),
    "name_empty.yaml": ("name_empty.yaml:4:", "metadata.name: must not be empty"),
    "name_null.yaml": ("name_null.yaml:4:", "metadata.name: expected a string, got empty (null)"),
    "namespace_unsafe.yaml": ("namespace_unsafe.yaml:7:", "'shop/../kube-system' must be a Kubernetes name"),
    "container_unsafe.yaml": ("container_unsafe.yaml:9:", "'App_1' must be a Kubernetes name"),
    # Label values that would break or inject PromQL, or be read as a Grafana variable.
    "job_promql_injection.yaml": ("job_promql_injection.yaml:10:", "spec.selector.job: 'x\"} or vector(1) #' "
                                  "may hold only letters, digits"),
    "matcher_with_quote.yaml": ("matcher_with_quote.yaml:11:", "spec.selector.matchers.env: 'a\"b' may hold only"),
    "job_grafana_variable.yaml": ("job_grafana_variable.yaml:10:", "(not allowed: '$')"),
    "matcher_with_newline.yaml": ("matcher_with_newline.yaml:11:", "'prod\\nx' may hold only"),
    "alert_label_with_brace.yaml": ("alert_label_with_brace.yaml:14:", "'a}b' may hold only"),
    "team_with_space.yaml": ("team_with_space.yaml:5:", "(not allowed: ' ')"),
    "label_name_reserved.yaml": ("label_name_reserved.yaml:11:", "label name '__name__' is reserved"),
    "label_name_invalid.yaml": ("label_name_invalid.yaml:11:", "'env-name' must be a Prometheus label name"),
    "runbook_url_not_http.yaml": ("runbook_url_not_http.yaml:14:", "must be an http:// or https:// URL"),
    # Pod regexes Prometheus cannot use.
    "pod_regex_does_not_compile.yaml": ("pod_regex_does_not_compile.yaml:11:", "is not a valid regular expression"),
    "pod_regex_lookahead.yaml": ("pod_regex_lookahead.yaml:11:", "uses look-around or back-references"),
    "pod_regex_backreference.yaml": ("pod_regex_backreference.yaml:11:", "uses look-around or back-references"),
    # The document itself.
    "wrong_api_version.yaml": ("wrong_api_version.yaml:1:", "apiVersion: must be 'obsgen/v1', got a string"),
    "wrong_kind.yaml": ("wrong_kind.yaml:2:", "kind: must be 'Service', got a string ('Deployment')"),
    "missing_api_version.yaml": ("missing_api_version.yaml:1:", "missing required key 'apiVersion' "
                                 "(add 'apiVersion: obsgen/v1')"),
    "document_is_list.yaml": ("document_is_list.yaml:1:", "a spec must be a mapping, got a list"),
    "document_is_scalar.yaml": ("document_is_scalar.yaml:1:", "a spec must be a mapping, got a string"),
    "empty_file.yaml": ("empty_file.yaml: ", "holds no spec documents"),
    "only_comments.yaml": ("only_comments.yaml: ", "holds no spec documents"),
    "second_document_broken.yaml": ("second_document_broken.yaml:26:", "'Shop' must be a Kubernetes name"),
    # Required fields and enums.
    "missing_namespace.yaml": ("missing_namespace.yaml:7:", "spec: missing required key 'namespace'"),
    "missing_runtime.yaml": ("missing_runtime.yaml:7:", "spec: missing required key 'runtime'"),
    "missing_name.yaml": ("missing_name.yaml:4:", "metadata: missing required key 'name'"),
    "missing_spec.yaml": ("missing_spec.yaml:1:", "missing required key 'spec'"),
    "unknown_runtime_near_miss.yaml": ("unknown_runtime_near_miss.yaml:8:", "'nodej' is not one of: nodejs "
                                       "(did you mean 'nodejs'?)"),
    "unknown_runtime.yaml": ("unknown_runtime.yaml:8:", "'python' is not one of: nodejs"),
    "bad_severity.yaml": ("bad_severity.yaml:16:", "'critcal' is not one of: critical, warning, info "
                          "(did you mean 'critical'?)"),
}

# error: <file under specs/>[:line:column]: <message>, all on one line.
ERROR_LINE = re.compile(r"^error: specs/[^\s:]+\.ya?ml(:\d+:\d+)?: \S")
MAX_LINE = 400  # a line a person can read; a runaway path or value would exceed it


@pytest.fixture(scope="module")
def previous_build(tmp_path_factory) -> Path:
    return good_build(tmp_path_factory.mktemp("previous") / "repo")


def add_case(case: str, specs: Path) -> None:
    source = BAD_SPECS / case
    for path in sorted(source.iterdir()) if source.is_dir() else [source]:
        shutil.copy2(path, specs / path.name)


def error_lines(result) -> list[str]:
    """The errors of a failed run, after checking that each is one well-formed line."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert lines, "no error printed"
    for line in lines:
        assert ERROR_LINE.match(line), f"not a one-line error naming a spec file: {line!r}"
        assert len(line) <= MAX_LINE, f"error line of {len(line)} characters: {line[:200]!r}..."
        assert line.isprintable(), f"a control or invisible character reached the log: {line!r}"
    return lines


def test_every_case_in_the_corpus_has_an_expectation():
    assert sorted(p.name for p in BAD_SPECS.iterdir()) == sorted(CASES)


@pytest.mark.parametrize(("case", "where", "says"),
                         [pytest.param(case, where, says, id=Path(case).stem) for case, (where, says) in CASES.items()])
def test_bad_spec_is_refused_and_out_is_untouched(case: str, where: str, says: str, previous_build: Path,
                                                  tmp_path: Path):
    repo = copy_of(previous_build, tmp_path / "repo")
    add_case(case, repo / "specs")
    before = snapshot(repo / "out")

    build = run_obsgen("build", "--specs", "specs", "--out", "out", cwd=repo)

    assert build.returncode == 1, build.stdout + build.stderr
    lines = error_lines(build)
    assert any(line.startswith(f"error: specs/{where}") and says in line for line in lines), (
        f"expected an error at specs/{where} saying {says!r}; got:\n{build.stderr}")
    assert build.stdout == ""
    assert snapshot(repo / "out") == before

    validate = run_obsgen("validate", "--specs", "specs", cwd=repo)
    assert validate.returncode == 1
    assert validate.stderr == build.stderr
    assert snapshot(repo / "out") == before


def test_misspelt_required_key_is_reported_once(previous_build: Path, tmp_path: Path):
    repo = copy_of(previous_build, tmp_path / "repo")
    add_case("typo_namespace.yaml", repo / "specs")
    result = run_obsgen("validate", "--specs", "specs", cwd=repo)
    assert error_lines(result) == [
        "error: specs/typo_namespace.yaml:7:3: spec.namespce: unknown key 'namespce' (did you mean 'namespace'?)"]


@pytest.mark.parametrize("cases", [
    pytest.param(("binary.yaml", "tab_indentation.yaml", "not_utf8.yaml"), id="unreadable-files"),
    pytest.param(("typo_selector.yaml", "percent_over_100.yaml", "missing_runtime.yaml"), id="invalid-specs"),
])
def test_every_file_is_reported_at_once(cases: tuple[str, ...], previous_build: Path, tmp_path: Path):
    """Files that cannot be read are all reported together; so are specs that break the schema."""
    repo = copy_of(previous_build, tmp_path / "repo")
    for case in cases:
        add_case(case, repo / "specs")
    result = run_obsgen("build", "--specs", "specs", "--out", "out", cwd=repo)
    assert result.returncode == 1
    named = {line.split(":")[1].strip() for line in error_lines(result)}
    assert named == {f"specs/{case}" for case in cases}


def test_errors_name_files_by_absolute_path_when_run_elsewhere(previous_build: Path, tmp_path: Path):
    repo = copy_of(previous_build, tmp_path / "repo")
    add_case("typo_namespace.yaml", repo / "specs")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    before = snapshot(repo / "out")
    result = run_obsgen("build", "--specs", str(repo / "specs"), "--out", str(repo / "out"), cwd=elsewhere)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {repo / 'specs' / 'typo_namespace.yaml'}:7:3: spec.namespce:")
    assert snapshot(repo / "out") == before


def test_oversized_file_is_refused_before_parsing(previous_build: Path, tmp_path: Path):
    repo = copy_of(previous_build, tmp_path / "repo")
    (repo / "specs" / "huge.yaml").write_text("# padding\n" * 120_000)
    before = snapshot(repo / "out")
    result = run_obsgen("build", "--specs", "specs", "--out", "out", cwd=repo)
    assert result.returncode == 1
    assert error_lines(result) == ["error: specs/huge.yaml: file is 1200000 bytes; specs are limited to 1048576 "
                                   "(split it into several spec files)"]
    assert snapshot(repo / "out") == before


# ---- A pull request is untrusted input ----
# Links, FIFOs and devices cannot be committed portably, so each case makes them in its own workspace: the
# repository beside an `outside` directory that stands for the CI machine's files. Every file there holds
# SECRET, which no output may ever show. Each case: exit 1 (2 for diff), one line, no traceback, out/
# byte-identical, and the build returns at once (a FIFO or /dev/zero read would block or fill memory).

SECRET = "obsgen-test-secret-5b1e"
SECRET_YAML = f"apiVersion: obsgen/v1\nkind: Service\ntoken: {SECRET}\n{SECRET}: {SECRET}\n"
HOSTILE_LINE = re.compile(r"^error: (specs/.+?|obsgen\.yaml)(:\d+:\d+)?: \S")
SERVICE_JSONNET = "local s = import 'lib.libsonnet';\ns\n"


def _outside(outside: Path) -> Path:
    """A secret file outside the repository, as a token or kubeconfig on a CI runner would be."""
    outside.mkdir(exist_ok=True)
    (outside / "secret.yaml").write_text(SECRET_YAML)
    (outside / "dir").mkdir(exist_ok=True)
    (outside / "dir" / "team.yaml").write_text(SECRET_YAML)
    return outside / "secret.yaml"


def _link_to_file_outside(repo: Path, outside: Path) -> tuple[str, str]:
    (repo / "specs" / "evil.yaml").symlink_to(_outside(outside))
    return "evil.yaml: ", f"is a symlink to {outside}/secret.yaml, outside the repository; obsgen reads only files " \
                          f"inside {repo} (commit what it points to instead of the link)"


def _link_to_etc_passwd(repo: Path, outside: Path) -> tuple[str, str]:
    (repo / "specs" / "passwd.yaml").symlink_to("/etc/passwd")
    return "passwd.yaml: ", "is a symlink to /etc/passwd, outside the repository"


def _linked_directory_outside(repo: Path, outside: Path) -> tuple[str, str]:
    _outside(outside)
    (repo / "specs" / "team").symlink_to(outside / "dir", target_is_directory=True)
    return "team: ", f"is a symlink to {outside}/dir, outside the repository"


def _specs_directory_linked_outside(repo: Path, outside: Path) -> tuple[str, str]:
    _outside(outside)
    (repo / "specs" / "nested").mkdir()
    (repo / "specs" / "nested" / "deeper").symlink_to(outside / "dir", target_is_directory=True)
    return "nested/deeper: ", f"is a symlink to {outside}/dir, outside the repository"


def _link_chain_ending_outside(repo: Path, outside: Path) -> tuple[str, str]:
    (repo / "hop.yaml").symlink_to(_outside(outside))  # the first step stays inside the repository
    (repo / "specs" / "chain.yaml").symlink_to("../hop.yaml")
    return "chain.yaml: ", f"is a symlink to {outside}/secret.yaml (through ../hop.yaml), outside the repository"


def _dangling_link(repo: Path, outside: Path) -> tuple[str, str]:
    (repo / "specs" / "gone.yaml").symlink_to("moved-away.yaml")
    return "gone.yaml: ", "is a symlink to specs/moved-away.yaml, which does not exist"


def _jsonnet_import_through_link(repo: Path, outside: Path) -> tuple[str, str]:
    (repo / "specs" / "lib.libsonnet").symlink_to(_outside(outside))
    (repo / "specs" / "fleet.jsonnet").write_text(SERVICE_JSONNET)
    return "fleet.jsonnet:1:11: ", (f"jsonnet: couldn't open import \"lib.libsonnet\": is a symlink to {outside}/"
                                    "secret.yaml, outside the repository; obsgen reads only files inside")


def _jsonnet_importstr_up_and_out(repo: Path, outside: Path) -> tuple[str, str]:
    _outside(outside)
    (repo / "specs" / "fleet.jsonnet").write_text("{ token: importstr '../../outside/secret.yaml' }\n")
    return "fleet.jsonnet:1:10: ", f"import \"../../outside/secret.yaml\": resolves to {outside}/secret.yaml, " \
                                   "outside the repository"


def _jsonnet_importbin_absolute(repo: Path, outside: Path) -> tuple[str, str]:
    (repo / "specs" / "fleet.jsonnet").write_text(f"{{ token: importbin '{_outside(outside)}' }}\n")
    return "fleet.jsonnet:1:10: ", f"resolves to {outside}/secret.yaml, outside the repository"


def _jsonnet_import_through_linked_directory(repo: Path, outside: Path) -> tuple[str, str]:
    _outside(outside)
    (repo / "vendor").symlink_to(outside / "dir", target_is_directory=True)  # not under specs/: not walked
    (repo / "specs" / "fleet.jsonnet").write_text("import '../vendor/team.yaml'\n")
    return "fleet.jsonnet:1:1: ", f"import \"../vendor/team.yaml\": vendor is a symlink to {outside}/dir, outside"


def _project_file_linked_outside(repo: Path, outside: Path) -> tuple[str, str]:
    (repo / "obsgen.yaml").unlink(missing_ok=True)  # the workspace's own project file gives way to the link
    (repo / "obsgen.yaml").symlink_to(_outside(outside))
    return "obsgen.yaml: ", f"is a symlink to {outside}/secret.yaml, outside the repository"


def _library_path_outside(repo: Path, outside: Path) -> tuple[str, str]:
    _outside(outside)
    (repo / "obsgen.yaml").write_text("apiVersion: obsgen/v1\nkind: Project\njsonnet:\n  libraryPaths: [../outside]\n")
    return "obsgen.yaml:4:18: ", (f"jsonnet.libraryPaths[0]: library path '../outside' resolves to {outside}, "
                                  "outside the repository")


def _fifo(repo: Path, outside: Path) -> tuple[str, str]:
    os.mkfifo(repo / "specs" / "pipe.yaml")
    return "pipe.yaml: ", "is a FIFO (named pipe), not a regular file; obsgen reads only regular files"


def _fifo_through_link_inside(repo: Path, outside: Path) -> tuple[str, str]:
    os.mkfifo(repo / "pipe")
    (repo / "specs" / "pipe.yaml").symlink_to("../pipe")
    return "pipe.yaml: ", "is a symlink to a FIFO (named pipe), not a regular file"


def _dev_zero_through_link(repo: Path, outside: Path) -> tuple[str, str]:
    (repo / "specs" / "zero.yaml").symlink_to("/dev/zero")
    return "zero.yaml: ", "is a symlink to /dev/zero, outside the repository"


def _huge_sparse_spec(repo: Path, outside: Path) -> tuple[str, str]:
    # 8 GiB on paper, nothing on disk: refused by its size, so never read into memory.
    with open(repo / "specs" / "huge.yaml", "wb") as handle:
        handle.truncate(8 * 1024**3)
    return "huge.yaml: ", "file is 8589934592 bytes; specs are limited to 1048576 (split it into several spec files)"


def _file_name_with_a_line_break(repo: Path, outside: Path) -> tuple[str, str]:
    # The name is written into a comment of each generated file; a line break would end the comment there.
    shutil.copy(repo / "specs" / "submission-api.yaml", repo / "specs" / "x\ngroups: [].yaml")
    return "x\\ngroups: [].yaml: ", "the file name holds a control or invisible character (rename the file)"


def _link_into_git_directory(repo: Path, outside: Path) -> tuple[str, str]:
    # actions/checkout leaves the job's token in .git/config: inside the checkout, and never a spec.
    (repo / ".git").mkdir()
    (repo / ".git" / "config").write_text(f"[http]\n\textraheader = AUTHORIZATION: basic {SECRET}\n")
    (repo / "specs" / "config.yaml").symlink_to("../.git/config")
    return "config.yaml: ", f"is a symlink to {repo}/.git/config, in git's own directory; obsgen never reads " \
                            "files there"


HOSTILE: dict[str, Callable[[Path, Path], tuple[str, str]]] = {
    "link_into_git_directory": _link_into_git_directory,
    "file_name_with_a_line_break": _file_name_with_a_line_break,
    "link_to_file_outside": _link_to_file_outside,
    "link_to_etc_passwd": _link_to_etc_passwd,
    "linked_directory_outside": _linked_directory_outside,
    "nested_linked_directory_outside": _specs_directory_linked_outside,
    "link_chain_ending_outside": _link_chain_ending_outside,
    "dangling_link": _dangling_link,
    "jsonnet_import_through_link": _jsonnet_import_through_link,
    "jsonnet_importstr_up_and_out": _jsonnet_importstr_up_and_out,
    "jsonnet_importbin_absolute": _jsonnet_importbin_absolute,
    "jsonnet_import_through_linked_directory": _jsonnet_import_through_linked_directory,
    "project_file_linked_outside": _project_file_linked_outside,
    "jsonnet_library_path_outside": _library_path_outside,
    "fifo": _fifo,
    "fifo_through_link_inside": _fifo_through_link_inside,
    "dev_zero_through_link": _dev_zero_through_link,
    "huge_sparse_spec": _huge_sparse_spec,
}


def run_bounded(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The real command line, stopped if it blocks: a read of a FIFO or /dev/zero would never return."""
    return subprocess.run([sys.executable, "-m", "gen", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def hostile_line(result: subprocess.CompletedProcess) -> str:
    """The one error line of a refused run, after checking that it leaks nothing and is well formed."""
    assert SECRET not in result.stdout + result.stderr, "content from outside the repository was printed"
    assert "root:x:0:0" not in result.stdout + result.stderr, "/etc/passwd was printed"
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert HOSTILE_LINE.match(line), f"not a one-line error naming the file: {line!r}"
    assert line.isprintable() and len(line) <= MAX_LINE, line
    return line


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_files_leading_out_of_the_repository_or_not_regular_are_refused_unread(case: str, previous_build: Path,
                                                                                tmp_path: Path):
    repo = copy_of(previous_build, tmp_path / "repo")
    where, says = HOSTILE[case](repo, tmp_path / "outside")
    before = snapshot(repo / "out")
    prefix = where if where.startswith("obsgen.yaml") else f"specs/{where}"
    for command in (("build", "--specs", "specs", "--out", "out"), ("check",), ("validate",)):
        result = run_bounded(*command, cwd=repo)
        assert result.returncode == 1, (command, result.stdout + result.stderr)
        line = hostile_line(result)
        assert line.startswith(f"error: {prefix}") and says in line, (
            f"{command[0]}: expected an error at {prefix} saying {says!r}; got:\n{line}")
        assert snapshot(repo / "out") == before
    # Nothing was read into memory: not the 8 GiB file, not /dev/zero.
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss < 1024 * 1024  # KiB: under 1 GiB


def test_diff_on_a_pull_request_refuses_a_link_out_with_exit_2(previous_build: Path, tmp_path: Path):
    repo = copy_of(previous_build, tmp_path / "repo")
    git = ("git", "-c", "user.name=t", "-c", "user.email=t@example.invalid")
    subprocess.run(("git", "init", "-q"), cwd=repo, check=True)
    subprocess.run((*git, "add", "-A"), cwd=repo, check=True)
    subprocess.run((*git, "commit", "-qm", "base"), cwd=repo, check=True)
    where, says = _link_to_file_outside(repo, tmp_path / "outside")
    result = run_bounded("diff", "--base", "HEAD", cwd=repo)
    assert result.returncode == 2, result.stdout + result.stderr
    line = hostile_line(result)
    assert line.startswith(f"error: specs/{where}") and says in line, line


def test_links_that_stay_inside_the_repository_keep_working(previous_build: Path, tmp_path: Path):
    """A spec linked from elsewhere in the repository, a linked directory of specs, a directory link that
    loops back, and a Jsonnet import through a link: all inside, all read as before."""
    repo = copy_of(previous_build, tmp_path / "repo")
    (repo / "teams" / "billing").mkdir(parents=True)
    (repo / "teams" / "billing" / "invoice-api.yaml").write_text(second_service("invoice-api"))
    (repo / "teams" / "refund-api.yaml").write_text(second_service("refund-api"))
    (repo / "specs" / "refund-api.yaml").symlink_to("../teams/refund-api.yaml")
    (repo / "specs" / "billing").symlink_to("../teams/billing", target_is_directory=True)
    (repo / "specs" / "loop").symlink_to(".", target_is_directory=True)
    (repo / "specs" / "shared").mkdir()
    (repo / "specs" / "shared" / "svc.libsonnet").write_text(json.dumps(yaml.safe_load(second_service("ledger-api"))))
    (repo / "specs" / "lib.libsonnet").symlink_to("shared/svc.libsonnet")
    (repo / "specs" / "ledger.jsonnet").write_text(SERVICE_JSONNET)

    result = run_bounded("build", "--specs", "specs", "--out", "out", cwd=repo)

    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (repo / "out" / "rules").iterdir()) == [
        "invoice-api.rules.yml", "ledger-api.rules.yml", "refund-api.rules.yml", "submission-api.rules.yml"]


@pytest.mark.parametrize(("make", "says"), [
    pytest.param(lambda repo, outside: (repo / "scenarios" / "leak.yaml").symlink_to(_outside(outside)),
                 "scenarios/leak.yaml: is a symlink to {outside}/secret.yaml, outside its directory", id="link-out"),
    pytest.param(lambda repo, outside: os.mkfifo(repo / "scenarios" / "leak.yaml"),
                 "scenarios/leak.yaml: is a FIFO (named pipe), not a regular file", id="fifo"),
    pytest.param(lambda repo, outside: (repo / "export.json").symlink_to("/dev/zero"),
                 "export.json: is a symlink to /dev/zero, outside its directory", id="range-export-dev-zero"),
])
def test_backtest_reads_scenario_files_and_recorded_data_as_it_reads_specs(make, says: str, previous_build: Path,
                                                                          tmp_path: Path):
    """--scenarios and --range-export are named on the command line; what is there may come from a pull request.
    Each is refused before it is read, and before any replay runs."""
    repo, outside = copy_of(previous_build, tmp_path / "repo"), tmp_path / "outside"
    (repo / "scenarios").mkdir()
    make(repo, outside)
    extra = ("--range-export", "export.json") if (repo / "export.json").is_symlink() else ("--scenarios", "scenarios")
    result = run_bounded("backtest", "--no-builtin", *extra, cwd=repo)
    assert result.returncode == 1, result.stdout + result.stderr
    assert SECRET not in result.stdout + result.stderr and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0].startswith(f"error: {says.format(outside=outside)}"), result.stderr


# ---- out/ comes from pull requests too: links and devices committed there are neither read nor written through ----

RULES = "out/rules/submission-api.rules.yml"
TESTS = "out/tests/submission-api.test.yml"


def test_a_manifest_linked_to_dev_zero_is_not_read_and_the_build_replaces_it(previous_build: Path, tmp_path: Path):
    repo = copy_of(previous_build, tmp_path / "repo")
    manifest = repo / "out" / ".obsgen-manifest.json"
    manifest.unlink()
    manifest.symlink_to("/dev/zero")
    check = run_bounded("check", cwd=repo)
    assert check.returncode == 1 and "Traceback" not in check.stderr, check.stderr
    assert ".obsgen-manifest.json: is a symbolic link, not the generated file" in check.stdout + check.stderr
    build = run_bounded("build", cwd=repo)
    assert build.returncode == 0, build.stderr
    assert not manifest.is_symlink() and json.loads(manifest.read_text())["generated"]
    assert run_bounded("check", cwd=repo).returncode == 0
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss < 1024 * 1024  # KiB: /dev/zero was not read


def test_a_generated_file_linked_out_is_reported_unread_and_replaced_not_written_through(previous_build: Path,
                                                                                        tmp_path: Path):
    repo = copy_of(previous_build, tmp_path / "repo")
    secret = _outside(tmp_path / "outside")
    (repo / RULES).unlink()
    (repo / RULES).symlink_to(secret)
    check = run_bounded("check", cwd=repo)
    assert check.returncode == 1 and SECRET not in check.stdout + check.stderr, check.stdout + check.stderr
    assert "submission-api.rules.yml: is a symbolic link, not the generated file" in check.stdout + check.stderr
    build = run_bounded("build", cwd=repo)
    assert build.returncode == 0, build.stderr
    assert not (repo / RULES).is_symlink() and secret.read_text() == SECRET_YAML  # the link went, not its target


def test_a_generated_directory_linked_out_is_refused_before_anything_is_written(previous_build: Path,
                                                                                tmp_path: Path):
    repo = copy_of(previous_build, tmp_path / "repo")
    outside = tmp_path / "outside-rules"
    outside.mkdir()
    shutil.rmtree(repo / "out" / "rules")
    (repo / "out" / "rules").symlink_to(outside, target_is_directory=True)
    before = snapshot(repo / "out")
    build = run_bounded("build", cwd=repo)
    assert build.returncode != 0 and "Traceback" not in build.stderr, build.stderr
    assert "out/rules is a symbolic link; obsgen writes only inside" in build.stderr, build.stderr
    assert list(outside.iterdir()) == [] and snapshot(repo / "out") == before


@pytest.mark.parametrize(("make", "says"), [
    pytest.param(lambda repo, outside: ((repo / TESTS).unlink(), (repo / TESTS).symlink_to("/dev/zero")),
                 "out/tests/submission-api.test.yml: is a symlink to /dev/zero, outside out",
                 id="test-file-dev-zero"),
    pytest.param(lambda repo, outside: ((repo / RULES).unlink(), (repo / RULES).symlink_to(_outside(outside))),
                 "out/rules/submission-api.rules.yml: is a symlink to {outside}/secret.yaml, outside out",
                 id="rule-file-linked-out"),
    pytest.param(lambda repo, outside: (repo / TESTS).write_text(
        (repo / TESTS).read_text().replace("../rules/submission-api.rules.yml", str(_outside(outside)))),
                 "out/tests/submission-api.test.yml: rule_files names {outside}/secret.yaml, outside out",
                 id="rule-file-named-out"),
])
def test_committed_rule_tests_are_run_only_on_files_inside_out(make, says: str, previous_build: Path,
                                                               tmp_path: Path, promtool):
    repo, outside = copy_of(previous_build, tmp_path / "repo"), tmp_path / "outside"
    make(repo, outside)
    result = run_bounded("test", "--committed", cwd=repo)
    assert result.returncode == 1, result.stdout + result.stderr
    assert SECRET not in result.stdout + result.stderr and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0].startswith(f"error: {says.format(outside=outside)}"), result.stderr

