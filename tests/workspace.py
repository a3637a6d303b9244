"""A throwaway repository for CLI tests: specs/, and an out/ holding a previous good build plus files obsgen
did not write. Also a full snapshot of a directory tree, to prove that a failed run changed nothing."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from .conftest import REPO, run_obsgen

# Files a person put in out/ by hand: obsgen must never touch them.
FOREIGN_FILES = {
    "dashboards/hand-made.json": b'{"title": "made by hand"}\n',
    "NOTES.md": b"Generated dashboards live here, next to our own.\n",
}


@dataclass(frozen=True)
class Entry:
    """One file or directory as the file system holds it."""

    kind: str  # "file", "dir" or "link"
    content: bytes
    mode: int
    mtime_ns: int


def snapshot(root: Path) -> dict[str, Entry]:
    """Every file and directory under `root`: content, mode and modification time.

    Directory times are included, so that a run that created and removed a temporary
    file (a staging directory) shows up too.
    """
    out = {}
    for path in sorted([root, *root.rglob("*")]):
        rel = path.relative_to(root).as_posix()
        stat = path.lstat()
        if path.is_symlink():
            out[rel] = Entry("link", str(path.readlink()).encode(), stat.st_mode, stat.st_mtime_ns)
        elif path.is_dir():
            out[rel] = Entry("dir", b"", stat.st_mode, stat.st_mtime_ns)
        else:
            out[rel] = Entry("file", path.read_bytes(), stat.st_mode, stat.st_mtime_ns)
    return out


def files_of(root: Path) -> dict[str, bytes]:
    """Content of every file under `root`, for comparing output of two builds."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# A project file that commits the rule tests too (they are opt-in), so out/ holds every kind of plain file.
RULE_TESTS_ON = "apiVersion: obsgen/v1\nkind: Project\ntargets:\n  ruleTests:\n    enabled: true\n"


def rule_tests_on(root: Path) -> None:
    (root / "obsgen.yaml").write_text(RULE_TESTS_ON)


def good_build(root: Path) -> Path:
    """The article's service spec, out/ built from it by the real CLI (rule tests committed), plus foreign files.

    One service keeps these tests about input and the writing of out/, not about the example set.
    """
    (root / "specs").mkdir(parents=True, exist_ok=True)
    rule_tests_on(root)
    shutil.copy(REPO / "specs" / "submission-api.yaml", root / "specs")
    result = run_obsgen("build", "--specs", "specs", "--out", "out", cwd=root)
    assert result.returncode == 0, result.stderr
    for rel, content in FOREIGN_FILES.items():
        (root / "out" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "out" / rel).write_bytes(content)
    return root


def copy_of(template: Path, root: Path) -> Path:
    """A copy that keeps modification times, so that snapshots of the copy are comparable."""
    shutil.copytree(template, root, symlinks=True, copy_function=shutil.copy2)
    return root


def second_service(name: str, namespace: str = "billing") -> str:
    """A second valid spec, written out so that tests can add and remove a service."""
    return (
        "apiVersion: obsgen/v1\n"
        "kind: Service\n"
        "metadata:\n"
        f"  name: {name}\n"
        "  team: payments\n"
        "spec:\n"
        f"  namespace: {namespace}\n"
        "  runtime: nodejs\n"
        "  resources:\n"
        "    limits: {cpu: '1', memory: 1Gi}\n"
    )
