"""The whole compiler in memory: spec files in, output files (path -> bytes) out.

load -> validate -> model -> signals -> render -> cross-checks -> targets; `emit`
writes the result. Because nothing here writes, `build`, `check`, `diff` and tests
all share this one function.
"""
from __future__ import annotations

from pathlib import Path

from gen.checks import lint
from gen.checks.crosscheck import SpecIndex, cross_check
from gen.write import header
from gen.errors import ObsgenError, Problem
from gen.spec.documents import Document
from gen.spec.load import load_specs
from gen.spec.model import Service, build_model
from gen.spec.project import PROJECT_FILE, Project, default_project, load_project
from gen.render.dashboard import build_dashboard
from gen.render.rules import build_rule_file, build_test_file
from gen.ir import Compiled, ServiceOutput
from gen.domains import service_signals
from gen.targets import emit_targets
from gen.targets.rule_files import rules_path, tests_path
from gen.spec.validate import validate


def paths_for(name: str) -> dict[str, str]:
    """Paths of a service's plain files, with the default (flat) dashboard layout."""
    return {
        "dashboard": f"dashboards/{name}.json",
        "rules": rules_path(name),
        "tests": tests_path(name),
    }


def render_service(service: Service) -> ServiceOutput:
    try:
        domains = tuple(service_signals(service))
    except ValueError as err:
        raise ObsgenError([Problem(service.source, str(err))]) from None
    dashboard = build_dashboard(service, list(domains))
    rule_file = build_rule_file(service, list(domains))
    paths = paths_for(service.name)
    test_file = build_test_file(service, list(domains), f"../{paths['rules']}")
    return ServiceOutput(service, domains, dashboard, rule_file, test_file)


def compile_services(services: list[Service], project: Project | None = None,
                     documents: list[Document] | None = None) -> Compiled:
    project = project or default_project()
    outputs = tuple(render_service(s) for s in services)
    problems: list[Problem] = []
    for out in outputs:
        problems += [Problem("generated output", p)
                     for p in lint.check_service(out.service.name, out.dashboard, out.rule_file)]
    if problems:
        raise ObsgenError(problems)
    problems = cross_check(outputs, SpecIndex.of(documents or []))
    if problems:
        raise ObsgenError(problems)
    emitted = emit_targets(project, outputs)
    return Compiled(outputs, emitted.files, project, emitted.promtool)


def compile_specs(spec_dir: Path, base: Path | None = None, project: Project | None = None) -> Compiled:
    """Compile the specs under `spec_dir`. Without `project`, the project file at `base` (if any) is used."""
    base = base or Path.cwd()
    project = project or load_project(base / PROJECT_FILE, base)
    documents = load_specs(spec_dir, base, project.jsonnet)
    validate(documents)
    return compile_services(build_model(documents), project, documents)


__all__ = ["Compiled", "ServiceOutput", "compile_specs", "compile_services", "header", "paths_for"]
