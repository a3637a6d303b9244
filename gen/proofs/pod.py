"""Proofs for the pod alerts: memory held near the limit, crash loops, frequent restarts, OOM kills; and their
quiet twins."""
from __future__ import annotations

from gen.domains.alerts import POD_CRASH_LOOPING, POD_MEMORY_NEAR_LIMIT, POD_OOM_KILLED, POD_RESTARTS_FREQUENT
from gen.ir import RuleTest
from gen.proofs.rule_tests import ProofSet, fires, rule_test, silent
from gen.synth.example_pods import ExamplePod, example_pods
from gen.spec.model import Service
from gen.synth.notation import notation
from gen.units import number


def proofs(service: Service, generated: frozenset[str]) -> ProofSet:
    tests: list[RuleTest] = []
    if POD_MEMORY_NEAR_LIMIT.name in generated:
        near = service.alerts[POD_MEMORY_NEAR_LIMIT.setting]
        tests += _memory_tests(service, near.param("threshold").value, near.for_.seconds)
    if POD_CRASH_LOOPING.name in generated:
        tests += _crash_tests(service, service.alerts[POD_CRASH_LOOPING.setting].for_.seconds)
    if POD_RESTARTS_FREQUENT.name in generated:
        restarts = service.alerts[POD_RESTARTS_FREQUENT.setting]
        tests += _restart_tests(service, restarts.param("threshold"), restarts.param("window").seconds)
    if POD_OOM_KILLED.name in generated:
        tests += _oom_tests(service, service.alerts[POD_OOM_KILLED.setting].param("window").seconds)
    return ProofSet(tuple(tests))


def _limit_series(pod: ExamplePod, service: Service, limit: float) -> list[tuple[str, str]]:
    """kube-state-metrics' limit series, unless the spec states the limit (then the rules need none)."""
    if service.resources.memory_limit is not None:
        return []
    return [(pod.container("kube_pod_container_resource_limits", resource="memory", unit="byte",
                           job="kube-state-metrics"), f"{number(limit)}x200")]


def _memory_tests(service: Service, threshold: float, for_s: float) -> tuple[RuleTest, ...]:
    pod = example_pods(service)[0]
    limit = service.resources.memory_limit.value if service.resources.memory_limit else 4 * 2**30
    minutes = int(for_s // 60)
    high = min(0.99, round(threshold + (1 - threshold) / 2, 2))
    total = minutes + 40
    ws = pod.container("container_memory_working_set_bytes")
    # GC sawtooth: from 55% up to just over the threshold for 5 minutes, then collected, every 30 minutes.
    tooth = [0.55 + (threshold + 0.02 - 0.55) * i / 24 for i in range(25)] + [threshold + 0.02] * 4 + [0.55]
    sawtooth = (tooth * (total // len(tooth) + 2))[: total + 60]
    return (
        rule_test("memory held near the limit fires", "1m",
                  [(ws, notation([0.5 * limit] * 10 + [high * limit] * total)), *_limit_series(pod, service, limit)],
                  silent(POD_MEMORY_NEAR_LIMIT, "5m"),
                  fires(POD_MEMORY_NEAR_LIMIT, f"{minutes + 20}m", pod.container_labels(), high)),
        rule_test("GC sawtooth touching the threshold stays silent", "1m",
                  [(ws, notation([v * limit for v in sawtooth])), *_limit_series(pod, service, limit)],
                  silent(POD_MEMORY_NEAR_LIMIT, *[f"{t}m" for t in range(10, total + 60, 10)])),
    )


def _crash_tests(service: Service, for_s: float) -> tuple[RuleTest, ...]:
    pod = example_pods(service)[0]
    minutes = int(for_s // 60)
    waiting = pod.container("kube_pod_container_status_waiting_reason", reason="CrashLoopBackOff",
                            job="kube-state-metrics")
    labels = {**pod.container_labels(), "reason": "CrashLoopBackOff", "job": "kube-state-metrics"}
    return (
        rule_test("a container stuck in CrashLoopBackOff fires", "1m",
                  [(waiting, notation([0] * 5 + [1] * (minutes + 30)))],
                  silent(POD_CRASH_LOOPING, "4m"),
                  fires(POD_CRASH_LOOPING, f"{minutes + 15}m", labels, 1)),
        rule_test("one failed start that recovers stays silent", "1m",
                  [(waiting, notation([0] * 5 + [1] * 4 + [0] * (minutes + 30)))],
                  silent(POD_CRASH_LOOPING, *[f"{t}m" for t in range(5, minutes + 30, 5)])),
    )


def _restart_tests(service: Service, count: int, window_s: float) -> tuple[RuleTest, ...]:
    pod = example_pods(service)[0]
    minutes = int(window_s // 60)
    series = pod.container("kube_pod_container_status_restarts_total", job="kube-state-metrics")
    labels = {**pod.container_labels(), "job": "kube-state-metrics"}
    gap = max(1, minutes // (count + 2))
    crashes = [min(i // gap, count + 1) for i in range(minutes + 1)]
    # One restart per window is a deploy; the count stays below the threshold.
    deploys = [i // minutes for i in range(minutes * 4)]
    return (
        rule_test(f"{count + 1} restarts within {minutes}m fire", "1m",
                  [(series, notation(crashes + [count + 1] * 10))],
                  fires(POD_RESTARTS_FREQUENT, f"{minutes}m", labels, count + 1)),
        rule_test("one restart per deploy stays silent", "1m",
                  [(series, notation(deploys))],
                  silent(POD_RESTARTS_FREQUENT, *[f"{t}m" for t in range(10, minutes * 4, 10)])),
    )


def _oom_tests(service: Service, window_s: float) -> tuple[RuleTest, ...]:
    """kube-state-metrics as it reports a restart in place: the counter goes up by one and the last terminated
    reason names why. At 5-minute samples, so a day of them stays short."""
    pod = example_pods(service)[0]
    ksm = {"job": "kube-state-metrics"}
    counter = pod.container("kube_pod_container_status_restarts_total", **ksm)
    labels = {**pod.container_labels(), **ksm}
    window = int(window_s // 300)
    kill, total = 6, 6 + window + 12  # the kill at 30m; the samples run on for the window and an hour
    restarted = notation([0] * kill + [1] * (total - kill))

    def reason(why: str) -> tuple[str, str]:
        return (pod.container("kube_pod_container_status_last_terminated_reason", reason=why, **ksm),
                notation([None] * kill + [1] * (total - kill)))

    after_window = [f"{(kill + window + i) * 5}m" for i in (2, 6, 11)]
    return (
        rule_test("an OOM kill and a restart in the same pod fire until the window has passed", "5m",
                  [(counter, restarted), reason("OOMKilled")],
                  silent(POD_OOM_KILLED, "25m"),
                  fires(POD_OOM_KILLED, "30m", labels, 1),
                  fires(POD_OOM_KILLED, f"{(kill + window // 2) * 5}m", labels, 1),
                  silent(POD_OOM_KILLED, *after_window)),
        rule_test("a restart in place for maintenance (Completed, then Error) stays silent", "5m",
                  [(counter, notation([0] * kill + [1] * 12 + [2] * (total - kill - 12))),
                   (pod.container("kube_pod_container_status_last_terminated_reason", reason="Completed", **ksm),
                    notation([None] * kill + [1] * 12)),
                   (pod.container("kube_pod_container_status_last_terminated_reason", reason="Error", **ksm),
                    notation([None] * (kill + 12) + [1] * (total - kill - 12)))],
                  silent(POD_OOM_KILLED, *[f"{t * 5}m" for t in range(kill, total, 6)])),
    )
