"""The whole compiler in memory: spec files in, output files (path -> bytes) out.

load -> validate -> model -> signals -> render; `emit` writes the result. Because
nothing here writes, `build`, `check` and tests all share this one function.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import lint
from .emit import header, to_json, to_yaml
from .errors import ObsgenError, Problem
from .load import load_specs
from .model import Service, build_model
from .render.dashboard import build_dashboard
from .render.rules import alert_rules, build_rule_file, build_test_file
from .signal import DomainOutput
from .signals import service_signals
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

    @property
    def rule_files(self) -> dict[str, bytes]:
        return {k: v for k, v in self.files.items() if k.startswith("rules/")}


def paths_for(name: str) -> dict[str, str]:
    return {
        "dashboard": f"dashboards/{name}.json",
        "rules": f"rules/{name}.rules.yml",
        "tests": f"tests/{name}.test.yml",
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


def _broken_links(out: ServiceOutput) -> list[str]:
    panels = {p.key for d in out.domains for row in d.rows for p in row.panels}
    panels |= {p.key for d in out.domains for p in d.headlines}
    return [f"{out.service.name}: alert {a.name} links to panel '{a.panel_key}', which the dashboard does not have"
            for a in alert_rules(out.service, list(out.domains)) if a.panel_key not in panels]


def files_for(out: ServiceOutput) -> dict[str, bytes]:
    paths = paths_for(out.service.name)
    files = {
        paths["dashboard"]: to_json(out.dashboard),
        paths["rules"]: to_yaml(out.rule_file, out.service.source),
    }
    if out.test_file["tests"]:
        files[paths["tests"]] = to_yaml(out.test_file, out.service.source)
    return files


def compile_services(services: list[Service]) -> Compiled:
    outputs = tuple(render_service(s) for s in services)
    problems: list[str] = []
    files: dict[str, bytes] = {}
    for out in outputs:
        problems += lint.check_service(out.service.name, out.dashboard, out.rule_file)
        problems += _broken_links(out)
        files.update(files_for(out))
    if problems:
        raise ObsgenError([Problem("generated output", p) for p in problems])
    return Compiled(outputs, files)


def compile_specs(spec_dir: Path, base: Path | None = None) -> Compiled:
    base = base or Path.cwd()
    documents = load_specs(spec_dir, base)
    validate(documents)
    return compile_services(build_model(documents))


__all__ = ["Compiled", "ServiceOutput", "compile_specs", "compile_services", "header", "paths_for"]
