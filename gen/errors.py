"""Errors a user can act on: where the problem is, what is wrong, how to fix it."""
from __future__ import annotations

from dataclasses import dataclass


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
        text = f"{where}: "
        if self.path:
            text += f"{format_path(self.path)}: "
        text += self.message
        if self.hint:
            text += f" ({self.hint})"
        # One problem, one line: multi-line YAML scalars must not split the report.
        return " ".join(text.split("\n"))


def format_path(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


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
