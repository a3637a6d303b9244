"""Prometheus 3 made range selectors and the lookback left-open; 2.x holds the sample on a range's start.
Every generated proof must give the same outcome either way: replayed through the reference PromQL model
under both boundaries, each alert check fires the alerts the test file expects (labels and annotations), and
stays silent where it expects silence. promtool here is 2.42; this is the model's reading of 3.x, not a run."""
from __future__ import annotations

import pytest

from gen.proofs.replay import expected, replay
from gen.synth.promql_model import CLOSED, LEFT_OPEN

# The example services (specs/*.yaml and specs/fleet.jsonnet), one test each so that workers can share them.
SERVICES = ["grading-worker", "notification-api", "notification-worker", "report-api", "report-builder",
            "submission-api"]


@pytest.fixture(scope="module")
def proofs(compiled) -> dict:
    assert compiled.project.targets.rule_tests
    found = {out.service.name: out for out in compiled.services}
    assert sorted(found) == SERVICES
    return found


def _differences(want, got) -> list[str]:
    return [f"{name} at {at}: expected {exp}, got {found}" for (name, at, exp), (_, _, found) in zip(want, got)
            if exp != found]


@pytest.mark.parametrize("service", SERVICES)
def test_every_proof_has_the_same_outcome_with_closed_and_left_open_ranges(proofs, service):
    out = proofs[service]
    want = expected(out.test_file)
    assert sum(1 for _, _, alerts in want if alerts) >= 10 and sum(1 for _, _, alerts in want if not alerts) >= 10
    closed = replay(out.test_file, out.rule_file, CLOSED)
    assert [(n, t) for n, t, _ in closed] == [(n, t) for n, t, _ in want]
    assert _differences(want, closed) == []  # the model reads the proofs as promtool 2.42 does
    left_open = replay(out.test_file, out.rule_file, LEFT_OPEN)
    assert _differences(want, left_open) == []
