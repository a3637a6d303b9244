"""Synthetic workloads as data: a scenario file describes how a service's pods behave over days
(GC sawtooth, leaks, restarts, daily cycles, spikes), and this module turns it into the raw
series the real exporters would have produced, labelled for a given service.

Scenario files are YAML, validated like specs. Built-in ones live in gen/synth/scenarios/;
users add their own with `obsgen backtest --scenarios DIR`.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from gen.errors import ObsgenError, Problem
from gen.spec.documents import load_file
from gen.spec.model import Service
from gen.domains.alerts import REGISTRY
from gen.synth.queue_workloads import QUEUES_SCHEMA, QueueLoad, check_queues, queue_series
from gen.synth.example_pods import ExamplePod, example_pods
from gen.units import DURATION_PATTERN, SIZE_PATTERN, parse_duration, parse_size
from gen.spec.validate import format_checker, validate_document

DAY = 86400.0
# Every alert obsgen generates, for the `alerts` a scenario names.
ALERTS = tuple(sorted(a.name for a in REGISTRY))


def _amount(description: str) -> dict:
    return {"description": description, "type": ["string", "number"], "pattern": SIZE_PATTERN}


def _dur(description: str) -> dict:
    return {"description": description, "type": "string", "pattern": DURATION_PATTERN, "format": "duration"}


_RISE = {"type": "object", "additionalProperties": False, "required": ["at", "size"],
         "properties": {"at": _dur("When it begins, from the start of the scenario."),
                        "size": _amount("How much the level rises, for good."),
                        "over": _dur("How long the rise takes (a ramp); default at once.")}}

_SHAPE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "base": _amount("Level once warm, at the start of each process' life."),
        "leakPerDay": _amount("Retained growth per day while a process lives; resets when it restarts."),
        "leakFrom": _dur("When the leak begins, from the start of the scenario (a bad deploy or a new "
                         "feature); before it, and in processes started earlier, it grows from then on."),
        "steps": {"type": "object", "additionalProperties": False, "required": ["every", "size"],
                  "properties": {"every": _dur("Time between steps."), "size": _amount("Size of each step.")},
                  "description": "A staircase leak: retained memory jumps by `size` every `every`."},
        "daily": _amount("Amplitude of the daily cycle (peak at 15:00, trough at 03:00)."),
        "sawtooth": {"type": "object", "additionalProperties": False, "required": ["height", "period"],
                     "properties": {"height": _amount("Garbage that builds up before each GC."),
                                    "period": _dur("Time between collections.")},
                     "description": "GC sawtooth above the retained level."},
        "spikes": {"type": "array", "description": "Temporary rises that go away again.",
                   "items": {"type": "object", "additionalProperties": False, "required": ["at", "for", "size"],
                             "properties": {"at": _dur("Start, from the beginning of the scenario."),
                                            "for": _dur("How long it lasts."), "size": _amount("Height.")}}},
        "warmup": {"type": "object", "additionalProperties": False, "required": ["for", "size"],
                   "properties": {"for": _dur("Time to fill caches after a start."),
                                  "size": _amount("What the caches hold when full.")},
                   "description": "After each start the level is lower by `size`, recovering over `for`."},
        "noise": _amount("Random jitter of each sample (deterministic)."),
        "exhaustAt": _amount("Stop the scenario's retained growth here (an OOM kill in real life)."),
        "rises": {"type": "array", "description": "One-off rises that stay (a release with a larger baseline, "
                                                  "a config change, the weekday after a weekend): not a leak.",
                  "items": _RISE},
        "leakPods": {"type": "array", "uniqueItems": True, "items": {"type": "integer", "minimum": 0},
                     "description": "Replicas (from 0) whose processes leak (`leakPerDay`, `steps`); default all."},
    },
}

SCENARIO_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "obsgen backtest scenario",
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "description", "expect", "duration"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z0-9][-a-z0-9]*$", "description": "Scenario name."},
        "description": {"type": "string", "description": "What it models and why."},
        "expect": {"enum": ["fire", "quiet"], "description": "`fire`: an alert must fire (one of `alerts`, when "
                   "given). `quiet`: no alert may fire."},
        "alerts": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": list(ALERTS)},
                   "description": "For `fire`: the alerts meant to catch it; one of them must fire. A service "
                                  "whose rules have none of them skips the scenario."},
        "queues": QUEUES_SCHEMA,
        "duration": _dur("How long the scenario runs."),
        "step": {**_dur("Sample interval."), "default": "1m"},
        "pods": {"type": "integer", "minimum": 1, "maximum": 6, "default": 2, "description": "Replicas."},
        "restarts": {
            "type": "object", "additionalProperties": False, "description": "Process restarts.",
            "properties": {
                "every": _dur("Restart all pods this often (a daily deploy: 1d)."),
                "offset": _dur("First restart after this long."),
                "at": {"type": "array", "items": _dur("A restart time."), "description": "Explicit restarts."},
                "newPod": {"type": "boolean", "default": True,
                           "description": "A deploy (new pod names) rather than a container restart."},
            },
        },
        "initialAge": {**_dur("How long the first processes have been up at the start."), "default": "0s"},
        "memory": {"type": "object", "additionalProperties": False,
                   "description": "Shapes of the memory series.",
                   "properties": {k: _SHAPE for k in ("oldSpace", "heapUsed", "workingSet", "external")}},
        "cpu": {"type": "object", "additionalProperties": False, "description": "CPU cores used per pod.",
                "properties": {"base": {"type": "number", "description": "Cores used once warm."},
                               "growthPerDay": {"type": "number", "description": "Cores added per day of uptime."},
                               "factorPerDay": {"type": "number", "exclusiveMinimum": 0,
                                                "description": "Compound growth: cores multiply by this per day."},
                               "daily": {"type": "number", "description": "Amplitude of the daily cycle."},
                               "rises": {"type": "array", "description": "One-off rises in cores that stay (a "
                                                                         "traffic step): not a trend.",
                                         "items": {**_RISE, "properties": {**_RISE["properties"], "size": {
                                             "type": "number", "description": "Cores added, for good."}}}}}},
        "eventLoopP99": {"type": "object", "additionalProperties": False,
                         "description": "Event-loop p99 lag in seconds.",
                         "properties": {"base": {"type": "number"},
                                        "spikes": _SHAPE["properties"]["spikes"]}},
    },
}

# Defaults: a healthy Node.js API of the seed article's size (per pod).
DEFAULT_MEMORY = {
    "oldSpace": {"base": "90Mi", "sawtooth": {"height": "12Mi", "period": "20m"}, "noise": "512Ki"},
    "heapUsed": {"base": "120Mi", "sawtooth": {"height": "30Mi", "period": "5m"}, "noise": "1Mi"},
    "workingSet": {"base": "360Mi", "sawtooth": {"height": "40Mi", "period": "5m"}, "noise": "2Mi"},
    # Buffers and native memory (prom-client's nodejs_external_memory_bytes); outside the heap, inside the working set.
    "external": {"base": "24Mi", "sawtooth": {"height": "4Mi", "period": "5m"}, "noise": "256Ki"},
}
DEFAULT_CPU = {"base": 0.04, "growthPerDay": 0.0, "factorPerDay": 1.0, "daily": 0.01}
DEFAULT_LAG = {"base": 0.012}


@dataclass(frozen=True)
class Process:
    """One process' life: which pod it runs in and when it started and stopped."""

    pod: int
    generation: int
    start: float
    end: float


@dataclass
class Scenario:
    name: str
    description: str
    expect: str
    duration: float
    step: float
    pods: int
    restarts: list[float]
    new_pod: bool
    initial_age: float
    memory: dict[str, Shape]
    cpu: dict[str, float]
    lag: dict[str, Any]
    source: str = ""
    processes: list[Process] = field(default_factory=list)
    queues: QueueLoad | None = None
    alerts: tuple[str, ...] = ()

    @property
    def samples(self) -> int:
        return int(self.duration // self.step) + 1


def _seconds(value: str) -> float:
    return parse_duration(value).seconds


def _bytes(value: str | int | float) -> float:
    return float(value) if isinstance(value, (int, float)) else parse_size(value).value


def load_scenario(path: Path, name: str | None = None) -> Scenario:
    documents = load_file(path, name or path.as_posix())
    validator = Draft202012Validator(SCENARIO_SCHEMA, format_checker=format_checker())
    problems = [p for doc in documents for p in validate_document(doc, validator)]
    if not problems:
        problems = [p for doc in documents for p in check_queues(doc)]
    if problems:
        raise ObsgenError(problems)
    if len(documents) != 1:
        raise ObsgenError([Problem(documents[0].file, "a scenario file holds exactly one scenario")])
    return scenario_from_dict(documents[0].data, documents[0].file)


def scenario_from_dict(data: dict, source: str = "") -> Scenario:
    restarts_spec = data.get("restarts", {})
    duration = _seconds(data["duration"])
    restarts = sorted(_seconds(t) for t in restarts_spec.get("at", []))
    if "every" in restarts_spec:
        every = _seconds(restarts_spec["every"])
        t = _seconds(restarts_spec.get("offset", restarts_spec["every"]))
        while t < duration:
            restarts.append(t)
            t += every
    memory = {key: Shape.parse({**DEFAULT_MEMORY[key], **data.get("memory", {}).get(key, {})})
              for key in DEFAULT_MEMORY}
    scenario = Scenario(
        name=data["name"], description=data["description"], expect=data["expect"], duration=duration,
        step=_seconds(data.get("step", "1m")), pods=data.get("pods", 2), restarts=sorted(set(restarts)),
        new_pod=restarts_spec.get("newPod", True), initial_age=_seconds(data.get("initialAge", "0s")),
        memory=memory, cpu={**DEFAULT_CPU, **data.get("cpu", {})}, lag={**DEFAULT_LAG, **data.get("eventLoopP99", {})},
        source=source, queues=QueueLoad.parse(data["queues"]) if "queues" in data else None,
        alerts=tuple(data.get("alerts", ())),
    )
    scenario.processes = _processes(scenario)
    return scenario


def _processes(s: Scenario) -> list[Process]:
    out = []
    for pod in range(s.pods):
        # Replicas restart a few minutes apart, as a rolling deploy does.
        starts = [-s.initial_age] + [t + 120 * pod for t in s.restarts]
        for gen, start in enumerate(starts):
            end = starts[gen + 1] if gen + 1 < len(starts) else math.inf
            out.append(Process(pod, gen, start, end))
    return out


def _daily(amplitude: float, t: float) -> float:
    """Daily cycle with its trough at 03:00 and peak at 15:00 (t=0 is midnight)."""
    return -amplitude * math.cos(2 * math.pi * (t - 3 * 3600) / DAY)


@dataclass(frozen=True)
class Shape:
    """A memory shape with every quantity in bytes and seconds, parsed once."""

    base: float
    leak_per_day: float = 0.0
    leak_from: float = -math.inf
    step_every: float = 0.0
    step_size: float = 0.0
    daily: float = 0.0
    sawtooth_height: float = 0.0
    sawtooth_period: float = 1.0
    spikes: tuple[tuple[float, float, float], ...] = ()  # (start, end, size)
    warmup_for: float = 0.0
    warmup_size: float = 0.0
    noise: float = 0.0
    exhaust_at: float = math.inf
    rises: tuple[tuple[float, float, float], ...] = ()  # (start, size, duration)
    leak_pods: frozenset[int] | None = None  # replicas that leak; None: all

    @staticmethod
    def parse(shape: dict) -> "Shape":
        steps, saw, warm = shape.get("steps", {}), shape.get("sawtooth", {}), shape.get("warmup", {})
        return Shape(
            base=_bytes(shape["base"]), leak_per_day=_bytes(shape.get("leakPerDay", 0)),
            leak_from=_seconds(shape["leakFrom"]) if "leakFrom" in shape else -math.inf,
            step_every=_seconds(steps["every"]) if steps else 0.0, step_size=_bytes(steps.get("size", 0)),
            daily=_bytes(shape.get("daily", 0)), sawtooth_height=_bytes(saw.get("height", 0)),
            sawtooth_period=_seconds(saw["period"]) if saw else 1.0,
            spikes=tuple((_seconds(x["at"]), _seconds(x["at"]) + _seconds(x["for"]), _bytes(x["size"]))
                         for x in shape.get("spikes", [])),
            warmup_for=_seconds(warm["for"]) if warm else 0.0, warmup_size=_bytes(warm.get("size", 0)),
            noise=_bytes(shape.get("noise", 0)),
            exhaust_at=_bytes(shape["exhaustAt"]) if "exhaustAt" in shape else math.inf,
            rises=_rises(shape.get("rises", []), _bytes),
            leak_pods=frozenset(shape["leakPods"]) if "leakPods" in shape else None,
        )


def _rises(rises: list[dict], amount) -> tuple[tuple[float, float, float], ...]:
    return tuple((_seconds(r["at"]), amount(r["size"]), _seconds(r.get("over", "0s"))) for r in rises)


def _risen(rises: tuple[tuple[float, float, float], ...], t: float) -> float:
    """How much the one-off rises have added by `t` (a ramp rises linearly over its duration)."""
    total = 0.0
    for start, size, over in rises:
        if t >= start:
            total += size * (min(1.0, (t - start) / over) if over else 1.0)
    return total


def memory_value(shape: Shape, proc: Process, t: float, rng: random.Random, phase: float) -> float:
    age = t - proc.start
    leaks = shape.leak_pods is None or proc.pod in shape.leak_pods
    leaking = max(0.0, t - max(proc.start, shape.leak_from)) if leaks else 0.0
    value = shape.base + shape.leak_per_day * leaking / DAY + _risen(shape.rises, t)
    if shape.step_every and leaks:
        value += shape.step_size * math.floor(age / shape.step_every)
    value = min(value, shape.exhaust_at) + _daily(shape.daily, t)
    if shape.warmup_for:
        value -= shape.warmup_size * max(0.0, 1 - age / shape.warmup_for)
    for start, end, size in shape.spikes:
        if start <= t < end:
            value += size
    if shape.sawtooth_height:
        value += shape.sawtooth_height * (((age + phase) % shape.sawtooth_period) / shape.sawtooth_period)
    if shape.noise:
        value += rng.uniform(-shape.noise, shape.noise)
    return max(value, 0.0)


@dataclass(frozen=True)
class GeneratedSeries:
    selector: str
    values: list[float | None]


def _alive(proc: Process, t: float) -> bool:
    return proc.start <= t < proc.end


def pods_for(service: Service, scenario: Scenario, first: int = 0) -> dict[tuple[int, int], ExamplePod]:
    """One ExamplePod per (replica, generation); a container restart keeps the pod.

    `first` numbers the pods after those of other scenarios that share a test.
    """
    count = scenario.pods * (max(p.generation for p in scenario.processes) + 1 if scenario.new_pod else 1)
    names = example_pods_many(service, first + count)[first:]
    out = {}
    for proc in scenario.processes:
        index = proc.pod + (proc.generation * scenario.pods if scenario.new_pod else 0)
        out[(proc.pod, proc.generation)] = names[index]
    return out


def example_pods_many(service: Service, count: int) -> list[ExamplePod]:
    base = example_pods(service, 1)[0]
    stem = base.name.rsplit("-", 1)[0]
    pods = []
    for i in range(count):
        name = f"{stem}-{_suffix(i)}"
        pods.append(ExamplePod(service, name, f"10.1.{2 + i // 200}.{3 + i % 200}"))
    return pods


def _suffix(i: int) -> str:
    letters = "bcdfghjklmnpqrstvwxz"
    out = ""
    for _ in range(5):
        out += letters[i % len(letters)]
        i //= len(letters)
    return out


_MEMORY_METRICS = {
    "oldSpace": ("app", "nodejs_heap_space_size_used_bytes", {"space": "old"}),
    "heapUsed": ("app", "nodejs_heap_size_used_bytes", {}),
    "workingSet": ("container", "container_memory_working_set_bytes", {}),
    "external": ("app", "nodejs_external_memory_bytes", {}),
}


def generate(service: Service, scenario: Scenario, memory_limit: float | None,
             first_pod: int = 0, memory_scale: float = 1.0) -> list[GeneratedSeries]:
    """Every raw series the service's rules read, for every process of the scenario.

    `memory_scale` multiplies every memory sample: the backtest fits a scenario written for one
    memory limit to a service with another.
    """
    pods = pods_for(service, scenario, first_pod)
    times = [i * scenario.step for i in range(scenario.samples)]
    prefix = service.nodejs_metric_prefix
    series: dict[str, list[float | None]] = {}

    for proc in scenario.processes:
        pod = pods[(proc.pod, proc.generation)]
        rng = random.Random(f"{scenario.name}/{proc.pod}/{proc.generation}")
        phase = rng.uniform(0, 3600)
        alive = [i for i, t in enumerate(times) if _alive(proc, t)]
        if not alive:
            continue

        def column(selector: str) -> list[float | None]:
            return series.setdefault(selector, [None] * len(times))

        for key, (kind, metric, extra) in _MEMORY_METRICS.items():
            name = prefix + metric if kind == "app" else metric
            values = column(pod.app(name, **extra) if kind == "app" else pod.container(name, **extra))
            shape = scenario.memory[key]
            for i in alive:
                values[i] = round(memory_value(shape, proc, times[i], rng, phase) * memory_scale)
        constants = [(pod.app(prefix + "process_start_time_seconds"), proc.start), (pod.app("up"), 1),
                     (pod.container("kube_pod_container_status_restarts_total", job="kube-state-metrics"),
                      0 if scenario.new_pod else proc.generation)]
        if memory_limit is not None:
            constants.append((pod.container("kube_pod_container_resource_limits", resource="memory", unit="byte",
                                            job="kube-state-metrics"), memory_limit))
        for selector, value in constants:
            values = column(selector)
            for i in alive:
                values[i] = value
        lag, cpu = column(pod.app(prefix + "nodejs_eventloop_lag_p99_seconds")), \
            column(pod.container("container_cpu_usage_seconds_total"))
        cpu_total = 0.0
        for i in alive:
            lag[i] = _lag(scenario.lag, times[i])
            cpu_total += _cpu(scenario.cpu, proc, times[i]) * scenario.step
            cpu[i] = round(cpu_total, 3)
    if scenario.queues is not None:
        series.update(queue_series(service, scenario.queues, len(times), scenario.step, scenario.name))
    return [GeneratedSeries(sel, values) for sel, values in sorted(series.items())]


def not_applicable(scenario: Scenario, service: Service, alerts: set[str]) -> str:
    """Why the scenario says nothing about the service (its rules have `alerts`), or "" when it applies."""
    if scenario.queues is not None and not service.queues:
        return "the service has no queues"
    if scenario.alerts and not alerts & set(scenario.alerts):
        return f"its rules have none of {', '.join(scenario.alerts)}"
    return ""


def _cpu(cpu: dict, proc: Process, t: float) -> float:
    age = t - proc.start
    compound = cpu["base"] * cpu["factorPerDay"] ** (age / DAY)
    rises = _risen(_rises(cpu.get("rises", []), float), t)
    return max(0.0, compound + cpu["growthPerDay"] * age / DAY + _daily(cpu["daily"], t) + rises)


def _lag(lag: dict, t: float) -> float:
    value = lag["base"]
    for spike in lag.get("spikes", []):
        start = _seconds(spike["at"])
        if start <= t < start + _seconds(spike["for"]):
            value += float(spike["size"])
    return value


def builtin_dir() -> Path:
    return Path(__file__).parent / "scenarios"


def load_library(directories: list[Path]) -> list[Scenario]:
    scenarios: list[Scenario] = []
    problems: list[Problem] = []
    for directory in directories:
        for path in sorted(directory.glob("*.yaml")):
            try:
                scenarios.append(load_scenario(path))
            except ObsgenError as err:
                problems.extend(err.problems)
    if problems:
        raise ObsgenError(problems)
    return scenarios
