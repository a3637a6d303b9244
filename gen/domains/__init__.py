"""Stage 4: one module per domain, each owning its panels, rules and rule tests for a service.

Adding a domain means adding a module here; nothing else changes.
"""
from __future__ import annotations

from types import ModuleType

from gen.spec.model import Service
from gen.ir import DomainOutput
from gen.domains import leak, nodejs, pod, scrape
from gen.domains.queue import domain as queue

# Rule order: the leak domain reads series the others record, so its group is evaluated after theirs.
# Dashboard rows follow this order too, except where a row ranks itself (Leak watch comes first).
DOMAINS: tuple[ModuleType, ...] = (nodejs, queue, pod, scrape, leak)


def service_signals(service: Service) -> list[DomainOutput]:
    return [domain.signals(service) for domain in DOMAINS if domain.applies(service)]
