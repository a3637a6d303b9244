"""Replay workloads through a service's generated rules with promtool's own evaluation engine.

For each scenario (synthetic, from gen/synth/scenarios or a user's directory, or a
recorded Prometheus range export) we write the raw series and the service's rule
file into a promtool test, evaluate every rule over the whole span, and read back,
hour by hour, how many evaluations each alert was firing. That gives when it
first fired and for how many hours.

For plots (`--plot`), the same promtool run also answers `Watch` expressions (recorded
series, the values alerts compare, the ALERTS series) at every rule evaluation, so a
picture shows exactly what the verdict was computed from.
"""
from __future__ import annotations

import json
import re
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from gen.write import to_yaml
from gen.errors import ObsgenError, Problem
from gen.spec.confine import Confinement, SizeLimit
from gen.checks.lint import promtool, promtool_env
from gen.spec.model import Service
from gen.ir import RuleFile, ServiceOutput
from gen.proofs.split import groups_fed_by, groups_for
from gen.synth.scenario import GeneratedSeries, Scenario, generate
from gen.synth.notation import notation
from gen.units import format_duration, parse_duration

EVALUATION_INTERVAL = parse_duration("5m")
BUCKET = 3600
_ENTRY = re.compile(r'time: (\S+?),\s*\n\s*exp: .*?\n\s*got: (.*)')
_SAMPLE = re.compile(r'\{([^{}]*)\} ([-+0-9.Ee]+)')
_ALERTNAME = re.compile(r'alertname="([^"]+)"')
# Watch results carry this label (added with label_replace), so they never mix with the hourly buckets.
WATCH_LABEL = "obsgen_watch"
_WATCH = re.compile(r'(, )?' + WATCH_LABEL + r'="([^"]+)"(, )?')


@dataclass(frozen=True)
class AlertOutcome:
    alert: str
    first_fired: float  # seconds from the start of the scenario
    alert_hours: float


@dataclass(frozen=True)
class Replay:
    """A workload ready for promtool: raw series at a fixed interval."""

    name: str
    expect: str  # fire | quiet | unknown (recorded data)
    description: str
    duration: float
    interval: float
    series: list[GeneratedSeries]
    alerts: tuple[str, ...] = ()  # for `fire`: the alerts meant to catch it (empty: any alert)
    problem_from: float = 0.0  # for `fire`: when the problem begins; an alert before it is a false alarm


@dataclass(frozen=True)
class Watch:
    """An expression to follow through a replay: promtool evaluates it after every rule evaluation."""

    key: str  # names its results; [-a-z0-9_]
    expr: str


@dataclass(frozen=True)
class Trace:
    """One series a Watch returned: its labels as promtool printed them, and (seconds, value) points."""

    key: str
    labels: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class ReplayResult:
    replay: Replay
    service: str
    outcomes: tuple[AlertOutcome, ...]
    traces: tuple[Trace, ...] = ()  # only when Watches were asked for

    @property
    def verdict(self) -> str:
        fired = [o for o in self.outcomes if o.alert_hours > 0]
        if self.replay.expect == "fire":
            early = sorted((o for o in fired if o.first_fired < self.replay.problem_from), key=lambda o: o.first_fired)
            if early:
                return (f"FALSE ALARM: {early[0].alert} after {format_duration(early[0].first_fired)}, before the "
                        f"problem begins at {format_duration(self.replay.problem_from)}")
            caught = [o for o in fired if not self.replay.alerts or o.alert in self.replay.alerts]
            return f"caught after {format_duration(min(o.first_fired for o in caught))}" if caught else "MISSED"
        if self.replay.expect == "quiet":
            return "quiet" if not fired else "FALSE ALERTS"
        return "fired" if fired else "no alerts"

    @property
    def ok(self) -> bool:
        # MISSED, FALSE ALERTS, FALSE ALARM: ... are the verdicts that fail.
        return not self.verdict.split(":")[0].isupper()

    def as_dict(self) -> dict:
        return {
            "scenario": self.replay.name, "service": self.service, "expect": self.replay.expect,
            "problem_from_seconds": self.replay.problem_from,
            "verdict": self.verdict, "ok": self.ok,
            "alerts": [{"alert": o.alert, "first_fired_seconds": o.first_fired, "first_fired": format_duration(o.first_fired),
                        "alert_hours": round(o.alert_hours, 2)} for o in self.outcomes],
        }


# The memory limit the built-in scenarios are written for; a service without one in its spec gets this
# limit from the generated kube-state-metrics series.
LIBRARY_MEMORY_LIMIT = 4 * 2**30


def memory_scale(service: Service, written_for: float = LIBRARY_MEMORY_LIMIT) -> float:
    """How much a scenario's memory is scaled for the service: its own limit over the one the scenario is
    written for (the library's, unless the scenario names its `memoryLimit`).

    A scenario that sits at 20% of a 4 GiB limit sits at 20% of a 1 GiB one too, so near-limit,
    leak and forecast alerts see the same shape relative to the limit the service really has.
    """
    limit = service.resources.memory_limit
    return limit.value / written_for if limit else 1.0


def problem_start(scenario: Scenario) -> float:
    """When a `fire` scenario's problem begins: the earliest leak, CPU growth or lag spike (0: from the start)."""
    starts = []
    for shape in scenario.memory.values():
        if shape.leak_per_day > 0 or shape.step_size > 0:
            starts.append(max(0.0, shape.leak_from))
    cpu = scenario.cpu
    if cpu.get("growthPerDay", 0) or cpu.get("factorPerDay", 1) != 1:
        starts.append(0.0)
    for spike in scenario.lag.get("spikes", []):
        starts.append(parse_duration(spike["at"]).seconds)
    if scenario.queues is not None:
        starts.append(0.0)  # queue workloads say what happens, not when it goes wrong
    if scenario.http is not None:
        starts.append(scenario.http.problem_start)
    return min(starts) if starts and scenario.expect == "fire" else 0.0


def replay_for(service: Service, scenario: Scenario) -> Replay:
    limit = None if service.resources.memory_limit else scenario.memory_limit
    scale = memory_scale(service, scenario.memory_limit)
    return Replay(scenario.name, scenario.expect, scenario.description, scenario.duration, scenario.step,
                  generate(service, scenario, limit, memory_scale=scale), scenario.alerts,
                  problem_start(scenario))


def _watch_query(watches: tuple[Watch, ...]) -> str:
    """All watches as one query (one promtool test per evaluation, not one per watch): each result tagged
    with its watch's key, so `or` never drops one series for another with the same labels."""
    return " or ".join(f'label_replace({w.expr}, "{WATCH_LABEL}", "{w.key}", "", "")' for w in watches)


def _test_file(replay: Replay, rule_file: str, groups: list[str], watches: tuple[Watch, ...] = ()) -> dict:
    buckets = int(replay.duration // BUCKET)
    query = f'count_over_time(ALERTS{{alertstate="firing"}}[{BUCKET - 1}s])'
    step = int(EVALUATION_INTERVAL.seconds)
    # Watches stop at the last bucket, so they never make promtool evaluate the rules any further.
    watched = [{"expr": _watch_query(watches), "eval_time": format_duration(t), "exp_samples": []}
               for t in range(0, buckets * BUCKET + 1, step)] if watches else []
    return {
        "rule_files": [rule_file],
        "evaluation_interval": EVALUATION_INTERVAL.text,
        # As in the rule file: recorded series are written before the groups that read them.
        "group_eval_order": groups,
        "tests": [{
            "name": replay.name,
            "interval": format_duration(replay.interval),
            "input_series": [{"series": s.selector, "values": notation(s.values)} for s in replay.series],
            "promql_expr_test": [{"expr": query, "eval_time": format_duration((h + 1) * BUCKET), "exp_samples": []}
                                 for h in range(buckets)] + watched,
        }],
    }


Buckets = dict[str, dict[str, list[tuple[float, float]]]]


def _parse(output: str) -> Buckets:
    """alert -> alert instance (its labels) -> [(bucket end in seconds, evaluations firing in the bucket)]."""
    buckets: Buckets = {}
    for when, got in _ENTRY.findall(output):
        end = parse_duration(when).seconds
        for labels, count in _SAMPLE.findall(got):
            alert = _ALERTNAME.search(labels)
            if alert and WATCH_LABEL not in labels:
                buckets.setdefault(alert.group(1), {}).setdefault(labels, []).append((end, float(count)))
    return buckets


def _traces(output: str) -> tuple[Trace, ...]:
    points: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for when, got in _ENTRY.findall(output):
        at = parse_duration(when).seconds
        for labels, value in _SAMPLE.findall(got):
            key = _WATCH.search(labels)
            if key:
                series = _WATCH.sub(lambda m: ", " if m.group(1) and m.group(3) else "", labels)
                points.setdefault((key.group(2), series), []).append((at, float(value)))
    return tuple(Trace(key, labels, tuple(sorted(p))) for (key, labels), p in sorted(points.items()))


def _outcomes(buckets: Buckets) -> tuple[AlertOutcome, ...]:
    step = EVALUATION_INTERVAL.seconds
    out = []
    for alert, instances in sorted(buckets.items()):
        firsts, total = [], 0.0
        for counts in instances.values():
            counts.sort()
            end, first = counts[0]
            # Firing evaluations in an instance's first bucket are the bucket's last ones.
            firsts.append(end - (first - 1) * step)
            total += sum(c for _, c in counts)
        # Alert-hours: hours of firing summed over the alert's instances (pods, signals).
        out.append(AlertOutcome(alert, min(firsts), total * step / 3600))
    return tuple(out)


def _replayed_rules(replay: Replay, output: ServiceOutput, watches: tuple[Watch, ...]) -> RuleFile:
    """The groups the heard alerts (and the plot's watches) read. Info alerts are routed to no receiver
    (obsgen-discard): they wake nobody, so they are no false alarm and no catch, and their groups (the
    right-sizing one reads a week of every pod at each evaluation) are not replayed. A scenario that names
    one still replays it. Groups that no series of the replay feeds are left out as well: they could return
    nothing (a CPU scenario has no HTTP requests for the SLO groups to read)."""
    heard = {a.name for a in output.rule_file.alerts
             if dict(a.labels).get("severity") != "info" or a.name in replay.alerts}
    wanted = groups_for(output.rule_file, heard, tuple(w.expr for w in watches))
    return groups_fed_by(wanted, {s.selector.partition("{")[0] for s in replay.series})


def run(replay: Replay, output: ServiceOutput, watches: tuple[Watch, ...] = ()) -> ReplayResult:
    tool = promtool()
    if tool is None:
        raise ObsgenError([Problem("backtest", "promtool not found; install Debian's `prometheus` package")])
    rules = _replayed_rules(replay, output, watches)
    with tempfile.TemporaryDirectory(prefix="obsgen-backtest-") as tmp:
        Path(tmp, "rules.yml").write_bytes(to_yaml(rules.to_dict(), output.service.source))
        groups = [g.name for g in rules.groups]
        Path(tmp, "replay.test.yml").write_bytes(to_yaml(_test_file(replay, "rules.yml", groups, watches), replay.name))
        result = subprocess.run([tool, "test", "rules", "replay.test.yml"], cwd=tmp, capture_output=True,
                                text=True, env=promtool_env())
    text = result.stdout + result.stderr
    if "FAILED" not in text and result.returncode != 0:
        raise ObsgenError([Problem(replay.name, f"promtool could not replay it: {text.strip()[-500:]}")])
    for line in text.splitlines():
        if "err:" in line:
            raise ObsgenError([Problem(replay.name, f"promtool: {line.strip()}")])
    heard = {a.name for a in rules.alerts if dict(a.labels).get("severity") != "info" or a.name in replay.alerts}
    outcomes = tuple(o for o in _outcomes(_parse(text)) if o.alert in heard)
    return ReplayResult(replay, output.service.name, outcomes, _traces(text) if watches else ())


def run_all(jobs: list[tuple], workers: int = 2,
            on_done: Callable[[ReplayResult], None] | None = None) -> list[ReplayResult]:
    """Every replay, in the order given; `on_done` hears of each as it finishes (for progress).

    A job is the arguments of `run`: (replay, output[, watches])."""
    results: list[ReplayResult | None] = [None] * len(jobs)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(run, *job): i for i, job in enumerate(jobs)}
        for future in as_completed(futures):
            result = future.result()
            results[futures[future]] = result
            if on_done is not None:
                on_done(result)
    return [r for r in results if r is not None]


RANGE_EXPORT_SIZE = SizeLimit(256 * 1024 * 1024, "recorded exports", "export a shorter range or a coarser step")


def range_export_replay(path: Path, name: str | None = None) -> Replay:
    """Recorded data: a Prometheus /api/v1/query_range JSON response (one or more series)."""
    display = name or path.as_posix()
    raw = Confinement.around(path).read(path, RANGE_EXPORT_SIZE)  # no FIFO, device or runaway file: refused unread
    try:
        data = json.loads(raw)
        matrix = data["data"]["result"] if "data" in data else data["result"]
        assert isinstance(matrix, list)
    except (OSError, ValueError, KeyError, TypeError, AssertionError):
        raise ObsgenError([Problem(display, "not a Prometheus query_range response",
                                   hint="save the JSON of /api/v1/query_range?query=...&start=...&end=...&step=...")]) from None
    stamps = sorted({float(ts) for series in matrix for ts, _ in series.get("values", [])})
    if len(stamps) < 2:
        raise ObsgenError([Problem(display, "the export holds fewer than two samples")])
    interval = min(b - a for a, b in zip(stamps, stamps[1:]))
    start = stamps[0]
    count = int(round((stamps[-1] - start) / interval)) + 1
    series = []
    for item in matrix:
        labels = dict(item.get("metric", {}))
        metric = labels.pop("__name__", None)
        if metric is None:
            raise ObsgenError([Problem(display, "a series has no metric name; export raw series, not expressions")])
        values: list[float | None] = [None] * count
        for ts, value in item.get("values", []):
            values[int(round((float(ts) - start) / interval))] = float(value)
        body = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        series.append(GeneratedSeries(f"{metric}{{{body}}}", values))
    return Replay(Path(display).stem, "unknown", f"recorded data from {display}", (count - 1) * interval,
                  interval, series)


def table(results: list[ReplayResult]) -> str:
    rows = [("scenario", "expect", "service", "alert", "first fired", "alert-hours", "verdict")]
    for result in results:
        fired = [o for o in result.outcomes if o.alert_hours > 0] or [None]
        for i, outcome in enumerate(fired):
            rows.append((
                result.replay.name if i == 0 else "", result.replay.expect if i == 0 else "",
                result.service if i == 0 else "",
                outcome.alert if outcome else "-",
                format_duration(outcome.first_fired) if outcome else "-",
                f"{outcome.alert_hours:.1f}" if outcome else "0",
                result.verdict if i == 0 else "",
            ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def markdown(results: list[ReplayResult]) -> str:
    """The results as a Markdown table, as the README shows them."""
    lines = ["| scenario | expected | alerts that fired (first fired, alert-hours) | verdict |", "|---|---|---|---|"]
    for result in results:
        fired = [o for o in result.outcomes if o.alert_hours > 0]
        alerts = ", ".join(f"{o.alert} ({format_duration(o.first_fired)}, {o.alert_hours:.1f})" for o in fired) or "none"
        lines.append(f"| `{result.replay.name}` | {result.replay.expect} | {alerts} | {result.verdict} |")
    return "\n".join(lines)
