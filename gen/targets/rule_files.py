"""Plain Prometheus rule files and their promtool unit tests: `rules/<service>.rules.yml`, `tests/<service>.test.yml`."""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from gen.write import to_yaml
from gen.targets.emitted import Emitted

if TYPE_CHECKING:
    from gen.ir import ServiceOutput
    from gen.spec.project import Project


def rules_path(service_name: str) -> str:
    return f"rules/{service_name}.rules.yml"


def tests_path(service_name: str) -> str:
    return f"tests/{service_name}.test.yml"


def emit(project: Project, outputs: Sequence[ServiceOutput]) -> Emitted:
    if not project.targets.rules:
        return Emitted()
    files = {}
    for out in outputs:
        name, source = out.service.name, out.service.source
        files[rules_path(name)] = to_yaml(out.rule_file.to_dict(), source)
        if project.targets.rule_tests and out.test_file and out.test_file["tests"]:
            files[tests_path(name)] = to_yaml(out.test_file, source)
    return Emitted(files, {p: c for p, c in files.items() if p.startswith("rules/")})
