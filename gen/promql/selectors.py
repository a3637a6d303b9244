"""PromQL text: label matchers, selectors and the per-service scopes that queries are written in.

Every selector in generated output is built here, so quoting is done in one
place and a value can never break out of its string.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from gen.spec.model import Service
from gen.units import Duration

DASHBOARD_RATE_WINDOW = "$__rate_interval"
RULE_RATE_WINDOW = "5m"


def quote(value: str) -> str:
    """A PromQL double-quoted string literal."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str

    def render(self) -> str:
        return f"{self.label}{self.op}{quote(self.value)}"


def eq(label: str, value: str) -> Matcher:
    return Matcher(label, "=", value)


def re_(label: str, value: str) -> Matcher:
    return Matcher(label, "=~", value)


def selector(metric: str, matchers: Iterable[Matcher]) -> str:
    body = ", ".join(m.render() for m in matchers)
    return f"{metric}{{{body}}}" if body else metric


def series_selector(metric: str, series_labels: dict[str, str]) -> str:
    """One concrete series (every label equal), labels sorted: how rule tests and backtests name input series."""
    return selector(metric, [eq(k, v) for k, v in sorted(series_labels.items())])


@dataclass(frozen=True)
class Scope:
    """Where a query runs: a dashboard (template variables) or a rule file (the spec's fixed values).

    Domain modules write each query once against a Scope and get both forms.
    """

    service: Service
    dashboard: bool

    @property
    def rate_window(self) -> str:
        return DASHBOARD_RATE_WINDOW if self.dashboard else RULE_RATE_WINDOW

    @property
    def namespace_value(self) -> Matcher:
        return eq("namespace", "$namespace" if self.dashboard else self.service.namespace)

    def _pod(self, label: str) -> Matcher:
        return re_(label, "$pod" if self.dashboard else self.service.selector.pod_regex)

    def app_matchers(self, *extra: Matcher) -> list[Matcher]:
        """The app's own metrics (prom-client, queue exporters): job, namespace, pod and extra matchers."""
        sel = self.service.selector
        matchers = [eq("job", sel.job)]
        if sel.namespace_label:
            ns = self.namespace_value
            matchers.append(Matcher(sel.namespace_label, ns.op, ns.value))
        if sel.pod_label:
            matchers.append(self._pod(sel.pod_label))
        matchers.extend(eq(k, v) for k, v in sel.matchers)
        matchers.extend(extra)
        return matchers

    def app(self, metric: str, *extra: Matcher) -> str:
        return selector(metric, self.app_matchers(*extra))

    def pod(self, metric: str, *extra: Matcher) -> str:
        """Pod-level cAdvisor series (network), which carry no container label."""
        return selector(metric, [self.namespace_value, self._pod("pod"), *extra])

    def container_matchers(self, *extra: Matcher) -> list[Matcher]:
        return [self.namespace_value, self._pod("pod"), eq("container", self.service.container), *extra]

    def container(self, metric: str, *extra: Matcher) -> str:
        """cAdvisor and kube-state-metrics series of the app container."""
        return selector(metric, self.container_matchers(*extra))

    @property
    def app_pod_label(self) -> str:
        return self.service.selector.pod_label or "instance"

    @property
    def app_group(self) -> str:
        """Labels that identify one process of the app in `by (...)` clauses."""
        sel = self.service.selector
        return ", ".join(label for label in (sel.namespace_label, sel.pod_label or "instance") if label)


def window(duration: Duration) -> str:
    return f"[{duration.text}]"


_SET_OPERATORS = (" and ", " unless ", " or ")
_SET_OPERATOR = re.compile("|".join(re.escape(op) for op in _SET_OPERATORS))
# A string literal as PromQL reads it, up to its closing quote (or the end, if it has none); a backslash
# escapes the next character in every kind of quote.
_STRING = re.compile("|".join(rf"{q}(?:\\.|[^\\{q}])*(?:{q}|\\|\Z)" for q in "\"'`"), re.DOTALL)


def layout(expr: str, width: int = 100) -> str:
    """A long expression with each top-level `and`/`unless`/`or` clause on its own line, for review.

    PromQL ignores line breaks, so this changes nothing for Prometheus; it only keeps diffs and
    reviews readable.
    """
    if len(expr) <= width or not _SET_OPERATOR.search(expr):
        return expr
    # Strings blanked out (same length), an operator's depth is the brackets opened before it minus those closed.
    outside = _STRING.sub(lambda found: "_" * len(found.group()), expr)
    lines, start = [], 0
    for found in _SET_OPERATOR.finditer(outside):
        at = found.start()
        depth = sum(outside.count(c, 0, at) for c in "([{") - sum(outside.count(c, 0, at) for c in ")]}")
        if depth == 0:
            lines.append(expr[start:at])
            start = at + 1
    lines.append(expr[start:])
    return "\n".join(lines)
