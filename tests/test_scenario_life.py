"""The scenario engine's Kubernetes life: rollouts with surge, HPA schedules, OOM kills and maintenance restarts
in place, failed scrapes; and the series kube-state-metrics, cAdvisor and the app would export for them."""
from __future__ import annotations

import re

import pytest

from gen.synth.scenario import load_factors, pods_for, generate, scenario_from_dict

HOUR = 3600.0
GI = 2**30


@pytest.fixture(scope="module")
def service(compiled):
    return next(out.service for out in compiled.services if out.service.name == "submission-api")


def _scenario(**fields):
    return scenario_from_dict({"name": "life", "description": "", "expect": "quiet", **fields})


def _series(service, scenario) -> dict[str, list]:
    return {s.selector: s.values for s in generate(service, scenario, 4 * GI)}


def _pod_of(selector: str) -> str:
    return re.search(r'pod="([^"]+)"', selector).group(1)


def _with(series: dict[str, list], metric: str, **labels: str) -> dict[str, list]:
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    return {sel: v for sel, v in series.items()
            if sel.startswith(metric + "{") and all(w in sel for w in wanted)}


def test_a_rollout_gives_new_pod_names_and_the_old_ones_stop_after_the_surge(service):
    scenario = _scenario(duration="10h", pods=3, restarts={"at": ["4h"], "surge": "5m"})
    pods = pods_for(service, scenario)
    assert len({p.name for p in pods.values()}) == 6
    for replica in range(3):
        old, new = (p for p in scenario.processes if p.pod == replica)
        assert pods[(replica, 0)].name != pods[(replica, 1)].name
        assert new.start == 4 * HOUR + 120 * replica  # one replica after the other
        assert old.end == new.start + 300  # the old pod serves on beside the new one
    # During a surge four pods share the load of three.
    load = load_factors(scenario, scenario.processes)
    assert load[int(4 * HOUR // 60) + 1] == pytest.approx(3 / 4)
    assert load[int(5 * HOUR // 60)] == 1.0
    up = _with(_series(service, scenario), "up")
    assert len(up) == 6 and all(0 not in values for values in up.values())


def test_an_hpa_adds_fresh_pods_in_the_morning_and_removes_them_in_the_evening(service):
    scenario = _scenario(duration="2d", pods=2, autoscaling={"max": 8, "up": "8h", "down": "20h", "step": "10m"},
                         memory={"workingSet": {"traffic": "100Mi", "noise": 0, "sawtooth": {"height": 0, "period": "5m"}}})
    extra = [p for p in scenario.processes if p.pod >= 2]
    assert len(extra) == 12  # six added pods on each of two days
    pods = pods_for(service, scenario)
    assert len({pods[(p.pod, p.generation)].name for p in extra}) == 12  # each with a name of its own
    day_one = sorted(p.start for p in extra if p.start < 86400)
    assert day_one[0] == 8 * HOUR and day_one[-1] == 8 * HOUR + 50 * 60
    assert max(p.end for p in extra if p.start < 86400) == 20 * HOUR + 50 * 60  # the first added goes last
    load = load_factors(scenario, scenario.processes)
    assert load[int(12 * HOUR // 60)] == pytest.approx(2 / 8)
    assert load[int(23 * HOUR // 60)] == 1.0
    # Request memory follows each pod's share of the load.
    ws = _with(_series(service, scenario), "container_memory_working_set_bytes")
    steady = next(v for sel, v in ws.items() if _pod_of(sel) == pods[(0, 0)].name)
    assert steady[int(23 * HOUR // 60)] - steady[int(12 * HOUR // 60)] == pytest.approx(0.75 * 100 * 2**20, abs=1)


def test_an_oom_kill_restarts_the_container_in_the_same_pod(service):
    scenario = _scenario(duration="10h", pods=1, oomKill=True, memoryLimit="1Gi",
                         memory={"workingSet": {"base": "400Mi", "leakPerDay": "4800Mi"}})
    first, second, *_ = scenario.processes
    assert first.end < 4 * HOUR and second.start == first.end + 60  # the kubelet restarts it a minute later
    assert second.restarts == 1 and second.reason == "OOMKilled"
    pods = pods_for(service, scenario)
    assert pods[(0, 0)].name == pods[(0, 1)].name
    series = _series(service, scenario)
    kill, restart = int(first.end // 60), int(second.start // 60)
    [restarts] = _with(series, "kube_pod_container_status_restarts_total", job="kube-state-metrics").values()
    assert restarts[kill - 1] == 0 and restarts[restart] == 1
    [reason] = _with(series, "kube_pod_container_status_last_terminated_reason", reason="OOMKilled").values()
    assert reason[kill - 1] is None and reason[restart] == 1
    [start] = _with(series, "nodejs_process_start_time_seconds").values() or \
        _with(series, "process_start_time_seconds").values()
    assert start[restart] == second.start
    [ws] = _with(series, "container_memory_working_set_bytes").values()
    assert ws[kill - 1] > 0.9 * GI and ws[restart] < 0.5 * GI and ws[kill] is None
    [up] = _with(series, "up").values()
    assert up[kill] == 0 and up[restart] == 1  # scrapes fail while the container is down


def test_a_maintenance_restart_in_place_names_its_reason_and_only_its_replica(service):
    scenario = _scenario(duration="1d", pods=3, initialAge="1d",
                         restarts={"at": ["10h"], "newPod": False, "replicas": [1], "reason": "Completed"})
    assert [(p.pod, p.restarts, p.reason) for p in scenario.processes] == \
        [(0, 0, ""), (1, 0, ""), (1, 1, "Completed"), (2, 0, "")]
    series = _series(service, scenario)
    assert not _with(series, "kube_pod_container_status_last_terminated_reason", reason="OOMKilled")
    [completed] = _with(series, "kube_pod_container_status_last_terminated_reason", reason="Completed").values()
    assert completed[int(10 * HOUR // 60) + 2] == 1


def test_a_failed_scrape_leaves_up_at_0_and_the_app_series_missing(service):
    scenario = _scenario(duration="1d", pods=2, scrapeFailures=[{"replica": 1, "at": "3h", "for": "10m"}])
    series = _series(service, scenario)
    failing = pods_for(service, scenario)[(1, 0)].name
    gap = range(180, 190)
    for selector, values in series.items():
        if _pod_of(selector) != failing:
            assert all(values[i] is not None for i in gap), selector
        elif selector.startswith("up{"):
            assert [values[i] for i in (179, *gap, 190)] == [1] + [0] * 10 + [1]
        elif selector.startswith(("container_", "kube_")):
            assert all(values[i] is not None for i in gap), selector  # cAdvisor and kube-state-metrics go on
        else:
            assert all(values[i] is None for i in gap) and values[190] is not None, selector


def test_scenarios_without_a_life_of_their_own_keep_their_series(service):
    """A plain deploy scenario makes no terminated-reason series and no restarts: its bytes did not change."""
    scenario = _scenario(duration="2d", pods=2, restarts={"every": "1d", "offset": "9h"})
    series = _series(service, scenario)
    assert not _with(series, "kube_pod_container_status_last_terminated_reason")
    assert all(set(v) <= {0, None} for v in _with(series, "kube_pod_container_status_restarts_total").values())
    assert set(load_factors(scenario, scenario.processes)) == {1.0}
