"""Quantities written in specs (durations, sizes, CPU, percentages) and their canonical forms."""
from __future__ import annotations

import re
from dataclasses import dataclass

# Prometheus' own duration grammar: units in descending order, each at most once.
_DURATION_UNITS = (("y", 365 * 86400), ("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1),
                   ("ms", 0.001))
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")

# Kubernetes quantity suffixes that make sense for memory.
_SIZE_FACTORS = {
    "": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}
_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|K|M|G|T|P|E)?$")
_CPU = re.compile(r"^(?:([0-9]+(?:\.[0-9]+)?)|([0-9]+)m)$")
_PERCENT = re.compile(r"^([0-9]+(?:\.[0-9]+)?)%$")

DURATION_PATTERN = r"^([0-9]+(ms|s|m|h|d|w|y))+$"
SIZE_PATTERN = _SIZE.pattern
CPU_PATTERN = _CPU.pattern
PERCENT_PATTERN = _PERCENT.pattern


@dataclass(frozen=True)
class Duration:
    """A duration as written (for messages and diffs) and in seconds (for arithmetic)."""

    text: str
    seconds: float

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Quantity:
    """A size, CPU amount or percentage: the text as written and its value in base units."""

    text: str
    value: float

    def __str__(self) -> str:
        return self.text


def parse_duration(text: str) -> Duration:
    match = _DURATION.match(text) if isinstance(text, str) and text else None
    if not match:
        raise ValueError(f"'{text}' is not a duration; write it like 30s, 15m, 1h30m or 7d")
    seconds = sum(int(n) * factor for n, (_, factor) in zip(match.groups(), _DURATION_UNITS) if n)
    return Duration(text, seconds)


def format_duration(seconds: float) -> str:
    """Shortest Prometheus duration for a whole number of seconds (or ms)."""
    if seconds <= 0:
        return "0s"
    out = ""
    rest = round(seconds * 1000)
    for unit, factor in _DURATION_UNITS:
        if unit == "y":
            continue  # years are ambiguous to readers; weeks and days are not
        step = round(factor * 1000)
        count, rest = divmod(rest, step)
        if count:
            out += f"{count}{unit}"
    return out


def duration(seconds: float) -> Duration:
    return Duration(format_duration(seconds), seconds)


def parse_size(text: str | int) -> Quantity:
    if isinstance(text, int) and not isinstance(text, bool) and text >= 0:
        return Quantity(str(text), float(text))
    match = _SIZE.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"'{text}' is not a size; write it like 512Mi, 2Gi or 4G")
    return Quantity(text, float(match.group(1)) * _SIZE_FACTORS[match.group(2) or ""])


def parse_cpu(text: str | int | float) -> Quantity:
    if isinstance(text, (int, float)) and not isinstance(text, bool) and text >= 0:
        return Quantity(str(text), float(text))
    match = _CPU.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"'{text}' is not a CPU amount; write cores like 0.5 or 2, or millicores like 500m")
    if match.group(1) is not None:
        return Quantity(text, float(match.group(1)))
    return Quantity(text, int(match.group(2)) / 1000)


def parse_percent(text: str) -> Quantity:
    match = _PERCENT.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"'{text}' is not a percentage; write it like 90%")
    value = float(match.group(1))
    if value > 100:
        raise ValueError(f"'{text}' is more than 100%")
    return Quantity(text, value / 100)


def number(value: float) -> str:
    """A float as PromQL and YAML read it, without noise: 4294967296, 0.9, 1.5e-05."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)
