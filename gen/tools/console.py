"""What long commands say while they run: a progress bar on a terminal, plain lines elsewhere (CI logs).

The bar is click's progressbar (done/total, elapsed time, an estimate of what is left), drawn on
stderr so that stdout stays the command's result. `--quiet` turns all of it off; `NO_COLOR` (any
value, https://no-color.org) turns colour off. Both are honoured in plain mode too.
"""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import click

from gen.units import format_duration


@dataclass(frozen=True)
class Output:
    """How much a command says, and how."""

    quiet: bool = False
    verbose: bool = False

    @property
    def terminal(self) -> bool:
        return _isatty(sys.stderr)

    @property
    def color(self) -> bool:
        return "NO_COLOR" not in os.environ and self.terminal

    def style(self, text: str, **styles) -> str:
        return click.style(text, **styles) if self.color else text

    def info(self, line: str, err: bool = False) -> None:
        if not self.quiet:
            click.echo(line, err=err, color=self.color if err else None)


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _clock(seconds: float) -> str:
    return format_duration(max(1, round(seconds))) if seconds >= 1 else "0s"


class Progress:
    """Progress over `total` items. Call step(label) as each one finishes, from one thread."""

    def __init__(self, output: Output, what: str, total: int) -> None:
        self.output, self.what, self.total = output, what, total
        self.done = 0
        self.started = time.monotonic()
        self._bar = None

    def elapsed(self) -> str:
        return _clock(time.monotonic() - self.started)

    def estimate(self, done: int | None = None) -> str:
        """`12s elapsed, about 40s left`: the rate so far, applied to what is left."""
        done = self.done if done is None else done
        elapsed = time.monotonic() - self.started
        if not done or done >= self.total:
            return f"{_clock(elapsed)} elapsed"
        return f"{_clock(elapsed)} elapsed, about {_clock(elapsed / done * (self.total - done))} left"

    def step(self, label: str, plain: bool = True) -> None:
        """One more item done. `plain=False`: the caller prints its own line when not on a terminal."""
        self.done += 1
        if self.output.quiet:
            return
        if self._bar is not None:
            self._bar.label = self._label(label)
            self._bar.update(1)
        elif plain:
            click.echo(f"obsgen: [{self.done}/{self.total}] {label} ({self.estimate()})", err=True)

    def _label(self, last: str) -> str:
        return f"{self.what}: {last}"[:60].ljust(60)

    @contextmanager
    def running(self) -> Iterator["Progress"]:
        if self.output.quiet or not self.output.terminal:
            if not self.output.quiet:
                click.echo(f"obsgen: {self.what}: {self.total} to run", err=True)
            yield self
            return
        fill = self.output.style("#", fg="green")
        with click.progressbar(length=self.total, label=self._label("starting"), file=sys.stderr,
                               show_eta=True, show_percent=False, show_pos=True, fill_char=fill,
                               item_show_func=lambda _: f"{_clock(time.monotonic() - self.started)} elapsed",
                               color=self.output.color) as bar:
            self._bar = bar
            try:
                yield self
            finally:
                self._bar = None
