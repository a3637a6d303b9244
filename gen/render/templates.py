"""Prometheus alert templates: the subset obsgen writes, and a faithful Python rendering of it.

Generated rule tests state the exact annotations each firing alert must carry.
They are computed here from the scenario's labels and expected value, using the
same formatting as Prometheus' Go template functions, and promtool then checks
that the real engine agrees.
"""
from __future__ import annotations

import math
import re
from decimal import Decimal

_BLOCK = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_LABEL = re.compile(r"^\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)$")
_VALUE = re.compile(r"^\$value(?:\s*\|\s*(humanize|humanize1024|humanizeDuration|humanizePercentage))?$")


def _g4(value: float) -> str:
    """Go's fmt "%.4g"."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.4g}"


def go_float(value: float) -> str:
    """How Go's text/template prints a float64: fmt %v, the shortest digits, exponent form below 1e-4
    or from 1e21 on."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    shortest = Decimal(repr(value))  # repr is the shortest round-tripping form, as Go's
    sign, digits, exp = shortest.as_tuple()
    text_digits = "".join(map(str, digits)).rstrip("0") or "0"
    exponent = len(digits) + exp - 1  # position of the first digit
    prefix = "-" if sign else ""
    if exponent < -4 or exponent >= 21:
        mantissa = text_digits[0] + ("." + text_digits[1:] if len(text_digits) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    return prefix + format(abs(shortest), "f").rstrip("0").rstrip(".") if "." in format(abs(shortest), "f") \
        else prefix + format(abs(shortest), "f")


SMALL_PREFIXES = ("m", "u", "n", "p", "f", "a", "z", "y")


def _large(value: float, base: float, prefixes: tuple[str, ...]) -> tuple[float, str]:
    """Divide by `base` while the value is at least `base`, one prefix a step (as Prometheus' humanize)."""
    prefix = ""
    for p in prefixes:
        if abs(value) < base:
            break
        prefix = p
        value /= base
    return value, prefix


def _small(value: float) -> tuple[float, str]:
    """Multiply by 1000 while the value is below 1, one SI prefix a step."""
    prefix = ""
    for p in SMALL_PREFIXES:
        if abs(value) >= 1:
            break
        prefix = p
        value *= 1000
    return value, prefix


def humanize(value: float) -> str:
    if value == 0 or math.isnan(value) or math.isinf(value):
        return _g4(value)
    scaled, prefix = _large(value, 1000, ("k", "M", "G", "T", "P", "E", "Z", "Y")) if abs(value) >= 1 \
        else _small(value)
    return _g4(scaled) + prefix


def humanize1024(value: float) -> str:
    if abs(value) <= 1 or math.isnan(value) or math.isinf(value):
        return _g4(value)
    scaled, prefix = _large(value, 1024, ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"))
    return _g4(scaled) + prefix


def humanize_duration(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return _g4(value)
    if value == 0:
        return _g4(value) + "s"
    if abs(value) >= 1:
        sign = "-" if value < 0 else ""
        value = abs(value)
        whole = int(value)
        seconds, minutes = whole % 60, (whole // 60) % 60
        hours, days = (whole // 3600) % 24, whole // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_g4(value)}s"
    scaled, prefix = _small(value)
    return f"{_g4(scaled)}{prefix}s"


def humanize_percentage(value: float) -> str:
    return _g4(value * 100) + "%"


_FUNCTIONS = {
    None: go_float,
    "humanize": humanize,
    "humanize1024": humanize1024,
    "humanizeDuration": humanize_duration,
    "humanizePercentage": humanize_percentage,
}


def check(template: str) -> None:
    """Refuse template actions this module cannot render, so tests can always mirror them."""
    for action in _BLOCK.findall(template):
        if not (_LABEL.match(action) or _VALUE.match(action)):
            raise ValueError(f"unsupported template action {{{{ {action} }}}} in {template!r}")


def render(template: str, labels: dict[str, str], value: float) -> str:
    def action(match: re.Match) -> str:
        text = match.group(1)
        label = _LABEL.match(text)
        if label:
            return labels.get(label.group(1), "")
        fn = _VALUE.match(text)
        if fn:
            return _FUNCTIONS[fn.group(1)](value)
        raise ValueError(f"unsupported template action {{{{ {text} }}}}")

    return _BLOCK.sub(action, template)
