"""Backtest scenarios with a `queues:` section: parsing, errors a person can act on, and the series they make."""
from __future__ import annotations

from pathlib import Path

import pytest

from gen.tools.backtest import AlertOutcome, Replay, ReplayResult
from gen.errors import ObsgenError
from gen.synth.scenario import ALERTS, builtin_dir, generate, load_library, load_scenario, not_applicable

from .conftest import run_obsgen

GOOD = """\
name: outage
description: Workers gone for an hour while jobs keep arriving.
expect: fire
alerts: [QueueStuck]
duration: 3h
queues:
  backlog: 10
  arrivals:
    perMinute: 20
    batches: [{size: 500, at: 30m}, {size: 100, every: 1h, offset: 5m}]
  workers:
    perMinute: 30
    down: [{at: 1h, for: 1h}]
    restarts: [{at: 2h30m, for: 2m}]
  failures: {share: 1%, storms: [{at: 10m, for: 10m, share: 50%}]}
"""


def _write(tmp_path: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ObsgenError) as caught:
        load_scenario(_write(tmp_path, text), "scenarios/bad.yaml")
    return [p.format() for p in caught.value.problems]


def _service(compiled, name: str):
    return next(o for o in compiled.services if o.service.name == name)


def test_a_queue_workload_parses_into_minutes(tmp_path):
    scenario = load_scenario(_write(tmp_path, GOOD))
    load = scenario.queues
    assert scenario.alerts == ("QueueStuck",)
    assert (load.per_minute, load.capacity, load.backlog, load.delayed, load.concurrency) == (20, 30, 10, 1, 4)
    assert [(b.size, b.first, b.every) for b in load.batches] == [(500, 30, 0), (100, 5, 60)]
    assert [(w.start, w.end) for w in load.down] == [(60, 120)]
    assert [(w.start, w.end) for w in load.restarts] == [(150, 152)]
    assert load.failure_share == pytest.approx(0.01)
    assert [(w.start, w.end, share) for w, share in load.storms] == [(10, 20, 0.5)]


def test_generated_queue_series_follow_the_convention_and_the_workload(tmp_path, compiled):
    scenario = load_scenario(_write(tmp_path, GOOD))
    service = _service(compiled, "submission-api").service
    series = {s.selector: s.values for s in generate(service, scenario, None)}
    queue = {k: v for k, v in series.items() if k.startswith("bullmq_")}
    assert queue, sorted(series)[:5]
    assert all(len(v) == scenario.samples for v in queue.values())
    assert all('queue="grading"' in k and 'namespace="exam"' in k for k in queue)
    completed = [v for k, v in queue.items() if k.startswith("bullmq_job_completed_total{")]
    waiting = [v for k, v in queue.items() if k.startswith("bullmq_job_count{") and 'state="waiting"' in k]
    assert len(completed) == 2 and len(waiting) == 2  # two scrape targets
    # Workers down from 1h to 2h: nothing completes, arrivals pile up (20 a minute and the batch at 1h05m).
    first = completed[0]
    assert first[59] == first[119] and first[58] < first[59]
    assert waiting[0][119] - waiting[0][61] == 20 * 58 + 100
    # The restart at 2h30m: one target has no samples for 2 minutes, then its counter starts at 0.
    (restarted,) = [v for v in completed if v[150] is None]
    assert restarted[151] is None and restarted[152] == 0 and restarted[149] > 0


def test_idle_spans_stop_arrivals_and_slowdowns_cut_capacity(tmp_path):
    text = GOOD.replace("    batches: [{size: 500, at: 30m}, {size: 100, every: 1h, offset: 5m}]\n",
                        "    idle: [{at: 1h, for: 30m}]\n")
    text = text.replace("    down: [{at: 1h, for: 1h}]\n", "    slowdowns: [{at: 2h, for: 30m, by: 10%}]\n")
    load = load_scenario(_write(tmp_path, text)).queues
    workload = load.workload(180, "seed")
    arrivals = [workload.arrivals(m) for m in range(180)]
    assert sum(arrivals[60:90]) == 0 and sum(arrivals[30:60]) == 20 * 30
    capacity = [workload.capacity(m) for m in range(180)]
    # 30 a minute, 10% fewer from 2h to 2h30m: 27 a minute, whole jobs that add up to the rate.
    assert sum(capacity[120:150]) == 27 * 30 and sum(capacity[90:120]) == 30 * 30


def test_scenarios_without_queues_make_the_same_series_as_before(tmp_path, compiled):
    service = _service(compiled, "submission-api").service
    text = GOOD.split("queues:")[0].replace("alerts: [QueueStuck]\n", "")
    plain = load_scenario(_write(tmp_path, text, "plain.yaml"))
    with_queue = load_scenario(_write(tmp_path, GOOD, "queue.yaml"))
    plain_series = {s.selector: s.values for s in generate(service, plain, None)}
    queue_series = {s.selector: s.values for s in generate(service, with_queue, None)}
    assert plain.queues is None and not any(k.startswith("bullmq_") for k in plain_series)
    # Same name, so the same random draws: only the queue's series are added.
    assert {k: v for k, v in queue_series.items() if not k.startswith("bullmq_")} == plain_series


def test_every_alert_a_scenario_may_name_is_one_obsgen_generates(compiled):
    generated = {a.name for o in compiled.services for a in o.rule_file.alerts}
    assert generated == set(ALERTS)


def test_the_queue_library_names_real_alerts_and_applies_only_to_services_with_queues(compiled):
    library = [s for s in load_library([builtin_dir()]) if s.queues is not None]
    assert len(library) == 27
    fire = [s for s in library if s.expect == "fire"]
    assert fire and all(s.alerts for s in fire)
    assert all(not s.alerts for s in library if s.expect == "quiet")
    no_queues = _service(compiled, "grading-worker").service
    assert all(not_applicable(s, no_queues, set()) == "the service has no queues" for s in library)
    storm = next(s for s in library if s.name == "queue-failure-storm")
    worker = _service(compiled, "notification-worker")
    alerts = {a.name for a in worker.rule_file.alerts}
    # bull_exporter has no failed-job counter, so no failure-ratio alert to catch the storm with.
    assert not_applicable(storm, worker.service, alerts) == "its rules have none of QueueFailureRatioHigh"


def test_a_fire_scenario_with_alerts_is_only_caught_by_those():
    replay = Replay("r", "fire", "", 7200, 60, [], ("QueueStuck",))
    other = AlertOutcome("QueueBacklogGrowing", 3600, 1.0)
    assert ReplayResult(replay, "svc", (other,)).verdict == "MISSED"
    stuck = AlertOutcome("QueueStuck", 5400, 0.5)
    assert ReplayResult(replay, "svc", (other, stuck)).verdict == "caught after 1h30m"
    anything = Replay("r", "fire", "", 7200, 60, [])
    assert ReplayResult(anything, "svc", (other,)).verdict == "caught after 1h"


BAD_CASES = [
    ("alerts: [QueueStuck]", "alerts: [QueueDrainTooSlow]",
     "scenarios/bad.yaml:4:10: alerts[0]: 'QueueDrainTooSlow' is not one of: ", "did you mean 'QueueDrainTimeLong'?"),
    ("expect: fire", "expect: quiet",
     "scenarios/bad.yaml:4:1: alerts: only a `fire` scenario names the alerts meant to catch it", ""),
    ("    perMinute: 30\n", "    perMnute: 30\n",
     "scenarios/bad.yaml:12:5: queues.workers.perMnute: unknown key 'perMnute'", "did you mean 'perMinute'?"),
    ("share: 1%", "share: 0.01",
     "scenarios/bad.yaml:15:21: queues.failures.share: expected a percentage such as 90%, got a number (0.01)",
     "write it as '1%'"),
    ("{size: 500, at: 30m}", "{size: 500, at: 30m, every: 1h}",
     "scenarios/bad.yaml:10:15: queues.arrivals.batches[0]: a batch needs either `at` (once) or `every` "
     "(repeated)", ""),
    ("{size: 100, every: 1h, offset: 5m}", "{size: 100, offset: 5m}",
     "scenarios/bad.yaml:10:49: queues.arrivals.batches[1].offset: `offset` only goes with `every`", ""),
    ("    perMinute: 30\n", "    concurrency: 2\n",
     "scenarios/bad.yaml:12:5: queues.workers: workers need either `perMinute` or `jobDuration`", ""),
    ("down: [{at: 1h, for: 1h}]", "down: [{at: 4h, for: 1h}]",
     "scenarios/bad.yaml:13:17: queues.workers.down[0].at: '4h' is not within the scenario, which lasts 3h",
     "start it earlier or make the scenario longer"),
    ("{at: 2h30m, for: 2m}", "{at: 2h30m, for: 90s}",
     "scenarios/bad.yaml:14:33: queues.workers.restarts[0].for: '90s' is not a whole number of minutes",
     "queues are simulated minute by minute"),
    ("duration: 3h\n", "duration: 3h\nstep: 30s\n",
     "scenarios/bad.yaml:6:7: step: '30s' is not a whole number of minutes", ""),
    ("  backlog: 10", "  backlog: ten",
     "scenarios/bad.yaml:7:12: queues.backlog: expected a whole number, got a string ('ten')", ""),
]


@pytest.mark.parametrize("old,new,expected,hint", BAD_CASES, ids=[c[1] for c in BAD_CASES])
def test_bad_queue_workloads_are_one_line_each_with_file_and_line(tmp_path, old, new, expected, hint):
    assert old in GOOD
    problems = _problems(tmp_path, GOOD.replace(old, new, 1))
    matching = [p for p in problems if p.startswith(expected)]
    assert matching, problems
    assert "\n" not in matching[0]
    if hint:
        assert matching[0].endswith(f"({hint})"), matching[0]


def test_backtest_reports_a_bad_queue_scenario_without_a_traceback(tmp_path, repo):
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    _write(scenarios, GOOD.replace("perMinute: 30", "perMinute: fast"), "outage.yaml")
    result = run_obsgen("backtest", "--specs", str(repo / "specs"), "--no-builtin", "--scenarios", str(scenarios),
                        cwd=repo)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"{scenarios / 'outage.yaml'}:12:16: queues.workers.perMinute: expected a number, got a string ('fast')" \
        in result.stderr
