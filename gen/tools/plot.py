"""Pictures of a backtest: what the rules watched, what each alert compared, and when it was pending or firing.

Everything drawn comes from the replay that gave the verdict. Raw series are the samples promtool was
given; every other line is an expression promtool evaluated in that same run (`backtest.Watch`): the rule
file's recorded series (floors, the memory limit), the value each alert compares with its threshold, found
in the alert's own expression (and in the recording rules it reads), and the ALERTS series, whose pending
and firing evaluations become the shaded spans. Nothing here re-implements a rule.

matplotlib (headless, Agg) is imported only when a picture is drawn: `obsgen backtest --plot`.
"""
from __future__ import annotations

import math
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import promql_parser as pp

from gen.ir import RecordingRule, RuleFile
from gen.synth.promql_eval import METRIC_NAME, parse_series
from gen.tools.backtest import EVALUATION_INTERVAL, Replay, ReplayResult, Trace, Watch
from gen.units import format_duration

ALERTS_KEY = "alerts"
COMPARISONS = {">", ">=", "<", "<=", "==", "!="}
SET_OPERATORS = {"and", "or", "unless"}
MAX_ALERT_PANELS = 4  # more than this and nobody reads them; the timeline still lists every alert


# ---- what to draw ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Raw:
    """Input samples of one metric (without the service's metric prefix), as promtool was given them."""

    metric: str
    labels: tuple[tuple[str, str], ...] = ()
    legend: str = "raw samples"


@dataclass(frozen=True)
class Recorded:
    """A recorded series of the rule file; left out when the rule file has no such rule."""

    record: str
    legend: str
    style: str = "floor"


@dataclass(frozen=True)
class WatchedPanel:
    title: str
    unit: str
    kind: str  # memory | queue: which replays show it
    raw: Raw | None
    lines: tuple[Recorded, ...]


WORKING_SET_FLOOR = "namespace_pod_container:container_memory_working_set_bytes:floor"
OLD_SPACE_FLOOR = "instance:nodejs_heap_old_space_used_bytes:floor"
MEMORY_LIMIT = "namespace_pod_container:kube_pod_container_resource_limits_memory_bytes:max"

WATCHED: tuple[WatchedPanel, ...] = (
    WatchedPanel("Heap old space, per process", "bytes", "memory",
                 Raw("nodejs_heap_space_size_used_bytes", (("space", "old"),)),
                 (Recorded(OLD_SPACE_FLOOR, "1h floor (what survives GC)"),)),
    WatchedPanel("Working set, per container", "bytes", "memory", Raw("container_memory_working_set_bytes"),
                 (Recorded(WORKING_SET_FLOOR, "1h floor"), Recorded(MEMORY_LIMIT, "memory limit", "limit"))),
    WatchedPanel("Queue", "jobs", "queue", None,
                 (Recorded("queue:jobs_queued:max", "queued (waiting + prioritized)"),
                  Recorded("queue:jobs_active:max", "active", "second"))),
)


@dataclass(frozen=True)
class Comparison:
    """`expr op threshold`, found in an alert's expression or in a recording rule it reads."""

    alert: str
    expr: str
    op: str
    threshold: float


@dataclass(frozen=True)
class Line:
    """A derived line of a watched panel: an expression built from one recording rule's own parts."""

    record: str  # the panel line it belongs next to
    key: str
    expr: str
    legend: str


# ---- units: axes in MiB/GiB, hours, percent --------------------------------------------------------------

def _bytes_axis(top: float) -> tuple[float, str]:
    return (2**30, "GiB") if top >= 2 * 2**30 else (2**20, "MiB") if top >= 2 * 2**20 else (2**10, "KiB")


def _seconds_axis(top: float) -> tuple[float, str]:
    return (3600.0, "hours") if top >= 2 * 3600 else (60.0, "minutes") if top >= 120 else (1.0, "seconds")


AXES: dict[str, Callable[[float], tuple[float, str]]] = {
    "bytes": _bytes_axis,
    "seconds": _seconds_axis,
    "ratio": lambda top: (0.01, "%"),
    "bytes_per_hour": lambda top: (lambda scale, name: (scale, f"{name} per hour"))(*_bytes_axis(top)),
    "jobs": lambda top: (1.0, "jobs"),
    "": lambda top: (1.0, ""),
}

# What a compared value measures, from its expression and threshold; the first that matches wins.
UNIT_RULES: tuple[tuple[Callable[[str, float], bool], str], ...] = (
    (lambda expr, limit: "lag" in expr, "seconds"),
    (lambda expr, limit: "seconds_to" in expr or "uptime" in expr, "seconds"),
    (lambda expr, limit: "jobs_queued" in expr and "/ (" in expr and "rate" in expr, "seconds"),  # drain time
    (lambda expr, limit: 0 < limit < 1, "ratio"),
    (lambda expr, limit: "_bytes" in expr and "rise" in expr, "bytes_per_hour"),  # deriv(...) * 3600
    (lambda expr, limit: "_bytes" in expr, "bytes"),
    (lambda expr, limit: "job" in expr, "jobs"),
)


def unit_of(expr: str, threshold: float) -> str:
    return next((unit for matches, unit in UNIT_RULES if matches(expr, threshold)), "")


def _format(value: float, unit: str) -> str:
    if unit == "seconds" and value > 0:
        return format_duration(value)
    scale, name = AXES[unit](abs(value))
    number = value / scale
    text = f"{number:.0f}" if number == int(number) else f"{number:.3g}"
    return f"{text}{'' if name in ('', '%') else ' '}{name}" if name != "jobs" else f"{text} jobs"


# ---- reading the rules -----------------------------------------------------------------------------------

def _records(rules: RuleFile) -> dict[str, str]:
    return {r.record: r.expr for _, r in rules.rules() if isinstance(r, RecordingRule)}


def _comparisons(node, alert: str, records: dict[str, str], seen: set[str]) -> list[Comparison]:
    """Every `X op number` in evaluation order, looking through the recording rules the expression reads."""
    if isinstance(node, pp.ParenExpr):
        return _comparisons(node.expr, alert, records, seen)
    if isinstance(node, pp.BinaryExpr):
        op = str(node.op)
        if op in COMPARISONS and isinstance(node.rhs, pp.NumberLiteral):
            return [Comparison(alert, str(node.lhs), op, float(node.rhs.val))]
        found = []
        for side in (node.lhs, node.rhs):
            found += _comparisons(side, alert, records, seen)
        return found
    if isinstance(node, pp.VectorSelector):
        name = node.name or ""
        if name in records and name not in seen and not _seconds(node.offset):
            return _comparisons(pp.parse(records[name]), alert, records, seen | {name})
    return []


def _seconds(offset) -> float:
    return 0.0 if offset is None else offset.total_seconds()


def alert_comparisons(rules: RuleFile) -> dict[str, list[Comparison]]:
    """For each alert (all its rules), the first value each rule compares with a threshold."""
    records = _records(rules)
    out: dict[str, list[Comparison]] = {}
    for alert in rules.alerts:
        for found in _primary(pp.parse(alert.expr), alert.name, records):
            if found not in out.get(alert.name, []):
                out.setdefault(alert.name, []).append(found)
    return out


def _primary(node, alert: str, records: dict[str, str]) -> list[Comparison]:
    """The first comparison of each `or` branch: either branch alone makes the alert pending."""
    while isinstance(node, pp.ParenExpr):
        node = node.expr
    if isinstance(node, pp.BinaryExpr) and str(node.op) == "or":
        return _primary(node.lhs, alert, records) + _primary(node.rhs, alert, records)
    return _comparisons(node, alert, records, set())[:1]


def _day_over_day(records: dict[str, str], floor: str) -> list[tuple[str, str, str]]:
    """The two averages a day-over-day growth rule subtracts: (expr, legend) for now and for the day before.

    Found as a recording rule `f(floor[r]) - f(floor[r] offset d)`; none when the rules compare otherwise.
    """
    for expr in records.values():
        node = pp.parse(expr)
        if not (isinstance(node, pp.BinaryExpr) and str(node.op) == "-"):
            continue
        sides = [node.lhs, node.rhs]
        if not all(isinstance(s, pp.Call) and len(s.args) == 1 and isinstance(s.args[0], pp.MatrixSelector)
                   and s.args[0].vector_selector.name == floor for s in sides):
            continue
        recent, earlier = sides
        window = format_duration(recent.args[0].range.total_seconds())
        back = format_duration(_seconds(earlier.args[0].vector_selector.offset))
        if _seconds(recent.args[0].vector_selector.offset) or not _seconds(earlier.args[0].vector_selector.offset):
            continue
        return [(str(recent), f"floor, {window} average", "average"),
                (str(earlier), f"the same {back} earlier (day-over-day baseline)", "baseline")]
    return []


def _forecast(records: dict[str, str], comparisons: dict[str, list[Comparison]]) -> list[tuple[str, str, str]]:
    """Where the working set is heading, from the forecast rule's own parts.

    A rule `seconds to the limit = (limit - level) / slope` that an alert compares with a horizon H gives
    the line `limit - (limit - level) + slope * H`: the level H from now, which meets the limit exactly when
    the alert's condition `seconds to the limit < H` starts to hold."""
    for found in comparisons.values():
        for c in found:
            if c.op not in ("<", "<=") or "seconds_to_limit" not in c.expr:
                continue
            rule = _division(records, c.expr, "")
            if rule is None:
                continue
            name, limit, numerator, denominator = rule
            return [(f"{limit} - ({numerator}) + ({denominator}) * {c.threshold:g}",
                     f"forecast: floor + sawtooth {format_duration(c.threshold)} ahead "
                     f"({_trend_window(name)} trend)", "forecast")]
    return []


def _trend_window(record: str) -> str:
    match = re.search(r"(\d+[smhd])$", record)
    return match.group(1) if match else "recent"


def _leftmost(node):
    while isinstance(node, (pp.ParenExpr, pp.BinaryExpr)):
        node = node.expr if isinstance(node, pp.ParenExpr) else node.lhs
    return node


def _division(records: dict[str, str], expr: str, name: str, depth: int = 0) -> tuple[str, str, str, str] | None:
    """(rule, limit, numerator, denominator) of the first rule `limit - ... / slope` that `expr` reaches by its
    leftmost operands (a guard such as `x and on (...) y` keeps the x it guards)."""
    node = pp.parse(expr)
    while isinstance(node, (pp.ParenExpr, pp.BinaryExpr)):
        if isinstance(node, pp.ParenExpr):
            node = node.expr
        elif str(node.op) == "/":
            numerator = node.lhs.expr if isinstance(node.lhs, pp.ParenExpr) else node.lhs
            limit = _leftmost(numerator)
            if isinstance(limit, pp.VectorSelector) and "limit" in (limit.name or ""):
                return name, str(limit), str(numerator), str(node.rhs)
            return None
        else:
            node = node.lhs
    if isinstance(node, pp.VectorSelector) and node.name in records and depth < 8:
        return _division(records, records[node.name], node.name, depth + 1)
    return None


# ---- what promtool is asked --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """The panels of a replay's picture and the Watches that fill them."""

    panels: tuple[WatchedPanel, ...]
    derived: tuple[Line, ...]
    comparisons: dict[str, list[tuple[str, Comparison]]]  # alert -> [(watch key, comparison)]
    watches: tuple[Watch, ...]


def _kind(replay: Replay) -> str:
    return "queue" if any(s.selector.startswith("bullmq_") for s in replay.series) else "memory"


def plan(rules: RuleFile, replay: Replay) -> Plan:
    records = _records(rules)
    kind = _kind(replay)
    panels = tuple(p for p in WATCHED if p.kind == kind)
    watches = [Watch(ALERTS_KEY, "count by (alertname, alertstate) (ALERTS)")]
    for panel in panels:
        watches += [Watch(f"r-{line.record}".replace(":", "-"), line.record) for line in panel.lines
                    if line.record in records]
    compared = alert_comparisons(rules)
    derived = []
    if kind == "memory":
        for floor in (OLD_SPACE_FLOOR, WORKING_SET_FLOOR):
            derived += [Line(floor, f"d-{style}-{len(derived)}", expr, legend)
                        for expr, legend, style in _day_over_day(records, floor)]
        derived += [Line(WORKING_SET_FLOOR, f"d-{style}", expr, legend)
                    for expr, legend, style in _forecast(records, compared)]
    watches += [Watch(line.key, line.expr) for line in derived]
    keyed: dict[str, list[tuple[str, Comparison]]] = {}
    for alert, found in sorted(compared.items()):
        for i, comparison in enumerate(found):
            key = f"c-{alert}-{i}"
            keyed.setdefault(alert, []).append((key, comparison))
            watches.append(Watch(key, comparison.expr))
    return Plan(panels, tuple(derived), keyed, tuple(watches))


# ---- spans --------------------------------------------------------------------------------------------------

Span = tuple[float, float]


def alert_spans(traces: tuple[Trace, ...]) -> dict[str, dict[str, list[Span]]]:
    """alert -> state (pending, firing) -> [(from, to)] in seconds, from the ALERTS series promtool evaluated.

    An evaluation in a state stands for the interval up to the next evaluation."""
    step = EVALUATION_INTERVAL.seconds
    out: dict[str, dict[str, list[Span]]] = {}
    for trace in traces:
        if trace.key != ALERTS_KEY:
            continue
        alert = re.search(r'alertname="([^"]+)"', trace.labels).group(1)
        state = re.search(r'alertstate="([^"]+)"', trace.labels).group(1)
        spans: list[Span] = []
        for at, _ in trace.points:
            if spans and math.isclose(spans[-1][1], at):
                spans[-1] = (spans[-1][0], at + step)
            else:
                spans.append((at, at + step))
        out.setdefault(alert, {})[state] = spans
    return out


# ---- drawing ------------------------------------------------------------------------------------------------

COLOURS = {"raw": "#9aa5b1", "floor": "#1f5fa8", "second": "#e07b00", "limit": "#b00020", "average": "#2a9d8f",
           "baseline": "#8e44ad", "forecast": "#c0392b", "compared": "#1f5fa8", "threshold": "#b00020"}
PENDING, FIRING = "#f2c14e", "#d62728"


def file_name(result: ReplayResult, several_services: bool) -> str:
    return f"{result.replay.name}--{result.service}.png" if several_services else f"{result.replay.name}.png"


def _time_axis(ax, duration: float) -> None:
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    days = duration > 2 * 86400
    unit = 86400.0 if days else 3600.0
    major = 86400.0 if days else (6 * 3600.0 if duration > 12 * 3600 else 3600.0)
    ax.xaxis.set_major_locator(MultipleLocator(major))
    ax.xaxis.set_minor_locator(MultipleLocator(6 * 3600.0 if days else major / 2))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / unit:g}{'d' if days else 'h'}"))
    ax.set_xlim(0, duration)


def _shade(ax, spans: dict[str, list[Span]], alpha: float = 1.0) -> None:
    for state, colour, strength in (("pending", PENDING, 0.35), ("firing", FIRING, 0.18)):
        for start, end in spans.get(state, []):
            ax.axvspan(start, end, color=colour, alpha=strength * alpha, linewidth=0)


def _nice_step(span: float) -> float:
    """A tick step of 1, 2, 2.5 or 5 times a power of ten giving about five ticks over `span`."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    power = 10 ** math.floor(math.log10(span / 5))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if span / (m * power) <= 6)


def _values_axis(ax, unit: str, top: float) -> None:
    """Ticks at round numbers of the axis' unit (MiB, GiB, hours, %), whatever unit the data is in."""
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    scale, name = AXES[unit](top)
    low, high = ax.get_ylim()
    ax.yaxis.set_major_locator(MultipleLocator(_nice_step((high - low) / scale) * scale))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y / scale:g}"))
    if name:
        ax.set_ylabel(name)


def _plot_traces(ax, traces: list[Trace], colour: str, legend: str, width: float = 1.4, style: str = "-") -> float:
    top = 0.0
    for i, trace in enumerate(traces):
        xs = [t for t, v in trace.points if math.isfinite(v)]
        ys = [v for t, v in trace.points if math.isfinite(v)]
        if not xs:
            continue
        top = max(top, max(ys))
        # One line per series; a gap of more than two evaluations (a pod gone) breaks it.
        segments, start = [], 0
        for j in range(1, len(xs) + 1):
            if j == len(xs) or xs[j] - xs[j - 1] > 2 * EVALUATION_INTERVAL.seconds:
                segments.append((xs[start:j], ys[start:j]))
                start = j
        for k, (sx, sy) in enumerate(segments):
            ax.plot(sx, sy, style, color=colour, linewidth=width,
                    label=legend if i == 0 and k == 0 else "_nolegend_")
    return top


def _raw_lines(ax, replay: Replay, raw: Raw) -> float:
    top, first = 0.0, True
    for series in replay.series:
        labels = dict(parse_series(series.selector))
        if not labels.get(METRIC_NAME, "").endswith(raw.metric) or any(labels.get(k) != v for k, v in raw.labels):
            continue
        xs = [i * replay.interval for i, v in enumerate(series.values) if v is not None]
        ys = [v for v in series.values if v is not None]
        if not xs:
            continue
        top = max(top, max(ys))
        ax.plot(xs, ys, color=COLOURS["raw"], linewidth=0.5, alpha=0.8,
                label=raw.legend if first else "_nolegend_")
        first = False
    return top


def _by_key(traces: tuple[Trace, ...]) -> dict[str, list[Trace]]:
    out: dict[str, list[Trace]] = {}
    for trace in traces:
        out.setdefault(trace.key, []).append(trace)
    return out


def draw(result: ReplayResult, rules: RuleFile, path: Path) -> None:
    """Write the replay's picture as a PNG: watched series, compared values and thresholds, alert spans."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    replay, the_plan = result.replay, plan(rules, result.replay)
    traces = _by_key(result.traces)
    spans = alert_spans(result.traces)
    alerts_seen = sorted(spans, key=lambda a: min(s for state in spans[a].values() for s, _ in state))
    # The alerts that were pending or firing, then those the scenario names and that stayed silent (a miss).
    candidates = alerts_seen + [a for a in replay.alerts if a not in alerts_seen]
    shown = [a for a in candidates if a in the_plan.comparisons][:MAX_ALERT_PANELS]
    rows = len(the_plan.panels) + len(shown)
    timeline_rows = max(1, len(alerts_seen))
    heights = [3.0] * len(the_plan.panels) + [1.9] * len(shown) + [0.45 + 0.32 * timeline_rows]
    figure, axes = pyplot.subplots(rows + 1, 1, figsize=(13, sum(heights) + 1.1), sharex=True,
                                   gridspec_kw={"height_ratios": heights}, squeeze=False)
    axes = [a[0] for a in axes]
    firing_anywhere = {"firing": [s for a in spans.values() for s in a.get("firing", [])]}

    for ax, panel in zip(axes, the_plan.panels):
        _watched_panel(ax, panel, replay, traces, the_plan.derived)
        _shade(ax, firing_anywhere, 0.6)

    for ax, alert in zip(axes[len(the_plan.panels):], shown):
        top, unit, thresholds = 0.0, "", set()
        for key, comparison in the_plan.comparisons[alert]:
            unit = unit_of(comparison.expr, comparison.threshold)
            top = max(top, _plot_traces(ax, traces.get(key, []), COLOURS["compared"],
                                        _short(comparison.expr), width=1.2))
            thresholds.add((comparison.op, comparison.threshold))
        for op, threshold in sorted(thresholds):
            ax.axhline(threshold, color=COLOURS["threshold"], linestyle="--", linewidth=1.1,
                       label=f"threshold: {op} {_format(threshold, unit)}")
            top = max(top, threshold)
        low, high = ax.get_ylim()
        below = [t for op, t in thresholds if op in ("<", "<=") and t > 0]
        # For "less than" alerts only values near the threshold matter; a forecast of years flattens the rest.
        ax.set_ylim(max(min(0.0, low), -max(below)) if below else min(0.0, low),
                    min(high, 3 * max(below)) if below else high)
        _values_axis(ax, unit, min(top, 3 * max(below)) if below else top)
        _shade(ax, spans.get(alert, {}))
        ax.set_title(f"{alert}: the value it compares with its threshold", loc="left", fontsize=10)

    _timeline(axes[-1], spans, alerts_seen)
    for ax in axes:
        ax.grid(True, color="#e5e5e5", linewidth=0.6)
        ax.set_axisbelow(True)
        if replay.expect == "fire" and replay.problem_from > 0:
            ax.axvline(replay.problem_from, color="#555555", linestyle="-.", linewidth=1.0,
                       label="problem begins" if ax is axes[0] else "_nolegend_")
        if ax is not axes[-1]:
            handles, labels = ax.get_legend_handles_labels()
            ax.legend(handles, [_legend_text(label) for label in labels],
                      loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7.5, frameon=False)
    _time_axis(axes[-1], replay.duration)
    axes[-1].set_xlabel("time since the scenario started (rules evaluated every "
                        f"{EVALUATION_INTERVAL.text})")
    figure.suptitle(_title(result), x=0.01, ha="left", fontsize=11.5, fontweight="bold")
    figure.text(0.01, 1 - 0.62 / (sum(heights) + 1.1), _subtitle(replay), fontsize=8.5, va="top", color="#333333")
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.75 / (sum(heights) + 1.1)))
    _save(figure, path)
    pyplot.close(figure)


def _save(figure, path: Path) -> None:
    """A small PNG: a palette of 128 colours is plenty for lines and flat shading (a third of the bytes).
    No software version or date in the file: the same replay gives the same bytes."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, metadata={"Software": None})
    buffer.seek(0)
    with Image.open(buffer) as image:
        image.convert("RGB").quantize(colors=128, dither=Image.Dither.NONE).save(path, format="PNG", optimize=True)


def _watched_panel(ax, panel: WatchedPanel, replay: Replay, traces: dict[str, list[Trace]],
                   derived: tuple[Line, ...]) -> None:
    top = _raw_lines(ax, replay, panel.raw) if panel.raw else 0.0
    limit_line = None
    for line in panel.lines:
        found = traces.get(f"r-{line.record}".replace(":", "-"), [])
        if line.style == "limit":
            limit_line = (line, found)
            continue
        top = max(top, _plot_traces(ax, found, COLOURS[line.style], line.legend, width=1.6))
        for extra in (d for d in derived if d.record == line.record):
            style = extra.key.split("-")[1]
            _plot_traces(ax, traces.get(extra.key, []), COLOURS[style], extra.legend, width=1.1,
                         style=":" if style == "forecast" else "-")
    bottom = 0.0 if panel.unit != "bytes" else None
    if limit_line is not None:
        line, found = limit_line
        limit = max((v for t in found for _, v in t.points if math.isfinite(v)), default=0.0)
        if limit and top > 0.4 * limit:
            _plot_traces(ax, found, COLOURS["limit"], line.legend, width=1.2, style="--")
            top, bottom = max(top, limit), 0.0
        elif limit:
            # Far above the memory: drawing it would flatten what the rules watch into a line.
            ax.plot([], [], "--", color=COLOURS["limit"],
                    label=f"{line.legend}: {_format(limit, 'bytes')}, off the scale")
    if top > 0:
        ax.set_ylim(bottom=bottom if bottom is not None else ax.get_ylim()[0], top=top * 1.08)
    _values_axis(ax, panel.unit, top)
    ax.set_title(panel.title, loc="left", fontsize=10)


def _timeline(ax, spans: dict[str, dict[str, list[Span]]], alerts: list[str]) -> None:
    from matplotlib.patches import Patch

    for row, alert in enumerate(alerts):
        for state, colour in (("pending", PENDING), ("firing", FIRING)):
            bars = [(start, end - start) for start, end in spans[alert].get(state, [])]
            ax.broken_barh(bars, (row - 0.35, 0.7), color=colour, alpha=0.9 if state == "firing" else 0.7)
    ax.set_yticks(range(len(alerts)), alerts, fontsize=8)
    ax.set_ylim(len(alerts) - 0.5 if alerts else 0.5, -0.5)
    ax.tick_params(axis="y", length=0)
    if not alerts:
        ax.set_yticks([])
        ax.text(0.5, 0.5, "no alert was pending or firing", transform=ax.transAxes, ha="center", va="center",
                fontsize=9, color="#333333")
    ax.set_title("Alerts", loc="left", fontsize=10)
    ax.legend(handles=[Patch(color=PENDING, alpha=0.7, label="pending (condition true, waiting out `for`)"),
                       Patch(color=FIRING, alpha=0.9, label="firing")],
              loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7.5, frameon=False)


def _legend_text(label: str) -> str:
    """Legends sit to the right of the panels: long recorded names break after their colon, text at words."""
    if len(label) > 40 and ":" in label and " " not in label:
        return label.replace(":", ":\n  ", 1)
    return textwrap.fill(label, 40, subsequent_indent="  ", break_long_words=False)


def _short(expr: str) -> str:
    """A compared expression for the legend: the recorded series it reads, or the expression cut short."""
    names = re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", expr)
    if re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*\{[^}]*\}", expr.strip()):
        # The aggregation level (`instance:`, `namespace_pod_container:`) says nothing a reader needs.
        return names[0].split(":", 1)[-1]
    text = re.sub(r"\{[^}]*\}", "", expr)
    return text if len(text) <= 90 else text[:87] + "..."


def _title(result: ReplayResult) -> str:
    replay = result.replay
    expect = {"fire": "must fire", "quiet": "must stay quiet", "unknown": "recorded data"}[replay.expect]
    return f"{replay.name} ({result.service}): {expect}; {result.verdict}"


def _subtitle(replay: Replay) -> str:
    return "\n".join(textwrap.wrap(" ".join(replay.description.split()), 150)[:2])
