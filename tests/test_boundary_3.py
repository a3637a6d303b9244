"""Shard 3 of 3 of the range-boundary replays (tests/boundary.py says what they prove and why they are split)."""
from __future__ import annotations

from . import boundary

(proofs, replays, test_every_proof_has_the_same_outcome_with_closed_and_left_open_ranges,
 test_every_queue_proof_has_the_same_outcome_with_closed_and_left_open_ranges) = boundary.shard(3)
