"""The `obsgen` command. Exit codes: 0 ok, 1 problems in specs or output, 2 usage errors, 3 a bug in obsgen."""
from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import traceback
from pathlib import Path

import click

from . import lint
from .emit import diff_output, write_output
from .errors import ObsgenError, OutputConflict
from .load import load_specs
from .pipeline import compile_specs
from .schema import spec_schema
from .validate import validate

EXIT_PROBLEMS = 1
EXIT_INTERNAL = 3

specs_option = click.option("--specs", "spec_dir", type=click.Path(path_type=Path), default=Path("specs"),
                            show_default=True, help="Directory of spec files (searched recursively).")
out_option = click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("out"),
                          show_default=True, help="Directory of generated output.")


def _fail(lines: list[str]) -> None:
    for line in lines:
        click.echo(f"error: {line}", err=True)
    sys.exit(EXIT_PROBLEMS)


def reports_problems(command):
    """Turn expected failures into one-line errors and exit 1; anything else is a bug (exit 3)."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ObsgenError as err:
            _fail([p.format() for p in err.problems])
        except OutputConflict as err:
            _fail([str(err)])
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except Exception as err:  # noqa: BLE001 - last line of defence against tracebacks
            if os.environ.get("OBSGEN_DEBUG"):
                traceback.print_exc()
            click.echo(f"obsgen: internal error: {type(err).__name__}: {err} "
                       "(a bug in obsgen; set OBSGEN_DEBUG=1 for a traceback)", err=True)
            sys.exit(EXIT_INTERNAL)

    return run


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Compile service specs into Grafana dashboards and Prometheus rules.

    Run at a repository root: specs/ is read, out/ is written.
    """


@main.command()
@specs_option
@out_option
@reports_problems
def build(spec_dir: Path, out_dir: Path) -> None:
    """Compile every spec into out/, replacing what obsgen generated before.

    Nothing is written unless every spec compiles and every output checks out.
    Files in out/ that obsgen did not generate are left alone.
    """
    compiled = compile_specs(spec_dir)
    _promtool_gate(compiled.rule_files)
    for out in compiled.services:
        for note in (n for d in out.domains for n in d.notes):
            click.echo(f"note: {out.service.name}: {note}", err=True)
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
@reports_problems
def check(spec_dir: Path, out_dir: Path) -> None:
    """Fail if out/ is not exactly what the specs compile to, or if any output is invalid. For CI."""
    compiled = compile_specs(spec_dir)
    if lint.promtool() is None:
        click.echo("obsgen: promtool not found; rule files were checked without it", err=True)
    _promtool_gate(compiled.rule_files)
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
@reports_problems
def validate_command(spec_dir: Path) -> None:
    """Check the specs only: syntax, schema, names. Writes nothing."""
    documents = load_specs(spec_dir, Path.cwd())
    validate(documents)
    click.echo(f"obsgen: {len(documents)} spec(s) valid")


@main.command()
def schema() -> None:
    """Print the spec language's JSON Schema, for editors (yaml-language-server) and other tools."""
    click.echo(json.dumps(spec_schema(), indent=2))


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
