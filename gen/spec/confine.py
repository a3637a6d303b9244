"""Reading files on a user's behalf, confined to the repository.

`obsgen check` runs in CI on pull requests from anyone who can open one, and CI logs are often
public. A spec, a Jsonnet import or the project file that is a symlink (or sits below a symlinked
directory, or is reached through `..`) to a file outside the repository is refused before it is
read, so that its content cannot reach an error message: a link to a service-account token or a
kubeconfig would otherwise print it. So are files that are not regular files (a FIFO would block
the read, /dev/zero would fill memory), and files over a size limit, judged by their size on disk
before reading.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from gen.errors import ObsgenError, Problem


# Never following links out is what keeps a pull request from making CI print files of its machine.
LINK_HINT = "commit what it points to instead of the link"
PATH_HINT = "move what it names into the repository"
GIT_DIR = ".git"


# What each kind of file that is not a regular file is called; reading one blocks or never ends.
_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))


@dataclass(frozen=True)
class SizeLimit:
    """The largest file of one kind, and how an error says so: "file is N bytes; specs are limited to M"."""

    bytes: int
    what: str
    hint: str = ""


@dataclass(frozen=True)
class Confinement:
    """The directory obsgen reads files in, and where names in errors are relative to."""

    lexical: Path  # absolute, as named: where the links that leave it are looked for
    real: Path  # the same directory with every symlink resolved: what a file must resolve into
    base: Path  # absolute: names in errors are relative to this when they are inside it
    what: str = "the repository"

    @classmethod
    def of(cls, root: Path, base: Path, what: str = "the repository") -> "Confinement":
        lexical = Path(os.path.abspath(root))
        return cls(lexical, Path(os.path.realpath(lexical)), Path(os.path.abspath(base)), what)

    @classmethod
    def for_input(cls, given: Path, base: Path) -> "Confinement":
        """The repository root `base` when `given` (the specs directory or the project file, as the command
        line or the defaults name it) lies inside it; else `given`'s own directory: whoever runs obsgen chose
        that path, while what lies inside it may come from a pull request."""
        absolute = Path(os.path.abspath(given))
        if absolute.is_relative_to(os.path.abspath(base)):
            return cls.of(base, base)
        directory = absolute if absolute.is_dir() else absolute.parent
        return cls.of(directory, base, "the directory given")

    @classmethod
    def around(cls, path: Path) -> "Confinement":
        """The directory `path` is in: for files named without a repository (scenarios, recorded data)."""
        return cls.of(Path(os.path.abspath(path)).parent, Path.cwd(), "its directory")

    def name(self, path: Path) -> str:
        """`path` as errors name it: relative to `base` when inside it, as written (links not resolved)."""
        absolute = Path(os.path.abspath(path))
        if absolute.is_relative_to(self.base):
            return absolute.relative_to(self.base).as_posix() or "."
        return absolute.as_posix()

    def contains(self, path: Path) -> bool:
        """Whether `path`, every link followed, is in the confinement and not in git's own directory (.git
        holds what CI put there: a checkout's token in .git/config, for one)."""
        real = Path(os.path.realpath(path))
        return real.is_relative_to(self.real) and GIT_DIR not in real.relative_to(self.real).parts

    def outside(self, path: Path, quoted_as: str = "") -> Problem:
        """Why `path` resolves outside: the first link on its way that leaves, and where it goes."""
        real = Path(os.path.realpath(path))
        name = self.name(path)
        subject = f"{quoted_as} " if quoted_as else ""
        culprit = _escaping_link(Path(os.path.abspath(path)), self)
        hint = LINK_HINT
        if culprit is None:  # `..` or an absolute path, no link
            what, hint = f"{subject}resolves to {real.as_posix()}", PATH_HINT
        else:
            link, target = culprit
            via = os.readlink(link)
            # A chain of links is named by where it ends, and by its first step when that differs.
            through = "" if Path(os.path.abspath(link.parent / via)) == target else f" (through {via})"
            if link == Path(os.path.abspath(path)):
                who = subject
            else:
                who = f"{subject}goes through {self.name(link)}, which " if quoted_as else f"{self.name(link)} "
            what = f"{who}is a symlink to {target.as_posix()}{through}"
        if Path(os.path.realpath(path)).is_relative_to(self.real):
            return Problem(name, f"{what}, in git's own directory; obsgen never reads files there", hint=hint)
        return Problem(name, f"{what}, outside {self.what}; obsgen reads only files inside {self.lexical.as_posix()}",
                       hint=hint)

    def check_directory(self, directory: Path) -> None:
        if not self.contains(directory):
            raise ObsgenError([self.outside(directory)])

    def read(self, path: Path, limit: SizeLimit) -> bytes:
        """The bytes of `path`, if it resolves inside, is a regular file and is within `limit`; else one
        Problem, raised before a byte is read. The file is named as written: a link by its own name."""
        name = self.name(path)
        if not self.contains(path):
            raise ObsgenError([self.outside(path)])
        real = os.path.realpath(path)
        try:
            info = os.stat(real)
        except FileNotFoundError:
            linked = os.path.islink(path)
            what = f"is a symlink to {self.name(Path(real))}, which does not exist" if linked else "does not exist"
            raise ObsgenError([Problem(name, what, hint="remove the link or restore its file" if linked else "")]) \
                from None
        except OSError as err:
            raise ObsgenError([Problem(name, f"cannot read: {err.strerror}")]) from None
        _check_regular(name, info.st_mode, os.path.islink(path))
        _check_size(name, info.st_size, limit)
        # No link may have appeared since the check (O_NOFOLLOW); a FIFO swapped in must not block (O_NONBLOCK).
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC
        try:
            fd = os.open(real, flags)
        except OSError as err:
            raise ObsgenError([Problem(name, f"cannot read: {err.strerror}")]) from None
        try:
            opened = os.fstat(fd)
            _check_regular(name, opened.st_mode, os.path.islink(path))
            with os.fdopen(fd, "rb", closefd=False) as handle:
                data = handle.read(limit.bytes + 1)
        finally:
            os.close(fd)
        _check_size(name, len(data), limit)
        return data


def _check_regular(name: str, mode: int, linked: bool) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((words for test, words in _KINDS if test(mode)), "not a regular file")
    where = "is a symlink to " if linked else "is "
    raise ObsgenError([Problem(name, f"{where}{kind}, not a regular file; obsgen reads only regular files",
                               hint="replace it with a regular file")])


def _check_size(name: str, size: int, limit: SizeLimit) -> None:
    if size > limit.bytes:
        raise ObsgenError([Problem(name, f"file is {size} bytes; {limit.what} are limited to {limit.bytes}",
                                   hint=limit.hint)])


def _escaping_link(path: Path, confinement: Confinement) -> tuple[Path, Path] | None:
    """The first symlink on the way to `path`, below the confinement's root, that leads out of it."""
    for anchor in (confinement.lexical, confinement.real):
        if not path.is_relative_to(anchor):
            continue
        current = anchor
        for part in path.relative_to(anchor).parts:
            current = current / part
            if os.path.islink(current) and not confinement.contains(current):
                return current, Path(os.path.realpath(current))
    return None


def walk(directory: Path, suffixes: tuple[str, ...], confinement: Confinement) -> tuple[list[Path], list[Problem]]:
    """Files under `directory` whose names end in `suffixes`, and a problem for each symlinked directory
    that leads outside. Directory links that stay inside are followed, each real directory once."""
    found: list[Path] = []
    problems: list[Problem] = []
    seen: set[str] = set()

    def visit(current: Path) -> None:
        real = os.path.realpath(current)
        if real in seen:
            return
        seen.add(real)
        try:
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError as err:
            problems.append(Problem(confinement.name(current), f"cannot read the directory: {err.strerror}"))
            return
        for entry in entries:
            path = current / entry.name
            if entry.is_dir():  # follows links: a linked directory is judged by where it leads
                if entry.is_symlink() and not confinement.contains(path):
                    problems.append(confinement.outside(path))
                else:
                    visit(path)
            elif path.suffix in suffixes:
                found.append(path)  # links, FIFOs and devices too: reading refuses them, with a reason

    visit(directory)
    return found, problems
