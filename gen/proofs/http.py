"""Proofs for the SLO burn-rate alerts: a fast burn pages within minutes, a slow burn opens a ticket within
hours, an ordinary error rate stays silent, and one failed request at 3 a.m. on tiny traffic stays silent.

Each scenario is HTTP traffic (gen/synth/http_workloads.py) rendered in the service's convention. Whether an
alert fires and the `$value` it carries are derived by evaluating the SLO's real rule group
(`gen.domains.http.rule_group`, the expressions the rule file holds) on those series with the PromQL model
(gen/synth/promql_eval.py); promtool then checks that Prometheus agrees. A stated outcome the model does not
reproduce (a fast burn that does not page within the promised time) is a bug in the rules, and the build
fails instead of writing a weaker test.
"""
from __future__ import annotations

from dataclasses import dataclass

from gen.domains.alerts import SLO_ERROR_BUDGET_BURN_FAST, SLO_ERROR_BUDGET_BURN_SLOW, Alert
from gen.domains.http import rule_group
from gen.ir import AlertCheck, ExpectedAlert, RuleTest, Series
from gen.proofs.rule_tests import TEST_EVALUATION_INTERVAL, ProofSet
from gen.spec.model import Service, Slo
from gen.synth.http_workloads import Phase, Traffic, series
from gen.synth.notation import notation
from gen.synth.promql_eval import Storage, evaluate_group
from gen.render.templates import humanize
from gen.synth.promql_model import BOUNDARIES, Clock, firing_value
from gen.units import duration

STEP = 60.0
EVALUATIONS = Clock(TEST_EVALUATION_INTERVAL.seconds)
HOUR = 60  # minutes
# Silent checks: every this many minutes over the scenario.
SILENT_EVERY = 30


@dataclass(frozen=True)
class Claim:
    alert: Alert
    fires_within: int | None  # minutes after the problem starts; None: silent all through


@dataclass(frozen=True)
class Scenario:
    name: str
    traffic: Traffic
    problem_at: int  # minute the problem starts
    claims: tuple[Claim, ...]


def _bad(slo: Slo, minutes: int, requests: float, share: float) -> Phase:
    """A phase whose bad requests are the SLO's kind: failed for availability, slow for latency."""
    if slo.sli == "latency":
        return Phase(minutes, requests, slow=share)
    return Phase(minutes, requests, failed=share)


def scenarios(slo: Slo) -> list[Scenario]:
    budget = slo.budget
    what = "failed" if slo.sli == "availability" else "slow"
    warm = Phase(2 * HOUR, 60)  # an ordinary two hours at 1 request a second
    fast_share = min(1.0, 100 * budget)  # 100x the sustainable rate (capped: every request bad)
    slow_share = 2 * budget  # twice the sustainable rate: a ticket, never a page (below 6x)
    ordinary = budget / 2
    fast, slow = SLO_ERROR_BUDGET_BURN_FAST, SLO_ERROR_BUDGET_BURN_SLOW
    return [
        Scenario(f"fast burn: {fast_share:.0%} of requests {what} pages within 30 minutes",
                 Traffic((warm, _bad(slo, HOUR, 60, fast_share))), 2 * HOUR,
                 (Claim(fast, 30),)),
        Scenario(f"slow burn: {slow_share:.2%} of requests {what} (2x the budget rate) opens a ticket within 8 "
                 "hours and never pages",
                 Traffic((warm, _bad(slo, 9 * HOUR, 60, slow_share))), 2 * HOUR,
                 (Claim(slow, 8 * HOUR), Claim(fast, None))),
        Scenario(f"an ordinary share of {what} requests ({ordinary:.3%}, half the budget rate) stays silent",
                 Traffic((warm, _bad(slo, 10 * HOUR, 60, ordinary))), 2 * HOUR,
                 (Claim(fast, None), Claim(slow, None))),
        # A day of ordinary traffic, then a night at one request a minute (the health checks go on), and at
        # 3 a.m. one request fails: 1 of the last 60 (burn 17x over 1h, 200x over 5m for 99.9%).
        Scenario(f"one {what} request at 3 a.m. on tiny traffic (1 request a minute) stays silent",
                 Traffic((Phase(24 * HOUR, 60), Phase(3 * HOUR, 1), _bad(slo, 1, 1, 1.0), Phase(3 * HOUR, 1))),
                 27 * HOUR, (Claim(fast, None), Claim(slow, None))),
    ]


def _firing(slo: Slo, results: dict, alert: Alert) -> dict[int, tuple[dict, float]]:
    """evaluation -> (labels, value) for every evaluation the alert fires at."""
    settings = slo.alerts[alert.setting]
    found = {labels for vector in results.get(alert.name, []) for labels, _ in vector}
    if len(found) > 1:
        raise ValueError(f"{alert.name} yields {len(found)} series for SLO {slo.name}, the checks expect one")
    values = [vector[0][1] if vector else None for vector in results.get(alert.name, [])]
    labels = {k: v for k, v in (next(iter(found)) if found else ()) if k != "__name__"}
    out = {}
    for e in range(len(values)):
        value = firing_value(values, e, settings.for_.seconds, EVALUATIONS)
        if value is not None:
            out[e] = (labels, value)
    return out


def _test(service: Service, slo: Slo, scenario: Scenario) -> RuleTest:
    inputs = series(service, slo, scenario.traffic)
    evaluations = EVALUATIONS.count((scenario.traffic.minutes - 1) * STEP)
    group = rule_group(service, slo)
    # Under both range boundaries (Prometheus 2.x closed, 3.x left-open): a check states only what holds in both.
    results = {b: evaluate_group(group, Storage.of(inputs, Clock(STEP, b), Clock(EVALUATIONS.step, b)), evaluations)
               for b in BOUNDARIES}
    checks: list[AlertCheck] = []
    rule_labels = (("slo", slo.name),)
    for claim in scenario.claims:
        settings = slo.alerts[claim.alert.setting]
        if not settings.enabled:
            continue
        fired = {b: _firing(slo, found, claim.alert) for b, found in results.items()}
        if claim.fires_within is None:
            for boundary, firing in fired.items():
                if firing:
                    raise ValueError(f"SLO {slo.name}: {claim.alert.name} fires at {min(firing) * EVALUATIONS.step:g}s "
                                     f"({boundary} ranges) in '{scenario.name}', which must stay silent")
            times = range(SILENT_EVERY, scenario.traffic.minutes, SILENT_EVERY)
            checks += [AlertCheck(duration(m * STEP), claim.alert.name, rule_labels=rule_labels) for m in times]
            continue
        start = scenario.problem_at * STEP
        late = start + claim.fires_within * STEP
        # The first evaluation after the problem starts at which the alert fires with the same labels and the
        # same value as its description shows it, whichever the boundary.
        closed, *others = fired.values()
        agreeing = [e for e in sorted(closed) if e * EVALUATIONS.step >= start
                    and all(e in other and other[e][0] == closed[e][0]
                            and humanize(other[e][1]) == humanize(closed[e][1]) for other in others)]
        if not agreeing or agreeing[0] * EVALUATIONS.step > late:
            raise ValueError(f"SLO {slo.name}: {claim.alert.name} does not fire within {claim.fires_within} minutes "
                             f"in '{scenario.name}'")
        evaluation = agreeing[0]
        labels, value = closed[evaluation]
        before = [m for m in range(SILENT_EVERY, scenario.problem_at + 1, SILENT_EVERY)]
        checks += [AlertCheck(duration(m * STEP), claim.alert.name, rule_labels=rule_labels) for m in before]
        checks.append(AlertCheck(duration(evaluation * EVALUATIONS.step), claim.alert.name,
                                 (ExpectedAlert(tuple(sorted(labels.items())), value),), rule_labels))
    return RuleTest(f"SLO {slo.name}: {scenario.name}", duration(STEP),
                    tuple(Series(s, notation(v)) for s, v in inputs), tuple(checks))


def proofs(service: Service, generated: frozenset[str]) -> ProofSet:
    if not ({SLO_ERROR_BUDGET_BURN_FAST.name, SLO_ERROR_BUDGET_BURN_SLOW.name} & generated):
        return ProofSet()
    return ProofSet(tuple(_test(service, slo, s) for slo in service.slos for s in scenarios(slo)
                          if any(slo.alerts[c.alert.setting].enabled for c in s.claims)))
