"""`obsgen test` runs each service's proofs in parts, each against only the rule groups its alerts read."""
from __future__ import annotations

import pytest

from gen.ir import RecordingRule, RenderedAlert, RuleFile, RuleGroup
from gen.pipeline import compile_specs
from gen.promql.parse import recorded_series
from gen.proofs.split import groups_fed_by, split_tests


from .conftest import REPO


@pytest.fixture(scope="module")
def with_proofs(tmp_path_factory):
    """The example service with every domain; `obsgen test` in test_rules.py runs the parts of all six."""
    specs = tmp_path_factory.mktemp("split") / "specs"
    specs.mkdir()
    (specs / "submission-api.yaml").write_bytes((REPO / "specs" / "submission-api.yaml").read_bytes())
    compiled = compile_specs(specs, specs.parent, proofs=True)
    return [o for o in compiled.services if o.test_file and o.test_file["tests"]]


def test_the_parts_hold_every_test_once_in_order(with_proofs):
    for out in with_proofs:
        parts = split_tests(out.rule_file, out.test_file)
        names = [t["name"] for part in parts for t in part.test_file["tests"]]
        assert sorted(names) == sorted(t["name"] for t in out.test_file["tests"])
        assert len(names) == len(set(names))
        for part in parts:
            assert part.test_file["group_eval_order"] == [g.name for g in part.rule_file.groups]


def test_each_part_holds_every_group_its_rules_read(with_proofs):
    """Closed under reading: no rule in a part reads a recorded series defined by a group left out."""
    for out in with_proofs:
        defined = {r.record: g.name for g, r in out.rule_file.rules() if isinstance(r, RecordingRule)}
        for part in split_tests(out.rule_file, out.test_file):
            held = {g.name for g in part.rule_file.groups}
            read = {defined[s] for _, r in part.rule_file.rules() for s in recorded_series(r.expr) if s in defined}
            assert read <= held, (out.service.name, part.groups, read - held)
            alerts = {r.name for r in part.rule_file.alerts}
            assert {c["alertname"] for t in part.test_file["tests"] for c in t["alert_rule_test"]} <= alerts


def test_the_week_long_proofs_leave_out_the_leak_rules_and_the_queue_proofs_everything_else(with_proofs):
    api = next(o for o in with_proofs if o.service.name == "submission-api")
    by_groups = {part.groups: part for part in split_tests(api.rule_file, api.test_file)}
    assert ("submission-api.pod", "submission-api.rightsize") in by_groups
    assert ("submission-api.queue.grading",) in by_groups
    assert len(by_groups) > 3


def _alert(name: str, expr: str) -> RenderedAlert:
    return RenderedAlert(name, expr, "0s", (), ())


def test_a_replay_leaves_out_only_the_groups_its_series_cannot_feed():
    rules = RuleFile((
        RuleGroup("late-reader", (_alert("FromLater", "later:recorded > 1"),)),
        RuleGroup("http", (RecordingRule("job:http:rate5m", "sum(rate(http_requests_total[5m]))"),
                           _alert("HttpErrors", "job:http:rate5m > 1"))),
        RuleGroup("memory", (RecordingRule("later:recorded", "max(container_memory_working_set_bytes)"),)),
        RuleGroup("absence", (_alert("NoTargets", 'absent(up{job="x"})'),)),
        RuleGroup("constant", (RecordingRule("job:one", "vector(1)"),)),
        RuleGroup("alerts-read", (_alert("Meta", 'ALERTS{alertstate="firing"} > 0'),)),
    ))
    kept = [g.name for g in groups_fed_by(rules, {"container_memory_working_set_bytes", "up"}).groups]
    # A group fed later in the file still counts for one that reads it earlier; absent, vector and ALERTS
    # can answer without the scenario's series; nothing the HTTP group reads exists.
    assert kept == ["late-reader", "memory", "absence", "constant", "alerts-read"]
    assert [g.name for g in groups_fed_by(rules, {"http_requests_total"}).groups] == [
        "http", "absence", "constant", "alerts-read"]


def test_every_scenario_without_http_or_queue_series_replays_without_those_groups(with_proofs):
    from gen.synth.scenario import builtin_dir, load_library
    from gen.tools.backtest import _replayed_rules, replay_for

    out = with_proofs[0]
    kept = {}
    for scenario in load_library([builtin_dir()]):
        replay = replay_for(out.service, scenario)
        metrics = {s.selector.partition("{")[0] for s in replay.series}
        kept[scenario.name] = ({g.name.split(".")[1] for g in _replayed_rules(replay, out, ()).groups},
                               any(m.startswith("http_") for m in metrics))
    assert all(("slo" in groups) == has_http for groups, has_http in kept.values()), kept
    assert {"nodejs", "pod", "scrape", "leak"} <= set.intersection(*(groups for groups, _ in kept.values()))
