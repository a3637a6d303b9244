"""Waiting for things to happen in the live Prometheus, with deadlines and informative failures."""
from __future__ import annotations

import time
from typing import Callable, TypeVar

from gen.tools.prometheus_api import Prometheus

T = TypeVar("T")
NEVER_EVALUATED = "0001-01-01T00:00:00Z"


def poll(observe: Callable[[], T], done: Callable[[T], bool], *, timeout: float, interval: float = 1.0) -> T:
    """Observe until `done(observation)` or the deadline; returns the last observation either way,
    so that the caller's assertion shows what was seen."""
    deadline = time.monotonic() + timeout
    while True:
        seen = observe()
        if done(seen) or time.monotonic() >= deadline:
            return seen
        time.sleep(interval)


def all_rules(groups: list[dict]) -> list[tuple[str, dict]]:
    return [(group["name"], rule) for group in groups for rule in group["rules"]]


def every_rule_evaluated(groups: list[dict]) -> bool:
    rules = all_rules(groups)
    return bool(rules) and all(not rule.get("lastEvaluation", NEVER_EVALUATED).startswith("0001-")
                               for _, rule in rules)


def alerts_now(prometheus: Prometheus, name: str | None = None, state: str | None = None,
               **labels: str) -> list[dict]:
    """Active alerts (pending or firing) whose labels include `labels`."""
    out = []
    for alert in prometheus.alerts():
        if name and alert["labels"].get("alertname") != name:
            continue
        if state and alert["state"] != state:
            continue
        if all(alert["labels"].get(k) == v for k, v in labels.items()):
            out.append(alert)
    return out


def wait_for_alert(prometheus: Prometheus, name: str, *, timeout: float, state: str = "firing",
                   **labels: str) -> list[dict]:
    """The alerts named `name` with `labels` once one is in `state`; [] if none got there in time."""
    seen = poll(lambda: alerts_now(prometheus, name, state, **labels), bool, timeout=timeout)
    return seen


def alerts_fired_since(prometheus: Prometheus, since: float) -> list[dict]:
    """Label sets of every alert that was firing at any evaluation since `since` (Unix seconds),
    from the ALERTS series Prometheus writes at each evaluation."""
    seconds = max(1, int(time.time() - since) + 1)
    return [series["metric"] for series in
            prometheus.query(f'max_over_time(ALERTS{{alertstate="firing"}}[{seconds}s])')]
