"""A service's rule tests in parts, each run against only the rule groups its alerts depend on.

promtool evaluates every rule of a test's rule files at every step of every test. A week-long
right-sizing proof would otherwise evaluate the leak domain's day-long windows 2,000 times, and a
queue proof the right-sizing group's week-long ones. An alert's result depends only on the groups
whose recorded series its expression reads, transitively, so leaving the other groups out changes
no verdict: it only saves the work.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import promql_parser

from gen.ir import RecordingRule, RenderedAlert, RuleFile
from gen.promql.parse import UnknownMetric, parse, recorded_series, series_in

# Functions that return samples when none of the series they read exists.
ANSWER_FROM_NOTHING = frozenset({"absent", "absent_over_time", "vector"})
# Series Prometheus writes itself: present whenever an alert is pending or firing.
WRITTEN_BY_PROMETHEUS = frozenset({"ALERTS", "ALERTS_FOR_STATE"})


@dataclass(frozen=True)
class TestPart:
    groups: tuple[str, ...]  # rule group names, in the rule file's order
    rule_file: RuleFile
    test_file: dict  # the service's test file with only this part's tests and groups; rule_files left to the writer


def _defining_group(rule_file: RuleFile) -> dict[str, str]:
    return {rule.record: group.name for group, rule in rule_file.rules() if isinstance(rule, RecordingRule)}


def group_needs(rule_file: RuleFile) -> dict[str, set[str]]:
    """Each group and the groups whose recorded series its rules read, transitively."""
    defined = _defining_group(rule_file)
    direct = {g.name: {defined[s] for rule in g.rules for s in recorded_series(rule.expr) if s in defined}
              for g in rule_file.groups}
    closed: dict[str, set[str]] = {}

    def close(name: str, seen: frozenset[str]) -> set[str]:
        if name not in closed:
            found = {name}
            for other in direct[name] - seen:
                found |= close(other, seen | {name})
            closed[name] = found
        return closed[name]

    return {name: close(name, frozenset()) for name in direct}


def split_tests(rule_file: RuleFile, test_file: dict) -> list[TestPart]:
    """The test file's tests grouped by the rule groups they need, in the order their first test comes."""
    needs = group_needs(rule_file)
    alert_groups: dict[str, set[str]] = {}
    for group, rule in rule_file.rules():
        if isinstance(rule, RenderedAlert):
            alert_groups.setdefault(rule.name, set()).update(needs[group.name])
    order = [g.name for g in rule_file.groups]
    parts: dict[tuple[str, ...], list[dict]] = {}
    for test in test_file["tests"]:
        wanted = set().union(*(alert_groups[check["alertname"]] for check in test["alert_rule_test"]))
        parts.setdefault(tuple(name for name in order if name in wanted), []).append(test)
    return [TestPart(groups, RuleFile(tuple(g for g in rule_file.groups if g.name in groups)),
                     {**test_file, "group_eval_order": list(groups), "tests": tests})
            for groups, tests in parts.items()]


def groups_for(rule_file: RuleFile, alerts: set[str], exprs: tuple[str, ...] = ()) -> RuleFile:
    """The rule file with only the groups that `alerts` and the expressions `exprs` read, transitively."""
    needs = group_needs(rule_file)
    defined = _defining_group(rule_file)
    wanted: set[str] = set()
    for group, rule in rule_file.rules():
        if isinstance(rule, RenderedAlert) and rule.name in alerts:
            wanted |= needs[group.name]
    for expr in exprs:
        for series in recorded_series(expr):
            if series in defined:
                wanted |= needs[defined[series]]
    return RuleFile(tuple(g for g in rule_file.groups if g.name in wanted))


@functools.lru_cache(maxsize=4096)
def _inputs(expr: str) -> frozenset[str] | None:
    """The series an expression reads, or None when it may return samples with none of them present
    (it selects nothing, a series it cannot name, or calls `absent`, `absent_over_time` or `vector`)."""
    try:
        tree = parse(expr)
    except ValueError:
        return None
    calls: set[str] = set()
    promql_parser.walk(tree, lambda node: calls.add(node.func.name) if isinstance(node, promql_parser.Call) else None)
    names = series_in(tree)
    if not names or calls & ANSWER_FROM_NOTHING or any(isinstance(n, UnknownMetric) for n in names):
        return None
    return frozenset(names)


def groups_fed_by(rule_file: RuleFile, present: set[str]) -> RuleFile:
    """The rule file without the groups none of whose rules can ever return a sample when only the series
    `present` exist: every series such a rule reads is absent, and PromQL over nothing is nothing (the
    functions that answer from nothing excepted). A replay drops them; they would fire no alert and record
    no series, at full cost in promtool."""
    available = set(present) | WRITTEN_BY_PROMETHEUS
    fed: set[str] = set()
    changed = True
    while changed:  # a group fed later in the file may record a series an earlier one reads
        changed = False
        for group, rule in rule_file.rules():
            inputs = _inputs(rule.expr)
            if inputs is not None and not inputs & available:
                continue
            if group.name not in fed:
                fed.add(group.name)
                changed = True
            if isinstance(rule, RecordingRule) and rule.record not in available:
                available.add(rule.record)
                changed = True
    return RuleFile(tuple(g for g in rule_file.groups if g.name in fed))
