"""Shared fixtures: the repository, the upstream schemas beside it, and the compiled example specs."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gen.pipeline import compile_specs

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
UPSTREAM = SHARED / "schemas" / "upstream"
LIVE = Path(__file__).resolve().parent / "live"


def pytest_collection_modifyitems(config, items) -> None:
    """Units of work for pytest-xdist (`make test` runs `pytest -n auto --dist loadgroup`).

    Each test module is one group, so a worker builds a module's fixtures once (the backtest's
    library run, the bad-input corpus' previous build); every test under tests/live is one group,
    so a single worker runs them, in file order, against one test bed. A module that sets
    XDIST_GROUP_BY = "test" has its tests spread one by one (its fixtures are cheap, its tests slow).
    Without -n the markers change nothing.
    """
    for item in items:
        path = Path(item.path).resolve()
        if LIVE in path.parents:
            group = "live"
        elif getattr(getattr(item, "module", None), "XDIST_GROUP_BY", "module") == "test":
            group = item.nodeid
        else:
            group = path.relative_to(REPO).as_posix()
        item.add_marker(pytest.mark.xdist_group(group))


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
    return compile_specs(REPO / "specs", REPO)


@pytest.fixture(scope="session")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found; `make test` installs it (Debian package prometheus)")
    return path


def run_obsgen(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The real command line, as a user or CI runs it."""
    return subprocess.run([sys.executable, "-m", "gen", *args], cwd=cwd, capture_output=True, text=True)
