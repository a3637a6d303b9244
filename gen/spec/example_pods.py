"""Label sets of example pods for generated rule tests, shaped like the real exporters' series."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from gen.spec import pod_regex as rx
from gen.spec.model import Labels, Service
from gen.promql.selectors import quote


def _selector(metric: str, labels: dict[str, str]) -> str:
    body = ", ".join(f"{k}={quote(v)}" for k, v in sorted(labels.items()))
    return f"{metric}{{{body}}}"


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
        return _selector(metric, {**self.app_labels(), **extra})

    def container(self, metric: str, **extra: str) -> str:
        labels = {**self.container_labels(), **extra}
        if metric.startswith("container_"):
            labels.setdefault("image", "registry.local/app:1.0")
            labels.setdefault("id", f"/kubepods/{self.name}/{self.service.container}")
        return _selector(metric, labels)

    def pod(self, metric: str, **extra: str) -> str:
        return _selector(metric, {**self.pod_labels(), **extra})


_POD_SUFFIXES = ("7d9f8b6c5d-x2k4p", "7d9f8b6c5d-q8w3n", "7d9f8b6c5d-m5z7r")


class _Filler:
    """A Deployment's pod suffix, handed out left to right to the parts of a pattern that accept it, so that
    `name-.*` and `name-[a-z0-9]+-[a-z0-9]{5}` both give `name-7d9f8b6c5d-x2k4p`."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def rest(self) -> str:
        rest, self.pos = self.text[self.pos:], len(self.text)
        return rest

    def take(self, node: rx.Node, most: int | None) -> str:
        """As many characters as the one-character `node` accepts, at most `most` (None: no limit)."""
        start = self.pos
        while (self.pos < len(self.text) and (most is None or self.pos - start < most)
               and rx.one_char_matches(node, self.text[self.pos])):
            self.pos += 1
        return self.text[start:self.pos]

    def skip(self, char: str) -> None:
        if self.text[self.pos:self.pos + 1] == char:
            self.pos += 1


def _example(pattern: Sequence[rx.Node], filler: _Filler) -> str:
    """One string the parsed regex matches, with the filler's text wherever the pattern accepts it."""
    out = ""
    for node in pattern:
        if isinstance(node, rx.Literal):
            out += node.char
            filler.skip(node.char)
        elif isinstance(node, rx.ONE_CHAR):
            out += filler.take(node, 1) or _first_char(node)
        elif isinstance(node, rx.Repeat):
            body = node.body
            if len(body) == 1 and isinstance(body[0], rx.AnyChar):
                out += filler.rest() or "x" * node.low
            elif len(body) == 1 and isinstance(body[0], rx.ONE_CHAR):
                taken = filler.take(body[0], node.high)
                out += taken + _example(body, _Filler("")) * max(0, max(node.low, 1) - len(taken))
            else:
                out += _example(body, filler) * max(node.low, 1)
        elif isinstance(node, rx.Group):
            out += _example(node.body, filler)
        elif isinstance(node, rx.Alternation):
            out += _example(node.branches[0], filler)
    return out


def _first_char(node: rx.Node) -> str:
    """A character a one-character node accepts, when the filler has none to give."""
    if isinstance(node, rx.CharClass):
        return _first_in(node)
    if isinstance(node, rx.NotLiteral):
        return "y" if node.char == "x" else "x"
    return "x"


def _first_in(node: rx.CharClass) -> str:
    if node.negated:
        return "x"
    for item in node.items:
        if isinstance(item, rx.Literal):
            return item.char
        if isinstance(item, rx.Range):
            return item.low
        if isinstance(item, rx.Category):
            return "a" if item.kind == "w" else "0"
    return "x"


def example_pods(service: Service, count: int = 1) -> list[ExamplePod]:
    """Pod names that match the service's pod pattern, named as a Deployment names its pods."""
    regex = service.selector.pod_regex
    pods = []
    for i in range(count):
        name = _example(rx.parse(regex).body, _Filler(_POD_SUFFIXES[i]))
        if not re.fullmatch(regex, name):
            raise ValueError(f"cannot make an example pod name for pattern {regex!r}")
        pods.append(ExamplePod(service, name, f"10.1.2.{3 + i}"))
    if len({p.name for p in pods}) != len(pods):
        raise ValueError(f"pod pattern {regex!r} matches a single name; rule tests need pods that differ")
    return pods


def labels(mapping: dict[str, str]) -> Labels:
    return tuple(sorted(mapping.items()))
