"""Checks across all services, at build time: what no single spec can see on its own.

- two dashboards with the same uid or title, two rule groups with the same name;
- two services whose selectors overlap, so one pod would be alerted on twice (and
  both services' recording rules would write the same series);
- a dashboard query reading a recorded series that no rule file records;
- an alert whose dashboard link points at a dashboard or panel that does not exist.

One alert name shared by many services is normal: the `service` label tells them apart.
Each problem names both services and where their specs say so.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence
from urllib.parse import parse_qs, urlsplit

from gen.checks import lint
from gen.errors import Problem
from gen.ir import Dashboard
from gen.spec.documents import Document, Path_
from gen.spec.model import Service
from gen.spec import pod_regex
from gen.spec.pod_patterns import Unsupported, common_name
from gen.spec.pod_patterns import example_names

if TYPE_CHECKING:
    from gen.ir import ServiceOutput

NAME: Path_ = ("metadata", "name")


@dataclass(frozen=True)
class SpecIndex:
    """The document each service came from, to point problems at the line that causes them."""

    documents: dict[str, Document]

    @classmethod
    def of(cls, documents: Iterable[Document]) -> "SpecIndex":
        return cls({doc.data["metadata"]["name"]: doc for doc in documents})

    def problem(self, service: Service, paths: Sequence[Path_], message: str, hint: str = "") -> Problem:
        """At the first of `paths` the spec writes out (a default has no line), else at the service's name."""
        doc = self.documents.get(service.name)
        if doc is None:
            return Problem(service.source, message, hint=hint)
        path = next((p for p in paths if _written(doc.data, p)), NAME)
        return doc.problem(path, message, hint)

    def where(self, service: Service, paths: Sequence[Path_] = ()) -> str:
        found = self.problem(service, paths, "")
        return f"{found.file}:{found.line}" if found.line else found.file


def _written(data, path: Path_) -> bool:
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return False
    return True


def _duplicates(outputs: Sequence[ServiceOutput], index: SpecIndex, what: str, values, path: Path_,
                hint: str) -> list[Problem]:
    """`values(out)` per service; a value seen before is a problem of the later service."""
    first: dict[str, Service] = {}
    problems = []
    for out in outputs:
        for value in values(out):
            owner = first.setdefault(value, out.service)
            if owner is out.service and values(out).count(value) == 1:
                continue
            other = ("twice in the service" if owner is out.service
                     else f"also by service {owner.name} ({index.where(owner, [path])})")
            problems.append(index.problem(out.service, [path], f"{what} '{value}' of service {out.service.name} "
                                          f"is used {other}", hint))
            if owner is out.service:
                break
    return problems


def duplicate_names(outputs: Sequence[ServiceOutput], index: SpecIndex) -> list[Problem]:
    return [
        *_duplicates(outputs, index, "dashboard uid", lambda o: [o.dashboard.uid], NAME,
                     "dashboard uids derive from service names; rename one of the services"),
        *_duplicates(outputs, index, "dashboard title", lambda o: [o.dashboard.title],
                     ("spec", "dashboard", "title"),
                     "Grafana search, links and folders need distinct titles; set spec.dashboard.title"),
        *_duplicates(outputs, index, "rule group", lambda o: [g.name for g in o.rule_file.groups], NAME,
                     "Prometheus reports rule groups by name; two groups of one name cannot be told apart"),
    ]


def _shared_pod(a: Service, b: Service) -> str | None:
    """A pod name both services' pod patterns match, preferring one shaped like a real pod's."""
    for service in (a, b):
        try:
            names = example_names(service.selector.pod_regex, 2)
        except ValueError:
            names = []
        for name in names:
            if re.fullmatch(a.selector.pod_regex, name) and re.fullmatch(b.selector.pod_regex, name):
                return name
    try:
        return common_name(a.selector.pod_regex, b.selector.pod_regex)
    except Unsupported:
        return None


def _compatible(a: Service, b: Service) -> bool:
    """Could one series carry both services' extra matchers?"""
    mine = dict(a.selector.matchers)
    return all(mine.get(k, v) == v for k, v in b.selector.matchers)


def _overlap(a: Service, b: Service) -> tuple[str, str, Path_] | None:
    """(pod both select, what they share, spec path to change) when the services select a common pod."""
    if a.namespace != b.namespace:
        return None
    pod = _shared_pod(a, b)
    if pod is None:
        return None
    if a.container == b.container:
        return pod, f"container '{a.container}' in namespace {a.namespace}", ("spec", "selector", "pod")
    same_app = (a.selector.job == b.selector.job and _compatible(a, b)
                and a.selector.namespace_label == b.selector.namespace_label)
    if same_app:
        return pod, f"job '{a.selector.job}' in namespace {a.namespace}", ("spec", "selector", "pod")
    return None


def _disjoint_suggestion(a: Service, b: Service) -> str:
    """Deployment-shaped patterns for both, when they are in fact disjoint. (Service names are DNS labels:
    nothing in them needs escaping.)"""
    shaped = {s.name: f"{s.name}-[a-z0-9]+-[a-z0-9]{{5}}" for s in (a, b)}
    try:
        if common_name(shaped[a.name], shaped[b.name]) is None:
            return (f"; for Deployments, '{shaped[a.name]}' and '{shaped[b.name]}' are disjoint")
    except Unsupported:
        pass
    return ""


def _literal_prefix(regex: str) -> str:
    """The characters every name an anchored pod pattern matches begins with ("" when unknown)."""
    try:
        parsed = pod_regex.parse(regex)
    except ValueError:
        return ""
    if parsed.fold:
        return ""
    prefix = []
    for node in parsed.body:
        if isinstance(node, pod_regex.Literal):
            prefix.append(node.char)
        elif not isinstance(node, pod_regex.Anchor):  # anchors match no character
            break
    return "".join(prefix)


def _prefixes_differ(a: str, b: str) -> bool:
    """Two names that begin with `a` and `b` can never be equal."""
    return not (a.startswith(b) or b.startswith(a))


def _overlapping_pairs(services: Sequence[Service]) -> list[tuple[int, int]]:
    """(i, j), i < j, of services that could share a pod: same namespace, and pod patterns whose literal
    prefixes do not already rule it out. Comparing only these keeps a fleet of 1,000 services linear in
    practice; the exact check (`_overlap`) still decides each pair."""
    by_namespace: dict[str, list[int]] = {}
    for i, service in enumerate(services):
        by_namespace.setdefault(service.namespace, []).append(i)
    prefixes = [_literal_prefix(s.selector.pod_regex) for s in services]
    pairs = []
    for members in by_namespace.values():
        for k, i in enumerate(members):
            pairs += [(i, j) for j in members[k + 1:] if not _prefixes_differ(prefixes[i], prefixes[j])]
    return sorted(pairs)


def overlapping_selectors(outputs: Sequence[ServiceOutput], index: SpecIndex) -> list[Problem]:
    services = [o.service for o in outputs]
    problems = []
    for i, j in _overlapping_pairs(services):
        a, b = services[i], services[j]
        found = _overlap(a, b)
        if found is None:
            continue
        pod, shared, path = found
        problems.append(index.problem(
            b, [path, ("spec", "namespace")],
            f"services {a.name} ({index.where(a, [path])}) and {b.name} select the same pods: both match pod "
            f"'{pod}' with {shared}, so its alerts would fire twice and both would record the same series",
            "make their spec.selector.pod patterns disjoint" + _disjoint_suggestion(a, b)))
    return problems


def undefined_recordings(outputs: Sequence[ServiceOutput], index: SpecIndex,
                         exprs: lint.Exprs | None = None) -> list[Problem]:
    exprs = exprs or lint.Exprs()
    defined = {name for o in outputs for name in lint.recorded_in(o.rule_file)}
    problems = []
    for out in outputs:
        for where, expr in out.dashboard.exprs():
            for missing in sorted(exprs(expr).recorded - defined):
                problems.append(index.problem(out.service, [NAME], f"dashboard of {out.service.name}: {where} reads "
                                              f"recorded series {missing}, which no rule file defines"))
    return problems


def _panel_ids(dashboard: Dashboard) -> set[int]:
    return {p.id for p in dashboard.content_panels}


def broken_links(outputs: Sequence[ServiceOutput], index: SpecIndex) -> list[Problem]:
    dashboards = {o.dashboard.uid: o.dashboard for o in outputs}
    # Each dashboard's panel ids, once: a service's alerts all link into its dashboard.
    panel_ids = {uid: _panel_ids(d) for uid, d in dashboards.items()}
    problems = []
    for out in outputs:
        prefix = out.service.dashboard.grafana_url
        for alert in out.rule_file.alerts:
            url = dict(alert.annotations).get("dashboard_url")
            if url is None:
                continue
            problem = _link_problem(url.removeprefix(prefix), dashboards, panel_ids)
            if problem:
                problems.append(index.problem(out.service, [NAME],
                                              f"alert {alert.name} of {out.service.name}: {problem}"))
    return problems


def _link_problem(link: str, dashboards: dict[str, Dashboard],
                  panel_ids: dict[str, set[int]] | None = None) -> str | None:
    parts = urlsplit(link)
    segments = parts.path.split("/")
    if len(segments) < 3 or segments[1] != "d":
        return f"dashboard link '{link}' is not a Grafana dashboard link (/d/<uid>/...)"
    uid = segments[2]
    if uid not in dashboards:
        return f"dashboard link points at dashboard uid '{uid}', which obsgen does not generate"
    panel = parse_qs(parts.query).get("viewPanel", [None])[0]
    ids = panel_ids[uid] if panel_ids is not None else _panel_ids(dashboards[uid])
    if panel is not None and (not panel.isdigit() or int(panel) not in ids):
        return (f"dashboard link points at panel {panel} of dashboard '{dashboards[uid].title}', "
                "which has no such panel")
    return None


def cross_check(outputs: Sequence[ServiceOutput], index: SpecIndex, exprs: lint.Exprs | None = None) -> list[Problem]:
    """Every check across services; `exprs` holds the expressions lint already parsed."""
    return [*duplicate_names(outputs, index), *overlapping_selectors(outputs, index),
            *undefined_recordings(outputs, index, exprs), *broken_links(outputs, index)]
