"""`obsgen test` runs each service's proofs in parts, each against only the rule groups its alerts read."""
from __future__ import annotations

import pytest

from gen.ir import RecordingRule
from gen.pipeline import compile_specs
from gen.promql.parse import recorded_series
from gen.proofs.split import split_tests


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
