"""The built-in scenario library through the example service's real rules, in shards that run in parallel.

`make test` runs pytest with `--dist loadfile`: one test module runs whole on one worker. The library
run is the suite's largest single cost, so it is split over `SHARDS` modules
(tests/test_backtest_library_<n>.py), each replaying its share of the scenarios with one
`obsgen backtest --only ...` run. The shares are computed here from the library itself, so a new
scenario file joins a shard without anyone editing a test, and they are balanced by scenario
duration, which is what promtool's work grows with (every rule at every evaluation).

Each scenario is checked exactly as the single library run checked it: a `fire` scenario is caught
(by one of its alerts), a quiet one raises no alert at all, and its row in docs/backtest.md is what
the run gives today. test_backtest.py checks that the table lists the library in order and that the
shards together hold every scenario once.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Callable

import pytest

from gen.synth.scenario import builtin_dir, load_library, not_applicable

from .conftest import REPO, run_obsgen

SERVICE = "submission-api"
SHARDS = 4
README_BEGIN = "<!-- BEGIN BACKTEST RESULTS"
README_END = "<!-- END BACKTEST RESULTS -->"
TABLE_HEADER = ["| scenario | expected | alerts that fired (first fired, alert-hours) | verdict |", "|---|---|---|---|"]


@functools.cache
def library() -> tuple[tuple[str, float], ...]:
    """(name, duration in seconds) of every built-in scenario, in library order. Read at collection, on every
    xdist worker, so it compiles nothing: `applicable` says which scenarios the service replays."""
    return tuple((s.name, s.duration) for s in load_library([builtin_dir()]))


def applicable(compiled) -> list[str]:
    """The scenarios `obsgen backtest --service submission-api` replays, in the order it reports them."""
    output = next(o for o in compiled.services if o.service.name == SERVICE)
    alerts = {a.name for a in output.rule_file.alerts}
    return [s.name for s in load_library([builtin_dir()]) if not not_applicable(s, output.service, alerts)]


@functools.cache
def shards() -> tuple[tuple[str, ...], ...]:
    """The library in SHARDS shares of about equal promtool work: longest scenario first, to the lightest share."""
    shares: list[list[str]] = [[] for _ in range(SHARDS)]
    loads = [0.0] * SHARDS
    for name, duration in sorted(library(), key=lambda s: (-s[1], s[0])):
        lightest = loads.index(min(loads))
        shares[lightest].append(name)
        loads[lightest] += duration
    order = {name: i for i, (name, _) in enumerate(library())}
    return tuple(tuple(sorted(share, key=order.__getitem__)) for share in shares)


@dataclass(frozen=True)
class ShardRun:
    results: dict[str, dict]
    skipped: dict[str, str]  # scenarios that say nothing about the service, and why


SKIPPED = re.compile(rf"^obsgen: skipped (\S+) for {SERVICE}: (.*)$", re.M)


def run_shard(names: tuple[str, ...]) -> ShardRun:
    """The shard's scenarios through the real command line, as the whole library used to run."""
    only = [arg for name in names for arg in ("--only", name)]
    result = run_obsgen("backtest", "--service", SERVICE, *only, "--json", cwd=REPO)
    assert result.stdout.strip().startswith("["), result.stderr
    return ShardRun({r["scenario"]: r for r in json.loads(result.stdout)}, dict(SKIPPED.findall(result.stderr)))


def readme_table() -> list[str]:
    readme = (REPO / "docs" / "backtest.md").read_text()
    start, end = readme.find(README_BEGIN), readme.find(README_END)
    assert start >= 0 and end > start, "docs/backtest.md has no backtest results section"
    return readme[readme.index("\n", start) + 1:end].strip().splitlines()


def readme_row(result: dict) -> str:
    alerts = ", ".join(f"{a['alert']} ({a['first_fired']}, {a['alert_hours']:.1f})" for a in result["alerts"]
                       if a["alert_hours"] > 0)
    return f"| `{result['scenario']}` | {result['expect']} | {alerts or 'none'} | {result['verdict']} |"


def fast_leak_pages_many_hours_before_the_oom(result: dict) -> None:
    forecast = next(a for a in result["alerts"] if a["alert"] == "PodMemoryExhaustionForecast")
    oom_at = 20 * 3600  # the scenario reaches the limit at its end
    assert oom_at - forecast["first_fired_seconds"] >= 8 * 3600


def _scenario(name: str):
    return next(s for s in load_library([builtin_dir()]) if s.name == name)


def _first_caught(result: dict) -> float:
    return min(a["first_fired_seconds"] for a in result["alerts"] if a["alert_hours"] > 0)


def oom_loop_is_caught_before_its_second_kill(result: dict) -> None:
    from gen.synth.scenario import RESTART_DELAY

    kills: dict[int, list[float]] = {}
    for proc in _scenario(result["scenario"]).processes:
        if proc.reason == "OOMKilled":
            kills.setdefault(proc.name, []).append(proc.start - RESTART_DELAY)
    second = min(sorted(times)[1] for times in kills.values() if len(times) > 1)
    assert _first_caught(result) < second, result
    assert any(a["alert"] == "PodOOMKilled" for a in result["alerts"]), result


def hidden_leak_is_caught_within_the_first_pods_lifetime(result: dict) -> None:
    first_pods_end = min(p.end for p in _scenario(result["scenario"]).processes if p.generation == 0)
    assert _first_caught(result) < first_pods_end, result


def long_target_down_is_named_after_its_failure_begins(result: dict) -> None:
    failure = _scenario(result["scenario"]).scrape_failures[0]
    [down] = [a for a in result["alerts"] if a["alert_hours"] > 0]
    assert down["alert"] == "ServiceTargetDown"
    assert failure.start < down["first_fired_seconds"] <= failure.start + 30 * 60


def _fired(result: dict, alert: str) -> dict | None:
    return next((a for a in result["alerts"] if a["alert"] == alert and a["alert_hours"] > 0), None)


def fast_burn_pages_within_15_minutes(result: dict) -> None:
    page = _fired(result, "SloErrorBudgetBurnFast")
    assert page is not None, result
    assert page["first_fired_seconds"] - result["problem_from_seconds"] <= 15 * 60, result


def slow_burn_opens_a_ticket_within_hours_and_never_pages(result: dict) -> None:
    ticket = _fired(result, "SloErrorBudgetBurnSlow")
    assert ticket is not None, result
    assert ticket["first_fired_seconds"] - result["problem_from_seconds"] <= 3 * 3600, result
    assert _fired(result, "SloErrorBudgetBurnFast") is None, result


# What some scenarios must show beyond being caught or staying quiet: by name, or by a prefix ending in "-".
SCENARIO_CHECKS: dict[str, Callable[[dict], None]] = {
    "fast-leak-to-oom": fast_leak_pages_many_hours_before_the_oom,
    "oom-loop-": oom_loop_is_caught_before_its_second_kill,
    "rollout-hidden-": hidden_leak_is_caught_within_the_first_pods_lifetime,
    "scrape-target-down-2h": long_target_down_is_named_after_its_failure_begins,
    "http-fast-burn": fast_burn_pages_within_15_minutes,
    "http-slow-burn": slow_burn_opens_a_ticket_within_hours_and_never_pages,
    "http-one-slow-route": slow_burn_opens_a_ticket_within_hours_and_never_pages,
}


def checks_for(name: str) -> list[Callable[[dict], None]]:
    return [check for key, check in SCENARIO_CHECKS.items()
            if name == key or (key.endswith("-") and name.startswith(key))]

STALE = ("docs/backtest.md backtest table is stale: run `obsgen backtest --service submission-api --markdown` "
         "and paste it between the markers")


def check_scenario(run: ShardRun, name: str) -> None:
    """Caught or quiet as it must be, the README row current, and its own checks."""
    if name in run.skipped:
        assert not [row for row in readme_table() if row.startswith(f"| `{name}` |")], STALE
        pytest.skip(f"{name}: {run.skipped[name]}")
    assert name in run.results, f"{name}: no result from `obsgen backtest --only {name}`"
    result = run.results[name]
    fired = [a for a in result["alerts"] if a["alert_hours"] > 0]
    if result["expect"] == "fire":
        assert fired, f"{name}: missed"
        assert result["verdict"].startswith("caught after"), f"{name}: {result['verdict']}"
    else:
        assert not fired, f"{name}: false alerts {fired}"
    assert result["ok"], f"{name}: {result['verdict']}"
    rows = [row for row in readme_table() if row.startswith(f"| `{name}` |")]
    assert rows == [readme_row(result)], STALE
    for check in checks_for(name):
        check(result)
