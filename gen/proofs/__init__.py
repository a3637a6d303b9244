"""Rule-test generation: promtool tests that prove every alert fires when it should and stays silent when it should.

A build imports this package only when the project asks for rule tests; compiling
without proofs never loads it, nor gen.synth or gen.tools.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from gen.ir import AlertRule, RuleGroup, RuleTest
from gen.proofs import http, leak, nodejs, pod, queue, rightsize, scrape
from gen.proofs.test_file import build_test_file
from gen.spec.model import Service

# In gen.domains.DOMAINS order, so tests follow the order of the rule groups they prove.
PROOF_MODULES: tuple[ModuleType, ...] = (nodejs, http, queue, pod, scrape, leak, rightsize)


@dataclass(frozen=True)
class ServiceProofs:
    test_file: dict
    notes: tuple[str, ...]  # checks a spec's settings rule out, said once each


def service_proofs(service: Service, groups: list[RuleGroup], rule_file: str) -> ServiceProofs:
    """Proofs for every alert the service's rule groups contain, as a promtool test file."""
    generated = frozenset(r.name for g in groups for r in g.rules if isinstance(r, AlertRule))
    tests: list[RuleTest] = []
    notes: list[str] = []
    for module in PROOF_MODULES:
        found = module.proofs(service, generated)
        tests.extend(found.tests)
        notes.extend(found.notes)
    return ServiceProofs(build_test_file(service, groups, tests, rule_file), tuple(notes))
