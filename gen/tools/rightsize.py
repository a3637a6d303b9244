"""`obsgen rightsize`: requests and limits recommended from measured use, leak-aware.

Usage is read from Prometheus through the pod domain's own series (its recording-rule expressions,
evaluated as subqueries, so no selector is written twice and no rule has to be deployed). A
strategy is a table: for each of the four values, which usage statistic and which multiple of it.
Every value is rounded up to a Kubernetes quantity a person would write.

A leaking container is not sized to its leak: when the service's leak alerts fired in the window,
or a pod's working-set floor rose steadily through its life, memory is sized on what pods use while
they are young, and the output says so.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Iterable

from gen.domains import pod
from gen.domains.alerts import NODEJS_HEAP_LEAK, NODEJS_HEAP_LEAK_WITHIN_PROCESS, POD_MEMORY_LEAK, POD_MEMORY_LEAK_WITHIN_POD
from gen.ir import RecordingRule
from gen.promql.selectors import Scope, eq, re_, selector
from gen.spec.model import Rightsizing, Service
from gen.tools.prometheus_api import Prometheus
from gen.units import Duration, format_duration, parse_duration

GIB = 2**30
MIB = 2**20
LEAK_ALERTS = (POD_MEMORY_LEAK, POD_MEMORY_LEAK_WITHIN_POD, NODEJS_HEAP_LEAK, NODEJS_HEAP_LEAK_WITHIN_PROCESS)
# Prometheus' own default when --storage.tsdb.retention.time is not set.
DEFAULT_RETENTION = parse_duration("15d")
# Subquery points per series: fine enough to see a 1-minute burst over a week, well under Prometheus' limits.
MAX_SUBQUERY_POINTS = 10_080


class RightsizeError(Exception):
    """Something a user can act on: no Prometheus, no data, a window Prometheus cannot hold."""


# ---- usage statistics: what is read, as data ----

@dataclass(frozen=True)
class Statistic:
    resource: str  # "cpu" or "memory"
    kind: str  # "average", "quantile" or "peak"
    quantile: float = 0.0

    @property
    def label(self) -> str:
        return f"p{self.quantile * 100:g}" if self.kind == "quantile" else self.kind


# How one pod's series becomes one figure over the window.
OVER_TIME = {
    "average": "avg_over_time({x})",
    "quantile": "quantile_over_time({q}, {x})",
    "peak": "max_over_time({x})",
}
# How pods' figures become the service's: a request is per pod, so the typical pod's average, but the busiest
# pod's tail and peak (every pod must fit).
ACROSS_PODS = {"average": lambda v: sum(v) / len(v), "quantile": max, "peak": max}
RECORD_OF = {"cpu": pod.RECORDS.cpu, "memory": pod.RECORDS.working_set}

CPU_AVERAGE = Statistic("cpu", "average")
CPU_P95 = Statistic("cpu", "quantile", 0.95)
CPU_P99 = Statistic("cpu", "quantile", 0.99)
CPU_PEAK = Statistic("cpu", "peak")
MEMORY_AVERAGE = Statistic("memory", "average")
MEMORY_P99 = Statistic("memory", "quantile", 0.99)
MEMORY_PEAK = Statistic("memory", "peak")
REPORTED = (CPU_AVERAGE, CPU_P95, CPU_P99, CPU_PEAK, MEMORY_AVERAGE, MEMORY_P99, MEMORY_PEAK)


# ---- strategies: tables of multipliers over statistics ----

@dataclass(frozen=True)
class Derivation:
    statistic: Statistic
    factor: float


FIELDS = ("requests.cpu", "limits.cpu", "requests.memory", "limits.memory")


@dataclass(frozen=True)
class Strategy:
    name: str
    rules: tuple[tuple[str, Derivation | None], ...]  # per field; None: recommend no value (no limit)


def strategy(name: str, s: Rightsizing) -> Strategy:
    tables = {
        # The seed article's rule of thumb: CPU request ~3x average, CPU limit ~6x peak, memory request ~1.2x
        # and limit ~2x what the pods use (their peak working set).
        "seed": (Derivation(CPU_AVERAGE, s.cpu_request_per_average), Derivation(CPU_PEAK, s.cpu_limit_per_peak),
                 Derivation(MEMORY_PEAK, s.memory_request_per_use), Derivation(MEMORY_PEAK, s.memory_limit_per_use)),
        # robusta-dev/krr's simple strategy (README "How it works": CPU request at the 99th percentile and no
        # CPU limit; memory request = limit = the maximum over the history plus a buffer). Defaults from
        # robusta_krr/strategies/simple.py SimpleStrategySettings: cpu_percentile=99,
        # memory_buffer_percentage=15 (5 in releases before 1.8); history of a week.
        "krr": (Derivation(Statistic("cpu", "quantile", s.krr_cpu_percentile / 100), 1.0), None,
                Derivation(MEMORY_PEAK, 1 + s.krr_memory_buffer), Derivation(MEMORY_PEAK, 1 + s.krr_memory_buffer)),
    }
    return Strategy(name, tuple(zip(FIELDS, tables[name])))


# ---- Kubernetes quantities ----

# CPU rounds up in steps that grow with the value: (below this many cores, step).
CPU_STEPS = ((0.1, 0.01), (1.0, 0.05), (4.0, 0.1), (math.inf, 0.5))
# Memory rounds up to the next rung of 1x and 1.5x powers of two (…, 512Mi, 768Mi, 1Gi, 1536Mi, 2Gi, 3Gi, 4Gi, …):
# never more than 50% above the need, and values a person would write.
MEMORY_RUNG_MULTIPLES = (1.0, 1.5)
MEMORY_MIN = 16 * MIB


def round_cpu(cores: float) -> float:
    step = next(step for below, step in CPU_STEPS if cores < below)
    return max(CPU_STEPS[0][1], round(math.ceil(round(cores / step, 9)) * step, 3))


def memory_rungs(up_to: float) -> list[float]:
    rungs, base = [], MEMORY_MIN
    while not rungs or rungs[-1] < up_to:
        rungs.extend(base * m for m in MEMORY_RUNG_MULTIPLES)
        base *= 2
    return rungs


def round_memory(size: float) -> float:
    return next(r for r in memory_rungs(size) if r >= size)


ROUND = {"cpu": round_cpu, "memory": round_memory}


def cpu_text(cores: float) -> str:
    millis = round(cores * 1000)
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def memory_text(size: float) -> str:
    if size % GIB == 0:
        return f"{int(size // GIB)}Gi"
    if size % MIB == 0:
        return f"{int(size // MIB)}Mi"
    return str(int(size))


def usage_text(resource: str, value: float) -> str:
    return f"{value:.3g} cores" if resource == "cpu" else f"{value / MIB:.0f}Mi"


TEXT = {"cpu": cpu_text, "memory": memory_text}


# ---- reading Prometheus ----

@dataclass(frozen=True)
class PodUsage:
    pod: str
    figures: tuple[tuple[str, float], ...]  # (statistic label, value)


@dataclass(frozen=True)
class Leak:
    """Why memory is sized on young pods, in words, and what it is sized on."""

    reason: str
    basis: float  # the peak working set of young pods (bytes)
    basis_words: str


@dataclass(frozen=True)
class Value:
    field: str
    current: float | None
    current_source: str  # "kube-state-metrics", "spec" or "unset"
    recommended: float | None  # None: no value (krr's CPU limit)
    why: str
    raw: float | None = None  # before rounding

    @property
    def resource(self) -> str:
        return self.field.split(".")[1]

    def text(self, value: float | None) -> str:
        return "none" if value is None else TEXT[self.resource](value)


@dataclass(frozen=True)
class Recommendation:
    service: str
    namespace: str
    container: str
    strategy: str
    window: str
    pods: tuple[PodUsage, ...]
    usage: tuple[tuple[str, float], ...]  # service-level figures: (resource.statistic, value)
    values: tuple[Value, ...]
    leak: Leak | None

    def value(self, field: str) -> Value:
        return next(v for v in self.values if v.field == field)


def usage_expression(service: Service, resource: str) -> str:
    """The pod domain's per-container usage series, as its recording rule computes it."""
    record = RECORD_OF[resource]
    rules = [r for group in pod.signals(service).groups for r in group.rules
             if isinstance(r, RecordingRule) and r.record == record]
    return rules[0].expr


def subquery_step(window: Duration) -> str:
    return format_duration(max(60, math.ceil(window.seconds / MAX_SUBQUERY_POINTS / 60) * 60))


def statistic_query(service: Service, stat: Statistic, window: Duration) -> str:
    inner = f"({usage_expression(service, stat.resource)})[{window.text}:{subquery_step(window)}]"
    return OVER_TIME[stat.kind].format(x=inner, q=stat.quantile)


def _per_pod(result: list[dict]) -> dict[str, float]:
    out = {}
    for item in result:
        value = float(item["value"][1])
        if not math.isnan(value):
            out[item["metric"].get("pod", "?")] = value
    return out


def check_window(prometheus: Prometheus, window: Duration) -> None:
    flags = prometheus.flags()
    text = flags.get("storage.tsdb.retention.time") or flags.get("storage.tsdb.retention") or "0s"
    retention = DEFAULT_RETENTION if text in ("0s", "") else parse_duration(text)
    if window.seconds > retention.seconds:
        raise RightsizeError(f"--window {window.text} is longer than this Prometheus keeps data "
                             f"(retention {retention.text}); use --window {retention.text} or less")


def current_resources(prometheus: Prometheus, service: Service, window: Duration, at: float) -> dict:
    """Requests and limits as kube-state-metrics last exported them in the window, else as the spec states."""
    s = Scope(service, dashboard=False)
    spec = {"requests.cpu": service.resources.cpu_request, "limits.cpu": service.resources.cpu_limit,
            "requests.memory": service.resources.memory_request, "limits.memory": service.resources.memory_limit}
    out = {}
    for field in FIELDS:
        kind, resource = field.split(".")
        source = s.container(f"kube_pod_container_resource_{kind}", eq("resource", resource))
        result = prometheus.query(f"max(last_over_time({source}[{window.text}]))", at)
        if result:
            out[field] = (float(result[0]["value"][1]), "kube-state-metrics")
        elif spec[field] is not None:
            out[field] = (spec[field].value, "spec")
        else:
            out[field] = (None, "unset")
    return out


def _series(result: list[dict]) -> dict[str, list[tuple[float, float]]]:
    return {item["metric"].get("pod", "?"): [(float(t), float(v)) for t, v in item["values"]] for item in result}


def _steady_rise(floors: list[float]) -> bool:
    """Each third of the pod's life higher than the one before, and neither rise a small share of the whole:
    a straight leak, not warm-up that flattens, nor a spike."""
    third = len(floors) // 3
    means = [sum(part) / len(part) for part in (floors[:third], floors[third:2 * third], floors[2 * third:])]
    rises = (means[1] - means[0], means[2] - means[1])
    return min(rises) > 0 and min(rises) >= 0.25 * sum(rises)


def leak_analysis(prometheus: Prometheus, service: Service, window: Duration, at: float) -> Leak | None:
    settings = service.rightsizing
    step = service.leak.floor_window
    # A floor needs several samples of its window: a minute's resolution for hour-long floors, finer for short ones.
    resolution = format_duration(min(60, max(1, step.seconds // 10)))
    ws = f"({usage_expression(service, 'memory')})[{step.text}:{resolution}]"
    start = at - window.seconds
    floors = _series(prometheus.query_range(f"min_over_time({ws})", start, at, step.seconds))
    peaks = _series(prometheus.query_range(f"max_over_time({ws})", start, at, step.seconds))
    growing = []
    for name, samples in floors.items():
        values = [v for _, v in samples]
        if len(values) >= 6 and values[0] > 0 and values[-1] / values[0] - 1 >= settings.leak_growth \
                and _steady_rise(values):
            growing.append((values[-1] / values[0] - 1, samples[-1][0] - samples[0][0], name))
    alerts = selector("ALERTS", [re_("alertname", "|".join(a.name for a in LEAK_ALERTS)),
                                 eq("alertstate", "firing"), eq("service", service.name)])
    fired = sorted({item["metric"]["alertname"] for item in
                    prometheus.query(f"max_over_time({alerts}[{window.text}])", at)})
    if not growing and not fired:
        return None
    if growing:
        growth, span, name = max(growing)
        reason = f"memory grows {growth:.0%} in {_days(span)} ({name})"
    else:
        reason = f"{', '.join(fired)} fired in the last {window.text}"
    young = settings.young_age.seconds
    # A pod whose first sample is after the window's start started inside it: its age is known.
    young_peaks = [v for samples in peaks.values() if samples[0][0] > start + step.seconds
                   for t, v in samples if t - samples[0][0] < young]
    if young_peaks:
        words = f"sized on processes younger than {settings.young_age.text}"
    else:
        young_peaks = [v for samples in peaks.values() for t, v in samples if t < start + young]
        words = f"no pod started in the window; sized on its first {settings.young_age.text}"
    return Leak(reason, max(young_peaks), words)


def _days(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} days"
    return f"{seconds / 3600:.0f} hours" if seconds >= 2 * 3600 else f"{seconds / 60:.0f} minutes"


def recommend(prometheus: Prometheus, service: Service, strategy_name: str | None = None,
              window: Duration | None = None, at: float | None = None) -> Recommendation:
    settings = service.rightsizing
    window = window or settings.window
    at = time.time() if at is None else at
    chosen = strategy(strategy_name or settings.strategy, settings)
    needed = list(REPORTED) + [d.statistic for _, d in chosen.rules if d and d.statistic not in REPORTED]
    per_stat = {stat: _per_pod(prometheus.query(statistic_query(service, stat, window), at)) for stat in needed}
    if not any(per_stat.values()):
        s = Scope(service, dashboard=False)
        raise RightsizeError(
            f"{service.name}: no usage in the last {window.text}: nothing matches "
            f"{s.container('container_cpu_usage_seconds_total')} or "
            f"{s.container('container_memory_working_set_bytes')}; check spec.namespace, spec.container and "
            f"spec.selector.pod in {service.source}")
    service_level = {stat: ACROSS_PODS[stat.kind](list(v.values())) for stat, v in per_stat.items() if v}
    leak = leak_analysis(prometheus, service, window, at)
    current = current_resources(prometheus, service, window, at)
    values = tuple(_value(field, derivation, service_level, current[field], leak) for field, derivation in chosen.rules)
    pods = sorted({p for v in per_stat.values() for p in v})
    return Recommendation(
        service.name, service.namespace, service.container, chosen.name, window.text,
        tuple(PodUsage(p, tuple((f"{s.resource}.{s.label}", per_stat[s][p]) for s in REPORTED if p in per_stat[s]))
              for p in pods),
        tuple((f"{s.resource}.{s.label}", service_level[s]) for s in REPORTED if s in service_level),
        values, leak)


def _value(field: str, derivation: Derivation | None, usage: dict[Statistic, float],
           current: tuple[float | None, str], leak: Leak | None) -> Value:
    if derivation is None:
        return Value(field, *current, None, "no limit: the pod may burst into CPU other pods requested and left idle")
    stat = derivation.statistic
    basis, basis_words = usage[stat], f"{stat.label} {stat.resource} {usage_text(stat.resource, usage[stat])}"
    if stat.resource == "memory" and leak is not None:
        basis, basis_words = leak.basis, f"young pods' peak memory {usage_text('memory', leak.basis)}"
    raw = derivation.factor * basis
    rounded = ROUND[stat.resource](raw)
    return Value(field, *current, rounded, f"{derivation.factor:g} x {basis_words} = {usage_text(stat.resource, raw)}",
                 raw)


# ---- output ----

def as_dict(rec: Recommendation) -> dict:
    return {
        "service": rec.service, "namespace": rec.namespace, "container": rec.container,
        "strategy": rec.strategy, "window": rec.window,
        "usage": dict(rec.usage),
        "pods": {p.pod: dict(p.figures) for p in rec.pods},
        "resources": {v.field: {"current": None if v.current is None else v.text(v.current),
                                "currentFrom": v.current_source,
                                "recommended": None if v.recommended is None else v.text(v.recommended),
                                "why": v.why} for v in rec.values},
        "leak": None if rec.leak is None else {"reason": rec.leak.reason, "sizedOn": rec.leak.basis_words,
                                               "youngPeakBytes": rec.leak.basis},
    }


def leak_words(leak: Leak) -> str:
    return f"{leak.reason}; {leak.basis_words}; fix the leak first"


def _usage_line(rec: Recommendation) -> str:
    u = dict(rec.usage)
    cpu = ", ".join(f"{k.split('.')[1]} {u[k]:.3g}" for k in u if k.startswith("cpu."))
    mem = ", ".join(f"{k.split('.')[1]} {u[k] / MIB:.0f}Mi" for k in u if k.startswith("memory."))
    return f"CPU cores {cpu}; working set {mem}"


def table(recs: Iterable[Recommendation]) -> str:
    lines = []
    for rec in recs:
        lines.append(f"{rec.service} ({rec.namespace}/{rec.container}): strategy {rec.strategy}, last {rec.window}, "
                     f"{len(rec.pods)} pod(s)")
        lines.append(f"  usage: {_usage_line(rec)}")
        for v in rec.values:
            current = v.text(v.current) + ("" if v.current_source == "kube-state-metrics" else f" ({v.current_source})")
            lines.append(f"  {v.field:<16} {current:>12} -> {v.text(v.recommended):<8} {v.why}")
        if rec.leak:
            lines.append(f"  leak: {leak_words(rec.leak)}")
    return "\n".join(lines)


def markdown(recs: Iterable[Recommendation]) -> str:
    lines = ["### obsgen rightsize", ""]
    for rec in recs:
        lines += [f"**{rec.service}** ({rec.namespace}/{rec.container}), strategy `{rec.strategy}`, last {rec.window}, "
                  f"{len(rec.pods)} pod(s). Usage: {_usage_line(rec)}.", "",
                  "| | current | recommended | why |", "|---|---|---|---|"]
        lines += [f"| `{v.field}` | {v.text(v.current)} | **{v.text(v.recommended)}** | {v.why} |" for v in rec.values]
        if rec.leak:
            lines += ["", f"> :warning: {leak_words(rec.leak)}."]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def resources_yaml(rec: Recommendation) -> dict:
    """The recommendation as a spec's `resources` block (krr's "no CPU limit" leaves limits.cpu out)."""
    out: dict = {"requests": {}, "limits": {}}
    for v in rec.values:
        if v.recommended is not None:
            kind, resource = v.field.split(".")
            out[kind][resource] = v.text(v.recommended)
    return {k: side for k, side in out.items() if side}



# ---- --write: spec.resources edited in place ----

def _round_trip():
    from ruamel.yaml import YAML  # only --write needs it

    yaml = YAML()  # round-trip: comments, key order, flow style and quoting stay as written
    yaml.preserve_quotes = True
    yaml.width = 4096
    return yaml


def _indentation(text: str) -> tuple[int, int]:
    """(mapping indent, sequence dash offset) as the file writes them, so a re-dump changes no other line."""
    indents = sorted({len(line) - len(line.lstrip(" ")) for line in text.splitlines()
                      if line.strip() and not line.lstrip().startswith("#")} - {0})
    mapping = indents[0] if indents else 2
    offset = next((len(line) - len(line.lstrip(" ")) - len(prev) + len(prev.lstrip(" "))
                   for prev, line in zip(text.splitlines(), text.splitlines()[1:])
                   if line.lstrip().startswith("- ") and prev.rstrip().endswith(":")), mapping)
    return mapping, max(0, offset)


def _scalar_like(old, new: str):
    """`new` in the quoting style of the value it replaces."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

    for style in (DoubleQuotedScalarString, SingleQuotedScalarString):
        if isinstance(old, style):
            return style(new)
    return new


def updated_spec(text: str, name: str, resources: dict) -> str:
    """The spec file's text with `spec.resources` of the service `name` set to `resources`; every other
    line as it was."""
    import io

    yaml = _round_trip()
    mapping, offset = _indentation(text)
    yaml.indent(mapping=mapping, sequence=mapping + offset, offset=offset)
    documents = list(yaml.load_all(text))
    found = False
    for doc in documents:
        if not isinstance(doc, dict) or (doc.get("metadata") or {}).get("name") != name:
            continue
        found = True
        spec = doc["spec"]
        if spec.get("resources") is None:
            spec["resources"] = {}
        for kind, side in resources.items():
            target = spec["resources"].get(kind)
            if target is None:
                spec["resources"][kind] = target = {}
            for resource, value in side.items():
                target[resource] = _scalar_like(target.get(resource), value)
    if not found:
        raise RightsizeError(f"no document with metadata.name {name} in the spec file")
    out = io.StringIO()
    yaml.explicit_start = text.lstrip().startswith("---") or len(documents) > 1
    yaml.dump_all(documents, out)
    return out.getvalue()
