"""Stage 1 for `.jsonnet` specs: evaluate a file into one spec or a list of specs.

This is for fleets: one function, twenty services. Imports resolve only inside
the specs directory and the project's library paths, so a spec cannot read
arbitrary files of the machine that builds it.

Jsonnet reports its own syntax and runtime errors with file:line:column; those are
passed on. Schema errors refer to values Jsonnet computed, which have no position
of their own, so a line is given only where the source shows it unambiguously
(see `JsonnetDocument.locate`).
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _jsonnet

from gen.errors import MAX_TEXT, ObsgenError, Problem, excerpt, quoted
from gen.spec.confine import Confinement, SizeLimit
from gen.spec.documents import MAX_FILE_BYTES, SPEC_SIZE, Document, Path_, Position, decode_text, display_name

# Limits against runaway evaluation: a fleet is tens of services, each a few kilobytes.
MAX_OUTPUT_BYTES = 16 * 1024 * 1024
MAX_SPECS = 1000
MAX_STACK = 500
IMPORT_SIZE = SizeLimit(MAX_FILE_BYTES, "imports")

Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class JsonnetSettings:
    """Library paths and external variables, from the project file and the command line."""

    library_paths: tuple[Path, ...] = ()
    ext_vars: Pairs = ()
    ext_code: Pairs = ()

    def with_overrides(self, ext_vars: Pairs, ext_code: Pairs) -> "JsonnetSettings":
        """The command line's variables win over the project file's."""
        return JsonnetSettings(self.library_paths, tuple(sorted({**dict(self.ext_vars), **dict(ext_vars)}.items())),
                               tuple(sorted({**dict(self.ext_code), **dict(ext_code)}.items())))


@dataclass(frozen=True)
class Source:
    name: str  # as named in errors
    lines: tuple[str, ...]


def _field(key: str) -> re.Pattern:
    """`key:`, `key::`, `key+:`, quoted or not: a field definition in Jsonnet."""
    k = re.escape(key)
    return re.compile(rf"(?<![\w$'\"])(?:'{k}'|\"{k}\"|{k})\s*\+?:{{1,3}}")


def _literal(value: Any) -> re.Pattern | None:
    """How a scalar value may be written in Jsonnet source."""
    if isinstance(value, bool):
        return re.compile(rf"\b{str(value).lower()}\b")
    if isinstance(value, (int, float)):
        return re.compile(rf"(?<![\w.]){re.escape(json.dumps(value))}(?![\w.])")
    if isinstance(value, str) and value:
        v = re.escape(value)
        return re.compile(rf"'{v}'|\"{v}\"")
    return None


@dataclass
class JsonnetDocument(Document):
    """A spec a Jsonnet file evaluated to. Positions are searched for in the source, not recorded."""

    item: int | None = None  # index in the file's list of specs; None when the file is one spec
    sources: tuple[Source, ...] = ()  # the file, then every file it imported

    def _matches(self, pattern: re.Pattern, also: re.Pattern | None = None) -> list[tuple[str, Position]]:
        found = []
        for source in self.sources:
            for number, line in enumerate(source.lines, start=1):
                for match in pattern.finditer(line):
                    if also is None:
                        found.append((source.name, Position(number, match.start() + 1)))
                    else:
                        rest = also.search(line, match.end())
                        if rest:
                            found.append((source.name, Position(number, rest.start() + 1)))
        return found

    def locate(self, path: Path_, *, key: bool = False) -> tuple[str, Position] | None:
        """Where the source unambiguously sets `path`: a string literal written once in all sources, or the
        only field of that name with that value, or the only field of that name. Otherwise None: a guessed
        line would send people to the wrong place."""
        value = self._value(path)
        names = [p for p in path if isinstance(p, str)]
        literal = None if key else _literal(value)
        candidates = []
        if literal is not None and isinstance(value, str):
            candidates.append(self._matches(literal))
        if names:
            field_pattern = _field(names[-1])
            if literal is not None:
                candidates.append(self._matches(field_pattern, literal))
            candidates.append(self._matches(field_pattern))
        for found in candidates:
            if len(found) == 1:
                return found[0]
        return None

    def _value(self, path: Path_) -> Any:
        value = self.data
        for part in path:
            try:
                value = value[part]
            except (KeyError, IndexError, TypeError):
                return None
        return value

    def position(self, path: Path_, *, key: bool = False) -> Position | None:
        found = self.locate(path, key=key)
        return found[1] if found and found[0] == self.file else None

    def problem(self, path: Path_, message: str, hint: str = "", *, key: bool = False) -> Problem:
        found = self.locate(path, key=key)
        file, pos = found if found else (self.file, None)
        shown = ((self.item,) if self.item is not None else ()) + tuple(path)
        return Problem(file, message, pos.line if pos else None, pos.column if pos else None, shown, hint)


class _Imports:
    """Jsonnet's import callback (import, importstr and importbin alike), confined to the repository and, in it,
    to the allowed directories; remembers what it read. Nothing is read before both checks pass."""

    def __init__(self, roots: list[Path], library_paths: list[Path], base: Path, confinement: Confinement) -> None:
        self.roots = roots
        self.library_paths = library_paths
        self.base = base
        self.confinement = confinement
        self.read: dict[str, str] = {}
        self.refused = ""  # the hint of an import refused for leading out of the repository

    def __call__(self, directory: str, rel: str) -> tuple[str, bytes]:
        shown = quoted(rel)
        candidates = [Path(rel)] if os.path.isabs(rel) else [Path(directory) / rel,
                                                              *(lib / rel for lib in self.library_paths)]
        for candidate in candidates:
            if not os.path.lexists(candidate):
                continue
            if not self.confinement.contains(candidate):
                refusal = self.confinement.outside(candidate)
                self.refused = refusal.hint
                # Jsonnet's message names the import: "couldn't open import "x": <this>".
                raise RuntimeError(refusal.message)
            real = candidate.resolve()
            if not any(real.is_relative_to(root) for root in self.roots):
                raise RuntimeError(
                    f"{shown} is {display_name(real, self.base)}, outside the specs directory and the library "
                    "paths; add its directory to jsonnet.libraryPaths in obsgen.yaml or move it under specs/")
            try:
                content = self.confinement.read(real, IMPORT_SIZE)
            except ObsgenError as err:
                raise RuntimeError(err.problems[0].message) from None
            self.read[str(real)] = content.decode("utf-8", errors="replace")
            return str(real), content
        raise RuntimeError(f"{shown} not found next to the importing file or in the library paths "
                           "(jsonnet.libraryPaths in obsgen.yaml)")


# A location in Jsonnet's messages: file:line:col, file:line:col-col or file:(line:col)-(line:col).
_LOCATION = re.compile(r"(?P<file>[^\s:][^:\t]*):(?:(?P<line>\d+):(?P<col>\d+)(?:-\d+)?|"
                       r"\((?P<line2>\d+):(?P<col2>\d+)\)-\(\d+:\d+\))")


# Jsonnet's words around an import our callback refused: the name is the spec's, the rest is ours.
_IMPORT_FAILED = re.compile(r"couldn't open import \"(?P<name>.*?)\": (?P<rest>.*)", re.DOTALL)
JSONNET_MESSAGE_CHARS = 100


def _excerpt(message: str) -> str:
    """Jsonnet's message, cut where it quotes the input: a string given to `error`, a token it could not parse,
    an import's name. What our import callback said is kept whole: it names a link and where it points."""
    failed = _IMPORT_FAILED.fullmatch(message)
    if failed is None:
        return excerpt(message, JSONNET_MESSAGE_CHARS)
    return f"couldn't open import \"{excerpt(failed['name'])}\": {excerpt(failed['rest'], MAX_TEXT)}"


def _error_problem(text: str, files: dict[str, str], fallback: str) -> Problem:
    """One Problem from Jsonnet's error text, at the first frame in a file we know."""
    lines = [line for line in text.splitlines() if line.strip()]
    head = lines[0] if lines else text
    kind, _, message = head.partition(": ")
    where = None
    static = kind == "STATIC ERROR"
    for line in lines if not static else [message]:
        match = _LOCATION.search(line.strip())
        if match and match.group("file") in files:
            where = match
            break
    if static and where is not None:
        message = message[where.end():].lstrip(": ")
    message = _excerpt(message or text)
    if where is None:
        return Problem(fallback, f"jsonnet: {message}")
    line = int(where.group("line") or where.group("line2"))
    column = int(where.group("col") or where.group("col2"))
    return Problem(files[where.group("file")], f"jsonnet: {message}", line, column)


def _sources(entry: str, entry_text: str, imports: _Imports, base: Path) -> tuple[Source, ...]:
    out = [Source(entry, tuple(entry_text.splitlines()))]
    for real, text in sorted(imports.read.items()):
        out.append(Source(display_name(Path(real), base), tuple(text.splitlines())))
    return tuple(out)


def load_jsonnet(path: Path, name: str, source: str, spec_dir: Path, base: Path, settings: JsonnetSettings,
                 confinement: Confinement | None = None) -> list[Document]:
    """The specs a `.jsonnet` file evaluates to: one object, or a list of them."""
    confinement = confinement or Confinement.for_input(spec_dir, base)
    raw = confinement.read(path, SPEC_SIZE)
    text = decode_text(name, raw)
    real = path.resolve()
    libraries = [p.resolve() for p in settings.library_paths]
    imports = _Imports([spec_dir.resolve(), *libraries], libraries, base, confinement)
    try:
        output = _jsonnet.evaluate_snippet(str(real), text, import_callback=imports, max_stack=MAX_STACK,
                                           ext_vars=dict(settings.ext_vars), ext_codes=dict(settings.ext_code))
    except RuntimeError as err:
        known = {str(real): name, **{r: display_name(Path(r), base) for r in imports.read}}
        problem = _error_problem(str(err), known, name)
        if imports.refused:
            problem = dataclasses.replace(problem, hint=imports.refused)
        raise ObsgenError([problem]) from None
    if len(output) > MAX_OUTPUT_BYTES:
        raise ObsgenError([Problem(name, f"evaluates to {len(output)} bytes of JSON; the limit is "
                                         f"{MAX_OUTPUT_BYTES}", hint="split the fleet into several files")])
    value = json.loads(output)
    items = value if isinstance(value, list) else [value]
    if not items or value is None:
        raise ObsgenError([Problem(name, "evaluates to no specs",
                                   hint="evaluate to a spec object or a list of spec objects")])
    if len(items) > MAX_SPECS:
        raise ObsgenError([Problem(name, f"evaluates to {len(items)} specs; the limit is {MAX_SPECS}")])
    sources = _sources(name, text, imports, base)
    return [JsonnetDocument(file=name, index=i, data=item, source=source,
                            item=i if isinstance(value, list) else None, sources=sources)
            for i, item in enumerate(items)]
