"""The inputs of a build as they were at a git ref: specs, project file and Jsonnet libraries.

`obsgen diff` compiles them in a temporary directory that mirrors the repository
layout, so file names in messages and headers are the same as in the working tree.
Files are read with `git ls-tree` and `git cat-file`, which work in shallow clones
as long as the ref itself was fetched, and ignore export attributes.
"""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gen.errors import ObsgenError, Problem


@dataclass(frozen=True)
class Repository:
    root: Path  # the working tree's top level
    prefix: Path  # where obsgen runs, relative to root

    def relative(self, path: Path) -> str:
        """`path` (relative to where obsgen runs, or absolute) as git names it from the top level."""
        absolute = path if path.is_absolute() else Path.cwd() / path
        try:
            return Path(os.path.normpath(absolute)).relative_to(self.root).as_posix()
        except ValueError:
            raise ObsgenError([Problem(str(path), "is outside the git repository",
                                       hint=f"obsgen diff reads it from git history in {self.root}")]) from None


def _git(cwd: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True)
    except FileNotFoundError:
        raise ObsgenError([Problem("git", "git is not installed", hint="obsgen diff reads the base from git")]) \
            from None


def repository(cwd: Path) -> Repository:
    result = _git(cwd, "rev-parse", "--show-toplevel")
    if result.returncode != 0:
        raise ObsgenError([Problem(str(cwd), "not inside a git repository",
                                   hint="obsgen diff compares against a git ref; run it in your checkout")])
    root = Path(result.stdout.decode().strip()).resolve()
    return Repository(root, Path(os.path.normpath(cwd.resolve())).relative_to(root))


def resolve(repo: Repository, ref: str) -> str:
    """The commit `ref` names; a clear error when this clone does not have it."""
    result = None if not ref or ref.startswith("-") else \
        _git(repo.root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if result is None or result.returncode != 0:
        raise ObsgenError([Problem("--base", f"git ref '{ref}' not found in this clone",
                                   hint="in CI, fetch it first, e.g. `git fetch --depth=1 origin main` "
                                        "and pass --base origin/main")])
    return result.stdout.decode().strip()


def _entries(repo: Repository, commit: str, path: str) -> list[tuple[str, str, str]]:
    """(mode, object id, path) of every file under `path` at `commit`; [] when it does not exist there."""
    result = _git(repo.root, "ls-tree", "-r", "-z", "--full-tree", commit, "--", path)
    if result.returncode != 0:
        raise ObsgenError([Problem(path, f"git ls-tree failed: {result.stderr.decode().strip()}")])
    entries = []
    for record in result.stdout.decode().split("\0"):
        if not record:
            continue
        meta, _, name = record.partition("\t")
        mode, kind, oid = meta.split()
        if kind == "blob":
            entries.append((mode, oid, name))
    return entries


def _blobs(repo: Repository, oids: list[str]) -> dict[str, bytes]:
    if not oids:
        return {}
    result = _git(repo.root, "cat-file", "--batch", stdin="".join(f"{o}\n" for o in oids).encode())
    out, data, pos = {}, result.stdout, 0
    for oid in oids:
        newline = data.index(b"\n", pos)
        _, _, size = data[pos:newline].split()
        start = newline + 1
        out[oid] = data[start:start + int(size)]
        pos = start + int(size) + 1
    return out


def checkout(repo: Repository, commit: str, paths: list[str], dest: Path) -> None:
    """Write the files under `paths` at `commit` into `dest`, at the same relative paths."""
    entries = [e for path in paths for e in _entries(repo, commit, path)]
    contents = _blobs(repo, sorted({oid for _, oid, _ in entries}))
    for mode, oid, name in entries:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if mode == "120000":
            # A symlink stays one: Jsonnet's import confinement judges where it points.
            if not target.exists():
                os.symlink(contents[oid].decode(), target)
            continue
        target.write_bytes(contents[oid])
