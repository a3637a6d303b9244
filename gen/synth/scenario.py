"""Synthetic workloads as data: a scenario file describes how a service's pods behave over days
(GC sawtooth, leaks, restarts, daily cycles, spikes) and how Kubernetes runs them (rollouts with
surge, an autoscaler's daily schedule, OOM kills and maintenance restarts in place, scrapes that
fail), and this module turns it into the raw series the real exporters would have produced
(the app's, cAdvisor's, kube-state-metrics'), labelled for a given service.

Scenario files are YAML, validated like specs. Built-in ones live in gen/synth/scenarios/;
users add their own with `obsgen backtest --scenarios DIR`.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from gen.errors import ObsgenError, Problem
from gen.spec.documents import load_file
from gen.spec.model import Service
from gen.domains.alerts import REGISTRY
from gen.synth.http_workloads import HTTP_SCHEMA, HttpLoad, http_series
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
        "traffic": _amount("Memory that serves requests, at the load of `pods` replicas: it scales with each "
                           "pod's share of the traffic, so it shrinks when an autoscaler adds pods."),
        "rises": {"type": "array", "description": "One-off rises that stay (a release with a larger baseline, "
                                                  "a config change, the weekday after a weekend): not a leak.",
                  "items": _RISE},
        "leakPods": {"type": "array", "uniqueItems": True, "items": {"type": "integer", "minimum": 0},
                     "description": "Replicas (from 0) whose processes leak (`leakPerDay`, `steps`); default all."},
    },
}

# A Kubernetes service's life beyond one Deployment of fixed size: autoscaling, in-place restarts by the
# kubelet (OOM kills, maintenance), and scrapes that fail while the pod runs on.
_LIFE = {
    "autoscaling": {
        "type": "object", "additionalProperties": False, "required": ["max", "up", "down"],
        "description": "An HPA's daily schedule: from `up` it adds one pod every `step` until `max` replicas run; "
                       "from `down` it removes them again, newest first. `pods` is the minimum. Each added pod "
                       "is new (a new name, a fresh process) and the load spreads over every running replica.",
        "properties": {
            "max": {"type": "integer", "minimum": 2, "maximum": 8, "description": "Replicas at the daily peak."},
            "up": _dur("Time of day the scale-out begins (8h: 08:00)."),
            "down": _dur("Time of day the scale-in begins; after `up`."),
            "step": {**_dur("Time between two added or removed pods."), "default": "10m"},
        },
    },
    "memoryLimit": {**_amount("The container memory limit the scenario is written for; every memory size is "
                              "relative to it (the backtest scales it to the service's own limit)."),
                    "default": "4Gi"},
    "oomKill": {"type": "boolean", "default": False,
                "description": "When the working set reaches `memoryLimit`, the kernel kills the container and "
                               "the kubelet restarts it in the same pod a minute later: kube-state-metrics "
                               "counts a restart with last terminated reason OOMKilled, the process starts "
                               "again with low memory."},
    "scrapeFailures": {
        "type": "array", "description": "Spans when one replica's /metrics fails (a timeout): `up` is 0 for "
                                        "its target and its app series are missing, while the pod runs on.",
        "items": {"type": "object", "additionalProperties": False, "required": ["at", "for"],
                  "properties": {"replica": {"type": "integer", "minimum": 0, "default": 0,
                                             "description": "Which replica (0 is the first)."},
                                 "at": _dur("Start, from the beginning of the scenario."),
                                 "for": _dur("How long scrapes fail.")}},
    },
}
TERMINATION_REASONS = ("Completed", "Error", "OOMKilled")
# The kubelet restarts a killed container after a short back-off.
RESTART_DELAY = 60.0
# A rolling update starts replica i this long after replica i-1.
ROLLING_GAP = 120.0

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
        "http": HTTP_SCHEMA,
        "duration": _dur("How long the scenario runs."),
        "step": {**_dur("Sample interval."), "default": "1m"},
        "pods": {"type": "integer", "minimum": 1, "maximum": 8, "default": 2, "description": "Replicas."},
        "restarts": {
            "type": "object", "additionalProperties": False, "description": "Process restarts.",
            "properties": {
                "every": _dur("Restart all pods this often (a daily deploy: 1d)."),
                "offset": _dur("First restart after this long."),
                "at": {"type": "array", "items": _dur("A restart time."), "description": "Explicit restarts."},
                "newPod": {"type": "boolean", "default": True,
                           "description": "A deploy (new pod names) rather than a container restart."},
                "surge": {**_dur("A deploy's overlap: each old pod runs on this long after its new one "
                                 "starts (maxSurge)."), "default": "0s"},
                "replicas": {"type": "array", "minItems": 1, "uniqueItems": True,
                             "items": {"type": "integer", "minimum": 0},
                             "description": "Only these replicas (0 is the first); default all."},
                "reason": {"enum": list(TERMINATION_REASONS),
                           "description": "For a container restart: why the old container ended, as "
                                          "kube-state-metrics' last terminated reason reports it."},
            },
        },
        **_LIFE,
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
    """One process' life: which replica and pod it runs in, when it started and stopped, and what
    kube-state-metrics says about its container meanwhile."""

    pod: int  # the replica (slot) it serves as; with `generation` it seeds the process' randomness
    generation: int  # the replica's nth process
    start: float
    end: float
    name: int = 0  # which pod (index into the scenario's pod names): a restart in place keeps it
    restarts: int = 0  # restarts of the pod's container before this process started
    reason: str = ""  # why the pod's previous container ended (kube-state-metrics' last terminated reason)
    until: float = math.nan  # the pod reports this container until then: its end, or the next start in place


@dataclass(frozen=True)
class Autoscaling:
    """An HPA's daily schedule, in seconds: pods added one per `step` from `up`, removed from `down`."""

    max: int
    up: float
    down: float
    step: float


@dataclass(frozen=True)
class ScrapeFailure:
    replica: int
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
    http: HttpLoad | None = None
    alerts: tuple[str, ...] = ()
    surge: float = 0.0
    restart_replicas: tuple[int, ...] | None = None  # None: every replica
    restart_reason: str = ""
    autoscaling: Autoscaling | None = None
    memory_limit: float = 4 * 2**30
    oom_kill: bool = False
    scrape_failures: tuple[ScrapeFailure, ...] = ()

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
    hpa = data.get("autoscaling")
    scenario = Scenario(
        name=data["name"], description=data["description"], expect=data["expect"], duration=duration,
        step=_seconds(data.get("step", "1m")), pods=data.get("pods", 2), restarts=sorted(set(restarts)),
        new_pod=restarts_spec.get("newPod", True), initial_age=_seconds(data.get("initialAge", "0s")),
        memory=memory, cpu={**DEFAULT_CPU, **data.get("cpu", {})}, lag={**DEFAULT_LAG, **data.get("eventLoopP99", {})},
        source=source, queues=QueueLoad.parse(data["queues"]) if "queues" in data else None,
        http=HttpLoad.parse(data["http"]) if "http" in data else None,
        alerts=tuple(data.get("alerts", ())),
        surge=_seconds(restarts_spec.get("surge", "0s")),
        restart_replicas=tuple(restarts_spec["replicas"]) if "replicas" in restarts_spec else None,
        restart_reason=restarts_spec.get("reason", ""),
        autoscaling=Autoscaling(hpa["max"], _seconds(hpa["up"]), _seconds(hpa["down"]),
                                _seconds(hpa.get("step", "10m"))) if hpa else None,
        memory_limit=_bytes(data.get("memoryLimit", "4Gi")), oom_kill=data.get("oomKill", False),
        scrape_failures=tuple(ScrapeFailure(f.get("replica", 0), _seconds(f["at"]), _seconds(f["at"]) + _seconds(f["for"]))
                              for f in data.get("scrapeFailures", ())),
    )
    planned = _processes(scenario, None)
    scenario.processes = _processes(scenario, load_factors(scenario, planned)) if scenario.oom_kill else planned
    return scenario


# ---- the life of the service's pods: replicas, deploys, autoscaling, restarts in place ----

@dataclass(frozen=True)
class _Pod:
    replica: int
    start: float
    end: float


def _replica_lives(s: Scenario) -> list[tuple[int, float, float]]:
    """(replica, from, to): the first `pods` replicas always exist; autoscaled ones between `up` and `down`."""
    lives = [(replica, -s.initial_age, math.inf) for replica in range(s.pods)]
    a = s.autoscaling
    if a is not None:
        extra = max(0, a.max - s.pods)
        day = 0.0
        while day < s.duration:
            for j in range(extra):
                lives.append((s.pods + j, day + a.up + j * a.step, day + a.down + (extra - 1 - j) * a.step))
            day += DAY
    return [life for life in lives if life[1] < s.duration]


def _restarted(s: Scenario, replica: int) -> bool:
    return s.restart_replicas is None or replica in s.restart_replicas


def _pods(s: Scenario) -> list[_Pod]:
    """Every pod, in the order their names are handed out: by start, then replica. A deploy replaces each
    replica's pod a few minutes after the one before (a rolling update); the old pod runs on for `surge`."""
    pods = []
    for replica, start, end in _replica_lives(s):
        deploys = [t + ROLLING_GAP * replica for t in s.restarts] if s.new_pod and _restarted(s, replica) else []
        starts = [start] + [t for t in deploys if start <= t < end]
        for i, begin in enumerate(starts):
            stop = min(starts[i + 1] + s.surge, end) if i + 1 < len(starts) else end
            pods.append(_Pod(replica, begin, stop))
    return sorted(pods, key=lambda p: (p.start, p.replica))


def _processes(s: Scenario, load: list[float] | None) -> list[Process]:
    """Each pod's containers: restarts in place (maintenance) and, given the load, OOM kills split its life."""
    pods = _pods(s)
    generations = {replica: 0 for replica in {p.replica for p in pods}}
    out = []
    for name, pod in sorted(enumerate(pods), key=lambda item: (item[1].replica, item[1].start)):
        in_place = [t + ROLLING_GAP * pod.replica for t in s.restarts] \
            if not s.new_pod and _restarted(s, pod.replica) else []
        planned = [pod.start] + [t for t in in_place if pod.start <= t < pod.end]
        restarts, reason = 0, ""
        for i, start in enumerate(planned):
            end = planned[i + 1] if i + 1 < len(planned) else pod.end
            if i:
                restarts, reason = restarts + 1, s.restart_reason
            while True:
                generation = generations[pod.replica]
                generations[pod.replica] += 1
                killed = _oom_kill_time(s, Process(pod.replica, generation, start, end), load) if load else None
                if killed is None:
                    out.append(Process(pod.replica, generation, start, end, name, restarts, reason, end))
                    break
                restart = min(killed + RESTART_DELAY, end)
                out.append(Process(pod.replica, generation, start, killed, name, restarts, reason, restart))
                if restart >= end:
                    break
                start, restarts, reason = restart, restarts + 1, "OOMKilled"
    return sorted(out, key=lambda p: (p.pod, p.generation))


def _phase(s: Scenario, proc: Process) -> tuple[random.Random, float]:
    """The process' random stream and the phase of its GC sawtooth (the stream's first draw)."""
    rng = random.Random(f"{s.name}/{proc.pod}/{proc.generation}")
    return rng, rng.uniform(0, 3600)


def _oom_kill_time(s: Scenario, proc: Process, load: list[float]) -> float | None:
    """The first sample at which the working set (sawtooth peaks included, noise not) reaches the limit."""
    shape = replace(s.memory["workingSet"], noise=0.0)
    _, phase = _phase(s, proc)
    first = max(0, math.ceil(proc.start / s.step))
    for i in range(first, s.samples):
        t = i * s.step
        if t >= proc.end:
            return None
        if memory_value(shape, proc, t, None, phase, load[i]) >= s.memory_limit:
            return t
    return None


def _sample_range(s: Scenario, start: float, end: float) -> range:
    """Indices of the samples in [start, end)."""
    last = s.samples if end == math.inf else min(s.samples, math.ceil(end / s.step))
    return range(max(0, math.ceil(start / s.step)), last)


def load_factors(s: Scenario, processes: list[Process]) -> list[float]:
    """Each running pod's share of the load, relative to `pods` replicas sharing it, at every sample."""
    running = [0] * s.samples
    for proc in processes:
        for i in _sample_range(s, proc.start, proc.end):
            running[i] += 1
    return [s.pods / n if n else 1.0 for n in running]


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
    traffic: float = 0.0
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
            traffic=_bytes(shape.get("traffic", 0)),
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


def memory_value(shape: Shape, proc: Process, t: float, rng: random.Random | None, phase: float,
                 load: float = 1.0) -> float:
    """The shape's value for the process at `t`; `load` is the pod's share of the traffic (load_factors)."""
    age = t - proc.start
    leaks = shape.leak_pods is None or proc.pod in shape.leak_pods
    leaking = max(0.0, t - max(proc.start, shape.leak_from)) if leaks else 0.0
    value = shape.base + shape.leak_per_day * leaking / DAY + _risen(shape.rises, t)
    if shape.step_every and leaks:
        value += shape.step_size * math.floor(age / shape.step_every)
    value = min(value, shape.exhaust_at) + _daily(shape.daily, t)
    if shape.traffic:
        value += shape.traffic * load
    if shape.warmup_for:
        value -= shape.warmup_size * max(0.0, 1 - age / shape.warmup_for)
    for start, end, size in shape.spikes:
        if start <= t < end:
            value += size
    if shape.sawtooth_height:
        value += shape.sawtooth_height * (((age + phase) % shape.sawtooth_period) / shape.sawtooth_period)
    if shape.noise and rng is not None:
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
    count = max(p.name for p in scenario.processes) + 1
    names = example_pods_many(service, first + count)[first:]
    return {(proc.pod, proc.generation): names[proc.name] for proc in scenario.processes}


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
    load = load_factors(scenario, scenario.processes)

    def column(selector: str) -> list[float | None]:
        return series.setdefault(selector, [None] * len(times))

    def fill(selector: str, indices: Any, value: float) -> None:
        values = column(selector)
        for i in indices:
            values[i] = value

    for proc in scenario.processes:
        pod = pods[(proc.pod, proc.generation)]
        rng, phase = _phase(scenario, proc)
        alive = list(_sample_range(scenario, proc.start, proc.end))
        # Between an OOM kill and the restart the pod is there, its container is not: kube-state-metrics
        # still reports it and Prometheus' scrapes of the pod fail.
        reported = _sample_range(scenario, proc.start, proc.until)
        if not reported:
            continue
        scraped = [i for i in alive if not _scrape_fails(scenario, proc.pod, times[i])]
        answered = set(scraped)

        for key, (kind, metric, extra) in _MEMORY_METRICS.items():
            name = prefix + metric if kind == "app" else metric
            values = column(pod.app(name, **extra) if kind == "app" else pod.container(name, **extra))
            shape = scenario.memory[key]
            for i in alive:
                value = round(memory_value(shape, proc, times[i], rng, phase, load[i]) * memory_scale)
                values[i] = value if kind != "app" or i in answered else None
        fill(pod.app(prefix + "process_start_time_seconds"), scraped, proc.start)
        fill(pod.app("up"), reported, 0)
        fill(pod.app("up"), scraped, 1)
        ksm = {"job": "kube-state-metrics"}
        fill(pod.container("kube_pod_container_status_restarts_total", **ksm), reported,
             proc.restarts)
        if proc.reason:
            fill(pod.container("kube_pod_container_status_last_terminated_reason", reason=proc.reason, **ksm),
                 reported, 1)
        if memory_limit is not None:
            fill(pod.container("kube_pod_container_resource_limits", resource="memory", unit="byte", **ksm),
                 reported, memory_limit)
        lag, cpu = column(pod.app(prefix + "nodejs_eventloop_lag_p99_seconds")), \
            column(pod.container("container_cpu_usage_seconds_total"))
        cpu_total = 0.0
        for i in alive:
            if i in answered:
                lag[i] = _lag(scenario.lag, times[i])
            cpu_total += _cpu(scenario.cpu, proc, times[i]) * load[i] * scenario.step
            cpu[i] = round(cpu_total, 3)
    if scenario.queues is not None:
        series.update(queue_series(service, scenario.queues, len(times), scenario.step, scenario.name))
    if scenario.http is not None and service.http is not None:
        series.update(http_series(service, scenario.http, len(times), scenario.step))
    return [GeneratedSeries(sel, values) for sel, values in sorted(series.items())]


def _scrape_fails(scenario: Scenario, replica: int, t: float) -> bool:
    return any(f.replica == replica and f.start <= t < f.end for f in scenario.scrape_failures)


def not_applicable(scenario: Scenario, service: Service, alerts: set[str]) -> str:
    """Why the scenario says nothing about the service (its rules have `alerts`), or "" when it applies."""
    if scenario.queues is not None and not service.queues:
        return "the service has no queues"
    if scenario.http is not None and not service.slos:
        return "the service has no SLOs"
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
