"""The `queues:` section of a backtest scenario: one job-queue workload, as data.

Every queue of the service sees the workload, rendered in its exporter's convention
from two scrape targets. Simulation and rendering are the queue rule tests' own
(`queue_scenarios.simulate` / `render`), so a backtest and a generated rule test
describe a queue the same way; this module only turns the YAML into that model's
per-minute inputs.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from gen.errors import Problem
from gen.spec.documents import Document
from gen.spec.model import Service
from gen.synth.queue_simulation import DOWN, HUNG, UP, Disturbance, Workload, render, rendered_series, simulate, targets
from gen.units import DURATION_PATTERN, PERCENT_PATTERN, format_duration, parse_duration, parse_percent

MINUTE = 60.0


def _dur(description: str) -> dict:
    return {"description": description, "type": "string", "pattern": DURATION_PATTERN, "format": "duration"}


def _share(description: str) -> dict:
    return {"description": description, "type": "string", "pattern": PERCENT_PATTERN, "format": "percent"}


def _windows(description: str) -> dict:
    return {"type": "array", "description": description,
            "items": {"type": "object", "additionalProperties": False, "required": ["at", "for"],
                      "properties": {"at": _dur("Start, from the beginning of the scenario."),
                                     "for": _dur("How long it lasts.")}}}


QUEUES_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["workers"],
    "description": "A job-queue workload, simulated minute by minute for every queue of the service and exported "
                   "in each queue's convention. Scenarios with it only run for services that have queues.",
    "properties": {
        "arrivals": {
            "type": "object", "additionalProperties": False, "description": "Jobs added to the queue (none "
                                                                        "when left out).",
            "properties": {
                "perMinute": {"type": "number", "minimum": 0, "default": 0,
                              "description": "Steady arrivals per minute (fractions accumulate)."},
                "noise": {"type": "integer", "minimum": 0, "default": 0,
                          "description": "Random jitter of each minute's arrivals, in jobs (deterministic). It "
                                         "does not accumulate: the backlog stays within this much of its level."},
                "idle": _windows("Spans with no arrivals at all (nights, weekends): steady arrivals, noise and "
                                 "batches pause."),
                "batches": {
                    "type": "array", "description": "Jobs enqueued at once: `at` once, or `every` from `offset`.",
                    "items": {"type": "object", "additionalProperties": False, "required": ["size"],
                              "properties": {"size": {"type": "integer", "minimum": 1, "description": "Jobs."},
                                             "at": _dur("When the one batch arrives."),
                                             "every": _dur("Time between repeated batches."),
                                             "offset": _dur("First repeated batch (default: at `every`).")}}},
            },
        },
        "workers": {
            "type": "object", "additionalProperties": False,
            "description": "The worker pool: `perMinute` (short jobs) or `jobDuration` (each of `concurrency` "
                           "workers finishes a job every jobDuration, staggered).",
            "properties": {
                "perMinute": {"type": "number", "exclusiveMinimum": 0,
                              "description": "Jobs the workers finish per minute while up and jobs wait."},
                "jobDuration": _dur("How long each job runs."),
                "concurrency": {"type": "integer", "minimum": 1, "default": 4,
                                "description": "Jobs running at once: the active count while jobs wait."},
                "down": _windows("Workers gone (crashed, scaled to zero, lost Redis): nothing is taken or "
                                 "finished, active reads 0."),
                "hung": _windows("Workers hold their jobs and finish none: active stays up."),
                "slowdowns": {"type": "array", "description": "Periods in which `perMinute` workers finish "
                                                              "fewer jobs (a slower dependency, fewer replicas).",
                              "items": {"type": "object", "additionalProperties": False,
                                        "required": ["at", "for", "by"],
                                        "properties": {"at": _dur("Start."), "for": _dur("How long it lasts."),
                                                       "by": _share("How much slower: 10% finishes 9 jobs "
                                                                    "where it finished 10.")}}},
                "restarts": _windows("A worker pod restarts: its workers stop for `for`, its /metrics has no "
                                     "samples meanwhile and its counters start again at 0. Restarts alternate "
                                     "between the two scrape targets."),
            },
        },
        "failures": {
            "type": "object", "additionalProperties": False, "description": "Jobs that fail for good.",
            "properties": {
                "share": {**_share("Share of finished jobs that fail, all along."), "default": "0%"},
                "storms": {"type": "array", "description": "Periods in which a larger share fails.",
                           "items": {"type": "object", "additionalProperties": False,
                                     "required": ["at", "for", "share"],
                                     "properties": {"at": _dur("Start."), "for": _dur("How long it lasts."),
                                                    "share": _share("Share of finished jobs that fail.")}}},
            },
        },
        "backlog": {"type": "integer", "minimum": 0, "default": 0, "description": "Jobs queued at the start."},
        "delayed": {"type": "integer", "minimum": 0, "default": 1,
                    "description": "Jobs in the delayed set all along (the next run of a repeatable job)."},
    },
}


@dataclass(frozen=True)
class Window:
    start: int  # minutes, inclusive
    end: int  # minutes, exclusive

    def __contains__(self, minute: int) -> bool:
        return self.start <= minute < self.end


@dataclass(frozen=True)
class Batch:
    size: int
    first: int  # minute
    every: int  # minutes; 0: once

    def arriving(self, minute: int) -> int:
        if minute < self.first:
            return 0
        due = minute == self.first if not self.every else (minute - self.first) % self.every == 0
        return self.size if due else 0


def _minutes(text: str) -> int:
    return int(parse_duration(text).seconds // MINUTE)


def _window(raw: dict) -> Window:
    start = _minutes(raw["at"])
    return Window(start, start + _minutes(raw["for"]))


def _spread(per_minute: float, minute: int) -> int:
    """Whole jobs in a minute at a fractional rate, so that they add up to the rate over time."""
    return math.floor((minute + 1) * per_minute + 1e-9) - math.floor(minute * per_minute + 1e-9)


@dataclass(frozen=True)
class QueueLoad:
    """A scenario's queue workload, every time in minutes."""

    per_minute: float
    noise: int
    batches: tuple[Batch, ...]
    idle: tuple[Window, ...]
    capacity: float  # jobs per minute; unused when job_minutes is set
    job_minutes: int
    concurrency: int
    down: tuple[Window, ...]
    hung: tuple[Window, ...]
    restarts: tuple[Window, ...]
    slowdowns: tuple[tuple[Window, float], ...]
    failure_share: float
    storms: tuple[tuple[Window, float], ...]
    backlog: int
    delayed: int

    @staticmethod
    def parse(raw: dict[str, Any]) -> "QueueLoad":
        arrivals, workers, failures = raw.get("arrivals", {}), raw["workers"], raw.get("failures", {})
        batches = tuple(
            Batch(b["size"], _minutes(b["at"]), 0) if "at" in b
            else Batch(b["size"], _minutes(b.get("offset", b["every"])), _minutes(b["every"]))
            for b in arrivals.get("batches", []))
        return QueueLoad(
            per_minute=float(arrivals.get("perMinute", 0)), noise=arrivals.get("noise", 0), batches=batches,
            idle=tuple(_window(w) for w in arrivals.get("idle", [])),
            capacity=float(workers.get("perMinute", 0)),
            job_minutes=_minutes(workers["jobDuration"]) if "jobDuration" in workers else 0,
            concurrency=workers.get("concurrency", 4),
            down=tuple(_window(w) for w in workers.get("down", [])),
            hung=tuple(_window(w) for w in workers.get("hung", [])),
            restarts=tuple(_window(w) for w in workers.get("restarts", [])),
            slowdowns=tuple((_window(w), parse_percent(w["by"]).value) for w in workers.get("slowdowns", [])),
            failure_share=parse_percent(failures.get("share", "0%")).value,
            storms=tuple((_window(s), parse_percent(s["share"]).value) for s in failures.get("storms", [])),
            backlog=raw.get("backlog", 0), delayed=raw.get("delayed", 1),
        )

    def _arrivals(self, minutes: int, seed: str) -> list[int]:
        rng = random.Random(seed)
        jitter = [rng.randint(-self.noise, self.noise) for _ in range(minutes + 1)]
        return [0 if any(m in w for w in self.idle) else
                max(0, _spread(self.per_minute, m) + jitter[m + 1] - jitter[m] + sum(b.arriving(m) for b in self.batches))
                for m in range(minutes)]

    def _capacity(self, minute: int) -> int:
        if not self.job_minutes:
            slower = next((by for window, by in self.slowdowns if minute in window), 0.0)
            return _spread(self.capacity * (1 - slower), minute)
        # Each worker finishes a job every job_minutes; workers started at evenly spread times.
        length = self.job_minutes
        return sum(1 for i in range(self.concurrency)
                   if (minute + round(i * length / self.concurrency)) % length == length - 1)

    def _state(self, minute: int) -> str:
        if any(minute in w for w in self.down + self.restarts):
            return DOWN
        return HUNG if any(minute in w for w in self.hung) else UP

    def _failure_share(self, minute: int) -> float:
        return next((share for window, share in self.storms if minute in window), self.failure_share)

    def workload(self, minutes: int, seed: str) -> Workload:
        arrivals = self._arrivals(minutes, seed)
        return Workload(minutes, arrivals.__getitem__, self._capacity, failure_share=self._failure_share,
                        workers=self._state, concurrency=self.concurrency, start_backlog=self.backlog,
                        delayed=self.delayed)

    def disturbance(self, minutes: int) -> Disturbance:
        gaps, resets = [], []
        for i, window in enumerate(self.restarts):
            target = i % 2
            if window.start < minutes:
                gaps.append((target, window.start, min(window.end, minutes) - window.start))
            if window.end < minutes:
                resets.append((target, window.end))
        return Disturbance(gaps=tuple(gaps), counter_resets=tuple(resets))


def queue_series(service: Service, load: QueueLoad, samples: int, step: float,
                 seed: str) -> list[tuple[str, list[float | None]]]:
    """Every queue's series for the workload, one sample per `step` (a whole number of minutes)."""
    every = int(step // MINUTE)
    minutes = (samples - 1) * every + 1
    timeline = simulate(load.workload(minutes, seed))
    out = []
    for queue in service.queues:
        where = targets(service, queue)
        rendered = render(timeline, queue, len(where), load.disturbance(minutes))
        out += [(selector, list(values[::every])) for selector, values in rendered_series(queue, rendered, where)]
    return out


# --- what the schema cannot say -------------------------------------------------------------------

def _whole_minutes(doc: Document, path: tuple, value: Any, duration: float | None) -> list[Problem]:
    if not isinstance(value, str):
        return []
    seconds = parse_duration(value).seconds
    if seconds % MINUTE:
        return [doc.problem(path, f"'{value}' is not a whole number of minutes",
                            "queues are simulated minute by minute")]
    if duration is not None and seconds >= duration:
        return [doc.problem(path, f"'{value}' is not within the scenario, which lasts "
                                  f"{format_duration(duration)}", "start it earlier or make the scenario longer")]
    return []


def check_queues(doc: Document) -> list[Problem]:
    """Problems in a valid-by-schema scenario's `queues:` section (and the `alerts:` it goes with)."""
    data = doc.data
    raw = data.get("queues")
    problems: list[Problem] = []
    if "alerts" in data and data["expect"] != "fire":
        problems.append(doc.problem(("alerts",), "only a `fire` scenario names the alerts meant to catch it",
                                    "a `quiet` scenario may raise no alert at all; remove `alerts`", key=True))
    if raw is None:
        return problems
    duration = parse_duration(data["duration"]).seconds
    step = data.get("step", "1m")
    if parse_duration(step).seconds % MINUTE:
        problems.append(doc.problem(("step",), f"'{step}' is not a whole number of minutes",
                                    "queues are simulated minute by minute; use 1m or 2m, ..."))
    q = ("queues",)
    for i, batch in enumerate(raw.get("arrivals", {}).get("batches", [])):
        path = q + ("arrivals", "batches", i)
        if ("at" in batch) == ("every" in batch):
            problems.append(doc.problem(path, "a batch needs either `at` (once) or `every` (repeated)",
                                        "write {size: 500, at: 2h} or {size: 500, every: 1h, offset: 10m}"))
        if "offset" in batch and "every" not in batch:
            problems.append(doc.problem(path + ("offset",), "`offset` only goes with `every`", key=True))
        for key in ("at", "offset"):
            problems += _whole_minutes(doc, path + (key,), batch.get(key), duration)
        problems += _whole_minutes(doc, path + ("every",), batch.get("every"), None)
    workers = raw["workers"]
    if ("perMinute" in workers) == ("jobDuration" in workers):
        problems.append(doc.problem(q + ("workers",), "workers need either `perMinute` or `jobDuration`",
                                    "perMinute: jobs finished per minute; jobDuration: how long each of "
                                    "`concurrency` workers spends on a job"))
    problems += _whole_minutes(doc, q + ("workers", "jobDuration"), workers.get("jobDuration"), None)
    windows = [(q + ("workers", kind, i), w) for kind in ("down", "hung", "restarts", "slowdowns")
               for i, w in enumerate(workers.get(kind, []))]
    windows += [(q + ("arrivals", "idle", i), w) for i, w in enumerate(raw.get("arrivals", {}).get("idle", []))]
    windows += [(q + ("failures", "storms", i), s) for i, s in enumerate(raw.get("failures", {}).get("storms", []))]
    for path, window in windows:
        problems += _whole_minutes(doc, path + ("at",), window["at"], duration)
        problems += _whole_minutes(doc, path + ("for",), window["for"], None)
    return problems
