"""Generated promtool proofs for the Leak watch alerts.

Firing cases use clean shapes (a straight leak, no noise), so the expected
`$value` follows from the scenario by arithmetic: a leak of r per day grows the
floor by exactly r per period, and by r/24 per hour. Silent cases use realistic
shapes from the scenario generator: GC sawtooth with jitter, daily deploys with
cache warm-up, spikes and a daily traffic cycle, all checked for days.
"""
from __future__ import annotations

from gen.domains.alerts import (NODEJS_HEAP_LEAK, NODEJS_HEAP_LEAK_WITHIN_PROCESS, POD_CPU_USAGE_RISING,
    POD_MEMORY_EXHAUSTION_FORECAST, POD_MEMORY_LEAK, POD_MEMORY_LEAK_WITHIN_POD, Alert)
from gen.domains.leak import trend_windows
from gen.proofs.rule_tests import TEST_EVALUATION_INTERVAL, ProofSet, fires_many, rule_test, silent
from gen.spec.model import Service
from gen.synth.scenario import example_pods_many, generate, pods_for, scenario_from_dict
from gen.synth.notation import notation
from gen.ir import AlertCheck, RuleTest
from gen.synth.example_pods import ExamplePod
from gen.units import format_duration, parse_duration

MI = 2**20
CLEAN = {"sawtooth": {"height": 0, "period": "5m"}, "noise": 0}
STEADY_MEMORY = {"oldSpace": {**CLEAN, "base": "90Mi"}, "heapUsed": {**CLEAN, "base": "120Mi"},
                 "workingSet": {**CLEAN, "base": "360Mi"}}
TREND_ALERTS = (NODEJS_HEAP_LEAK, NODEJS_HEAP_LEAK_WITHIN_PROCESS, POD_MEMORY_LEAK, POD_MEMORY_LEAK_WITHIN_POD,
                POD_MEMORY_EXHAUSTION_FORECAST, POD_CPU_USAGE_RISING)


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


def proofs(service: Service, generated: frozenset[str]) -> ProofSet:
    enabled = {a for a in TREND_ALERTS if a.name in generated}
    tests: list[RuleTest] = []
    across = _across_days_proof(service, enabled)
    if across:
        tests.append(across)
    within = ((NODEJS_HEAP_LEAK_WITHIN_PROCESS, "heap"), (POD_MEMORY_LEAK_WITHIN_POD, "workingSet"))
    tests += [_within_lifetime_proof(service, alert, kind) for alert, kind in within if alert in enabled]
    if POD_MEMORY_EXHAUSTION_FORECAST in enabled:
        tests += [_exhaustion_proof(service), _fast_exhaustion_proof(service)]
    tests.extend(_quiet_proofs(service, enabled))
    return ProofSet(tuple(tests))


def _fire_at(needed: float, for_: float) -> str:
    """A check time safely after the guard opens and `for` has passed, on an evaluation."""
    return format_duration(_aligned(needed + for_ + 1200))


def _across_days_proof(service: Service, enabled: set[Alert]) -> RuleTest | None:
    """One pod whose heap, working set and CPU all grow for days; each across-days alert is checked
    when its own guard has opened. (One test: promtool spends its time evaluating days of rules.)"""
    w, settings = service.leak, service.alerts
    needed = trend_windows(service).history + w.floor_window.seconds
    heap_per_day, ws_per_day, cpu_factor = 12 * MI, 16 * MI, 1.2
    pod = example_pods_many(service, 1)[0]  # the scenario's only pod
    checks: list[AlertCheck] = []
    if NODEJS_HEAP_LEAK in enabled:
        growth = heap_per_day * w.period.seconds / 86400
        checks += [*silent(NODEJS_HEAP_LEAK, _after(needed - 3600)),
                   fires_many(NODEJS_HEAP_LEAK, _fire_at(needed, settings[NODEJS_HEAP_LEAK.setting].for_.seconds),
                              [(_heap_labels(pod, "old_space"), growth), (_heap_labels(pod, "heap_used"), growth)])]
    if POD_MEMORY_LEAK in enabled:
        checks.append(fires_many(POD_MEMORY_LEAK, _fire_at(needed, settings[POD_MEMORY_LEAK.setting].for_.seconds),
                                 [(pod.container_labels(), ws_per_day * w.period.seconds / 86400)]))
    if POD_CPU_USAGE_RISING in enabled:
        labels = {"namespace": service.namespace, "container": service.container, "service": service.name}
        checks += [*silent(POD_CPU_USAGE_RISING, _after(2 * w.period.seconds)),
                   fires_many(POD_CPU_USAGE_RISING, _fire_at(trend_windows(service).history, settings[POD_CPU_USAGE_RISING.setting].for_.seconds),
                              [(labels, cpu_factor ** (w.period.seconds / 86400) - 1)])]
    if not checks:
        return None
    # CPU needs samples closer than the 5m rate window; 2m keeps every evaluation on a sample.
    series, _ = _series(service, {
        "name": "growth-across-days", "duration": format_duration(max(c.at.seconds for c in checks)),
        "memory": _memory(oldSpace={"leakPerDay": heap_per_day}, heapUsed={"leakPerDay": heap_per_day},
                          workingSet={"leakPerDay": ws_per_day}),
        "cpu": {"base": 0.04, "factorPerDay": cpu_factor, "daily": 0}}, "2m")
    return rule_test(f"heap ({heap_per_day // MI}Mi a day), working set ({ws_per_day // MI}Mi a day) and CPU "
                     f"({round((cpu_factor - 1) * 100)}% a day) growing for days fire the across-days alerts",
                     "2m", series, *checks)


def _within_lifetime_proof(service: Service, alert: Alert, kind: str) -> RuleTest:
    s, w = service.alerts[alert.setting], service.leak
    needed = s.param("window").seconds + s.param("warmup").seconds + w.floor_window.seconds
    at = _fire_at(needed, s.for_.seconds)
    if kind == "heap":
        per_day = 36 * MI  # 1.5Mi an hour
        memory = _memory(oldSpace={"leakPerDay": per_day}, heapUsed={"leakPerDay": per_day})
    else:
        per_day = 48 * MI  # 2Mi an hour
        memory = _memory(workingSet={"leakPerDay": per_day})
    series, pod = _series(service, {"name": f"leak-within-{kind}", "duration": at, "memory": memory}, "1m")
    expected = ([(_heap_labels(pod, "old_space"), per_day / 24), (_heap_labels(pod, "heap_used"), per_day / 24)]
                if kind == "heap" else [(pod.container_labels(), per_day / 24)])
    return rule_test(f"{'heap' if kind == 'heap' else 'working-set'} floor rising steadily through a "
                     f"{'process' if kind == 'heap' else 'pod'}'s life fires {alert.name}", "1m", series,
                     silent(alert, _after(needed - 3600)), fires_many(alert, at, expected))


def _exhaustion_proof(service: Service) -> RuleTest:
    s = service.alerts[POD_MEMORY_EXHAUSTION_FORECAST.setting]
    w = service.leak
    needed = s.param("window").seconds + s.param("warmup").seconds + w.floor_window.seconds
    at = _aligned(needed + s.for_.seconds + 1200)
    # Chosen so that the limit is a whole horizon minus 90 minutes (and half a second) away at `at`:
    # humanizeDuration truncates seconds, and the half second keeps float noise off the boundary.
    time_to_limit = s.param("horizon").seconds - 5400.5
    # The pod starts at 40% of its limit and would reach it after `at + time_to_limit`.
    per_hour = 0.6 * _limit(service) / (at + time_to_limit) * 3600
    base = _limit(service) - per_hour / 3600 * (at + time_to_limit)
    series, pod = _series(service, {"name": "memory-exhaustion", "duration": format_duration(at),
                                    "memory": _memory(workingSet={"base": base, "leakPerDay": per_hour * 24})},
                          "1m")
    return rule_test(
        f"working set climbing towards the limit fires {POD_MEMORY_EXHAUSTION_FORECAST.name} hours ahead", "1m", series,
        silent(POD_MEMORY_EXHAUSTION_FORECAST, format_duration(needed - 3600)),
        fires_many(POD_MEMORY_EXHAUSTION_FORECAST, format_duration(at), [(pod.container_labels(), time_to_limit)]))


def _fast_exhaustion_proof(service: Service) -> RuleTest:
    """A pod that has been up for a day starts leaking fast: the short forecast must page within hours."""
    s, w = service.alerts[POD_MEMORY_EXHAUSTION_FORECAST.setting], service.leak
    onset = 2 * 3600
    # The short fit needs its window of floors, each a floor window after the onset.
    at = _aligned(onset + s.param("fastWindow").seconds + w.floor_window.seconds + s.for_.seconds + 1200)
    time_to_limit = s.param("fastHorizon").seconds - 3600.5  # off the seconds boundary, as above
    per_hour = 0.6 * _limit(service) / (at - onset + time_to_limit) * 3600
    base = _limit(service) - per_hour / 3600 * (at - onset + time_to_limit)
    series, pod = _series(service, {"name": "memory-exhaustion-fast", "duration": format_duration(at),
                                    "initialAge": "1d",
                                    "memory": _memory(workingSet={"base": base, "leakPerDay": per_hour * 24,
                                                                  "leakFrom": format_duration(onset)})}, "1m")
    return rule_test(
        f"a pod that starts leaking fast after a day fires {POD_MEMORY_EXHAUSTION_FORECAST.name} within hours", "1m", series,
        silent(POD_MEMORY_EXHAUSTION_FORECAST, format_duration(onset + 3600)),
        fires_many(POD_MEMORY_EXHAUSTION_FORECAST, format_duration(at), [(pod.container_labels(), time_to_limit)]))


QUIET_SCENARIOS = (
    ("GC sawtooth with jitter", {
        "name": "quiet-sawtooth",
        "memory": {"oldSpace": {"sawtooth": {"height": "25Mi", "period": "35m"}, "noise": "1Mi"},
                   "heapUsed": {"sawtooth": {"height": "60Mi", "period": "10m"}, "noise": "2Mi"},
                   "workingSet": {"sawtooth": {"height": "80Mi", "period": "10m"}, "noise": "4Mi"}}}),
    ("daily deploys with cache warm-up", {
        "name": "quiet-deploys", "restarts": {"every": "1d", "offset": "9h"},
        "memory": {key: {"warmup": {"for": "50m", "size": size}} for key, size in
                   (("oldSpace", "30Mi"), ("heapUsed", "40Mi"), ("workingSet", "90Mi"))}}),
    ("memory spikes of up to 40 minutes", {
        "name": "quiet-spikes",
        "memory": {key: {"spikes": [{"at": at, "for": "40m", "size": size} for at in ("20h", "45h", "70h")]}
                   for key, size in (("oldSpace", "60Mi"), ("heapUsed", "150Mi"), ("workingSet", "400Mi"))}}),
    ("a daily traffic cycle", {
        "name": "quiet-daily-cycle", "cpu": {"daily": 0.02},
        "memory": {"oldSpace": {"daily": "9Mi"}, "heapUsed": {"daily": "18Mi"}, "workingSet": {"daily": "54Mi"}}}),
)


def _quiet_proofs(service: Service, enabled: set[Alert]) -> list[RuleTest]:
    """One test, one pod per shape: every trend alert stays silent for days on each of them."""
    w = service.leak
    duration = 3 * w.period.seconds + 6 * 3600
    checked = [a for a in TREND_ALERTS if a in enabled]
    if not checked:
        return []
    limit = None if service.resources.memory_limit else _limit(service)
    series: list[tuple[str, str]] = []
    first = 0
    for _, scenario in QUIET_SCENARIOS:
        scn = scenario_from_dict({"description": "", "expect": "quiet", "step": "5m", "pods": 1,
                                  "duration": format_duration(duration), **scenario})
        series += [(g.selector, notation(g.values)) for g in generate(service, scn, limit, first)]
        first += len(pods_for(service, scn))
    times = [format_duration(t) for t in range(4 * 3600, int(duration) + 1, 4 * 3600)]
    checks: list[AlertCheck] = []
    for alert in checked:
        checks.extend(silent(alert, *times))
    names = ", ".join(title for title, _ in QUIET_SCENARIOS)
    return [rule_test(f"{names}: all stay silent", "5m", sorted(series), *checks)]
