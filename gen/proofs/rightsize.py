"""Proofs for PodOverProvisioned: a week of use far below the request fires; use near the request, a weekly
burst that needs the request, or a service younger than the window stays silent."""
from __future__ import annotations

from gen.domains.alerts import POD_OVER_PROVISIONED
from gen.ir import RuleTest
from gen.proofs.rule_tests import ProofSet, fires_many, rule_test, silent
from gen.spec.model import Service
from gen.synth.example_pods import ExamplePod, example_pods
from gen.synth.notation import notation
from gen.units import format_duration, number

STEP_SECONDS = 60  # a scrape a minute: every 5m rate window holds several samples
KSM = "kube-state-metrics"
# What pods request when the spec does not say: the seed article's.
DEFAULT_REQUESTS = {"cpu": 1.0, "memory": 2 * 2**30}


def _requests(service: Service) -> dict[str, float]:
    stated = {"cpu": service.resources.cpu_request, "memory": service.resources.memory_request}
    return {r: (q.value if q is not None else DEFAULT_REQUESTS[r]) for r, q in stated.items()}


def _series(pod: ExamplePod, service: Service, cpu: list[float], memory: list[float]) -> list[tuple[str, str]]:
    """cAdvisor's CPU counter for the given cores per step and working set, and kube-state-metrics' requests
    unless the spec states them (then the rules need none)."""
    used, counter = 0.0, []
    for cores in cpu:
        counter.append(used)
        used += cores * STEP_SECONDS
    out = [(pod.container("container_cpu_usage_seconds_total"), notation(counter)),
           (pod.container("container_memory_working_set_bytes"), notation(memory))]
    stated = {"cpu": service.resources.cpu_request, "memory": service.resources.memory_request}
    for resource, value in _requests(service).items():
        if stated[resource] is None:
            unit = "core" if resource == "cpu" else "byte"
            out.append((pod.container("kube_pod_container_resource_requests", resource=resource, unit=unit, job=KSM),
                        f"{number(value)}x{len(cpu)}"))
    return out


def _at(seconds: float) -> str:
    return format_duration(seconds)


def proofs(service: Service, generated: frozenset[str]) -> ProofSet:
    if POD_OVER_PROVISIONED.name not in generated:
        return ProofSet()
    settings = service.alerts[POD_OVER_PROVISIONED.setting]
    ratio, window = settings.param("ratio"), settings.param("window").seconds
    for_s = settings.for_.seconds
    steps = int((window + for_s + 3 * 3600) // STEP_SECONDS)
    pod = example_pods(service)[0]
    requests = _requests(service)

    def flat(share: float) -> tuple[list[float], list[float]]:
        """Use at `requests / share` all along."""
        return [requests["cpu"] / share] * steps, [requests["memory"] / share] * steps

    far, near = flat(2 * ratio), flat(ratio / 2)
    # A burst of 4 hours at the request, once in the window (more than 1% of a week): p99 sees it.
    burst = range(steps // 2, steps // 2 + int(4 * 3600 // STEP_SECONDS))
    bursty_memory = [requests["memory"] if i in burst else v for i, v in enumerate(far[1])]
    labels = {"namespace": service.namespace}
    end = steps * STEP_SECONDS
    checks_over = [_at(t) for t in range(int(window // 2), end, int(window // 4))] + [_at(end - STEP_SECONDS)]
    # Each resource has its own rule, so one silent test carries two cases: it keeps promtool's week short.
    tests: tuple[RuleTest, ...] = (
        rule_test(f"requests {number(2 * ratio)}x the use for the whole window fire", _at(STEP_SECONDS),
                  _series(pod, service, *far),
                  # Not before the window is covered: a younger service has no week of evidence yet.
                  silent(POD_OVER_PROVISIONED, _at(window / 2), _at(0.9 * window)),
                  fires_many(POD_OVER_PROVISIONED, _at(end - STEP_SECONDS),
                             [({**labels, "resource": r}, 2 * ratio) for r in ("cpu", "memory")])),
        rule_test(f"CPU requested {number(ratio / 2)}x its use, memory with a weekly burst to the request, "
                  "stay silent", _at(STEP_SECONDS),
                  _series(pod, service, near[0], bursty_memory), silent(POD_OVER_PROVISIONED, *checks_over)),
    )
    return ProofSet(tests)
