"""A small, reviewable out/ (issue 10): short alerts, few bytes per service, and a threshold change that
shows up as the lines that state that threshold and nothing else."""
from __future__ import annotations

import dataclasses
import difflib
import json
from pathlib import Path

import pytest

from gen.pipeline import compile_specs
from gen.spec.project import default_project

from .conftest import REPO

MAX_ALERT_CHARS = 400
MAX_ALERT_LINES = 4
MAX_DEFAULT_BYTES_PER_SERVICE = 60_000
# What main reaches with the default targets (rule file and dashboard JSON): 95-131 KB per example service,
# from 147-207 KB before the dashboards dropped Grafana's defaults. Issue 11 (off-heap signal, step-proof
# windows, OOM kills, throughput-relative queue checks) and issue 14 (the right-sizing row) added rules and
# panels on purpose since: rule files 45-64 KB, dashboards 50-67 KB. Issue 12 added HTTP SLOs on purpose to
# submission-api (the only example with `slos`): its rule file 58 -> 80 KB, its dashboard 59 -> 75 KB, 155 KB
# in all (the others unchanged, 97-131 KB). A regression guard until 60 KB holds.
REACHED_DEFAULT_BYTES_PER_SERVICE = 160_000


@pytest.fixture(scope="module")
def defaults(compiled):
    """The example specs with the default targets: what `obsgen init` starts a repository with."""
    return compile_specs(REPO / "specs", REPO, dataclasses.replace(default_project(), jsonnet=compiled.project.jsonnet))


def _bytes_per_service(compiled) -> dict[str, int]:
    sizes = {}
    for out in compiled.services:
        name = out.service.name
        sizes[name] = sum(len(content) for path, content in compiled.files.items()
                          if Path(path).name.split(".")[0] == name)
    return sizes


def _alerts(compiled, queue: bool) -> list[tuple[str, str, str]]:
    return [(out.service.name, alert.name, alert.expr) for out in compiled.services for alert in out.rule_file.alerts
            if alert.name.startswith("Queue") == queue]


def _too_long(alerts: list[tuple[str, str, str]]) -> list[str]:
    return [f"{service}/{name}: {len(expr)} chars, {expr.count(chr(10)) + 1} lines" for service, name, expr in alerts
            if len(expr) > MAX_ALERT_CHARS or expr.count("\n") + 1 > MAX_ALERT_LINES]


def test_no_alert_expression_is_longer_than_400_characters_or_4_lines(compiled):
    alerts = _alerts(compiled, queue=False)
    assert len(alerts) > 50
    assert _too_long(alerts) == []


def test_no_queue_alert_expression_is_longer_than_400_characters_or_4_lines(compiled):
    alerts = _alerts(compiled, queue=True)
    assert alerts
    assert _too_long(alerts) == []


def test_the_default_targets_write_what_this_branch_reached_per_service(defaults):
    sizes = _bytes_per_service(defaults)
    assert len(sizes) == 6 and not any(p.startswith("tests/") for p in defaults.files)
    assert max(sizes.values()) < REACHED_DEFAULT_BYTES_PER_SERVICE, sizes


@pytest.mark.xfail(strict=True, reason="rule files are 45-64 KB and dashboards 50-67 KB per example service; "
                                       "60 KB needs shorter rule files too")
def test_the_default_targets_write_under_60_kb_per_service(defaults):
    sizes = _bytes_per_service(defaults)
    assert max(sizes.values()) < MAX_DEFAULT_BYTES_PER_SERVICE, sizes


# (spec lines added under spec.alerts, the value the rule's condition compares with before, and after)
THRESHOLD_CHANGES = [
    ("memoryNearLimit:\n      threshold: 85%\n", "> 0.9", "> 0.85"),
    ("eventLoopLag:\n      threshold: 300ms\n", "> 0.2", "> 0.3"),
    ("restarts:\n      threshold: 5\n", ">= 3", ">= 5"),
]
ALERTS_LINE = "  alerts:\n"


def _compile_with(tmp_path: Path, extra: str) -> dict[str, bytes]:
    spec = (REPO / "specs" / "submission-api.yaml").read_text()
    assert spec.count(ALERTS_LINE) == 1
    specs = tmp_path / ("changed" if extra else "original") / "specs"
    specs.mkdir(parents=True)
    (specs / "submission-api.yaml").write_text(spec.replace(ALERTS_LINE, ALERTS_LINE + ("    " + extra if extra else "")))
    return compile_specs(specs, specs.parent, default_project()).files


def _changed_lines(old: bytes, new: bytes) -> tuple[list[str], list[str]]:
    diff = list(difflib.unified_diff(old.decode().splitlines(), new.decode().splitlines(), lineterm="", n=0))
    removed = [line[1:] for line in diff if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in diff if line.startswith("+") and not line.startswith("+++")]
    return removed, added


def _without_thresholds(panel_line: str) -> dict:
    """A panel line without its thresholds and the description that may name them."""
    panel = json.loads(panel_line.strip().rstrip(","))
    panel.pop("description")
    panel["fieldConfig"]["defaults"].pop("thresholds", None)
    panel["fieldConfig"]["defaults"].get("custom", {}).pop("thresholdsStyle", None)
    return panel


@pytest.mark.parametrize("extra, before, after", THRESHOLD_CHANGES)
def test_a_threshold_change_changes_the_condition_line_and_only_the_panels_showing_it(tmp_path, extra, before, after):
    old, new = _compile_with(tmp_path, ""), _compile_with(tmp_path, extra)
    assert set(old) == set(new)
    changed = sorted(path for path in old if old[path] != new[path])
    assert "rules/submission-api.rules.yml" in changed and set(changed) <= {
        "rules/submission-api.rules.yml", "dashboards/submission-api.json"}, changed

    removed, added = _changed_lines(old["rules/submission-api.rules.yml"], new["rules/submission-api.rules.yml"])
    # One condition line; the alert's description may name the threshold too, so on-call reads it in the page.
    conditions = [(r, a) for r, a in zip(removed, added) if r.lstrip().startswith("expr:")]
    assert len(conditions) == 1 and len(removed) == len(added) <= 2, (removed, added)
    (was, now), = conditions
    assert was.endswith(before) and now == was.removesuffix(before) + after
    for was, now in zip(removed, added):
        if not was.lstrip().startswith("expr:"):
            assert was.lstrip().startswith("description:") and now.lstrip().startswith("description:")

    if "dashboards/submission-api.json" in changed:
        removed, added = _changed_lines(old["dashboards/submission-api.json"], new["dashboards/submission-api.json"])
        assert 1 <= len(removed) == len(added) <= 2, (removed, added)
        for was, now in zip(removed, added):  # panels whose thresholds moved, and nothing else of them
            assert was.startswith("    {") and now.startswith("    {")
            assert _without_thresholds(was) == _without_thresholds(now)
