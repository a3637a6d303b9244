"""obsgen installs outside this checkout: as a wheel (`python -m build`), and from git at a tag, as the CI examples do.

Both run offline: the wheel is built without build isolation, and installed without its
dependencies (they are this virtualenv's), into a directory of its own, then run from an empty
folder where nothing of the checkout can be imported by accident.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from .conftest import REPO


def _pip_env(target: Path) -> dict[str, str]:
    # PIP_NO_BUILD_ISOLATION=0 turns build isolation off (pip's double negative): no download of setuptools.
    return {**os.environ, "PIP_NO_DEPS": "1", "PIP_NO_BUILD_ISOLATION": "0", "PIP_TARGET": str(target),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def _run_installed(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`obsgen ARGS` from the installed copy only: the checkout is not on the path."""
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONSAFEPATH": "1"}
    code = "import sys; from gen.cli import main; sys.argv[0] = 'obsgen'; main()"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    result = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist),
                             str(REPO)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    (built,) = dist.glob("obsgen-*.whl")
    return built


def _tagged_repository(origin: Path, tag: str) -> None:
    """A fresh repository holding the package as this working tree has it, committed and tagged, as a release is.

    Not a shallow clone: pip clones it again with a blob filter, and a shallow, filtered source can
    make git fetch missing objects without end.
    """
    origin.mkdir()
    shutil.copytree(REPO / "gen", origin / "gen", ignore=shutil.ignore_patterns("__pycache__"))
    for rel in ("pyproject.toml", "README.md"):
        (origin / rel).write_bytes((REPO / rel).read_bytes())
    git = ["git", "-C", str(origin), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True, timeout=60)
    subprocess.run([*git, "add", "-A"], check=True, timeout=60)
    subprocess.run([*git, "commit", "-qm", "release"], check=True, timeout=60)
    subprocess.run([*git, "tag", tag], check=True, timeout=60)


def test_the_wheel_holds_the_package_its_data_and_the_command(wheel: Path):
    assert wheel.name == "obsgen-0.1.0-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    assert "gen/cli.py" in names
    assert "gen/tools/init_templates/github-actions.yml" in names
    assert "gen/synth/scenarios/fast-leak-mid-life.yaml" in names
    assert not any(n.startswith(("tests/", "specs/", "out/")) for n in names)
    entry_points = zipfile.ZipFile(wheel).read("obsgen-0.1.0.dist-info/entry_points.txt").decode()
    assert "obsgen = gen.cli:main" in entry_points


def test_the_installed_wheel_starts_a_repository_and_builds_it(wheel: Path, tmp_path: Path):
    site = tmp_path / "site"
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", str(wheel)],
                            env=_pip_env(site), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    empty = tmp_path / "my-gitops-repo"
    empty.mkdir()
    assert _run_installed(site, "--version", cwd=empty).stdout == "obsgen 0.1.0\n"
    assert _run_installed(site, "init", cwd=empty).returncode == 0
    build = _run_installed(site, "build", cwd=empty)
    assert build.returncode == 0, build.stderr
    # The installed copy really was the one that ran.
    where = subprocess.run([sys.executable, "-c", "import gen; print(gen.__file__)"], cwd=empty, text=True,
                           capture_output=True, env={**os.environ, "PYTHONPATH": str(site), "PYTHONSAFEPATH": "1"})
    assert where.stdout.startswith(str(site))
    # The backtest finds its scenario library inside the installed package.
    listing = _run_installed(site, "backtest", "--only", "no-such-scenario", cwd=empty)
    assert "nothing to replay" in listing.stderr


@pytest.mark.parametrize("example", ["github-actions.yml", "gitlab-ci.yml"])
def test_the_ci_examples_install_obsgen_from_git_at_a_tag(example: str, tmp_path: Path):
    """The install step as written, with OBSGEN_PACKAGE pointing at a local clone tagged as a release."""
    text = yaml.safe_load((REPO / "examples" / "ci" / example).read_text())
    if example == "github-actions.yml":
        step = next(s for s in text["jobs"]["obsgen"]["steps"] if s.get("name", "").startswith("Install"))
        default, script = step["env"]["OBSGEN_PACKAGE"], step["run"]
    else:
        default, script = text["obsgen"]["variables"]["OBSGEN_PACKAGE"], text["obsgen"]["before_script"][-1]
    assert default.startswith("obsgen @ git+https://") and default.endswith("@v0.1.0")
    pip_line = next(line.strip() for line in script.splitlines() if line.strip().startswith("pip install"))
    assert pip_line == 'pip install "$OBSGEN_PACKAGE"'
    origin = tmp_path / "origin"
    _tagged_repository(origin, "v0.1.0")
    site = tmp_path / "site"
    env = {**_pip_env(site), "OBSGEN_PACKAGE": f"obsgen @ git+file://localhost{origin}@v0.1.0",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(["bash", "-eo", "pipefail", "-c", pip_line], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _run_installed(site, "--version", cwd=tmp_path).stdout == "obsgen 0.1.0\n"
