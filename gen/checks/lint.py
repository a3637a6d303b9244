"""Checks on generated output before anything is written: PromQL parses, recorded series exist,
alert links resolve. A problem here is a bug in obsgen or in a custom query, never written to out/."""
from __future__ import annotations

import shutil
from typing import Iterable

from gen.checks.external import check_files
from gen.ir import Dashboard, RecordingRule, RuleFile
from gen.promql.parse import parse_error, recorded_series


def dashboard_exprs(dashboard: Dashboard) -> Iterable[tuple[str, str]]:
    """(where, expr) for every PromQL query of a dashboard: panel targets and annotation queries."""
    return dashboard.exprs()


def rule_exprs(rule_file: RuleFile) -> Iterable[tuple[str, str]]:
    for group, rule in rule_file.rules():
        name = rule.record if isinstance(rule, RecordingRule) else rule.name
        yield f"rule {name} in group {group.name}", rule.expr


def recorded_in(rule_file: RuleFile) -> set[str]:
    return {r.record for r in rule_file.records}


def check_service(name: str, dashboard: Dashboard, rule_file: RuleFile) -> list[str]:
    """Every query parses; every rule reads only series its own file records (a rule file is deployed whole).
    Dashboards may read any service's recorded series: crosscheck.undefined_recordings checks those."""
    problems = []
    defined = recorded_in(rule_file)
    for where, expr in dashboard_exprs(dashboard):
        error = parse_error(expr)
        if error:
            problems.append(f"{name}: {where}: PromQL does not parse: {error}: {expr}")
    for where, expr in rule_exprs(rule_file):
        error = parse_error(expr)
        if error:
            problems.append(f"{name}: {where}: PromQL does not parse: {error}: {expr}")
        for missing in sorted(recorded_series(expr) - defined):
            problems.append(f"{name}: {where}: reads recorded series {missing}, which no rule records")
    return problems


def promtool() -> str | None:
    return shutil.which("promtool")


def promtool_check_rules(files: dict[str, bytes]) -> list[str]:
    """Run `promtool check rules` on rule files held in memory; [] when they pass."""
    tool = promtool()
    if tool is None or not files:
        return []
    # Lint findings (duplicate rules) print FAILED but leave the exit code 0; they count as failures.
    return check_files([tool, "check", "rules"], files,
                       lambda result: result.returncode != 0 or "FAILED" in result.stdout, "obsgen-check-")
