"""Checks on generated output before anything is written: PromQL parses, recorded series exist,
alert links resolve. A problem here is a bug in obsgen or in a custom query, never written to out/."""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable

import promql_parser

# What Grafana puts in place of its variables when it runs a query; a range needs a real duration to parse.
GRAFANA_RANGES = {"$__rate_interval": "2m", "$__interval": "1m", "$__range": "1d"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_RECORDED = re.compile(r"(?<![\w:.])[a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z0-9_:]*")


def with_grafana_ranges(expr: str) -> str:
    for variable, value in GRAFANA_RANGES.items():
        expr = expr.replace(variable, value)
    return expr


def parse_error(expr: str) -> str | None:
    try:
        promql_parser.parse(with_grafana_ranges(expr))
    except ValueError as err:
        return str(err)
    return None


def recorded_names(expr: str) -> set[str]:
    """Names of recorded series (level:metric:operation) an expression reads."""
    return set(_RECORDED.findall(_STRING.sub('""', expr)))


def dashboard_exprs(dashboard: dict) -> Iterable[tuple[str, str]]:
    """(where, expr) for every PromQL query of a dashboard: panel targets and annotation queries."""
    for panel in dashboard.get("panels", []):
        for target in panel.get("targets", []):
            yield f"panel '{panel.get('title')}' query {target.get('refId')}", target["expr"]
    for annotation in dashboard.get("annotations", {}).get("list", []):
        if "expr" in annotation:
            yield f"annotation '{annotation['name']}'", annotation["expr"]


def rule_exprs(rule_file: dict) -> Iterable[tuple[str, str]]:
    for group in rule_file.get("groups", []):
        for rule in group["rules"]:
            name = rule.get("alert") or rule.get("record")
            yield f"rule {name} in group {group['name']}", rule["expr"]


def recorded_in(rule_file: dict) -> set[str]:
    return {r["record"] for g in rule_file.get("groups", []) for r in g["rules"] if "record" in r}


def check_service(name: str, dashboard: dict, rule_file: dict) -> list[str]:
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
        for missing in sorted(recorded_names(expr) - defined):
            problems.append(f"{name}: {where}: reads recorded series {missing}, which no rule records")
    return problems


def promtool() -> str | None:
    return shutil.which("promtool")


def promtool_check_rules(files: dict[str, bytes]) -> list[str]:
    """Run `promtool check rules` on rule files held in memory; [] when they pass."""
    tool = promtool()
    if tool is None or not files:
        return []
    with tempfile.TemporaryDirectory(prefix="obsgen-check-") as tmp:
        paths = []
        for rel, content in sorted(files.items()):
            path = Path(tmp) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            paths.append(str(path))
        result = subprocess.run([tool, "check", "rules", *paths], capture_output=True, text=True)
        # Lint findings (duplicate rules) print FAILED but leave the exit code 0; they count as failures.
        if result.returncode == 0 and "FAILED" not in result.stdout:
            return []
        text = (result.stdout + result.stderr).replace(tmp + "/", "")
        return [line for line in text.splitlines() if line.strip()]
