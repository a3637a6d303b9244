"""Prometheus 3 made range selectors and the lookback left-open; 2.x holds the sample on a range's start.
Every generated proof must give the same outcome either way: replayed through the reference PromQL model
under both boundaries, each alert check fires the alerts the test file expects (labels and annotations), and
stays silent where it expects silence. promtool here is 2.42; this is the model's reading of 3.x, not a run.

A service's replays take about a minute of CPU, so the services are split over SHARDS modules
(tests/test_boundary_<n>.py) that pytest-xdist runs on different workers, balanced by measured cost."""
from __future__ import annotations

import pytest

from gen.proofs.replay import expected, replay
from gen.synth.promql_model import BOUNDARIES, CLOSED, LEFT_OPEN

# The example services (specs/*.yaml and specs/fleet.jsonnet), in shards of about equal replay time.
SHARDS = (("grading-worker", "report-api"), ("notification-api", "report-builder"),
          ("notification-worker", "submission-api"))
SERVICES = sorted(name for shard in SHARDS for name in shard)


def proofs(compiled) -> dict:
    found = {out.service.name: out for out in compiled.services}
    assert sorted(found) == SERVICES
    return found


def replays(proofs):
    """Each service's proofs replayed under both boundaries, once for both checks of a shard."""
    cache: dict[str, dict[str, list]] = {}

    def of(service: str) -> dict[str, list]:
        if service not in cache:
            out = proofs[service]
            cache[service] = {b: replay(out.test_file, out.rule_file, b) for b in BOUNDARIES}
        return cache[service]
    return of


def _differences(proofs: dict, replays, service: str, queue: bool) -> list[str]:
    out = proofs[service]
    want = expected(out.test_file)
    assert sum(1 for _, _, alerts in want if alerts) >= 10 and sum(1 for _, _, alerts in want if not alerts) >= 10
    checks = [c for t in out.test_file["tests"] for c in t.get("alert_rule_test", [])]
    picked = [i for i, c in enumerate(checks) if c["alertname"].startswith("Queue") == queue]
    if not picked:
        pytest.skip(f"{service} has no {'queue' if queue else 'other'} alerts")
    found = []
    for boundary, got in replays(service).items():
        assert [(n, t) for n, t, _ in got] == [(n, t) for n, t, _ in want]
        found += [f"{boundary}: {want[i][0]} at {want[i][1]}: expected {want[i][2]}, got {got[i][2]}"
                  for i in picked if want[i] != got[i]]
    return found


def check_proofs(proofs: dict, replays, service: str) -> None:
    # Under CLOSED the replay must match the file too: the model reads the proofs as promtool 2.42 does.
    assert BOUNDARIES == (CLOSED, LEFT_OPEN)
    assert _differences(proofs, replays, service, queue=False) == []


def check_queue_proofs(proofs: dict, replays, service: str) -> None:
    # The queue proofs state a check only where both boundaries agree (gen/proofs/queue.py), and their scenarios
    # keep the stated values off the boundary: whole failures a minute in a storm, a drain time off whole seconds.
    assert _differences(proofs, replays, service, queue=True) == []


def shard(number: int) -> tuple:
    """Shard `number`'s fixtures and tests, for a tests/test_boundary_<n>.py module to name at its top level."""
    services = SHARDS[number - 1]

    @pytest.fixture(scope="module", name="proofs")
    def shard_proofs(compiled) -> dict:
        return proofs(compiled)

    @pytest.fixture(scope="module", name="replays")
    def shard_replays(proofs):
        return replays(proofs)

    @pytest.mark.parametrize("service", services)
    def test_every_proof_has_the_same_outcome_with_closed_and_left_open_ranges(proofs, replays, service):
        check_proofs(proofs, replays, service)

    @pytest.mark.parametrize("service", services)
    def test_every_queue_proof_has_the_same_outcome_with_closed_and_left_open_ranges(proofs, replays, service):
        check_queue_proofs(proofs, replays, service)

    return (shard_proofs, shard_replays, test_every_proof_has_the_same_outcome_with_closed_and_left_open_ranges,
            test_every_queue_proof_has_the_same_outcome_with_closed_and_left_open_ranges)
