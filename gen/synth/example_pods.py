"""Example pods of a service for generated rule tests and backtests, labelled as the real exporters label them."""
from __future__ import annotations

from dataclasses import dataclass

from gen.promql.selectors import series_selector
from gen.spec.model import Labels, Service
from gen.spec.pod_patterns import example_names


@dataclass(frozen=True)
class ExamplePod:
    """A pod of the service as its series would label it in a kube-prometheus setup."""

    service: Service
    name: str
    ip: str = "10.1.2.3"

    def app_labels(self) -> dict[str, str]:
        sel = self.service.selector
        labels = {"job": sel.job, "instance": f"{self.ip}:3000"}
        if sel.namespace_label:
            labels[sel.namespace_label] = self.service.namespace
        if sel.pod_label:
            labels[sel.pod_label] = self.name
        labels.update(dict(sel.matchers))
        return labels

    def container_labels(self) -> dict[str, str]:
        return {"namespace": self.service.namespace, "pod": self.name, "container": self.service.container}

    def pod_labels(self) -> dict[str, str]:
        return {"namespace": self.service.namespace, "pod": self.name}

    def app(self, metric: str, **extra: str) -> str:
        return series_selector(metric, {**self.app_labels(), **extra})

    def container(self, metric: str, **extra: str) -> str:
        labels = {**self.container_labels(), **extra}
        if metric.startswith("container_"):
            labels.setdefault("image", "registry.local/app:1.0")
            labels.setdefault("id", f"/kubepods/{self.name}/{self.service.container}")
        return series_selector(metric, labels)

    def pod(self, metric: str, **extra: str) -> str:
        return series_selector(metric, {**self.pod_labels(), **extra})


def example_pods(service: Service, count: int = 1) -> list[ExamplePod]:
    """Pods whose names match the service's pod pattern, each with its own address."""
    return [ExamplePod(service, name, f"10.1.2.{3 + i}")
            for i, name in enumerate(example_names(service.selector.pod_regex, count))]


def labels(mapping: dict[str, str]) -> Labels:
    return tuple(sorted(mapping.items()))
