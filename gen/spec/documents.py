"""Stage 1: read spec files into plain documents that remember where every node came from.

YAML is parsed by PyYAML's composer, then turned into plain Python values here,
so that we control what is accepted: duplicate keys, alias expansion and nesting
depth are checked, and every key and value keeps its line and column.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gen.errors import ObsgenError, Problem, excerpt, quoted
from gen.spec.confine import Confinement, SizeLimit


MAX_FILE_BYTES = 1024 * 1024
SPEC_SIZE = SizeLimit(MAX_FILE_BYTES, "specs", "split it into several spec files")
# Specs are a few hundred nodes; these limits only stop hostile or broken input.
MAX_NODES = 50_000
MAX_DEPTH = 40
# PyYAML's messages are under 60 characters, unless they quote the input (an alias or tag name): then cut.
YAML_MESSAGE_CHARS = 100
SPEC_SUFFIXES = (".yaml", ".yml", ".jsonnet")

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    line: int
    column: int


@dataclass
class Document:
    """One YAML document of a spec file, with a position for each value and key."""

    file: str  # as named in errors: relative to where obsgen runs
    index: int
    data: Any
    source: str = ""  # as named in generated headers: the same from any working directory
    values: dict[Path_, Position] = field(default_factory=dict)
    keys: dict[Path_, Position] = field(default_factory=dict)

    def position(self, path: Path_, *, key: bool = False) -> Position | None:
        """The closest known position of `path`, walking up to its parents."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while True:
            if probe in table:
                return table[probe]
            if key and probe in self.values:
                return self.values[probe]
            if not probe:
                return None
            probe = probe[:-1]

    def problem(self, path: Path_, message: str, hint: str = "", *, key: bool = False) -> Problem:
        pos = self.position(path, key=key)
        return Problem(
            file=self.file,
            line=pos.line if pos else None,
            column=pos.column if pos else None,
            path=tuple(path),
            message=message,
            hint=hint,
        )


def _position(node: yaml.Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def _fail(file: str, node: yaml.Node | None, message: str, hint: str = "", path: Path_ = ()) -> ObsgenError:
    pos = _position(node) if node is not None else None
    return ObsgenError([Problem(file, message, pos.line if pos else None, pos.column if pos else None, path, hint)])


_PLAIN_COLLECTION_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
# What plain YAML values resolve to; explicit tags (!!binary, !!python/..., !custom) have no place in a spec.
_TEXT_TAGS = tuple(f"tag:yaml.org,2002:{kind}" for kind in ("timestamp", "value", "merge"))
_PLAIN_SCALAR_TAGS = tuple(f"tag:yaml.org,2002:{kind}" for kind in ("str", "int", "float", "bool", "null"))


def _unused_tag(file: str, node: yaml.Node, path: Path_) -> ObsgenError:
    tag = excerpt(node.tag.replace("tag:yaml.org,2002:", "!!"))
    return _fail(file, node, f"YAML tag '{tag}' is not used in specs",
                 "remove the tag; specs are plain mappings, lists and values", path)


class _SpecLoader(yaml.SafeLoader):
    """PyYAML's safe loader, stopped at MAX_DEPTH so that deep nesting is an error, not a RecursionError."""

    def __init__(self, file: str, text: str) -> None:
        super().__init__(text)
        self.file = file
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise ObsgenError([Problem(self.file, f"nested more than {MAX_DEPTH} levels deep", mark.line + 1,
                                           mark.column + 1, hint="a spec is only a few levels deep; check for "
                                           "unclosed brackets or misplaced indentation")])
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _DocumentReader:
    """Turns one composed YAML node tree into plain values, recording positions and enforcing limits."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.file = doc.file
        self.nodes = 0
        # Collections being read right now: meeting one again means an alias refers to its own ancestor.
        self.open: set[int] = set()
        # PyYAML's own scalar rules (int, float, bool, null), used for scalars only.
        self.scalars = yaml.SafeLoader("")

    def read(self, node: yaml.Node, path: Path_ = (), depth: int = 0) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self._too_many(path)
        if id(node) in self.open:
            raise _fail(self.file, node, "recursive alias: this anchored value contains an alias to itself",
                        "an alias (*name) may only refer to a value outside the anchored one", path)
        if depth > MAX_DEPTH:
            raise _fail(self.file, node, f"nested more than {MAX_DEPTH} levels deep",
                        "a spec is only a few levels deep; check for misplaced indentation", path)
        self.doc.values.setdefault(path, _position(node))
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if node.tag not in _PLAIN_COLLECTION_TAGS:
            raise _unused_tag(self.file, node, path)
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.read(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
            return self._mapping(node, path, depth)
        finally:
            self.open.discard(id(node))

    def _too_many(self, path: Path_) -> ObsgenError:
        # Aliased nodes carry their anchor's position; the key being expanded says where the bomb is.
        keyed = path
        while keyed and keyed not in self.doc.keys:
            keyed = keyed[:-1]
        pos = self.doc.keys.get(keyed)
        return ObsgenError([Problem(self.file, f"document expands to more than {MAX_NODES} values",
                                    pos.line if pos else None, pos.column if pos else None, keyed,
                                    "YAML aliases that multiply each other (an alias bomb) are not accepted; "
                                    "write the values out")])

    def _scalar(self, node: yaml.ScalarNode, path: Path_) -> Any:
        if node.tag in _TEXT_TAGS:
            # Plain text that YAML 1.1 reads as something else ('2024-01-01', '=', '<<'): keep the text,
            # so that the schema reports a clear error or accepts it as written.
            return node.value
        if node.tag not in _PLAIN_SCALAR_TAGS:
            raise _unused_tag(self.file, node, path)
        try:
            value = self.scalars.construct_object(node, deep=True)
        except yaml.YAMLError as err:
            problem = excerpt(str(getattr(err, "problem", err)))
            raise _fail(self.file, node, f"cannot read value: {problem}", path=path) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise _fail(self.file, node, f"{quoted(node.value)} is not a number a spec can use",
                        "write a finite number", path=path)
        return value

    def _mapping(self, node: yaml.MappingNode, path: Path_, depth: int) -> dict:
        seen: dict[str, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self._key(key_node, path)
            if key in seen:
                first = _position(seen[key])
                raise _fail(self.file, key_node, f"duplicate key {quoted(key)} (first defined at line {first.line})",
                            "remove one of them; YAML keeps only the last, which hides mistakes", path + (key,))
            seen[key] = key_node
        try:
            self.scalars.flatten_mapping(node)  # resolves '<<' merge keys; explicit keys win, as YAML says
        except yaml.YAMLError as err:
            problem = excerpt(str(getattr(err, "problem", err)))
            raise _fail(self.file, node, f"bad merge key: {problem}", path=path) from None
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node, path)
            child = path + (key,)
            self.doc.keys.setdefault(child, _position(key_node))
            result[key] = self.read(value_node, child, depth + 1)
        return result

    def _key(self, key_node: yaml.Node, path: Path_) -> str:
        if not isinstance(key_node, yaml.ScalarNode):
            raise _fail(self.file, key_node, "a key must be a plain string, not a list or mapping", path=path)
        # The written text, not YAML 1.1's reading of it: a key 'on' stays 'on', not True.
        return str(key_node.value)


# Text in an encoding YAML specs do not use; named so the fix is obvious.
_OTHER_ENCODINGS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
                    (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))


def decode_text(file: str, raw: bytes) -> str:
    for mark, encoding in _OTHER_ENCODINGS:
        if raw.startswith(mark):
            raise ObsgenError([Problem(file, f"saved as {encoding}, not UTF-8", hint="save the file as UTF-8")])
    if b"\x00" in raw:
        raise ObsgenError([Problem(file, "this is a binary file, not a YAML spec",
                                   hint="keep only YAML specs under the specs directory")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise ObsgenError([Problem(file, f"not valid UTF-8 (byte 0x{raw[err.start]:02x})", line, column,
                                   hint="save the file as UTF-8")]) from None
    return text.removeprefix("\ufeff")


def _line_column(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _unclosed_quote(text: str, at: yaml.Mark) -> yaml.Token | None:
    """The quoted value just before `at` if it spans lines: the usual cause of a baffling parse error."""
    before = None
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.end_mark.index > at.index:
                break
            before = token
    except yaml.YAMLError:
        pass
    if (isinstance(before, yaml.ScalarToken) and before.style in ("'", '"')
            and before.start_mark.line != before.end_mark.line):
        return before
    return None


_FLOW_OPENERS = {"while parsing a flow mapping": "{", "while parsing a flow sequence": "["}


def _syntax_problem(file: str, text: str, err: yaml.MarkedYAMLError) -> Problem:
    """One actionable line for a YAML syntax error, placed where the fix goes when that is knowable."""
    mark = err.problem_mark or err.context_mark
    # PyYAML's own words name a token or a character; an alias or tag name in them is the input's, so cut.
    problem = excerpt((err.problem or err.context or "not valid YAML").strip(), YAML_MESSAGE_CHARS)
    line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
    opener = _FLOW_OPENERS.get(err.context or "")
    quote = _unclosed_quote(text, err.problem_mark) if err.problem_mark else None
    if quote is not None:
        start = quote.start_mark
        return Problem(file, f"not valid YAML: the quoted value that starts here runs on to line {line}, "
                             f"where reading fails ({problem})", start.line + 1, start.column + 1,
                       hint=f"add the missing closing {quote.style}")
    if opener and err.context_mark and mark and err.context_mark.line != mark.line:
        start = err.context_mark
        return Problem(file, f"not valid YAML: '{opener}' is not closed; at line {line}, column {column}: {problem}",
                       start.line + 1, start.column + 1,
                       hint=f"close it with '{'}' if opener == '{' else ']'}' or write the value in block style")
    hint = "indent with spaces; YAML does not allow tabs" if "'\\t'" in problem else ""
    if not hint and mark is not None and problem in _INDENTATION_PROBLEMS:
        found = _indentation_hint(text, mark.line, problem)
        if found is not None:
            column, hint = found
    return Problem(file, f"not valid YAML: {problem}", line, column, hint=hint)


# PyYAML's words for a line indented where no mapping is open; on their own they say nothing useful.
_INDENTATION_PROBLEMS = ("mapping values are not allowed here", "expected <block end>, but found '<block mapping start>'",
                         "expected <block end>, but found '<block sequence start>'")


def _content_lines(lines: list[str], before: int) -> list[tuple[int, int, str]]:
    """(line index, indent, text) of the lines above `before` that hold YAML, not blanks or comments."""
    out = []
    for index in range(before):
        stripped = lines[index].strip()
        if stripped and not stripped.startswith("#") and not stripped.startswith("---"):
            out.append((index, len(lines[index]) - len(lines[index].lstrip(" ")), stripped))
    return out


def _spaces(count: int) -> str:
    return "1 space" if count == 1 else f"{count} spaces"


def _key_of(text: str) -> str:
    """The key a line starts with, as hints quote it: a short excerpt of the line, escaped."""
    return excerpt(text.lstrip("- ").split(":", 1)[0].strip(), 40)


def _opens_block(text: str) -> bool:
    """`key:` with nothing after it (or only a comment): its value is the block below."""
    head, sep, rest = text.partition(":")
    return bool(sep) and (not rest.strip() or rest.strip().startswith("#"))


def _indentation_hint(text: str, index: int, problem: str) -> tuple[int, str] | None:
    """Where an indentation slip probably meant the line to go, as (column of the line, hint)."""
    lines = text.split("\n")
    if index >= len(lines) or not lines[index].strip():
        return None
    here = lines[index]
    indent = len(here) - len(here.lstrip(" "))
    key = _key_of(here.strip())
    above = _content_lines(lines, index)
    if not above:
        return None
    # The blocks open at the line above: that line, then each less indented line that owns it.
    chain, level = [], None
    for entry in reversed(above):
        if level is None or entry[1] < level:
            chain.append(entry)
            level = entry[1]
    previous = chain[0]
    if problem.startswith("mapping values") and here.strip().count(": ") > 1:
        return indent + 1, (f"the value of '{key}' holds ': ', which YAML reads as another key; "
                            "quote the value, or fix the indentation")
    if problem.startswith("mapping values") and indent > previous[1] and not _opens_block(previous[2]):
        parent = next((e for e in chain[1:] if _opens_block(e[2])), None)
        where = f", under '{_key_of(parent[2])}' (line {parent[0] + 1})" if parent else ""
        return indent + 1, (f"indentation: line {index + 1} is indented {_spaces(indent)}, deeper than "
                            f"'{_key_of(previous[2])}' on line {previous[0] + 1}, which already has a value; "
                            f"indent '{key}' by {_spaces(previous[1])} to put it beside '{_key_of(previous[2])}'"
                            f"{where}")
    if problem.startswith("mapping values"):
        return None
    # A line indented between two open blocks: it belongs to one of them.
    levels: list[tuple[int, str, int]] = []  # (indent of the block's keys, owner key, owner line)
    for position, entry in enumerate(chain):
        owner = chain[position + 1] if position + 1 < len(chain) else None
        levels.append((entry[1], _key_of(owner[2]) if owner else "", owner[0] + 1 if owner else 0))
    if any(level == indent for level, _, _ in levels):
        return None
    best = min(levels, key=lambda lv: (abs(lv[0] - indent), -lv[0]))
    others = [lv for lv in levels if lv is not best]
    target = f"under '{best[1]}' (line {best[2]})" if best[1] else "at the top level"
    hint = (f"indentation: line {index + 1} is indented {_spaces(indent)}, which matches no block above it; "
            f"it probably belongs {target}: indent '{key}' by {_spaces(best[0])}")
    if others:
        other = min(others, key=lambda lv: abs(lv[0] - indent))
        hint += f" (or by {other[0]}, {'under ' + repr(other[1]) if other[1] else 'at the top level'})"
    return indent + 1, hint


def parse_yaml(file: str, raw: bytes) -> list[Document]:
    """Every non-empty YAML document in `raw`, in order."""
    if len(raw) > MAX_FILE_BYTES:
        raise ObsgenError([Problem(file, f"file is {len(raw)} bytes; specs are limited to {MAX_FILE_BYTES}",
                                   hint="split it into several spec files")])
    text = decode_text(file, raw)
    try:
        loader = _SpecLoader(file, text)
    except yaml.reader.ReaderError as err:
        line, column = _line_column(text, err.position)
        raise ObsgenError([Problem(file, f"control character U+{err.character:04X} is not allowed in YAML",
                                   line, column, hint="remove it, or write it as an escape in a double-quoted "
                                   "string")]) from None
    documents: list[Document] = []
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                break
            doc = Document(file=file, index=index, data=None)
            doc.data = _DocumentReader(doc).read(node)
            index += 1
            if doc.data is not None:
                documents.append(doc)
    except yaml.MarkedYAMLError as err:
        raise ObsgenError([_syntax_problem(file, text, err)]) from None
    except yaml.YAMLError as err:
        # str() of a YAML error can quote the input around the error (a snippet of lines): never printed.
        problem = excerpt(str(getattr(err, "problem", None) or err), YAML_MESSAGE_CHARS)
        raise ObsgenError([Problem(file, f"not valid YAML: {problem}")]) from None
    except RecursionError:  # a last resort: _SpecLoader and _DocumentReader stop nesting well before this
        raise ObsgenError([Problem(file, "nested too deeply to read",
                                   hint=f"a spec is only a few levels deep; the limit is {MAX_DEPTH}")]) from None
    finally:
        loader.dispose()
    return documents


def display_name(path: Path, base: Path) -> str:
    """How a file is named in errors and headers: relative to where obsgen runs, when possible."""
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def load_file(path: Path, name: str, source: str | None = None,
              confinement: Confinement | None = None) -> list[Document]:
    """The documents of one YAML file, read only if it resolves inside `confinement` (by default the directory
    it is in) and is a regular file of at most MAX_FILE_BYTES."""
    raw = (confinement or Confinement.around(path)).read(path, SPEC_SIZE)
    documents = parse_yaml(name, raw)
    for doc in documents:
        doc.source = source or name
    if not documents:
        raise ObsgenError([Problem(name, "holds no spec documents",
                                   hint="add a spec with apiVersion: obsgen/v1, or remove the file")])
    return documents
