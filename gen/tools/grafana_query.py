"""How Grafana turns a panel's Prometheus target into the request it sends: template variables,
`$__interval`, `$__rate_interval`, `$__range`, the step and the step-aligned time range.

This follows Grafana's own code (rangeutil's interval ladder, the Prometheus data source's
createQuery/adjustInterval/getRateIntervalScopedVariable and its variable escaping), so that a
query probed here is the query a dashboard viewer would run.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable, Mapping

from gen.units import parse_duration

ALL_VALUE = "$__all"
# Prometheus refuses range queries with more points than this; Grafana raises the step to stay below.
MAX_POINTS_PER_SERIES = 11000
# Grafana sizes a panel's resolution by its width in pixels; without a browser, a full-HD panel.
DEFAULT_MAX_DATA_POINTS = 1000

# Grafana's rangeutil.roundInterval: (upper bound in ms, exclusive) -> rounded interval in ms.
INTERVAL_LADDER_MS = (
    (10, 1), (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000),
    (3500, 2000), (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000), (45000, 30000),
    (90000, 60000), (210000, 120000), (450000, 300000), (750000, 600000), (1050000, 900000),
    (1500000, 1200000), (2700000, 1800000), (5400000, 3600000), (9000000, 7200000),
    (16200000, 10800000), (32400000, 21600000), (86400000, 43200000), (604800000, 86400000),
    (1814400000, 604800000), (3628800000, 2592000000),
)
INTERVAL_LADDER_TOP_MS = 31536000000

# Grafana's variable syntaxes: $name, ${name}, ${name:format} and the deprecated [[name]], [[name:format]].
_VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.[^:}]+)?(?::([^}]+))?\}")
_REGEX_SPECIAL = re.compile(r"[$^*{}\[\]'+?.()|]")


class QueryTemplateError(ValueError):
    """A target that cannot be turned into a request (an interval that does not parse, for example)."""


def round_interval_ms(interval_ms: float) -> int:
    for bound, rounded in INTERVAL_LADDER_MS:
        if interval_ms < bound:
            return rounded
    return INTERVAL_LADDER_TOP_MS


# (unit, seconds, the next wider unit's seconds) for Grafana's secondsToHms.
_HMS_UNITS = (("d", 86400, 31536000), ("h", 3600, 86400), ("m", 60, 3600), ("s", 1, 60))


def seconds_to_hms(seconds: float) -> str:
    """Grafana's rangeutil.secondsToHms: the largest non-zero unit, truncated (90s -> 1m)."""
    years = math.floor(seconds / 31536000)
    if years:
        return f"{years}y"
    for unit, size, wider in _HMS_UNITS:
        count = math.floor((seconds % wider) / size)
        if count:
            return f"{count}{unit}"
    milliseconds = math.floor(seconds * 1000)
    return f"{milliseconds}ms" if milliseconds else "less than a millisecond"


def interval_seconds(text: str) -> float:
    """A Grafana interval ("15s", "1m", "500ms", or a bare number of seconds) in seconds."""
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    try:
        return parse_duration(text).seconds
    except ValueError:
        raise QueryTemplateError(f"'{text}' is not an interval; write it like 15s, 1m or 500ms") from None


def format_seconds(seconds: float) -> str:
    """Seconds as Grafana writes computed intervals into queries: "4s", "0.5s"."""
    return f"{int(seconds)}s" if seconds == int(seconds) else f"{seconds:g}s"


@dataclass(frozen=True)
class TimeWindow:
    """The dashboard's time range, in Unix seconds."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Variable:
    """A dashboard template variable as far as interpolation needs it."""

    name: str
    value: tuple[str, ...]  # the current selection; ("$__all",) for All
    multi: bool = False
    include_all: bool = False
    all_value: str | None = None
    query: str = ""

    @property
    def is_all(self) -> bool:
        return ALL_VALUE in self.value


def dashboard_variables(dashboard: dict, overrides: Mapping[str, str] = {}) -> dict[str, Variable]:
    """The dashboard's variables with their saved current values, or the values given in `overrides`."""
    out: dict[str, Variable] = {}
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") in ("datasource", "interval", "adhoc"):
            continue
        name = var["name"]
        if name in overrides:
            value: tuple[str, ...] = (overrides[name],)
        else:
            current = (var.get("current") or {}).get("value", "")
            value = tuple(current) if isinstance(current, list) else (str(current),)
        query = var.get("query", "")
        if isinstance(query, dict):
            query = query.get("query", "")
        out[name] = Variable(name, value, bool(var.get("multi")), bool(var.get("includeAll")),
                             var.get("allValue") or None, str(query))
    for name, value in overrides.items():
        out.setdefault(name, Variable(name, (value,)))
    return out


def regular_escape(value: str) -> str:
    """Grafana's prometheusRegularEscape, for single-value variables."""
    return value.replace("\\", "\\\\").replace("'", "\\\\'")


def regex_escape(value: str) -> str:
    """Grafana's prometheusSpecialRegexEscape, for multi-value and All-able variables (used in =~)."""
    return _REGEX_SPECIAL.sub(lambda m: "\\\\" + m.group(0), value.replace("\\", "\\\\\\\\"))


def _alternation(values: list[str]) -> str:
    return values[0] if len(values) == 1 else "(" + "|".join(values) + ")"


_GRAFANA_REGEX_SPECIAL = re.compile(r"[\\^$*+?.()|\[\]{}/]")

# ${var:format} -> how the selected values are written (Grafana's variable formats).
EXPLICIT_FORMATS: dict[str, Callable[[tuple[str, ...]], str]] = {
    "raw": ",".join,
    "csv": ",".join,
    "pipe": "|".join,
    "regex": lambda values: _alternation([_GRAFANA_REGEX_SPECIAL.sub(lambda m: "\\" + m.group(0), v)
                                          for v in values]),
}


def _format_values(variable: Variable, values: tuple[str, ...], fmt: str | None) -> str:
    """Grafana's interpolateQueryExpr for the Prometheus data source, or an explicit format."""
    if fmt is not None:
        if fmt not in EXPLICIT_FORMATS:
            raise QueryTemplateError(f"variable format '{fmt}' of ${{{variable.name}:{fmt}}} is not supported")
        return EXPLICIT_FORMATS[fmt](values)
    if not variable.multi and not variable.include_all:
        return regular_escape(values[0] if values else "")
    return _alternation([regex_escape(v) for v in values])


AllValues = Callable[[Variable], tuple[str, ...]]


def interpolate(expr: str, variables: Mapping[str, Variable], builtins: Mapping[str, str],
                all_values: AllValues | None = None) -> str:
    """`expr` with every known variable replaced as Grafana's templateSrv.replace would.

    All without an allValue expands to every option of the variable, which only a live data source
    can list; `all_values` does that, and without it All becomes `.*`.
    """

    def replace(match: re.Match) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(5)
        if name in builtins:
            return builtins[name]
        variable = variables.get(name)
        if variable is None:
            return match.group(0)  # Grafana leaves unknown variables alone
        if variable.is_all:
            if variable.all_value is not None:
                # A custom all value goes in unescaped, with its own variables replaced.
                return interpolate(variable.all_value, variables, builtins, all_values)
            if all_values is None:
                return ".*"
            return _format_values(variable, all_values(variable), fmt)
        return _format_values(variable, variable.value, fmt)

    return _VARIABLE.sub(replace, expr)


@dataclass(frozen=True)
class Resolution:
    """What Grafana computes from the time range before it interpolates a target."""

    interval: float  # $__interval in seconds, after Grafana's adjustments; also the query step
    interval_text: str
    rate_interval: float
    range_seconds: int
    range_ms: int

    def builtins(self) -> dict[str, str]:
        return {
            "__interval": self.interval_text,
            "__interval_ms": str(int(round(self.interval * 1000))),
            "__rate_interval": format_seconds(self.rate_interval),
            "__rate_interval_ms": str(int(round(self.rate_interval * 1000))),
            "__range": f"{self.range_seconds}s",
            "__range_s": str(self.range_seconds),
            "__range_ms": str(self.range_ms),
        }


def resolution(window: TimeWindow, scrape_interval: float, *, panel_min_interval: str | None = None,
               target_min_step: str | None = None, max_data_points: int = DEFAULT_MAX_DATA_POINTS) -> Resolution:
    """$__interval (also the step) and $__rate_interval for one target, as Grafana computes them.

    `scrape_interval` is the data source's "Scrape interval" setting, `panel_min_interval` the panel's
    "Min interval" and `target_min_step` the query's "Min step".
    """
    range_ms = window.seconds * 1000
    # PanelQueryRunner: the panel's min interval, else the data source's scrape interval, is the floor.
    low_limit = interval_seconds(panel_min_interval) if panel_min_interval else scrape_interval
    interval = max(round_interval_ms(range_ms / max(max_data_points, 1)), low_limit * 1000) / 1000
    interval_text = seconds_to_hms(interval)
    # createQuery: the query's min step, else the calculated interval, is a second floor; and the
    # min step stands in for the scrape interval in $__rate_interval.
    min_interval = interval_seconds(target_min_step) if target_min_step else interval
    rate_scrape = interval_seconds(target_min_step) if target_min_step else scrape_interval
    safe = math.ceil(window.seconds) / MAX_POINTS_PER_SERIES
    if safe > 1:
        safe = math.ceil(safe)
    adjusted = max(interval, min_interval, safe)
    if adjusted != interval:
        interval, interval_text = adjusted, format_seconds(adjusted)
    rate_scrape = rate_scrape or 15  # Grafana falls back to 15s when the scrape interval is 0
    rate_interval = max(interval + rate_scrape, 4 * rate_scrape)
    return Resolution(interval, interval_text, rate_interval, int(round(window.seconds)), int(round(range_ms)))


@dataclass(frozen=True)
class PromRequest:
    """One query as Grafana sends it to Prometheus."""

    expr: str
    instant: bool
    start: float
    end: float
    step: float
    builtins: dict[str, str] = field(default_factory=dict, compare=False)


def align(window: TimeWindow, step: float) -> TimeWindow:
    """Grafana's alignRange (UTC): both ends down to a multiple of the step, so results are cacheable."""
    return TimeWindow(math.floor(window.start / step) * step, math.floor(window.end / step) * step)


def build_request(target: dict, panel: dict, variables: Mapping[str, Variable], window: TimeWindow,
                  scrape_interval: float, all_values: AllValues | None = None) -> PromRequest:
    def setting(value: str | None) -> str | None:
        return interpolate(value, variables, {}, all_values) if value and "$" in value else (value or None)

    max_points = panel.get("maxDataPoints") or DEFAULT_MAX_DATA_POINTS
    res = resolution(window, scrape_interval, panel_min_interval=setting(panel.get("interval")),
                     target_min_step=setting(target.get("interval")), max_data_points=int(max_points))
    builtins = res.builtins()
    expr = interpolate(target.get("expr", ""), variables, builtins, all_values)
    aligned = align(window, res.interval)
    instant = bool(target.get("instant")) and not target.get("range", False)
    return PromRequest(expr, instant, aligned.start, aligned.end, res.interval, builtins)
