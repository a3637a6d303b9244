"""The `obsgen` command. Exit codes: 0 ok, 1 problems in specs or output, 2 usage errors, 3 a bug in obsgen.

`obsgen diff` follows `git diff --exit-code` instead: 0 no changes, 1 changes, 2 it could not compare
(problems in the specs on either side, an unknown ref, usage), 3 a bug in obsgen.
"""
from __future__ import annotations

import dataclasses
import functools
from concurrent.futures import ThreadPoolExecutor, as_completed
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import click
import yaml
from click.core import ParameterSource

from gen.tools import diff as semantic_diff
from gen.checks import lint
from gen.tools import probe as probing
from gen.write import diff_output, to_yaml, write_output
from gen.errors import ObsgenError, OutputError, Problem
from gen.spec.confine import Confinement, SizeLimit
from gen.spec.jsonnet import Pairs
from gen.tools.grafana_query import TimeWindow
from gen.pipeline import compile_specs, render_service
from gen.targets import stale_reason
from gen.targets.rule_files import rules_path, tests_path
from gen.checks.amtool import amtool_check_config
from gen.targets import alertmanager as alertmanager_target
from gen.spec.project import PROJECT_FILE, Project, load_project, project_schema
from gen.tools.prometheus_api import Prometheus, PrometheusError
from gen.spec.schema import spec_schema
from gen.units import parse_duration
from gen.tools.console import Output, Progress
from gen.tools.scaffold import AlreadyThere, EXAMPLE_KB_PER_SERVICE, find_root, init as scaffold, version

EXIT_PROBLEMS = 1
EXIT_USAGE = 2
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


def _absolute(value, cwd: Path):
    if isinstance(value, Path):
        return value if value.is_absolute() else cwd / value
    if isinstance(value, tuple) and value and all(isinstance(v, Path) for v in value):
        return tuple(_absolute(v, cwd) for v in value)
    return value


def _go_to_root(kwargs: dict) -> None:
    """Run at the repository root, found as git finds it: the nearest directory with obsgen.yaml or specs/.

    Paths given on the command line stay relative to where the user typed them; defaults (specs, out,
    obsgen.yaml) are the root's.
    """
    cwd = Path.cwd()
    root = find_root(cwd)
    if root is None or root == cwd:
        return
    ctx = click.get_current_context()
    for name, value in kwargs.items():
        if ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
            kwargs[name] = _absolute(value, cwd)
    os.chdir(root)
    if not kwargs.get("quiet"):
        click.echo(f"obsgen: at the repository root {root} (the nearest directory with {PROJECT_FILE} or specs/)",
                   err=True)


def reporting_problems(code: int):
    """Turn expected failures into one-line errors and exit `code`; anything else is a bug (exit 3)."""

    def decorate(command):
        @functools.wraps(command)
        def run(*args, **kwargs):
            try:
                _go_to_root(kwargs)
                return command(*args, **kwargs)
            except ObsgenError as err:
                _fail([p.format() for p in err.problems], code)
            except OutputError as err:
                _fail(err.lines, code)
            except BrokenPipeError:
                # The reader went away (`obsgen backtest | head`): nothing left to say to it.
                sys.stdout = open(os.devnull, "w")
                sys.exit(0)
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


def output_options(command):
    """--quiet and --verbose; NO_COLOR in the environment turns colour off."""
    command = click.option("-v", "--verbose", is_flag=True, help="Say more: every build note, not only new ones.")(
        command)
    return click.option("-q", "--quiet", is_flag=True, help="Print only errors and results; no progress.")(command)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version(), "-V", "--version", prog_name="obsgen", message="%(prog)s %(version)s")
def main() -> None:
    """Compile service specs into Grafana dashboards and Prometheus rules.

    Run in a repository (or any directory below its root, as with git): specs/ is read, out/ is
    written. `obsgen init` starts a new one.
    """


@main.command("init")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), default=Path("."))
def init_command(directory: Path) -> None:
    """Start a repository: obsgen.yaml, an example spec, editor schemas, .gitignore and a CI workflow.

    Only the default targets are turned on. Existing files are never overwritten: if any of them
    exists, nothing is written (a .gitignore is left as it is, and the lines it lacks are printed).
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        result = scaffold(directory)
    except AlreadyThere as err:
        _fail([f"{directory / rel}: exists; init never overwrites, so nothing was written (move it away, or "
               "add the rest by hand)" for rel in err.paths])
    except OSError as err:
        _fail([f"{directory}: cannot write: {err.strerror or err}"])
    for rel in result.written:
        click.echo(f"created {directory / rel}")
    if result.gitignore_missing:
        click.echo(f"kept {directory / '.gitignore'}; add these lines to it: {' '.join(result.gitignore_missing)}")
    where = "" if directory.resolve() == Path.cwd().resolve() else f"cd {shlex.quote(str(directory))} && "
    click.echo(f"obsgen: next: {where}obsgen build, then commit specs/, out/ and obsgen.yaml together. "
               f"Only the default targets are on; obsgen's example project, with every target on but ruleTests, "
               f"writes about {EXAMPLE_KB_PER_SERVICE} KB per service. Set OBSGEN_PACKAGE in "
               ".github/workflows/monitoring.yml to where CI installs obsgen from.")


def compiling_command(command):
    """The options of every command that compiles the specs into out/ (build, check)."""
    return specs_option(out_option(project_options(output_options(reports_problems(command)))))


@main.command()
@compiling_command
def build(spec_dir: Path, out_dir: Path, project_file: Path | None, ext_str: Pairs, ext_code: Pairs, quiet: bool,
          verbose: bool) -> None:
    """Compile every spec into out/, replacing what obsgen generated before.

    Nothing is written unless every spec compiles and every output checks out.
    Files in out/ that obsgen did not generate are left alone.
    """
    compiled = compile_specs(spec_dir, Path.cwd(), _project(project_file, ext_str, ext_code))
    _promtool_gate(compiled.promtool_files, compiled.files)
    changes = write_output(out_dir, compiled.files)
    output = Output(quiet, verbose)
    output.info(f"obsgen: {len(compiled.services)} service(s): {len(changes.written)} file(s) written, "
                f"{len(changes.removed)} removed, {len(changes.unchanged)} unchanged in {out_dir}")
    # What a convention cannot show, said when it first appears or changes: notes follow from the spec,
    # so a service whose output did not change has the notes the last build printed.
    changed = {Path(rel).name.split(".")[0] for rel in changes.written}
    held_back = 0
    for out in compiled.services:
        notes = out.notes
        if verbose or out.service.name in changed:
            for note in notes:
                output.info(f"note: {out.service.name}: {note}")
        else:
            held_back += len(notes)
    if held_back:
        output.info(f"obsgen: {held_back} note(s) unchanged since the last build; --verbose prints them")


def _promtool_gate(rule_files: dict[str, bytes], files: dict[str, bytes] | None = None) -> None:
    problems = lint.promtool_check_rules(rule_files)
    if problems:
        _fail([f"promtool check rules: {line}" for line in problems])
    # The generated Alertmanager configuration, through amtool the same way.
    configs = {k: v for k, v in (files or {}).items() if k == alertmanager_target.PATH}
    problems = amtool_check_config(configs)
    if problems:
        _fail([f"amtool check-config: {line}" for line in problems])


@main.command()
@compiling_command
def check(spec_dir: Path, out_dir: Path, project_file: Path | None, ext_str: Pairs, ext_code: Pairs, quiet: bool,
          verbose: bool) -> None:
    """Fail if out/ is not exactly what the specs compile to, or if any output is invalid. The CI gate."""
    compiled = compile_specs(spec_dir, Path.cwd(), _project(project_file, ext_str, ext_code))
    if lint.promtool() is None:
        click.echo("obsgen: promtool not found; rule files were checked without it", err=True)
    _promtool_gate(compiled.promtool_files, compiled.files)
    stale = diff_output(out_dir, compiled.files, functools.partial(stale_reason, compiled.project))
    if stale:
        for rel, what in stale:
            click.echo(f"error: {out_dir / rel}: {what}", err=True)
        click.echo(f"error: {out_dir} is out of date with {spec_dir}; run `{_build_command(spec_dir, out_dir)}` "
                   "and commit the result", err=True)
        sys.exit(EXIT_PROBLEMS)
    Output(quiet, verbose).info(f"obsgen: {out_dir} is up to date ({len(compiled.files)} files, "
                                f"{len(compiled.services)} service(s))")


def _build_command(spec_dir: Path, out_dir: Path) -> str:
    """The build that fixes what `check` found, with the same directories, so it can be pasted as is."""
    command = "obsgen build"
    for option, value, default in (("--specs", spec_dir, "specs"), ("--out", out_dir, "out")):
        if value != Path(default):
            command += f" {option} {shlex.quote(str(value))}"
    return command


@main.command("validate")
@specs_option
@project_options
@output_options
@reports_problems
def validate_command(spec_dir: Path, project_file: Path | None, ext_str: Pairs, ext_code: Pairs, quiet: bool,
                     verbose: bool) -> None:
    """Check the project file and the specs: syntax, schema, names, and every check across services. Writes nothing.

    The specs are compiled in memory as `build` compiles them, so whatever `build` would refuse
    (overlapping pod patterns, duplicate dashboards, broken links) `validate` refuses too.
    """
    compiled = compile_specs(spec_dir, Path.cwd(), _project(project_file, ext_str, ext_code))
    Output(quiet, verbose).info(f"obsgen: {len(compiled.services)} spec(s) valid")


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
@specs_option
@out_option
@project_options
@click.option("--jobs", default=os.cpu_count() or 1, show_default="CPU count", type=click.IntRange(1, 64),
              help="Test files run at once.")
@click.option("--service", "services", multiple=True, metavar="NAME",
              help="Only this service's rule tests (repeatable). Default: all.")
@click.option("--committed", is_flag=True,
              help="Run the test files committed in out/tests as they are, instead of generating them.")
@output_options
@reports_problems
def test(spec_dir: Path, out_dir: Path, project_file: Path | None, ext_str: Pairs, ext_code: Pairs, jobs: int,
         services: tuple[str, ...], committed: bool, quiet: bool, verbose: bool) -> None:
    """Prove every alert: generate the promtool rule tests from the specs and run them against the rules.

    The tests are generated in a temporary folder whether or not targets.ruleTests commits them, so CI
    proves every alert either way. `--committed` runs out/tests/*.test.yml as committed instead (for
    example with another promtool version). On a terminal a progress bar shows files done, time elapsed
    and an estimate of what is left; elsewhere (CI) each file's result is a line with the same figures.
    """
    output = Output(quiet, verbose)
    tool = lint.promtool()
    if tool is None:
        _fail(["promtool not found; install Debian's `prometheus` package (or run `make test`, which does)"])
    if committed:
        with tempfile.TemporaryDirectory(prefix="obsgen-test-") as folder:
            _run_rule_tests(tool, _committed_tests(out_dir, services, Path(folder)), jobs, output, quiet)
        return
    compiled = compile_specs(spec_dir, Path.cwd(), _project(project_file, ext_str, ext_code), proofs=False)
    by_name = {out.service.name: out.service for out in compiled.services}
    unknown = [name for name in services if name not in by_name]
    if unknown:
        _fail([f"no service {name!r} in {spec_dir} (there are: {', '.join(sorted(by_name))})" for name in unknown],
              EXIT_USAGE)
    chosen = [by_name[name] for name in dict.fromkeys(services)] if services else list(by_name.values())
    with tempfile.TemporaryDirectory(prefix="obsgen-test-") as folder:
        files = _write_proofs(Path(folder), chosen)
        if not files:
            _fail([f"no alerts to prove in {spec_dir}"])
        _run_rule_tests(tool, files, jobs, output, quiet)


# A committed test file or rule file is read once, within this size, and promtool runs on that copy.
COMMITTED_FILE_LIMIT = SizeLimit(64 * 1024 * 1024, "committed rule and test files")


def _committed_tests(out_dir: Path, services: tuple[str, ...], folder: Path) -> list[tuple[Path, str]]:
    """The committed test files and the rule files they name, copied into `folder` as out/ lays them out.

    out/ comes from pull requests too: every file is read through the same confinement as the specs (no
    link out of out/, no FIFO or device, no huge file), so promtool never opens a path a test file names."""
    files = sorted((out_dir / "tests").glob("*.test.yml")) if (out_dir / "tests").is_dir() else []
    if not files:
        _fail([f"no rule tests in {out_dir}/tests; enable targets.ruleTests and run `obsgen build`, or run "
               "`obsgen test` without --committed"])
    if services:
        by_name = {path.name.removesuffix(".test.yml"): path for path in files}
        unknown = [name for name in services if name not in by_name]
        if unknown:
            _fail([f"no rule tests for service {name!r} in {out_dir}/tests (there are: "
                   f"{', '.join(sorted(by_name))})" for name in unknown], EXIT_USAGE)
        files = [by_name[name] for name in dict.fromkeys(services)]
    confinement = Confinement.of(out_dir, Path.cwd(), f"{out_dir}")
    staged = []
    for path in files:
        rel = path.relative_to(out_dir)
        test_bytes = confinement.read(path, COMMITTED_FILE_LIMIT)
        _stage(folder / rel, test_bytes)
        for named in _rule_files_named(test_bytes, confinement.name(path)):
            rule_file = Path(os.path.normpath(path.parent / named))
            if Path(named).is_absolute() or not rule_file.is_relative_to(Path(os.path.normpath(out_dir))):
                raise ObsgenError([Problem(confinement.name(path), f"rule_files names {named}, outside "
                                           f"{out_dir}; committed tests may name only rule files in it",
                                           hint="run `obsgen build` to regenerate the test file")])
            _stage(folder / rule_file.relative_to(os.path.normpath(out_dir)),
                   confinement.read(rule_file, COMMITTED_FILE_LIMIT))
        staged.append((folder / rel, str(path)))
    return staged


def _rule_files_named(test_bytes: bytes, name: str) -> list[str]:
    try:
        named = yaml.safe_load(test_bytes).get("rule_files") or []
    except (yaml.YAMLError, AttributeError):
        raise ObsgenError([Problem(name, "is not a promtool rule test file (YAML with rule_files and tests)",
                                   hint="run `obsgen build` to regenerate it")]) from None
    if not all(isinstance(n, str) for n in named):
        raise ObsgenError([Problem(name, "rule_files must be a list of paths", hint="run `obsgen build`")])
    return named


def _stage(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def _write_proofs(folder: Path, services: list) -> list[tuple[Path, str]]:
    """Each service's generated rule tests, in parts that each run against only the rule groups their alerts
    depend on (gen.proofs.split says why); (path, name shown)."""
    from gen.proofs.split import split_tests  # proofs are generated only here and by builds that commit them

    written = []
    for service in services:
        out = render_service(service, proofs=True)
        if not out.test_file or not out.test_file["tests"]:
            continue
        parts = split_tests(out.rule_file, out.test_file)
        for number, part in enumerate(parts, 1):
            stem = f"{service.name}.{number}" if len(parts) > 1 else service.name
            rules, tests = folder / rules_path(stem), folder / tests_path(stem)
            test_file = {**part.test_file, "rule_files": [os.path.relpath(rules, tests.parent)]}
            for path, data in ((rules, part.rule_file.to_dict()), (tests, test_file)):
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(to_yaml(data, service.source))
            groups = ", ".join(g.removeprefix(f"{service.name}.") for g in part.groups)
            written.append((tests, f"{tests_path(service.name)} (generated; groups {groups})"))
    return written


def _run_rule_tests(tool: str, files: list[tuple[Path, str]], jobs: int, output: Output, quiet: bool) -> None:
    def run(path: Path) -> subprocess.CompletedProcess:
        return subprocess.run([tool, "test", "rules", path.name], cwd=path.parent, capture_output=True, text=True,
                              env=lint.promtool_env())

    progress = Progress(output, "rule tests", len(files))
    # With the bar on a terminal, results wait for the end; otherwise each is a line as it finishes.
    lines_now = not (progress.output.terminal and not quiet and sys.stdout.isatty())
    failed: list[tuple[str, subprocess.CompletedProcess]] = []
    with progress.running(), ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(run, path): (path, shown) for path, shown in files}
        for future in as_completed(futures):
            (path, shown), result = futures[future], future.result()
            status = "ok" if result.returncode == 0 else "FAILED"
            if result.returncode != 0:
                failed.append((shown, result))
            if lines_now and (not quiet or status != "ok"):
                click.echo(f"{status:6} {shown}" + ("" if quiet else f"  [{progress.done + 1}/{len(files)}, "
                                                    f"{progress.estimate(progress.done + 1)}]"))
            progress.step(f"{status} {path.name}", plain=False)
    for shown, result in sorted(failed, key=lambda f: f[0]):
        if not lines_now:
            click.echo(f"{output.style('FAILED', fg='red', bold=True)} {shown}")
        click.echo(result.stdout + result.stderr, err=True)
    if failed:
        _fail([f"{len(failed)} of {len(files)} rule test file(s) failed"])
    output.info(f"obsgen: {len(files)} rule test file(s) passed in {progress.elapsed()}")


@main.command()
@click.option("--reference", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              default=Path("docs/reference.md"), show_default=True,
              help="File whose spec reference section to rewrite.")
@click.option("--readme", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=Path("README.md"),
              show_default=True, help="README whose minimal-spec summary to rewrite.")
@click.option("--check", "check_only", is_flag=True, help="Only fail (exit 1) if either is out of date.")
@reports_problems
def docs(reference: Path, readme: Path, check_only: bool) -> None:
    """Regenerate docs/reference.md from the spec schema, and the README's counts from the compiler."""
    from gen.tools.docs import replace_section, replace_summary, update

    parts = ((reference, replace_section, "spec reference"), (readme, replace_summary, "minimal spec summary"))
    try:
        if check_only:
            stale = [f"{path}: {what} is out of date; run `obsgen docs`" for path, rewrite, what in parts
                     if rewrite(path.read_text()) != path.read_text()]
            if stale:
                _fail(stale)
            return
        for path, rewrite, what in parts:
            changed = update(path, rewrite)
            click.echo(f"obsgen: {what} in {path} {'updated' if changed else 'already up to date'}")
    except ValueError as err:
        _fail([f"{err}"])


@main.command()
@specs_option
@click.option("--service", "services", multiple=True, help="Only these services (repeatable). Default: all.")
@click.option("--scenarios", "scenario_dirs", multiple=True, type=click.Path(path_type=Path, file_okay=False),
              help="Extra directory of scenario files (repeatable).")
@click.option("--no-builtin", is_flag=True, help="Leave out the built-in scenario library.")
@click.option("--only", "only", multiple=True, help="Only scenarios with these names (repeatable).")
@click.option("--range-export", "exports", multiple=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Recorded data: a Prometheus /api/v1/query_range JSON response (repeatable; each file is "
                   "one replay).")
@click.option("--jobs", default=2, show_default=True, type=click.IntRange(1, 16), help="promtool runs at once.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--markdown", "as_markdown", is_flag=True, help="Print the results as a Markdown table.")
@click.option("--plot", "plot_dir", type=click.Path(path_type=Path, file_okay=False), default=None, metavar="DIR",
              help="Also draw one PNG per scenario (and service) into DIR: the watched series, what each alert "
                   "compares, and when it was pending or firing.")
@output_options
@reports_problems
def backtest(spec_dir: Path, services: tuple[str, ...], scenario_dirs: tuple[Path, ...], no_builtin: bool,
             only: tuple[str, ...], exports: tuple[Path, ...], jobs: int, as_json: bool, as_markdown: bool,
             plot_dir: Path | None, quiet: bool, verbose: bool) -> None:
    """Replay workloads through the generated rules and report when each alert fired.

    Synthetic scenarios (leaks, GC sawtooth, deploys, daily cycles, spikes) come from the built-in
    library and --scenarios; recorded data from --range-export. promtool evaluates the rules.
    Each scenario is scaled to the service's own memory limit (the library is written for 4 GiB).
    Exit 1 when a leak scenario is missed, a quiet one raises an alert, or an alert fires before
    a scenario's problem begins (a false alarm, never counted as caught).

    On a terminal a progress bar shows scenarios done, time elapsed and an estimate of what is
    left; elsewhere each finished scenario is a line on stderr.
    """
    say = Output(quiet, verbose)
    if plot_dir is not None:
        _writable_directory(plot_dir)
    from gen.tools import backtest as engine
    from gen.synth.scenario import builtin_dir, load_library, not_applicable

    compiled = compile_specs(spec_dir)
    outputs = [o for o in compiled.services if not services or o.service.name in services]
    unknown = set(services) - {o.service.name for o in compiled.services}
    if unknown:
        _fail([f"no service named {name!r} in {spec_dir}" for name in sorted(unknown)])
    directories = ([] if no_builtin else [builtin_dir()]) + list(scenario_dirs)
    scenarios = [s for s in load_library(directories) if not only or s.name in only]
    replays = [engine.range_export_replay(path) for path in exports]
    jobs_list, skipped = [], []
    for output in outputs:
        alerts = {a.name for a in output.rule_file.alerts}
        for s in scenarios:
            reason = not_applicable(s, output.service, alerts)
            if reason:
                skipped.append(f"skipped {s.name} for {output.service.name}: {reason}")
            else:
                jobs_list.append((engine.replay_for(output.service, s), output))
        jobs_list += [(replay, output) for replay in replays]
    if plot_dir is not None:
        # Only now: matplotlib and the plot planning load for --plot alone.
        from gen.tools import plot

        jobs_list = [(replay, output, plot.plan(output.rule_file, replay).watches) for replay, output in jobs_list]
    for line in skipped:
        say.info(f"obsgen: {line}", err=True)
    if not jobs_list:
        _fail(["nothing to replay: no scenarios matched and no --range-export given"])
    progress = Progress(say, "scenarios", len(jobs_list))
    with progress.running():
        results = engine.run_all(jobs_list, workers=jobs,
                                 on_done=lambda r: progress.step(f"{r.replay.name} ({r.service}): {r.verdict}"))
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in results], indent=2))
    elif as_markdown:
        click.echo(engine.markdown(results))
    else:
        click.echo(engine.table(results))
    if plot_dir is not None:
        rule_files = {o.service.name: o.rule_file for o in outputs}
        for result in results:
            path = plot_dir / plot.file_name(result, len(outputs) > 1)
            plot.draw(result, rule_files[result.service], path)
        say.info(f"obsgen: {len(results)} plot(s) in {plot_dir}", err=True)
    failed = [r for r in results if not r.ok]
    if failed:
        _fail([f"{r.replay.name} ({r.service}): {r.verdict}" for r in failed])

def _writable_directory(path: Path) -> None:
    """Fail before a long run, not after it, when plots could not be written."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".obsgen-write-check-"):
            pass
    except OSError as err:
        reason = err.strerror or str(err)
        _fail([f"{path}: cannot write plots there: {reason} (give --plot a directory you can write to)"],
              EXIT_USAGE)


def _duration_seconds(ctx, param, value: str) -> float:
    try:
        seconds = parse_duration(value).seconds
    except ValueError as err:
        raise click.BadParameter(str(err)) from None
    if seconds <= 0:
        raise click.BadParameter("must be longer than 0s")
    return seconds


def _variables(ctx, param, values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"'{item}' is not NAME=VALUE")
        out[name] = value
    return out


def _load_dashboard(path: Path, out_dir: Path) -> dict:
    if not path.is_file():
        found = sorted(str(p) for p in (out_dir / "dashboards").rglob("*.json")) if (out_dir / "dashboards").is_dir() else []
        near = f"dashboards in {out_dir / 'dashboards'}: {', '.join(found[:5])}" + (", ..." if len(found) > 5 else "") \
            if found else f"run `obsgen build`, or leave out --dashboard to probe every dashboard in {out_dir}"
        _fail([f"{path}: no such dashboard file ({near})"], EXIT_USAGE)
    try:
        data = json.loads(path.read_text())
    except OSError as err:
        _fail([f"{path}: cannot read: {err.strerror}"], EXIT_USAGE)
    except json.JSONDecodeError as err:
        _fail([f"{path}:{err.lineno}:{err.colno}: not JSON: {err.msg}"])
    if not isinstance(data, dict) or not isinstance(data.get("panels"), list):
        _fail([f"{path}: not a Grafana dashboard (no panels list)"])
    return data


@main.command()
@click.option("--prometheus", "url", required=True, metavar="URL",
              help="Base URL of the Prometheus to query, e.g. http://localhost:9090.")
@click.option("--dashboard", "dashboards", multiple=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Dashboard JSON to probe (repeatable). Default: every dashboard in OUT/dashboards.")
@out_option
@click.option("--since", default="10m", show_default=True, callback=_duration_seconds,
              help="Probe the window from this long ago until now; a panel with any sample in it has data.")
@click.option("--scrape-interval", default="15s", show_default=True, callback=_duration_seconds,
              help="The Grafana data source's scrape interval, used for $__interval and $__rate_interval.")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", callback=_variables,
              help="Value of a dashboard variable instead of its saved one, e.g. --var namespace=prod "
                   "(repeatable; $__all for All).")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for each Prometheus request.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@reports_problems
def probe(url: str, dashboards: tuple[Path, ...], out_dir: Path, since: float, scrape_interval: float,
          variables: dict[str, str], timeout: float, as_json: bool) -> None:
    """Run every panel query of generated dashboards against a live Prometheus; list empty panels.

    Queries are interpolated as Grafana would ($namespace, $pod, $__rate_interval, ...). A panel is
    ok when a query returns data, EMPTY when a query returns none, and SKIPPED when it reads only
    Kubernetes metrics (cAdvisor, kube-state-metrics) and this Prometheus has none of one. Recorded
    series are traced to their rules, in Prometheus and in OUT/rules.

    Exit 0 when no panel is empty, 1 when some are (or a dashboard is not valid JSON), 2 when
    Prometheus cannot be queried or a --dashboard file does not exist (usage errors).
    """
    # Dashboards sit in one directory per Grafana folder with `layout: folders`.
    paths = list(dashboards) or sorted((out_dir / "dashboards").rglob("*.json"))
    if not paths:
        _fail([f"no dashboards in {out_dir / 'dashboards'}; run `obsgen build` or pass --dashboard FILE"])
    loaded = [(path, _load_dashboard(path, out_dir)) for path in paths]
    rule_files = sorted((out_dir / "rules").glob("*.yml")) if (out_dir / "rules").is_dir() else []
    prometheus = Prometheus(url, timeout=timeout)
    now = time.time()
    window = TimeWindow(now - since, now)
    try:
        metrics = probing.catalog(prometheus, window, probing.rule_file_groups(rule_files))
        prober = probing.Prober(prometheus, window, scrape_interval, metrics, variables)
        results = [prober.dashboard(data, str(path)) for path, data in loaded]
    except PrometheusError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_USAGE)
    if as_json:
        click.echo(probing.to_json(results, url))
    else:
        for line in probing.format_text(results, url):
            click.echo(line)
    if any(result.failing for result in results):
        sys.exit(EXIT_PROBLEMS)


RIGHTSIZE_FORMATS = ("table", "yaml", "json", "markdown")


@main.command("rightsize")
@click.option("--prometheus", "url", required=True, metavar="URL",
              help="Base URL of the Prometheus that holds the pods' cAdvisor and kube-state-metrics series.")
@click.option("--window", default=None, metavar="DURATION",
              help="Usage window. Default: each spec's rightsizing.window (7d).")
@click.option("--service", "services", multiple=True, metavar="NAME", help="Only these services (repeatable).")
@click.option("--strategy", type=click.Choice(["seed", "krr"]), default=None,
              help="Default: each spec's rightsizing.strategy (seed).")
@click.option("--format", "output_format", type=click.Choice(RIGHTSIZE_FORMATS), default="table", show_default=True,
              help="markdown: a pull-request comment.")
@click.option("--write", is_flag=True, help="Write the recommended values into spec.resources of the YAML specs, "
                                            "keeping every other line as it is.")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for each Prometheus request.")
@specs_option
@project_options
@reports_problems
def rightsize_command(url: str, window: str | None, services: tuple[str, ...], strategy: str | None,
                     output_format: str, write: bool, timeout: float, spec_dir: Path, project_file: Path | None,
                     ext_str: Pairs, ext_code: Pairs) -> None:
    """Recommend requests and limits from measured use, current -> recommended, with the figures behind each.

    Usage over the window comes from cAdvisor (CPU average, p95, p99 and peak; working set average,
    p99 and peak, per pod), current values from kube-state-metrics or the spec. A service whose
    working set leaks is sized on its young pods, and the output says so. Exit 1 when Prometheus
    cannot be reached, the window is longer than its retention, or a service has no data.
    """
    from gen.spec.load import load_specs
    from gen.spec.model import build_model
    from gen.spec.validate import validate
    from gen.tools import rightsize as sizing

    project = _project(project_file, ext_str, ext_code)
    documents = load_specs(spec_dir, Path.cwd(), project.jsonnet)
    validate(documents)
    chosen = [s for s in build_model(documents) if not services or s.name in services]
    unknown = set(services) - {s.name for s in chosen}
    if unknown:
        _fail([f"no service named {name!r} in {spec_dir}" for name in sorted(unknown)])
    files = {doc.data["metadata"]["name"]: doc.file for doc in documents}
    if write:
        jsonnet = sorted({files[s.name] for s in chosen if not files[s.name].endswith((".yaml", ".yml"))})
        if jsonnet:
            _fail([f"{name}: --write edits YAML specs only; set spec.resources in the Jsonnet source by hand "
                   "(--format yaml prints the values), or pass --service for the YAML ones" for name in jsonnet])
    try:
        given = parse_duration(window) if window else None
    except ValueError as err:
        _fail([f"--window: {err}"], EXIT_USAGE)
    windows = {s.name: given or s.rightsizing.window for s in chosen}
    prometheus = Prometheus(url, timeout=timeout)
    try:
        for longest in sorted(set(windows.values()), key=lambda d: -d.seconds)[:1]:
            sizing.check_window(prometheus, longest)
        recs = [sizing.recommend(prometheus, s, strategy, windows[s.name]) for s in chosen]
    except (PrometheusError, sizing.RightsizeError) as err:
        _fail([str(err)])
    if output_format == "json":
        click.echo(json.dumps([sizing.as_dict(r) for r in recs], indent=2, sort_keys=True))
    elif output_format == "yaml":
        import yaml
        click.echo(yaml.safe_dump({r.service: {"resources": sizing.resources_yaml(r)} for r in recs},
                                  sort_keys=False), nl=False)
    elif output_format == "markdown":
        click.echo(sizing.markdown(recs), nl=False)
    else:
        click.echo(sizing.table(recs))
    if write:
        for rec in recs:
            path = Path(files[rec.service])
            path.write_text(sizing.updated_spec(path.read_text(), rec.service, sizing.resources_yaml(rec)))
            click.echo(f"obsgen: wrote spec.resources of {rec.service} in {path}", err=True)
