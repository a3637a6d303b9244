"""Errors a user can act on: where the problem is, what is wrong, how to fix it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Errors are printed in CI logs, which are often public, for input that anyone who opens a pull request wrote.
# A value is quoted only as a short excerpt, and nothing is printed as it is that could act on a terminal.
EXCERPT_CHARS = 80  # of a value or key, quoted in a message
MAX_TEXT = 320  # a message or hint is cut here: beyond it, it could only be quoting input at length
_LINE_BREAKS = "\n\r\t\v\f"


def printable(text: str, breaks: str = " ") -> str:
    """`text` with line breaks as `breaks` and every other control or invisible formatting character escaped
    (`\\x1b`, `\\u202e`), so that input can neither repaint a terminal or CI log nor split or reorder a line.
    `breaks=""` escapes line breaks too (`\\n`), for names, where a space would be ambiguous."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else breaks if breaks and c in _LINE_BREAKS else repr(c)[1:-1]
                   for c in text)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """At most `limit` characters of `text`, escaped as `printable` does; '...' says that there was more."""
    return printable(text[:limit]) + ("..." if len(text) > limit else "")


def quoted(value: Any, limit: int = EXCERPT_CHARS) -> str:
    """A value of the input as errors quote it: Python's repr (quotes and escapes) of at most `limit` characters."""
    if isinstance(value, str):
        return repr(value[:limit]) + ("..." if len(value) > limit else "")
    return excerpt(repr(value), limit)


@dataclass(frozen=True)
class Problem:
    """One problem in one input file, printed as one line."""

    file: str
    message: str
    line: int | None = None
    column: int | None = None
    path: tuple[str | int, ...] = ()
    hint: str = ""

    def format(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{printable(where, breaks='')}: "
        if self.path:
            text += f"{printable(format_path(self.path), breaks='')}: "
        # One problem, one line: multi-line YAML scalars must not split the report, nor control characters
        # of the input act on the terminal; every message passes here, whichever stage wrote it.
        text += _capped(printable(self.message))
        if self.hint:
            text += f" ({_capped(printable(self.hint))})"
        return text


def format_path(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + (part if len(part) <= EXCERPT_CHARS else part[:EXCERPT_CHARS] + "...")
    return out


def _capped(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "..."


class ObsgenError(Exception):
    """Raised by any stage when the input cannot be compiled; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(p.format() for p in problems))
        self.problems = problems


class OutputError(Exception):
    """The output directory could not be written as asked; it was left as it was (or the message says otherwise)."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


class OutputConflict(OutputError):
    """The output directory holds something obsgen must not overwrite or remove."""
