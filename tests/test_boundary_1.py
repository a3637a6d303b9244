"""Shard 1 of 3 of the range-boundary replays (tests/boundary.py says what they prove and why they are split)."""
from __future__ import annotations

import pytest

from . import boundary

SERVICES = boundary.SHARDS[0]


@pytest.fixture(scope="module")
def proofs(compiled) -> dict:
    return boundary.proofs(compiled)


@pytest.fixture(scope="module")
def replays(proofs):
    return boundary.replays(proofs)


@pytest.mark.parametrize("service", SERVICES)
def test_every_proof_has_the_same_outcome_with_closed_and_left_open_ranges(proofs, replays, service):
    boundary.check_proofs(proofs, replays, service)


@pytest.mark.parametrize("service", SERVICES)
def test_every_queue_proof_has_the_same_outcome_with_closed_and_left_open_ranges(proofs, replays, service):
    boundary.check_queue_proofs(proofs, replays, service)
