"""Stage 4: one module per domain, each owning its panels, rules and rule tests for a service.

Adding a domain means adding a module here; nothing else changes.
"""
from __future__ import annotations

from types import ModuleType

from gen.spec.model import Service
from gen.ir import DomainOutput
from gen.domains import http, leak, nodejs, pod, rightsize, scrape
from gen.domains.queue import domain as queue

# Rule order: the leak domain reads series the others record, so its group is evaluated after theirs.
# Dashboard rows follow this order too, except where a row ranks itself (Leak watch comes first).
DOMAINS: tuple[ModuleType, ...] = (nodejs, http, queue, pod, scrape, leak, rightsize)


def service_signals(service: Service) -> list[DomainOutput]:
    return [domain.signals(service) for domain in DOMAINS if domain.applies(service)]


def inhibitions() -> tuple:
    """Every domain's `INHIBITIONS`: which alerts supersede which, the source of Alertmanager's inhibit rules."""
    return tuple(i for domain in DOMAINS for i in domain.INHIBITIONS)


def unsuperseded() -> tuple:
    """Every domain's `UNSUPERSEDED`: alerts no narrower alert supersedes, each with the reason."""
    return tuple(u for domain in DOMAINS for u in domain.UNSUPERSEDED)
