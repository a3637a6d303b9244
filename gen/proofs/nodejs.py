"""Proofs for the Node.js runtime alert: sustained lag fires, GC blips and near-threshold lag stay silent."""
from __future__ import annotations

from gen.domains.alerts import NODEJS_EVENT_LOOP_LAG_HIGH
from gen.domains.nodejs import Metrics
from gen.proofs.rule_tests import ProofSet, fires, rule_test, silent
from gen.synth.example_pods import example_pods
from gen.spec.model import Service
from gen.synth.notation import notation


def proofs(service: Service, generated: frozenset[str]) -> ProofSet:
    if NODEJS_EVENT_LOOP_LAG_HIGH.name not in generated:
        return ProofSet()
    return ProofSet(_lag_tests(service, service.alerts[NODEJS_EVENT_LOOP_LAG_HIGH.setting]))


def _lag_tests(service: Service, settings):
    pod = example_pods(service)[0]
    m = Metrics(service.nodejs_metric_prefix)
    threshold = settings.param("threshold").seconds
    for_ = settings.for_.seconds
    total = int(for_ // 60) + 30
    blocked = round(threshold * 1.75, 3)
    healthy = round(min(0.012, threshold / 4), 4)
    # Healthy p99 with a blip above the threshold for 2 minutes in every 10: GC pauses, a cron job.
    blips = ([healthy] * 8 + [threshold * 3] * 2) * (total // 10 + 1)
    # A loop that degrades just under the threshold, then recovers.
    near = [healthy + (threshold * 0.9 - healthy) * min(i, 30) / 30 for i in range(total)]
    lag_series = pod.app(m.lag_p99)
    return (
        rule_test("event-loop lag sustained above the threshold fires", "1m",
                  [(lag_series, notation([healthy] * 5 + [blocked] * total))],
                  silent(NODEJS_EVENT_LOOP_LAG_HIGH, "10m"),
                  fires(NODEJS_EVENT_LOOP_LAG_HIGH, f"{int(for_ // 60) + 15}m", pod.app_labels(), blocked)),
        rule_test("event-loop lag blips and near-threshold lag stay silent", "1m",
                  [(lag_series, notation(blips[:total])), (pod.app(m.lag_p99, instance="10.1.2.99:3000"),
                                                           notation(near))],
                  silent(NODEJS_EVENT_LOOP_LAG_HIGH, *[f"{t}m" for t in range(5, total, 5)])),
    )
