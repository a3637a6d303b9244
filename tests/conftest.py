"""Shared fixtures: the repository, the upstream schemas beside it, and the compiled example specs."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gen.checks.lint import promtool_env
from gen.pipeline import compile_specs

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
# The tests that run `promtool test rules` themselves get the setting obsgen gives it.
os.environ.setdefault("GOGC", promtool_env()["GOGC"])
UPSTREAM = SHARED / "schemas" / "upstream"
# `make test` runs `pytest -n auto --dist loadfile`: each test module goes to one worker, so its module
# fixtures are built once (the backtest's library run, the bad-input corpus' previous build), and
# tests/live is one module, so one worker runs it against one test bed. (--dist loadgroup with
# xdist_group marks does not group with pytest 9.2 and xdist 3.8: xdist renames item._nodeid, which
# pytest 9 no longer reads.)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def upstream() -> Path:
    if not UPSTREAM.is_dir():
        pytest.fail(f"upstream schemas not found at {UPSTREAM}; the tests read them from ../shared")
    return UPSTREAM


@pytest.fixture(scope="session")
def compiled():
    """The example specs with their proofs: out/ does not commit them, the tests check them all the same."""
    return compile_specs(REPO / "specs", REPO, proofs=True)


@pytest.fixture(scope="session")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found; `make test` installs it (Debian package prometheus)")
    return path


def run_obsgen(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The real command line, as a user or CI runs it."""
    return subprocess.run([sys.executable, "-m", "gen", *args], cwd=cwd, capture_output=True, text=True)
