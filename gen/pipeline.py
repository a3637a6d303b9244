"""The whole compiler in memory: spec files in, output files (path -> bytes) out.

load -> validate -> model -> signals -> render -> cross-checks -> targets; `emit`
writes the result. Because nothing here writes, `build`, `check`, `diff` and tests
all share this one function.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from gen.checks import lint
from gen.checks.crosscheck import SpecIndex, cross_check
from gen.checks.external import available_cores
from gen.checks.routing import check_routing
from gen.write import header
from gen.errors import ObsgenError, Problem
from gen.spec.documents import Document
from gen.spec.load import load_specs
from gen.spec.model import Service, build_model
from gen.spec.project import PROJECT_FILE, Project, default_project, load_project
from gen.render.dashboard import build_dashboard
from gen.render.rules import build_rule_file, rule_groups
from gen.ir import Compiled, ServiceOutput
from gen.domains import service_signals
from gen.targets import Emitted, emit_targets
from gen.targets.rule_files import rules_path, tests_path
from gen.spec.validate import validate


def paths_for(name: str) -> dict[str, str]:
    """Paths of a service's plain files, with the default (flat) dashboard layout."""
    return {
        "dashboard": f"dashboards/{name}.json",
        "rules": rules_path(name),
        "tests": tests_path(name),
    }


def render_service(service: Service, proofs: bool = False) -> ServiceOutput:
    """One service's dashboard and rule file; with `proofs`, also the promtool tests that prove its alerts."""
    try:
        domains = tuple(service_signals(service))
        dashboard = build_dashboard(service, list(domains))
        rule_file = build_rule_file(service, list(domains))
        if not proofs:
            return ServiceOutput(service, domains, dashboard, rule_file)
        # Imported here: a build without proofs never loads the proof generator or the workload simulator.
        from gen.proofs import service_proofs
        found = service_proofs(service, rule_groups(service, list(domains)), f"../{rules_path(service.name)}")
    except ValueError as err:
        raise ObsgenError([Problem(service.source, str(err))]) from None
    return ServiceOutput(service, domains, dashboard, rule_file, found.test_file, found.notes)


def wants_proofs(project: Project) -> bool:
    return project.targets.rules and project.targets.rule_tests


def compile_services(services: list[Service], project: Project | None = None,
                     documents: list[Document] | None = None, proofs: bool | None = None) -> Compiled:
    """Compile typed services. `proofs` defaults to what the project's targets write."""
    project = project or default_project()
    proofs = wants_proofs(project) if proofs is None else proofs
    outputs = tuple(render_service(s, proofs) for s in services)
    # Worker processes parse the expressions (lint's share of the time) while this one serializes the targets;
    # a target's failure is still reported only when the checks before it pass, as if it had run last.
    exprs = lint.Exprs(lint.expressions(outputs), available_cores())
    try:
        emitted, failure = emit_targets(project, outputs), None
    except Exception as err:
        emitted, failure = Emitted(), err
    problems: list[Problem] = []
    for out in outputs:
        problems += [Problem("generated output", p)
                     for p in lint.check_service(out.service.name, out.dashboard, out.rule_file, exprs)]
    if problems:
        raise ObsgenError(problems)
    index = SpecIndex.of(documents or [])
    problems = cross_check(outputs, index, exprs) + check_routing(project, outputs, index)
    if problems:
        raise ObsgenError(problems)
    if failure is not None:
        raise failure
    return Compiled(outputs, emitted.files, project, emitted.promtool)


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """A compile allocates millions of small objects that hold no reference cycles and live until it ends.
    Python's cycle collector would walk all of them again at every full collection: a third of the time of
    a 1,000-service build. The little cyclic garbage a compile makes (parser state, caught exceptions) is
    collected after it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def compile_specs(spec_dir: Path, base: Path | None = None, project: Project | None = None,
                  proofs: bool | None = None) -> Compiled:
    """Compile the specs under `spec_dir`. Without `project`, the project file at `base` (if any) is used."""
    base = base or Path.cwd()
    with _without_cycle_collection():
        project = project or load_project(base / PROJECT_FILE, base)
        documents = load_specs(spec_dir, base, project.jsonnet)
        validate(documents)
        return compile_services(build_model(documents), project, documents, proofs)


__all__ = ["Compiled", "ServiceOutput", "compile_specs", "compile_services", "header", "paths_for"]
