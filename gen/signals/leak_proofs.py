"""Generated promtool proofs for the Leak watch alerts.

Firing cases use clean shapes (a straight leak, no noise), so the expected
`$value` follows from the scenario by arithmetic: a leak of r per day grows the
floor by exactly r per period, and by r/24 per hour. Silent cases use realistic
shapes from the scenario generator: GC sawtooth with jitter, daily deploys with
cache warm-up, spikes and a daily traffic cycle, all checked for days.
"""
from __future__ import annotations

from ..alerting import TEST_EVALUATION_INTERVAL, fires_many, rule_test, silent
from ..model import Service
from ..scenario import generate, pods_for, scenario_from_dict
from ..series import notation
from ..signal import AlertCheck, AlertRule, RuleTest
from ..testbed import ExamplePod
from ..units import format_duration, parse_duration

MI = 2**20
CLEAN = {"sawtooth": {"height": 0, "period": "5m"}, "noise": 0}
STEADY_MEMORY = {"oldSpace": {**CLEAN, "base": "90Mi"}, "heapUsed": {**CLEAN, "base": "120Mi"},
                 "workingSet": {**CLEAN, "base": "360Mi"}}
TREND_ALERTS = ("NodejsHeapLeak", "NodejsHeapLeakWithinProcess", "PodMemoryLeak", "PodMemoryLeakWithinPod",
                "PodMemoryExhaustionForecast", "PodCpuUsageRising")


def _limit(service: Service) -> float:
    return service.resources.memory_limit.value if service.resources.memory_limit else 4 * 2**30


def _series(service: Service, scenario: dict, interval: str) -> tuple[list[tuple[str, str]], ExamplePod]:
    scn = scenario_from_dict({"description": "", "expect": "quiet", "step": interval, "pods": 1, **scenario})
    limit = None if service.resources.memory_limit else _limit(service)
    generated = generate(service, scn, limit)
    pod = pods_for(service, scn)[(0, 0)]
    return [(g.selector, notation(g.values)) for g in generated], pod


def _memory(**overrides: dict) -> dict:
    return {key: {**STEADY_MEMORY[key], **overrides.get(key, {})} for key in STEADY_MEMORY}


def _heap_labels(pod: ExamplePod, signal: str) -> dict[str, str]:
    labels = pod.app_labels()
    if signal == "old_space":
        labels["space"] = "old"
    return {**labels, "signal": signal}


def _after(seconds: float, extra: str = "0s") -> str:
    return format_duration(seconds + parse_duration(extra).seconds)


def _aligned(seconds: float) -> float:
    """The next evaluation at or after `seconds`: expected values are those of that evaluation."""
    step = TEST_EVALUATION_INTERVAL.seconds
    return -(-seconds // step) * step


def _enabled(alerts: list[AlertRule]) -> set[str]:
    return {a.name for a in alerts}


def leak_proofs(service: Service, alerts: list[AlertRule]) -> tuple[RuleTest, ...]:
    enabled = _enabled(alerts)
    settings = service.alerts
    w = service.leak
    tests: list[RuleTest] = []
    across_needed = 2 * w.period.seconds + w.average.seconds + w.floor_window.seconds

    def fire_at(needed: float, for_: float) -> str:
        return format_duration(_aligned(needed + for_ + 1200))

    if "NodejsHeapLeak" in enabled:
        per_day = 12 * MI
        at = fire_at(across_needed, settings["heapLeak"].for_.seconds)
        series, pod = _series(service, {"name": "heap-leak-across-days", "duration": at,
                                        "memory": _memory(oldSpace={"leakPerDay": per_day},
                                                          heapUsed={"leakPerDay": per_day})}, "5m")
        tests.append(rule_test(
            f"heap floor growing {per_day // MI}Mi a day for days fires NodejsHeapLeak", "5m", series,
            silent("NodejsHeapLeak", _after(across_needed - 3600)),
            fires_many("NodejsHeapLeak", at, [(_heap_labels(pod, "old_space"), per_day * w.period.seconds / 86400),
                                              (_heap_labels(pod, "heap_used"), per_day * w.period.seconds / 86400)])))
    if "NodejsHeapLeakWithinProcess" in enabled:
        s = settings["heapLeakWithinProcess"]
        needed = s.param("window").seconds + s.param("warmup").seconds + w.floor_window.seconds
        at = fire_at(needed, s.for_.seconds)
        per_day = 36 * MI  # 1.5Mi an hour
        series, pod = _series(service, {"name": "heap-leak-within-process", "duration": at,
                                        "memory": _memory(oldSpace={"leakPerDay": per_day},
                                                          heapUsed={"leakPerDay": per_day})}, "1m")
        tests.append(rule_test(
            "heap floor rising steadily through a process' life fires NodejsHeapLeakWithinProcess", "1m", series,
            silent("NodejsHeapLeakWithinProcess", _after(needed - 3600)),
            fires_many("NodejsHeapLeakWithinProcess", at, [(_heap_labels(pod, "old_space"), per_day / 24),
                                                           (_heap_labels(pod, "heap_used"), per_day / 24)])))
    if "PodMemoryLeak" in enabled:
        per_day = 16 * MI
        at = fire_at(across_needed, settings["memoryLeak"].for_.seconds)
        series, pod = _series(service, {"name": "memory-leak-across-days", "duration": at,
                                        "memory": _memory(workingSet={"leakPerDay": per_day})}, "5m")
        tests.append(rule_test(
            f"working-set floor growing {per_day // MI}Mi a day for days fires PodMemoryLeak", "5m", series,
            fires_many("PodMemoryLeak", at, [(pod.container_labels(), per_day * w.period.seconds / 86400)])))
    if "PodMemoryLeakWithinPod" in enabled:
        s = settings["memoryLeakWithinPod"]
        needed = s.param("window").seconds + s.param("warmup").seconds + w.floor_window.seconds
        at = fire_at(needed, s.for_.seconds)
        per_day = 48 * MI
        series, pod = _series(service, {"name": "memory-leak-within-pod", "duration": at,
                                        "memory": _memory(workingSet={"leakPerDay": per_day})}, "1m")
        tests.append(rule_test(
            "working-set floor rising steadily through a pod's life fires PodMemoryLeakWithinPod", "1m", series,
            fires_many("PodMemoryLeakWithinPod", at, [(pod.container_labels(), per_day / 24)])))
    if "PodMemoryExhaustionForecast" in enabled:
        tests.append(_exhaustion_proof(service))
    if "PodCpuUsageRising" in enabled:
        at = fire_at(3 * w.period.seconds, settings["cpuTrend"].for_.seconds)
        series, pod = _series(service, {"name": "cpu-rising", "duration": at, "memory": _memory(),
                                        "cpu": {"base": 0.04, "factorPerDay": 1.2, "daily": 0}}, "1m")
        labels = {"namespace": service.namespace, "container": service.container, "service": service.name}
        tests.append(rule_test(
            "CPU compounding 20% a day fires PodCpuUsageRising", "1m", series,
            silent("PodCpuUsageRising", _after(2 * w.period.seconds)),
            fires_many("PodCpuUsageRising", at, [(labels, 0.2)])))
    tests.extend(_quiet_proofs(service, enabled))
    return tuple(tests)


def _exhaustion_proof(service: Service) -> RuleTest:
    s = service.alerts["memoryExhaustion"]
    w = service.leak
    needed = s.param("window").seconds + s.param("warmup").seconds + w.floor_window.seconds
    at = _aligned(needed + s.for_.seconds + 1200)
    per_hour = 100 * MI
    # Chosen so that the limit is a whole horizon minus 90 minutes (and half a second) away at `at`:
    # humanizeDuration truncates seconds, and the half second keeps float noise off the boundary.
    time_to_limit = s.param("horizon").seconds - 5400.5
    base = _limit(service) - per_hour / 3600 * (at + time_to_limit)
    series, pod = _series(service, {"name": "memory-exhaustion", "duration": format_duration(at),
                                    "memory": _memory(workingSet={"base": base, "leakPerDay": per_hour * 24})},
                          "1m")
    return rule_test(
        "working set climbing towards the limit fires PodMemoryExhaustionForecast hours ahead", "1m", series,
        silent("PodMemoryExhaustionForecast", format_duration(needed - 3600)),
        fires_many("PodMemoryExhaustionForecast", format_duration(at), [(pod.container_labels(), time_to_limit)]))


QUIET_SCENARIOS = (
    ("GC sawtooth of a healthy service stays silent", {
        "name": "quiet-sawtooth", "pods": 2,
        "memory": {"oldSpace": {"sawtooth": {"height": "25Mi", "period": "35m"}, "noise": "1Mi"},
                   "heapUsed": {"sawtooth": {"height": "60Mi", "period": "10m"}, "noise": "2Mi"},
                   "workingSet": {"sawtooth": {"height": "80Mi", "period": "10m"}, "noise": "4Mi"}}}),
    ("daily deploys with cache warm-up stay silent", {
        "name": "quiet-deploys", "pods": 2, "restarts": {"every": "1d", "offset": "9h"},
        "memory": {key: {"warmup": {"for": "50m", "size": size}} for key, size in
                   (("oldSpace", "30Mi"), ("heapUsed", "40Mi"), ("workingSet", "90Mi"))}}),
    ("memory spikes of up to 40 minutes stay silent", {
        "name": "quiet-spikes", "pods": 2,
        "memory": {key: {"spikes": [{"at": at, "for": "40m", "size": size} for at in ("20h", "45h", "70h")]}
                   for key, size in (("oldSpace", "60Mi"), ("heapUsed", "150Mi"), ("workingSet", "400Mi"))}}),
    ("a daily traffic cycle stays silent", {
        "name": "quiet-daily-cycle", "pods": 2, "cpu": {"daily": 0.02},
        "memory": {"oldSpace": {"daily": "9Mi"}, "heapUsed": {"daily": "18Mi"}, "workingSet": {"daily": "54Mi"}}}),
)


def _quiet_proofs(service: Service, enabled: set[str]) -> list[RuleTest]:
    w = service.leak
    duration = 3 * w.period.seconds + 6 * 3600
    checked = [a for a in TREND_ALERTS if a in enabled]
    if not checked:
        return []
    times = [format_duration(t) for t in range(4 * 3600, int(duration) + 1, 4 * 3600)]
    out = []
    for title, scenario in QUIET_SCENARIOS:
        series, _ = _series(service, {**scenario, "duration": format_duration(duration)}, "5m")
        checks: list[AlertCheck] = []
        for alert in checked:
            checks.extend(silent(alert, *times))
        out.append(rule_test(title, "5m", series, *checks))
    return out
