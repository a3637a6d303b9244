"""Alertmanager routing and inhibition for obsgen's alerts, as plain data both Alertmanager targets write.

Routing: the project file's `alerting` section, a team's override (`alerting.teams`) and a spec's own
(`spec.routing`) resolve to one receiver per severity for each service. The route tree matches only
obsgen's alerts (their names and the services' names), then the team, then the severity.

Inhibition: every domain declares which of its alerts supersede which (`INHIBITIONS`, see
gen.domains.alerts.Inhibition); each declaration becomes inhibit rules here, never a hand-kept list. A
source only suppresses targets of its own severity or lower, so a spec that makes the source a warning
cannot hide a page.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from gen.domains import inhibitions, unsuperseded
from gen.domains.alerts import REGISTRY, Inhibition
from gen.spec.model import Service
from gen.spec.project import DISCARD_RECEIVER, Project
from gen.spec.schema import SEVERITIES

# Severities from the most to the least urgent; a source suppresses its own rank and those below.
RANK = {sev: i for i, sev in enumerate(SEVERITIES)}
OBSGEN_ALERTS = "|".join(sorted(a.name for a in REGISTRY))


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str  # = or =~
    value: str

    def text(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'

    def crd(self) -> dict:
        return {"name": self.name, "matchType": self.op, "value": self.value}


@dataclass(frozen=True)
class Route:
    matchers: tuple[Matcher, ...]
    receiver: str = ""  # empty: the parent's
    routes: tuple["Route", ...] = ()
    repeat_interval: str = ""


@dataclass(frozen=True)
class InhibitRule:
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]


# ---- who gets what ----

def _first(*names: str) -> str:
    return next((n for n in names if n), "")


def team_receivers(project: Project, team: str) -> dict[str, str]:
    """Receiver per severity of a team's alerts ("" for services without a team); "" means nowhere."""
    a = project.alerting
    own = dict(a.team(team)) if team else {}
    return {sev: _first(own.get(sev, ""), dict(a.route)[sev]) for sev in SEVERITIES}


def service_receivers(project: Project, service: Service) -> dict[str, str]:
    team = team_receivers(project, service.team)
    own = dict(service.routing)
    return {sev: _first(own.get(sev, ""), team[sev]) for sev in SEVERITIES}


def routing_table(project: Project, services: Sequence[Service]) -> dict[str, dict[str, str]]:
    """Who gets each severity: per team (`team X`, or `services without a team`), and per service where a
    spec overrides its team. What `obsgen diff` compares."""
    table: dict[str, dict[str, str]] = {}
    for team in sorted({s.team for s in services}):
        table[f"team {team}" if team else "services without a team"] = team_receivers(project, team)
    for service in services:
        own = service_receivers(project, service)
        if own != team_receivers(project, service.team):
            table[f"service {service.name}"] = own
    return table


def _severity_routes(project: Project, receivers: dict[str, str]) -> tuple[Route, ...]:
    repeat = {sev: d.text for sev, d in project.alerting.repeat_interval}
    return tuple(Route((Matcher("severity", "=", sev),), receivers[sev], repeat_interval=repeat[sev])
                 for sev in SEVERITIES if receivers[sev])


def obsgen_route(project: Project, services: Sequence[Service]) -> Route:
    """The subtree for obsgen's alerts: service overrides first, then teams, then the default receivers."""
    default = team_receivers(project, "")
    routes: list[Route] = []
    for service in sorted(services, key=lambda s: s.name):
        own = service_receivers(project, service)
        if own != team_receivers(project, service.team):
            routes.append(Route((Matcher("service", "=", service.name),), DISCARD_RECEIVER,
                                _severity_routes(project, own)))
    for team in sorted({s.team for s in services if s.team}):
        receivers = team_receivers(project, team)
        if receivers != default:
            routes.append(Route((Matcher("team", "=", team),), DISCARD_RECEIVER, _severity_routes(project, receivers)))
    routes += _severity_routes(project, default)
    names = "|".join(sorted(s.name for s in services))
    return Route((Matcher("alertname", "=~", OBSGEN_ALERTS), Matcher("service", "=~", names)), DISCARD_RECEIVER,
                 tuple(routes))


def used_receivers(route: Route) -> set[str]:
    found = {route.receiver} if route.receiver else set()
    for child in route.routes:
        found |= used_receivers(child)
    return found


# ---- which alert suppresses which ----

def _names(alerts: Iterable) -> str:
    return "|".join(sorted(a.name for a in alerts))


def _one_or_many(name: str, values: list[str]) -> Matcher:
    return Matcher(name, "=", values[0]) if len(values) == 1 else Matcher(name, "=~", "|".join(values))


def inhibit_rules_of(inhibition: Inhibition, extra_equal: tuple[str, ...] = ()) -> list[InhibitRule]:
    """A source at each severity that can suppress anything suppresses that severity and the ones below."""
    targets = inhibition.target_alerts()
    if not targets:
        return []
    equal = tuple(dict.fromkeys(inhibition.equal + extra_equal))
    rules = []
    for sev in SEVERITIES[:-1]:  # an info alert goes nowhere: it has nothing to suppress
        below = [s for s in SEVERITIES if RANK[s] >= RANK[sev]]
        target = [Matcher("alertname", "=~" if len(targets) > 1 else "=", _names(targets)),
                  Matcher("service", "=~", ".+")]
        if len(below) < len(SEVERITIES):
            target.append(_one_or_many("severity", below))
        rules.append(InhibitRule(
            (Matcher("alertname", "=", inhibition.source.name), Matcher("service", "=~", ".+"),
             Matcher("severity", "=", sev)),
            tuple(target), equal))
    return rules


def inhibit_rules(project: Project) -> list[InhibitRule]:
    if not project.alerting.inhibition:
        return []
    return [rule for i in inhibitions() for rule in inhibit_rules_of(i, project.alerting.inhibition_equal)]


def inhibition_table() -> str:
    """The inhibitions as a Markdown table, for docs/alertmanager.md (a test keeps it in step)."""
    lines = ["| While this fires | these are not notified | for the same | because |", "|---|---|---|---|"]
    for i in inhibitions():
        targets = "every other obsgen alert of the service" if isinstance(i.targets, str) else \
            ", ".join(f"`{a.name}`" for a in i.targets)
        lines.append(f"| `{i.source.name}` | {targets} | {', '.join(f'`{e}`' for e in i.equal)} | {i.why} |")
    lines += ["", "Superseded by no narrower alert (`UNSUPERSEDED`):", ""]
    lines += [f"- `{u.alert.name}`: {u.why}." for u in unsuperseded()]
    return "\n".join(lines) + "\n"


# ---- as Alertmanager's configuration file writes them ----

# How the two forms spell a route's keys: alertmanager.yml in snake case, AlertmanagerConfig in camel case.
_YAML_KEYS = {"group_by": "group_by", "group_wait": "group_wait", "group_interval": "group_interval",
              "repeat_interval": "repeat_interval"}
_CRD_KEYS = {"group_by": "groupBy", "group_wait": "groupWait", "group_interval": "groupInterval",
             "repeat_interval": "repeatInterval"}


def _route(route: Route, project: Project | None, keys: dict[str, str], matcher: Callable[[Matcher], object]) -> dict:
    out: dict = {"matchers": [matcher(m) for m in route.matchers]}
    if route.receiver:
        out["receiver"] = route.receiver
    if project is not None:  # the subtree's grouping, inherited by every route below it
        a = project.alerting
        out.update({keys["group_by"]: list(a.group_by), keys["group_wait"]: a.group_wait.text,
                    keys["group_interval"]: a.group_interval.text,
                    keys["repeat_interval"]: dict(a.repeat_interval)["critical"].text})
    if route.repeat_interval:
        out[keys["repeat_interval"]] = route.repeat_interval
    if route.routes:
        out["routes"] = [_route(r, None, keys, matcher) for r in route.routes]
    return out


def route_yaml(route: Route, project: Project | None = None) -> dict:
    return _route(route, project, _YAML_KEYS, lambda m: m.text())


def inhibit_rule_yaml(rule: InhibitRule) -> dict:
    return {"source_matchers": [m.text() for m in rule.source], "target_matchers": [m.text() for m in rule.target],
            "equal": list(rule.equal)}


# ---- as the Prometheus Operator's AlertmanagerConfig writes them ----

def route_crd(route: Route, project: Project | None = None) -> dict:
    return _route(route, project, _CRD_KEYS, lambda m: m.crd())


def inhibit_rule_crd(rule: InhibitRule) -> dict:
    return {"sourceMatch": [m.crd() for m in rule.source], "targetMatch": [m.crd() for m in rule.target],
            "equal": list(rule.equal)}
