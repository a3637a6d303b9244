"""HTTP traffic as a service's request histogram exports it, minute by minute, for proofs and the backtest.

A workload is a list of phases: so many requests a minute to the real routes, a share of them bad
(failed for an availability SLO, slower than the threshold for a latency one), and health-check
pings beside them. It is rendered in the service's convention (histogram name, route, method and
status labels) as the cumulative `_count` and `_bucket{le=...}` series one pod of an Express app
exports: a status code's series appears with its first request, as prom-client creates it then.
"""
from __future__ import annotations

from dataclasses import dataclass

from gen.domains.http import le_matcher
from gen.spec.model import Service, Slo
from gen.synth.example_pods import example_pods

REAL_ROUTE, REAL_METHOD = "/api/submissions", "POST"
SLOW_ROUTE = "/api/reports"
OK, FAILED = "200", "500"


@dataclass(frozen=True)
class Phase:
    minutes: int
    requests: float  # per minute, to the SLO's route (or REAL_ROUTE)
    bad: float = 0.0  # share of those requests that are bad
    pings: float = 6.0  # health checks per minute, excluded from everything but their own panel
    slow_route: float = 0.0  # requests per minute to another route, every one slower than the threshold


@dataclass(frozen=True)
class Traffic:
    phases: tuple[Phase, ...]

    @property
    def minutes(self) -> int:
        return sum(p.minutes for p in self.phases)

    def per_minute(self) -> list[Phase]:
        return [p for p in self.phases for _ in range(p.minutes)]


def _route(service: Service, slo: Slo | None) -> tuple[str, str]:
    return ((slo.route if slo and slo.route else REAL_ROUTE), (slo.method if slo and slo.method else REAL_METHOD))


def _cumulative(values: list[float], appears_with_first: bool) -> list[float | None]:
    out: list[float | None] = []
    total, seen = 0.0, not appears_with_first
    for v in values:
        total += v
        seen = seen or v > 0
        out.append(round(total, 9) if seen else None)
    return out


def series(service: Service, slo: Slo | None, traffic: Traffic, sli: str = "availability",
           threshold: float | None = None) -> list[tuple[str, list[float | None]]]:
    """(series selector, one sample a minute) of the histogram's `_count` and, for a latency SLI, its bucket at
    the threshold; `sli` and `threshold` default to the SLO's."""
    assert service.http is not None
    conv = service.http.convention
    sli = slo.sli if slo is not None else sli
    if slo is not None and slo.threshold is not None:
        threshold = slo.threshold.seconds
    pod = example_pods(service)[0]
    route, method = _route(service, slo)
    minutes = traffic.per_minute()
    ping = service.http.exclude_routes[0] if service.http.exclude_routes else ""
    le = le_matcher(threshold).value.split("|")[0] if threshold is not None else ""

    def labels(path: str, verb: str, status: str) -> dict[str, str]:
        return {conv.route_label: path, conv.method_label: verb, conv.status_label: status}

    out: list[tuple[str, list[float | None]]] = []

    def add(path: str, verb: str, status: str, counts: list[float], fast: list[float]) -> None:
        if not any(counts):
            return
        out.append((pod.app(conv.count, **labels(path, verb, status)), _cumulative(counts, True)))
        if le:
            seen = _cumulative(counts, True)
            buckets = _cumulative(fast, False)
            out.append((pod.app(conv.bucket, **labels(path, verb, status), le=le),
                        [b if s is not None else None for b, s in zip(buckets, seen)]))

    bad = [p.requests * p.bad for p in minutes]
    good = [p.requests - b for p, b in zip(minutes, bad)]
    if sli == "latency":
        add(route, method, OK, [p.requests for p in minutes], good)
    else:
        add(route, method, OK, good, good)
        add(route, method, FAILED, bad, bad)
    add(SLOW_ROUTE, "GET", OK, [p.slow_route for p in minutes], [0.0] * len(minutes))
    if ping:
        pings = [p.pings for p in minutes]
        add(ping, "GET", OK, pings, pings)
    return out
