"""Stage 4: one module per domain, each owning its panels, rules and rule tests for a service.

Adding a domain means adding a module here; nothing else changes.
"""
from __future__ import annotations

from types import ModuleType

from ..model import Service
from ..signal import DomainOutput
from . import nodejs, pod, queue, scrape

# Dashboard order: what the process does, the work it queues, what the pod costs, whether we see it at all.
DOMAINS: tuple[ModuleType, ...] = (nodejs, queue, pod, scrape)


def service_signals(service: Service) -> list[DomainOutput]:
    return [domain.signals(service) for domain in DOMAINS if domain.applies(service)]
