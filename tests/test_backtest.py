"""The backtest: the built-in scenario library through the example service's real rules, in promtool.

Every leak and trend scenario must be caught and every quiet one must raise no alert at all; the
results table in docs/backtest.md must be what the library gives today. The library run is split into
shards (tests/backtest_library.py, tests/test_backtest_library_<n>.py) that pytest-xdist runs in parallel.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gen.synth.scenario import builtin_dir, generate, load_library, scenario_from_dict

from .backtest_library import (SCENARIO_CHECKS, SHARDS, STALE, TABLE_HEADER, applicable, checks_for, library,
                               readme_table, shards)
from .conftest import REPO, run_obsgen


def test_library_covers_every_kind_of_scenario():
    names = {s.name for s in load_library([builtin_dir()])}
    for kind in ("steady-leak", "step-leak", "daily-restart-leak", "fast-leak-to-oom", "quiet-sawtooth",
                 "quiet-large-sawtooth", "quiet-daily-deploys", "quiet-diurnal", "quiet-spikes"):
        assert kind in names


# The library run itself is split over tests/test_backtest_library_<n>.py, so that pytest-xdist runs its
# shards on several workers (tests/backtest_library.py): each checks its scenarios one by one, caught or
# quiet and their README rows. These two make sure the shards add up to the whole library and the table.

def test_the_shards_hold_every_scenario_of_the_library_once(compiled):
    assert len(applicable(compiled)) >= 14
    names = [name for name, _ in library()]
    held = [name for share in shards() for name in share]
    assert sorted(held) == sorted(names)
    assert all(shards()), "a shard with nothing to replay: lower SHARDS"
    modules = sorted(p.name for p in (REPO / "tests").glob("test_backtest_library_*.py"))
    assert modules == [f"test_backtest_library_{i + 1}.py" for i in range(SHARDS)]
    assert all(any(checks_for(n) for n in names if n.startswith(key)) for key in SCENARIO_CHECKS)


def test_the_readme_table_lists_the_library_in_the_order_the_backtest_reports_it(compiled):
    table = readme_table()
    assert table[:2] == TABLE_HEADER, STALE
    shown = [re.match(r"\| `([^`]+)` \|", row) for row in table[2:]]
    assert all(shown), STALE
    assert [m.group(1) for m in shown] == applicable(compiled), STALE


def test_recorded_range_export_replays_like_the_synthetic_data(tmp_path: Path, promtool, compiled):
    """A /api/v1/query_range export of a fast leak, as a team would download it, is caught."""
    service = next(o.service for o in compiled.services if o.service.name == "submission-api")
    scenario = scenario_from_dict({"name": "recorded", "description": "", "expect": "fire", "duration": "20h",
                                   "memory": {"workingSet": {"base": "1536Mi", "leakPerDay": "3Gi"}}})
    start = 1_760_000_000
    matrix = []
    for series in generate(service, scenario, None):
        name, body = series.selector.split("{", 1)
        labels = dict(re.findall(r'(\w+)="([^"]*)"', body))
        values = [[start + i * 60, str(v)] for i, v in enumerate(series.values) if v is not None]
        matrix.append({"metric": {"__name__": name, **labels}, "values": values})
    export = tmp_path / "last-month.json"
    export.write_text(json.dumps({"status": "success", "data": {"resultType": "matrix", "result": matrix}}))
    result = run_obsgen("backtest", "--no-builtin", "--service", "submission-api", "--range-export", str(export),
                        "--json", cwd=REPO)
    assert result.returncode == 0, result.stderr
    [replay] = json.loads(result.stdout)
    assert replay["expect"] == "unknown"
    assert "PodMemoryExhaustionForecast" in {a["alert"] for a in replay["alerts"]}


def test_a_broken_scenario_file_is_a_clear_error(tmp_path: Path):
    (tmp_path / "bad.yaml").write_text("name: bad\ndescription: x\nexpect: fire\nduration: 2 days\n")
    result = run_obsgen("backtest", "--no-builtin", "--scenarios", str(tmp_path), "--service", "submission-api",
                        cwd=REPO)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert re.match(r"error: .*bad\.yaml:4:\d+: duration: '2 days' is not a duration", result.stderr), result.stderr


# ---- scenarios fit the service: its own memory limit, and no credit for alerts before the problem ----

SMALL_SERVICE = ("apiVersion: obsgen/v1\nkind: Service\nmetadata:\n  name: small-api\nspec:\n  namespace: shop\n"
                 "  runtime: nodejs\n  resources:\n    requests: {cpu: 250m, memory: 512Mi}\n"
                 "    limits: {cpu: '1', memory: 1Gi}\n")


def _small_service(tmp_path: Path):
    from gen.pipeline import compile_specs

    (tmp_path / "specs").mkdir(exist_ok=True)
    (tmp_path / "specs" / "small-api.yaml").write_text(SMALL_SERVICE)
    return compile_specs(tmp_path / "specs", tmp_path).services[0].service


def _library(name: str):
    return next(s for s in load_library([builtin_dir()]) if s.name == name)


def test_scenarios_are_scaled_to_the_services_memory_limit(tmp_path: Path):
    from gen.tools.backtest import memory_scale, replay_for

    service = _small_service(tmp_path)
    assert memory_scale(service) == 0.25
    scenario = _library("fast-leak-mid-life")
    replay = replay_for(service, scenario)
    working_set = [s for s in replay.series if s.selector.startswith("container_memory_working_set_bytes")]
    first_hour = [v for s in working_set for v in s.values[:60] if v is not None]
    # Written for 4 GiB, the scenario starts at about 22% of the limit; scaled, it does for 1 GiB too.
    assert max(first_hour) < 0.3 * 2**30
    # No kube-state-metrics limit series is made up: the rules use the spec's 1Gi.
    assert not any("kube_pod_container_resource_limits" in s.selector for s in replay.series)


def test_the_problem_of_a_scenario_begins_where_its_leak_does():
    from gen.tools.backtest import problem_start

    assert problem_start(_library("fast-leak-mid-life")) == 34 * 3600
    assert problem_start(_library("leak-starts-mid-week")) == 2 * 86400
    assert problem_start(_library("steady-leak")) == 0
    assert problem_start(_library("quiet-sawtooth")) == 0


def test_an_alert_before_the_problem_begins_is_a_false_alarm_not_a_catch():
    from gen.tools.backtest import AlertOutcome, Replay, ReplayResult, table

    replay = Replay("fast-leak-mid-life", "fire", "", 42 * 3600, 60, [], ("PodMemoryExhaustionForecast",
                                                                          "PodMemoryNearLimit"), 34 * 3600)
    early = ReplayResult(replay, "small-api", (AlertOutcome("PodMemoryNearLimit", 15 * 60, 40.0),
                                                AlertOutcome("PodMemoryExhaustionForecast", 36 * 3600, 2.0)))
    assert early.verdict == "FALSE ALARM: PodMemoryNearLimit after 15m, before the problem begins at 1d10h"
    assert not early.ok
    assert "caught" not in table([early])
    late = ReplayResult(replay, "small-api", (AlertOutcome("PodMemoryExhaustionForecast", 36 * 3600, 2.0),))
    assert late.verdict == "caught after 1d12h" and late.ok


def test_a_1gi_service_is_not_caught_fifteen_minutes_in(tmp_path: Path, promtool):
    """The issue's case: unscaled, PodMemoryNearLimit fired 15m into fast-leak-mid-life and counted as caught."""
    _small_service(tmp_path)
    result = run_obsgen("backtest", "--service", "small-api", "--only", "fast-leak-mid-life", "--json",
                        cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [replay] = json.loads(result.stdout)
    assert replay["verdict"].startswith("caught after")
    assert all(a["first_fired_seconds"] >= 34 * 3600 for a in replay["alerts"] if a["alert_hours"] > 0)
    # Not on a terminal: one plain progress line per finished scenario, on stderr, with the time taken.
    assert re.search(r"^obsgen: \[1/1\] fast-leak-mid-life \(small-api\): caught after \S+ \(\S+ elapsed\)$",
                     result.stderr, re.M), result.stderr
    assert "\r" not in result.stderr and "\x1b" not in result.stderr


# ---- a Kubernetes service's life: rollouts, autoscaling, OOM-kill loops, restarts in place, failed scrapes ----

LIFE_PREFIXES = {"rollout-": 5, "hpa-": 3, "oom-": 4, "restart-": 2, "scrape-": 3}


def test_the_library_lives_like_a_kubernetes_service():
    names = [s.name for s in load_library([builtin_dir()])]
    for prefix, least in LIFE_PREFIXES.items():
        assert sum(n.startswith(prefix) for n in names) >= least, prefix
    # What each of them must show beyond caught or quiet is checked in its shard (backtest_library.SCENARIO_CHECKS).
    for key in ("oom-loop-", "rollout-hidden-", "scrape-target-down-2h"):
        assert any(checks_for(n) for n in names if n.startswith(key)), key


def test_a_scenario_written_for_another_limit_is_scaled_to_the_services(tmp_path: Path):
    from gen.tools.backtest import memory_scale, replay_for

    service = _small_service(tmp_path)  # 1Gi
    scenario = _library("oom-loop-every-8h-2gi")
    assert memory_scale(service, scenario.memory_limit) == 0.5
    working_set = [v for s in replay_for(service, scenario).series
                   if s.selector.startswith("container_memory_working_set_bytes") for v in s.values if v is not None]
    assert 0.9 * 2**30 < max(working_set) < 2**30  # killed at the limit, in the service's own bytes
