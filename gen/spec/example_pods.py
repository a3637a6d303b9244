"""Label sets of example pods for generated rule tests, shaped like the real exporters' series."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

try:  # the regex parser moved in 3.11; both are the standard library's own
    import re._parser as re_parser  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    import sre_parse as re_parser  # type: ignore[no-redef]

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

    def take(self, accepts, most: int) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.pos - start < most and accepts(self.text[self.pos]):
            self.pos += 1
        return self.text[start:self.pos]

    def skip(self, char: str) -> None:
        if self.text[self.pos:self.pos + 1] == char:
            self.pos += 1


def _accepts(op: str, arg) -> Callable[[str], bool]:
    """Does a one-character pattern item accept a character?"""
    if op == "LITERAL":
        return lambda ch: ch == chr(arg)
    if op == "NOT_LITERAL":
        return lambda ch: ch != chr(arg)
    if op == "ANY":
        return lambda ch: ch != "\n"
    if op == "IN":
        def inside(ch: str) -> bool:
            found, negate = False, False
            for item, value in arg:
                name = str(item)
                if name == "NEGATE":
                    negate = True
                elif name == "LITERAL":
                    found |= ch == chr(value)
                elif name == "RANGE":
                    found |= value[0] <= ord(ch) <= value[1]
                elif name == "CATEGORY":
                    found |= (ch.isdigit() if "DIGIT" in str(value) else ch.isalnum() or ch == "_"
                              if "WORD" in str(value) else ch.isspace()) != ("NOT" in str(value))
            return found != negate
        return inside
    return lambda ch: False


def _example(pattern: list, filler: _Filler) -> str:
    """One string the parsed regex matches, with the filler's text wherever the pattern accepts it."""
    out = ""
    for op, arg in pattern:
        name = str(op)
        if name == "LITERAL":
            out += chr(arg)
            filler.skip(chr(arg))
        elif name in ("ANY", "IN", "NOT_LITERAL"):
            out += filler.take(_accepts(name, arg), 1) or _first_char(name, arg)
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = arg
            items = list(sub)
            if [str(o) for o, _ in items] == ["ANY"]:
                out += filler.rest() or "x" * low
            elif len(items) == 1 and str(items[0][0]) in ("ANY", "IN", "LITERAL", "NOT_LITERAL"):
                taken = filler.take(_accepts(str(items[0][0]), items[0][1]), high)
                out += taken + _example(items, _Filler("")) * max(0, max(low, 1) - len(taken))
            else:
                out += _example(items, filler) * max(low, 1)
        elif name == "SUBPATTERN":
            out += _example(list(arg[-1]), filler)
        elif name == "BRANCH":
            out += _example(list(arg[1][0]), filler)
    return out


def _first_char(op: str, arg) -> str:
    """A character a one-character item accepts, when the filler has none to give."""
    if op == "IN":
        return _first_in(arg)
    if op == "NOT_LITERAL":
        return "y" if chr(arg) == "x" else "x"
    return "x"


def _first_in(items: list) -> str:
    for op, arg in items:
        if str(op) == "NEGATE":
            return "x"
        if str(op) == "LITERAL":
            return chr(arg)
        if str(op) == "RANGE":
            return chr(arg[0])
        if str(op) == "CATEGORY":
            return "a" if "WORD" in str(arg) else "0"
    return "x"


def example_pods(service: Service, count: int = 1) -> list[ExamplePod]:
    """Pod names that match the service's pod pattern, named as a Deployment names its pods."""
    regex = service.selector.pod_regex
    pods = []
    for i in range(count):
        name = _example(list(re_parser.parse(regex)), _Filler(_POD_SUFFIXES[i]))
        if not re.fullmatch(regex, name):
            raise ValueError(f"cannot make an example pod name for pattern {regex!r}")
        pods.append(ExamplePod(service, name, f"10.1.2.{3 + i}"))
    if len({p.name for p in pods}) != len(pods):
        raise ValueError(f"pod pattern {regex!r} matches a single name; rule tests need pods that differ")
    return pods


def labels(mapping: dict[str, str]) -> Labels:
    return tuple(sorted(mapping.items()))
