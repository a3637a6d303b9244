"""HTTP traffic as a service's request histogram exports it, minute by minute, for proofs and the backtest.

A workload is a list of phases: so many requests a minute to the real route, a share of them failed
and a share slower than the latency thresholds, another route that is slow, and health-check pings
beside them. It is rendered in the service's convention (histogram name, route, method and status
labels) as the cumulative `_count` and `_bucket{le=...}` series one pod of an Express app exports: a
status code's series appears with its first request, as prom-client creates it then.

The `http:` section of a backtest scenario (HTTP_SCHEMA) describes the same in YAML; `HttpLoad`
turns it into the minute-by-minute phases.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from gen.domains.http import le_matcher
from gen.spec.model import Service, Slo
from gen.synth.example_pods import example_pods
from gen.units import DURATION_PATTERN, PERCENT_PATTERN, parse_duration, parse_percent

REAL_ROUTE, REAL_METHOD = "/api/submissions", "POST"
SLOW_ROUTE = "/api/reports/export"
OK, FAILED, UNAVAILABLE = "200", "500", "503"


@dataclass(frozen=True)
class Phase:
    minutes: int
    requests: float  # per minute, to the SLO's route (or REAL_ROUTE)
    failed: float = 0.0  # share of those requests that fail (status 500)
    slow: float = 0.0  # share of those requests slower than every latency threshold
    pings: float = 6.0  # health checks per minute, excluded from everything but their own panel
    pings_failed: float = 0.0  # share of health checks answered 503
    slow_route: float = 0.0  # requests per minute to another route, every one slower than the thresholds


@dataclass(frozen=True)
class Traffic:
    phases: tuple[Phase, ...]

    @property
    def minutes(self) -> int:
        return sum(p.minutes for p in self.phases)

    def per_minute(self) -> list[Phase]:
        return [p for p in self.phases for _ in range(p.minutes)]


def _cumulative(values: list[float], seen: list[bool]) -> list[float | None]:
    out: list[float | None] = []
    total = 0.0
    for v, present in zip(values, seen):
        total += v
        out.append(round(total, 9) if present else None)
    return out


def thresholds(service: Service, slo: Slo | None = None) -> tuple[float, ...]:
    """The latency thresholds whose buckets the rules read: the SLO's, or every latency SLO's of the service."""
    slos = (slo,) if slo is not None else service.slos
    return tuple(sorted({s.threshold.seconds for s in slos if s.sli == "latency" and s.threshold is not None}))


def series(service: Service, slo: Slo | None, traffic: Traffic) -> list[tuple[str, list[float | None]]]:
    """(series selector, one sample a minute) of the histogram's `_count` and its buckets at the latency
    thresholds (gen.domains.http.le_matcher's first form, as prom-client writes it)."""
    assert service.http is not None
    conv = service.http.convention
    pod = example_pods(service)[0]
    route = slo.route if slo is not None and slo.route else REAL_ROUTE
    method = slo.method if slo is not None and slo.method else REAL_METHOD
    minutes = traffic.per_minute()
    ping = service.http.exclude_routes[0] if service.http.exclude_routes else ""
    bounds = [le_matcher(t).value.split("|")[0] for t in thresholds(service, slo)]
    out: list[tuple[str, list[float | None]]] = []

    def add(path: str, verb: str, status: str, counts: list[float], fast: list[float]) -> None:
        if not any(counts):
            return
        # prom-client creates a label set's series with its first observation, every bucket at once.
        seen, first = [], False
        for c in counts:
            first = first or c > 0
            seen.append(first)
        labels = {conv.route_label: path, conv.method_label: verb, conv.status_label: status}
        out.append((pod.app(conv.count, **labels), _cumulative(counts, seen)))
        for le in bounds:
            out.append((pod.app(conv.bucket, **labels, le=le), _cumulative(fast, seen)))

    ok = [p.requests * (1 - p.failed) for p in minutes]
    failed = [p.requests * p.failed for p in minutes]
    add(route, method, OK, ok, [n * (1 - p.slow) for n, p in zip(ok, minutes)])
    add(route, method, FAILED, failed, [n * (1 - p.slow) for n, p in zip(failed, minutes)])
    add(SLOW_ROUTE, "GET", OK, [p.slow_route for p in minutes], [0.0] * len(minutes))
    if ping:
        pings_ok = [p.pings * (1 - p.pings_failed) for p in minutes]
        pings_failed = [p.pings * p.pings_failed for p in minutes]
        add(ping, "GET", OK, pings_ok, pings_ok)
        add(ping, "GET", UNAVAILABLE, pings_failed, pings_failed)
    return out


# ---- the `http:` section of a backtest scenario ----

def _dur(description: str) -> dict:
    return {"description": description, "type": "string", "pattern": DURATION_PATTERN, "format": "duration"}


def _share(description: str) -> dict:
    return {"description": description, "type": "string", "pattern": PERCENT_PATTERN, "format": "percent"}


_RATE = {"type": "number", "minimum": 0}

HTTP_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "description": "HTTP traffic to one pod of the service, exported in its `spec.http` convention. Scenarios "
                   "with it only run for services that have SLOs.",
    "properties": {
        "perSecond": {**_RATE, "default": 1.1, "description": "Requests per second to the real route (the "
                                                              "seed article's 1.1 by default)."},
        "pings": {**_RATE, "default": 0.2, "description": "Health checks per second (to the first excluded "
                                                          "route)."},
        "failed": {**_share("Share of requests that fail with a 500, all along."), "default": "0%"},
        "slow": {**_share("Share of requests slower than the latency thresholds, all along."), "default": "0%"},
        "nights": {"type": "object", "additionalProperties": False, "required": ["from", "to", "perSecond"],
                   "description": "Every day from `from` to `to` (times of day), real traffic drops to this.",
                   "properties": {"from": {**_dur("Start of the night (0s: midnight)."), "format": "duration-or-zero"}, "to": _dur("End of the night."),
                                  "perSecond": {**_RATE, "description": "Requests per second at night."}}},
        "incidents": {
            "type": "array", "description": "Spans when more requests fail or are slow, or health checks flood.",
            "items": {"type": "object", "additionalProperties": False, "required": ["at", "for"],
                      "properties": {"at": _dur("Start, from the beginning of the scenario."),
                                     "for": _dur("How long it lasts."),
                                     "failed": _share("Share of requests failing meanwhile."),
                                     "slow": _share("Share of requests slow meanwhile."),
                                     "pings": {**_RATE, "description": "Health checks per second meanwhile."},
                                     "pingsFailed": _share("Share of health checks answered 503 meanwhile."),
                                     "slowRoute": {**_RATE, "description": "Requests per second to another "
                                                   "route, every one slower than the thresholds, meanwhile."}}},
        },
    },
}


def _minutes(text: str) -> int:
    return int(parse_duration(text).seconds // 60)


@dataclass(frozen=True)
class HttpLoad:
    raw: dict

    @staticmethod
    def parse(raw: dict[str, Any]) -> "HttpLoad":
        return HttpLoad(raw)

    @property
    def problem_start(self) -> float:
        """When the first incident begins (seconds; 0 without incidents)."""
        starts = [parse_duration(i["at"]).seconds for i in self.raw.get("incidents", [])]
        return min(starts) if starts else 0.0

    def traffic(self, minutes: int) -> Traffic:
        raw = self.raw
        base = Phase(1, 60 * raw.get("perSecond", 1.1), parse_percent(raw.get("failed", "0%")).value,
                     parse_percent(raw.get("slow", "0%")).value, 60 * raw.get("pings", 0.2))
        night = raw.get("nights")
        out = []
        for m in range(minutes):
            phase = base
            if night is not None:
                of_day = m % (24 * 60)
                start, end = _minutes(night["from"]), _minutes(night["to"])
                if (start <= of_day < end) if start <= end else (of_day >= start or of_day < end):
                    phase = replace(phase, requests=60 * night["perSecond"])
            for incident in raw.get("incidents", []):
                begin = _minutes(incident["at"])
                if begin <= m < begin + _minutes(incident["for"]):
                    changes: dict[str, float] = {}
                    for key, field in (("failed", "failed"), ("slow", "slow"), ("pingsFailed", "pings_failed")):
                        if key in incident:
                            changes[field] = parse_percent(incident[key]).value
                    if "pings" in incident:
                        changes["pings"] = 60 * incident["pings"]
                    if "slowRoute" in incident:
                        changes["slow_route"] = 60 * incident["slowRoute"]
                    phase = replace(phase, **changes)
            out.append(phase)
        return Traffic(tuple(out))


def http_series(service: Service, load: HttpLoad, samples: int, step: float) -> dict[str, list[float | None]]:
    """The scenario's HTTP series at its sample step (the traffic is simulated minute by minute)."""
    per_step = max(1, int(step // 60))
    minutes = (samples - 1) * per_step + 1
    return {selector: values[::per_step] for selector, values in series(service, None, load.traffic(minutes))}
