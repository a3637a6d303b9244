"""Shard 4 of 4 (SHARDS) of the built-in library's backtest (tests/backtest_library.py says why it is split)."""
from __future__ import annotations

import pytest

from .backtest_library import ShardRun, check_scenario, run_shard, shards

NAMES = shards()[3]


@pytest.fixture(scope="module")
def results(promtool) -> ShardRun:
    return run_shard(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_the_scenario_behaves_as_it_must_and_the_readme_shows_it(results, name):
    check_scenario(results, name)
