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
from gen.domains.leak import EARLY_SEVERITY, cpu_windows, trend_windows
from gen.proofs.rule_tests import TEST_EVALUATION_INTERVAL, ProofSet, fires_many, rule_test, silent
from gen.spec.model import Service
from gen.synth.scenario import example_pods_many, generate, pods_for, scenario_from_dict
from gen.synth.notation import notation
from gen.ir import AlertCheck, RuleTest
from gen.synth.example_pods import ExamplePod
from gen.units import format_duration, parse_duration

MI = 2**20
DAY = 86400.0
CLEAN = {"sawtooth": {"height": 0, "period": "5m"}, "noise": 0}
STEADY_MEMORY = {"oldSpace": {**CLEAN, "base": "90Mi"}, "heapUsed": {**CLEAN, "base": "120Mi"},
                 "workingSet": {**CLEAN, "base": "360Mi"}, "external": {**CLEAN, "base": "24Mi"}}
TREND_ALERTS = (NODEJS_HEAP_LEAK, NODEJS_HEAP_LEAK_WITHIN_PROCESS, POD_MEMORY_LEAK, POD_MEMORY_LEAK_WITHIN_POD,
                POD_MEMORY_EXHAUSTION_FORECAST, POD_CPU_USAGE_RISING)


def _limit(service: Service) -> float:
    return service.resources.memory_limit.value if service.resources.memory_limit else 4 * 2**30


def _series(service: Service, scenario: dict, interval: str, replica: int = 0
            ) -> tuple[list[tuple[str, str]], ExamplePod]:
    """The scenario's series, and the first pod of `replica`."""
    scn = scenario_from_dict({"description": "", "expect": "quiet", "step": interval, "pods": 1, **scenario})
    limit = None if service.resources.memory_limit else _limit(service)
    generated = generate(service, scn, limit)
    pod = pods_for(service, scn)[(replica, 0)]
    return [(g.selector, notation(g.values)) for g in generated], pod


def _whole_bytes_per_sample(per_day: float, interval: str) -> float:
    """`per_day` moved by less than a byte a sample, so that a leak grows every sample by whole bytes. Samples
    are whole bytes: a leak of 34952.5 bytes a sample rounds into steps of two sizes, which promtool's notation
    can only write a sample or two at a time (`a+34953x1 b+34953x1 ...`), not as one ramp (`a+34952x2879`)."""
    seconds = parse_duration(interval).seconds
    return round(per_day * seconds / DAY) * DAY / seconds


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
    tests += [test for test in (_offheap_proof(service, enabled), _one_of_six_proof(service, enabled)) if test]
    if POD_MEMORY_EXHAUSTION_FORECAST in enabled:
        tests += [t for t in (_exhaustion_proof(service), _fast_exhaustion_proof(service),
                              _early_warning_proof(service)) if t]
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
    heap_leak, ws_leak = _whole_bytes_per_sample(heap_per_day, "2m"), _whole_bytes_per_sample(ws_per_day, "2m")
    leaking = 1  # of two replicas, only the second leaks: the alerts name its pod and no other
    checks: list[AlertCheck] = []
    pod = example_pods_many(service, 2)[leaking]
    if NODEJS_HEAP_LEAK in enabled:
        growth = heap_leak * w.period.seconds / DAY
        checks += [*silent(NODEJS_HEAP_LEAK, _after(needed - 3600)),
                   fires_many(NODEJS_HEAP_LEAK, _fire_at(needed, settings[NODEJS_HEAP_LEAK.setting].for_.seconds),
                              [(_heap_labels(pod, "old_space"), growth), (_heap_labels(pod, "heap_used"), growth)])]
    if POD_MEMORY_LEAK in enabled:
        checks.append(fires_many(POD_MEMORY_LEAK, _fire_at(needed, settings[POD_MEMORY_LEAK.setting].for_.seconds),
                                 [(pod.container_labels(), ws_leak * w.period.seconds / DAY)]))
    if POD_CPU_USAGE_RISING in enabled:
        labels = {"namespace": service.namespace, "container": service.container, "service": service.name}
        checks += [*silent(POD_CPU_USAGE_RISING, _after(2 * w.period.seconds)),
                   fires_many(POD_CPU_USAGE_RISING, _fire_at(cpu_windows(service).history, settings[POD_CPU_USAGE_RISING.setting].for_.seconds),
                              [(labels, cpu_factor ** (w.period.seconds / 86400) - 1)])]
    if not checks:
        return None
    # CPU needs samples closer than the 5m rate window; 2m keeps every evaluation on a sample.
    leak = {"leakPods": [leaking]}
    series, leaker = _series(service, {
        "name": "growth-across-days", "duration": format_duration(max(c.at.seconds for c in checks)), "pods": 2,
        "memory": _memory(oldSpace={"leakPerDay": heap_leak, **leak}, heapUsed={"leakPerDay": heap_leak, **leak},
                          workingSet={"leakPerDay": ws_leak, **leak}),
        "cpu": {"base": 0.04, "factorPerDay": cpu_factor, "daily": 0}}, "2m", leaking)
    assert leaker == pod
    return rule_test(f"one of two pods' heap ({heap_per_day // MI}Mi a day) and working set ({ws_per_day // MI}Mi a "
                     f"day) and CPU ({round((cpu_factor - 1) * 100)}% a day) growing for days fire the across-days "
                     "alerts for that pod only", "2m", series, *checks)


def _within_lifetime_proof(service: Service, alert: Alert, kind: str) -> RuleTest:
    s, w = service.alerts[alert.setting], service.leak
    needed = s.param("window").seconds + s.param("warmup").seconds + w.floor_window.seconds
    at = _fire_at(needed, s.for_.seconds)
    if kind == "heap":
        per_day = _whole_bytes_per_sample(36 * MI, "1m")  # 1.5Mi an hour
        memory = _memory(oldSpace={"leakPerDay": per_day}, heapUsed={"leakPerDay": per_day})
    else:
        per_day = _whole_bytes_per_sample(48 * MI, "1m")  # 2Mi an hour
        memory = _memory(workingSet={"leakPerDay": per_day})
    series, pod = _series(service, {"name": f"leak-within-{kind}", "duration": at, "memory": memory}, "1m")
    expected = ([(_heap_labels(pod, "old_space"), per_day / 24), (_heap_labels(pod, "heap_used"), per_day / 24)]
                if kind == "heap" else [(pod.container_labels(), per_day / 24)])
    return rule_test(f"{'heap' if kind == 'heap' else 'working-set'} floor rising steadily through a "
                     f"{'process' if kind == 'heap' else 'pod'}'s life fires {alert.name}", "1m", series,
                     silent(alert, _after(needed - 3600)), fires_many(alert, at, expected))


def _within_needed(service: Service, alert: Alert) -> float:
    s = service.alerts[alert.setting]
    return s.param("window").seconds + s.param("warmup").seconds + service.leak.floor_window.seconds


def _offheap_proof(service: Service, enabled: set[Alert]) -> RuleTest | None:
    """Buffers or native memory leaking while the heap stays flat: the external-memory signal names it (and
    no heap signal), the working set shows it too."""
    alerts = [a for a in (NODEJS_HEAP_LEAK_WITHIN_PROCESS, POD_MEMORY_LEAK_WITHIN_POD) if a in enabled]
    if not alerts:
        return None
    # 1.5Mi and 2Mi an hour
    external_per_day, ws_per_day = _whole_bytes_per_sample(36 * MI, "1m"), _whole_bytes_per_sample(48 * MI, "1m")
    at = max(_aligned(_within_needed(service, a) + service.alerts[a.setting].for_.seconds + 1200) for a in alerts)
    series, pod = _series(service, {"name": "offheap-leak", "duration": format_duration(at),
                                    "memory": _memory(external={"leakPerDay": external_per_day},
                                                      workingSet={"leakPerDay": ws_per_day})}, "1m")
    expected = {NODEJS_HEAP_LEAK_WITHIN_PROCESS: [(_heap_labels(pod, "external"), external_per_day / 24)],
                POD_MEMORY_LEAK_WITHIN_POD: [(pod.container_labels(), ws_per_day / 24)]}
    return rule_test("external memory and working set growing while the heap stays flat (an off-heap leak) fire "
                     f"{' and '.join(a.name for a in alerts)}", "1m", series,
                     *(fires_many(a, format_duration(at), expected[a]) for a in alerts))


def _one_of_six_proof(service: Service, enabled: set[Alert]) -> RuleTest | None:
    """Six replicas, one leaking: every per-pod leak alert names that pod and no other."""
    alerts = [a for a in (NODEJS_HEAP_LEAK_WITHIN_PROCESS, POD_MEMORY_LEAK_WITHIN_POD) if a in enabled]
    if not alerts:
        return None
    leaking, per_day = 3, _whole_bytes_per_sample(48 * MI, "1m")
    at = max(_aligned(_within_needed(service, a) + service.alerts[a.setting].for_.seconds + 1200) for a in alerts)
    leak = {"leakPerDay": per_day, "leakPods": [leaking]}
    series, pod = _series(service, {"name": "one-of-six", "duration": format_duration(at), "pods": 6,
                                    "memory": _memory(oldSpace=leak, heapUsed=leak, workingSet=leak)}, "1m", leaking)
    expected = {NODEJS_HEAP_LEAK_WITHIN_PROCESS: [(_heap_labels(pod, "old_space"), per_day / 24),
                                                  (_heap_labels(pod, "heap_used"), per_day / 24)],
                POD_MEMORY_LEAK_WITHIN_POD: [(pod.container_labels(), per_day / 24)]}
    return rule_test(f"one replica of six leaking fires {' and '.join(a.name for a in alerts)} for that pod only",
                     "1m", series, *(fires_many(a, format_duration(at), expected[a]) for a in alerts))


def _forecasts(service: Service, labels: dict[str, str], seconds: float, page: bool = True,
               early: bool = True) -> list[tuple[dict[str, str], float]]:
    """The forecast alerts expected for a container: the page at the spec's severity, and the early warning (a
    rule of its own unless the page is itself a warning)."""
    severity = service.alerts[POD_MEMORY_EXHAUSTION_FORECAST.setting].severity
    out = [({**labels, "severity": severity}, seconds)] if page else []
    if early and severity != EARLY_SEVERITY:
        out.append(({**labels, "severity": EARLY_SEVERITY}, seconds))
    return out


def _linear_leak(service: Service, onset: float, at: float, time_to_limit: float) -> tuple[float, float]:
    """Base and growth per hour of a working set sampled every minute that starts at about 40% of its limit and
    leaks from `onset` so that it reaches the limit `time_to_limit` after `at`: whole bytes a sample from a whole
    base, which puts the limit less than a millisecond off (the checks keep half a second from a boundary)."""
    span = at - onset + time_to_limit
    per_hour = _whole_bytes_per_sample(0.6 * _limit(service) / span * DAY, "1m") / 24
    return round(_limit(service) - per_hour / 3600 * span), per_hour


def _exhaustion_proof(service: Service) -> RuleTest:
    s = service.alerts[POD_MEMORY_EXHAUSTION_FORECAST.setting]
    w = service.leak
    needed = s.param("window").seconds + s.param("warmup").seconds + w.floor_window.seconds
    at = _aligned(needed + s.for_.seconds + 1200)
    # Chosen so that the limit is a whole horizon minus 90 minutes (and half a second) away at `at`:
    # humanizeDuration truncates seconds, and the half second keeps float noise off the boundary.
    time_to_limit = s.param("horizon").seconds - 5400.5
    base, per_hour = _linear_leak(service, 0, at, time_to_limit)
    series, pod = _series(service, {"name": "memory-exhaustion", "duration": format_duration(at),
                                    "memory": _memory(workingSet={"base": base, "leakPerDay": per_hour * 24})},
                          "1m")
    # An hour before the long fit may page, the short fit already warns.
    before = _aligned(needed - 3600)
    return rule_test(
        f"working set climbing towards the limit fires {POD_MEMORY_EXHAUSTION_FORECAST.name} hours ahead", "1m", series,
        fires_many(POD_MEMORY_EXHAUSTION_FORECAST, format_duration(before),
                   _forecasts(service, pod.container_labels(), at + time_to_limit - before, page=False)),
        fires_many(POD_MEMORY_EXHAUSTION_FORECAST, format_duration(at),
                   _forecasts(service, pod.container_labels(), time_to_limit)))


def _fast_exhaustion_proof(service: Service) -> RuleTest:
    """A pod that has been up for a day starts leaking fast: the short forecast must page within hours."""
    horizon = service.alerts[POD_MEMORY_EXHAUSTION_FORECAST.setting].param("fastHorizon")
    return _leak_from_a_warm_pod(
        service, "memory-exhaustion-fast", horizon.seconds, page=True,
        title=f"a pod that starts leaking fast after a day fires {POD_MEMORY_EXHAUSTION_FORECAST.name} within hours")


def _early_warning_proof(service: Service) -> RuleTest | None:
    """A leak that reaches the limit in about a day warns within hours of its start, long before it pages."""
    s = service.alerts[POD_MEMORY_EXHAUSTION_FORECAST.setting]
    if s.severity == EARLY_SEVERITY:
        return None
    return _leak_from_a_warm_pod(
        service, "memory-exhaustion-early", s.param("warningHorizon").seconds, page=False,
        title="a leak that reaches the limit about {hours} hours after it starts warns with "
              f"{POD_MEMORY_EXHAUSTION_FORECAST.name} within hours and does not page yet")


def _leak_from_a_warm_pod(service: Service, name: str, horizon: float, page: bool, title: str) -> RuleTest:
    """A pod up for a day starts a linear leak two hours in that reaches its limit about `horizon` after the
    short fit has its window: silent in the leak's first hour, firing at the forecast's severity after. `title`
    may name the leak's `{hours}` from onset to limit."""
    s, w = service.alerts[POD_MEMORY_EXHAUSTION_FORECAST.setting], service.leak
    onset = 2 * 3600
    # The short fit needs its window of floors, each a floor window after the onset.
    at = _aligned(onset + s.param("fastWindow").seconds + w.floor_window.seconds + s.for_.seconds + 1200)
    time_to_limit = horizon - 3600.5  # off the seconds boundary, as above
    base, per_hour = _linear_leak(service, onset, at, time_to_limit)
    series, pod = _series(service, {"name": name, "duration": format_duration(at), "initialAge": "1d",
                                    "memory": _memory(workingSet={"base": base, "leakPerDay": per_hour * 24,
                                                                  "leakFrom": format_duration(onset)})}, "1m")
    hours = round((at - onset + time_to_limit) / 3600)
    return rule_test(
        title.format(hours=hours), "1m", series,
        silent(POD_MEMORY_EXHAUSTION_FORECAST, format_duration(onset + 3600)),
        fires_many(POD_MEMORY_EXHAUSTION_FORECAST, format_duration(at),
                   _forecasts(service, pod.container_labels(), time_to_limit, page=page)))


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


def _rise(at: str, over: str = "0s", **sizes: str) -> dict:
    """One-off rises of each memory series at `at` (a ramp over `over`), in the generator's default shapes."""
    return {key: {"rises": [{"at": at, "size": size, "over": over}]} for key, size in sizes.items()}


# CPU steps up by 40% at the same moment in every pod of the test (the CPU alert averages over them).
CPU_STEP = {"base": 0.04, "daily": 0.008, "rises": [{"at": "29h20m", "size": 0.016}]}
# A single rise, at hours that fall differently on the compare windows, is not a leak: with and without a
# restart, at once or as a ramp, under a daily cycle or none. (Before issue 11 the averaged, overlapping
# windows counted such a step on two consecutive days.)
STEP_SCENARIOS = (
    ("a 25% step at 20:00", {"name": "step-at-20h", "memory": _rise("20h", oldSpace="23Mi", heapUsed="30Mi",
                                                                    workingSet="90Mi", external="6Mi")}),
    ("a 15% step under a daily cycle at 05:20", {"name": "step-daily-cycle", "memory": {
        key: {**rise, "daily": daily} for (key, rise), daily in zip(
            _rise("29h20m", oldSpace="14Mi", heapUsed="18Mi", workingSet="54Mi", external="4Mi").items(),
            ("4Mi", "8Mi", "20Mi", "1Mi"))}}),
    ("a 35% rise ramped over 2h at 13:45", {"name": "step-ramp", "memory": _rise(
        "37h45m", "2h", oldSpace="32Mi", heapUsed="42Mi", workingSet="126Mi", external="8Mi")}),
    ("a rollout at 02:00 to pods with a 30% larger baseline", {
        "name": "step-rollout", "restarts": {"at": ["26h"]},
        "memory": {key: {**rise, "warmup": {"for": "40m", "size": warm}} for (key, rise), warm in zip(
            _rise("26h", oldSpace="27Mi", heapUsed="36Mi", workingSet="108Mi", external="7Mi").items(),
            ("20Mi", "30Mi", "60Mi", "4Mi"))}}),
    ("a restart in place at 07:10 with a 20% larger baseline", {
        "name": "step-restart-in-place", "restarts": {"at": ["31h10m"], "newPod": False},
        "memory": _rise("31h10m", oldSpace="18Mi", heapUsed="24Mi", workingSet="72Mi", external="5Mi")}),
    ("a 40% step at 20:30 on day two", {"name": "step-late", "memory": _rise(
        "44h30m", oldSpace="36Mi", heapUsed="48Mi", workingSet="144Mi", external="10Mi")}),
)


def _quiet_proofs(service: Service, enabled: set[Alert]) -> list[RuleTest]:
    """One test, one pod per shape: every trend alert stays silent for days on each of them. The one-off
    steps get a test of their own, checked every hour."""
    checked = [a for a in TREND_ALERTS if a in enabled]
    if not checked:
        return []
    steps = tuple((title, {**scenario, "cpu": CPU_STEP}) for title, scenario in STEP_SCENARIOS)
    return [_quiet_test(service, checked, QUIET_SCENARIOS, 4 * 3600, ""),
            _quiet_test(service, checked, steps, 3600, "one-off rises are not leaks: ")]


def _quiet_test(service: Service, checked: list[Alert], scenarios, every: int, title: str) -> RuleTest:
    duration = 3 * service.leak.period.seconds + 6 * 3600
    limit = None if service.resources.memory_limit else _limit(service)
    series: list[tuple[str, str]] = []
    first = 0
    for _, scenario in scenarios:
        scn = scenario_from_dict({"description": "", "expect": "quiet", "step": "5m", "pods": 1,
                                  "duration": format_duration(duration), **scenario})
        series += [(g.selector, notation(g.values)) for g in generate(service, scn, limit, first)]
        first += len(pods_for(service, scn))
    times = [format_duration(t) for t in range(every, int(duration) + 1, every)]
    checks: list[AlertCheck] = []
    for alert in checked:
        checks.extend(silent(alert, *times))
    names = ", ".join(name for name, _ in scenarios)
    return rule_test(f"{title}{names}: all stay silent", "5m", sorted(series), *checks)
