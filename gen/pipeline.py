"""The whole compiler in memory: spec files in, output files (path -> bytes) out.

load -> validate -> model -> signals -> render -> cross-checks -> targets; `emit`
writes the result. Because nothing here writes, `build`, `check`, `diff` and tests
all share this one function.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import lint
from .crosscheck import SpecIndex, cross_check
from .emit import header
from .errors import ObsgenError, Problem
from .load import Document, load_specs
from .model import Service, build_model
from .project import PROJECT_FILE, Project, default_project, load_project
from .render.dashboard import build_dashboard
from .render.rules import build_rule_file, build_test_file
from .signal import DomainOutput
from .signals import service_signals
from .targets import emit_targets
from .targets.rule_files import rules_path, tests_path
from .validate import validate


@dataclass(frozen=True)
class ServiceOutput:
    service: Service
    domains: tuple[DomainOutput, ...]
    dashboard: dict
    rule_file: dict
    test_file: dict


@dataclass(frozen=True)
class Compiled:
    services: tuple[ServiceOutput, ...]
    files: dict[str, bytes]
    project: Project = field(default_factory=default_project)
    # Every rule file in every form a target writes it (plain, PrometheusRule spec, mixin), as promtool reads it.
    promtool_files: dict[str, bytes] = field(default_factory=dict)

    @property
    def rule_files(self) -> dict[str, bytes]:
        return {k: v for k, v in self.files.items() if k.startswith("rules/")}


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
