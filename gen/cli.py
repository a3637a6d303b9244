"""The `obsgen` command. Exit codes: 0 ok, 1 problems in specs or output, 2 usage errors, 3 a bug in obsgen.

`obsgen diff` follows `git diff --exit-code` instead: 0 no changes, 1 changes, 2 it could not compare
(problems in the specs on either side, an unknown ref, usage), 3 a bug in obsgen.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import os
import subprocess
import sys
import traceback
from pathlib import Path

import click

from . import diff as semantic_diff
from . import lint
from .emit import diff_output, write_output
from .errors import ObsgenError, OutputConflict
from .jsonnet_specs import Pairs
from .load import load_specs
from .pipeline import compile_specs
from .project import PROJECT_FILE, Project, load_project, project_schema
from .schema import spec_schema
from .validate import validate

EXIT_PROBLEMS = 1
EXIT_DIFF_FAILED = 2
EXIT_INTERNAL = 3

specs_option = click.option("--specs", "spec_dir", type=click.Path(path_type=Path), default=Path("specs"),
                            show_default=True, help="Directory of spec files (searched recursively).")
out_option = click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("out"),
                          show_default=True, help="Directory of generated output.")


def _assignments(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> Pairs:
    pairs = []
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {value!r}", ctx=ctx, param=param)
        pairs.append((key, rest))
    return tuple(pairs)


def project_options(command):
    """--project and the Jsonnet external variables, which every command that compiles specs takes."""
    command = click.option("--ext-code", "ext_code", multiple=True, callback=_assignments, metavar="KEY=CODE",
                           help="Jsonnet external variable holding code; overrides jsonnet.extCode.")(command)
    command = click.option("--ext-str", "ext_str", multiple=True, callback=_assignments, metavar="KEY=VALUE",
                           help="Jsonnet external string variable (std.extVar); overrides jsonnet.extVars.")(command)
    return click.option("--project", "project_file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
                        default=None, help=f"Project file: targets and their settings. Default: {PROJECT_FILE} "
                                           "if there is one.")(command)


def _project(project_file: Path | None, ext_str: Pairs, ext_code: Pairs) -> Project:
    project = load_project(project_file or Path(PROJECT_FILE), Path.cwd())
    return dataclasses.replace(project, jsonnet=project.jsonnet.with_overrides(ext_str, ext_code))


def _fail(lines: list[str], code: int = EXIT_PROBLEMS) -> None:
    for line in lines:
        click.echo(f"error: {line}", err=True)
    sys.exit(code)


def reporting_problems(code: int):
    """Turn expected failures into one-line errors and exit `code`; anything else is a bug (exit 3)."""

    def decorate(command):
        @functools.wraps(command)
        def run(*args, **kwargs):
            try:
                return command(*args, **kwargs)
            except ObsgenError as err:
                _fail([p.format() for p in err.problems], code)
            except OutputConflict as err:
                _fail([str(err)], code)
            except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
                raise
            except Exception as err:  # noqa: BLE001 - last line of defence against tracebacks
                if os.environ.get("OBSGEN_DEBUG"):
                    traceback.print_exc()
                click.echo(f"obsgen: internal error: {type(err).__name__}: {err} "
                           "(a bug in obsgen; set OBSGEN_DEBUG=1 for a traceback)", err=True)
                sys.exit(EXIT_INTERNAL)

        return run

    return decorate


reports_problems = reporting_problems(EXIT_PROBLEMS)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Compile service specs into Grafana dashboards and Prometheus rules.

    Run at a repository root: specs/ is read, out/ is written.
    """


@main.command()
@specs_option
@out_option
@project_options
@reports_problems
def build(spec_dir: Path, out_dir: Path, project_file: Path | None, ext_str: Pairs, ext_code: Pairs) -> None:
    """Compile every spec into out/, replacing what obsgen generated before.

    Nothing is written unless every spec compiles and every output checks out.
    Files in out/ that obsgen did not generate are left alone.
    """
    compiled = compile_specs(spec_dir, Path.cwd(), _project(project_file, ext_str, ext_code))
    _promtool_gate(compiled.promtool_files)
    changes = write_output(out_dir, compiled.files)
    click.echo(f"obsgen: {len(compiled.services)} service(s): {len(changes.written)} file(s) written, "
               f"{len(changes.removed)} removed, {len(changes.unchanged)} unchanged in {out_dir}")


def _promtool_gate(rule_files: dict[str, bytes]) -> None:
    problems = lint.promtool_check_rules(rule_files)
    if problems:
        _fail([f"promtool check rules: {line}" for line in problems])


@main.command()
@specs_option
@out_option
@project_options
@reports_problems
def check(spec_dir: Path, out_dir: Path, project_file: Path | None, ext_str: Pairs, ext_code: Pairs) -> None:
    """Fail if out/ is not exactly what the specs compile to, or if any output is invalid. The CI gate."""
    compiled = compile_specs(spec_dir, Path.cwd(), _project(project_file, ext_str, ext_code))
    if lint.promtool() is None:
        click.echo("obsgen: promtool not found; rule files were checked without it", err=True)
    _promtool_gate(compiled.promtool_files)
    stale = diff_output(out_dir, compiled.files)
    if stale:
        for rel, what in stale:
            click.echo(f"error: {out_dir / rel}: {what}", err=True)
        click.echo(f"error: {out_dir} is out of date with {spec_dir}; run `obsgen build` and commit the result",
                   err=True)
        sys.exit(EXIT_PROBLEMS)
    click.echo(f"obsgen: {out_dir} is up to date ({len(compiled.files)} files, {len(compiled.services)} service(s))")


@main.command("validate")
@specs_option
@project_options
@reports_problems
def validate_command(spec_dir: Path, project_file: Path | None, ext_str: Pairs, ext_code: Pairs) -> None:
    """Check the project file and the specs only: syntax, schema, names. Writes nothing."""
    project = _project(project_file, ext_str, ext_code)
    documents = load_specs(spec_dir, Path.cwd(), project.jsonnet)
    validate(documents)
    click.echo(f"obsgen: {len(documents)} spec(s) valid")


SCHEMAS = {"spec": spec_schema, "project": project_schema}


@main.command()
@click.argument("which", type=click.Choice(sorted(SCHEMAS)), default="spec")
def schema(which: str) -> None:
    """Print the JSON Schema of service specs (default) or of the project file, for editors and other tools."""
    click.echo(json.dumps(SCHEMAS[which](), indent=2))


@main.command()
@click.option("--base", "base_ref", default="HEAD", show_default=True, metavar="GIT_REF",
              help="Compare the specs at this git ref with the working tree.")
@click.option("--format", "output_format", type=click.Choice(sorted(semantic_diff.RENDERERS)), default="text",
              show_default=True, help="markdown: a summary for a pull-request comment.")
@specs_option
@project_options
@reporting_problems(EXIT_DIFF_FAILED)
def diff(base_ref: str, output_format: str, spec_dir: Path, project_file: Path | None, ext_str: Pairs,
         ext_code: Pairs) -> None:
    """Summarise what the spec changes since GIT_REF do to alerts, recording rules and dashboards.

    Both sides are compiled in memory by this obsgen; out/ is not read. Exit codes follow
    `git diff --exit-code`: 0 no changes, 1 changes, 2 could not compare.
    """
    old = semantic_diff.compile_at(base_ref, spec_dir, project_file or Path(PROJECT_FILE), (ext_str, ext_code))
    new = compile_specs(spec_dir, Path.cwd(), _project(project_file, ext_str, ext_code))
    report = semantic_diff.compare(old, new, base_ref, "working tree")
    click.echo(semantic_diff.RENDERERS[output_format](report), nl=False)
    sys.exit(1 if report.changed else 0)


@main.command()
@out_option
@reports_problems
def test(out_dir: Path) -> None:
    """Run the generated promtool unit tests (out/tests/*.test.yml) against the generated rules."""
    tool = lint.promtool()
    if tool is None:
        _fail(["promtool not found; install Debian's `prometheus` package (or run `make test`, which does)"])
    files = sorted((out_dir / "tests").glob("*.test.yml")) if (out_dir / "tests").is_dir() else []
    if not files:
        _fail([f"no rule tests in {out_dir}/tests; run `obsgen build` first"])
    failed = []
    for path in files:
        result = subprocess.run([tool, "test", "rules", path.name], cwd=path.parent, capture_output=True,
                                text=True)
        status = "ok" if result.returncode == 0 else "FAILED"
        click.echo(f"{status:6} {path}")
        if result.returncode != 0:
            failed.append(path)
            click.echo(result.stdout + result.stderr, err=True)
    if failed:
        _fail([f"{len(failed)} of {len(files)} rule test file(s) failed"])
    click.echo(f"obsgen: {len(files)} rule test file(s) passed")
