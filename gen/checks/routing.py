"""Routing checks at build time, where the project file's `alerting` section meets the specs.

- a spec's `spec.routing` naming a receiver the project file does not declare (when it declares any,
  or an Alertmanager target is on);
- an `alerting.teams` entry for a team no spec has (a typo routes that team's alerts elsewhere);
- an `alerting.groupBy` label that obsgen's alerts never carry (the grouping would silently not split);
- critical or warning alerts of a team that would reach no receiver, when an Alertmanager target is on.

Each is one line at the place to fix.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from gen.checks.crosscheck import SpecIndex
from gen.domains.alerts import EXPRESSION_LABELS, SUBJECT_LABELS
from gen.errors import Problem
from gen.render.alertmanager import service_receivers
from gen.spec.project import PROJECT_FILE, Project, undeclared_hint
from gen.spec.validate import _suggest

if TYPE_CHECKING:
    from gen.ir import ServiceOutput


def _problem(project: Project, path: tuple, message: str, hint: str, *, key: bool = False) -> Problem:
    if project.document is None:
        return Problem(project.file or PROJECT_FILE, message, path=path, hint=hint)
    return project.document.problem(path, message, hint, key=key)


def carried_labels(outputs: Sequence[ServiceOutput]) -> set[str]:
    """Every label an alert of these services can carry: rendered labels, and those of its expression."""
    labels = {"alertname", *EXPRESSION_LABELS}
    for subject in SUBJECT_LABELS.values():
        labels.update(subject)
    for out in outputs:
        selector = out.service.selector
        labels.update({selector.namespace_label, selector.pod_label, *dict(selector.matchers)})
        for queue in out.service.queues:
            labels.update({queue.convention.queue_label, *dict(queue.matchers)})
            if queue.convention.prefix_label:
                labels.add(queue.convention.prefix_label)
        for _, rule in out.rule_file.rules():
            labels.update(dict(rule.labels))
    return labels


def _routed(project: Project) -> bool:
    return project.targets.alertmanager or project.targets.alertmanager_config.enabled


def _spec_receivers(project: Project, outputs: Sequence[ServiceOutput], index: SpecIndex) -> list[Problem]:
    """Only where routing is in use: specs compiled without the project's `alerting` (or its targets) route nowhere."""
    declared = project.alerting.receivers
    if not declared and not _routed(project):
        return []
    problems = []
    for out in outputs:
        for sev, name in out.service.routing:
            if name and name not in declared:
                problems.append(index.problem(out.service, [("spec", "routing", sev)],
                                              f"receiver '{name}' is not declared in {project.file or PROJECT_FILE}",
                                              undeclared_hint(name, declared)))
    return problems


def _unknown_teams(project: Project, outputs: Sequence[ServiceOutput]) -> list[Problem]:
    teams = sorted({out.service.team for out in outputs if out.service.team})
    problems = []
    for team, _ in project.alerting.teams:
        if team not in teams:
            guess = _suggest(team, teams)
            hint = (f"did you mean '{guess}'?" if guess else
                    f"teams of the specs: {', '.join(teams)}" if teams else "no spec sets metadata.team")
            problems.append(_problem(project, ("alerting", "teams", team), f"no spec has team '{team}'", hint,
                                     key=True))
    return problems


def _group_by(project: Project, outputs: Sequence[ServiceOutput]) -> list[Problem]:
    carried = carried_labels(outputs)
    problems = []
    for i, label in enumerate(project.alerting.group_by):
        if label != "..." and label not in carried:
            guess = _suggest(label, sorted(carried))
            hint = f"did you mean '{guess}'?" if guess else \
                f"obsgen's alerts carry: {', '.join(sorted(carried))}"
            problems.append(_problem(project, ("alerting", "groupBy", i),
                                     f"no obsgen alert carries the label '{label}', so grouping by it changes "
                                     "nothing", hint))
    return problems


def _unrouted(project: Project, outputs: Sequence[ServiceOutput], index: SpecIndex) -> list[Problem]:
    if not _routed(project):
        return []
    problems, seen = [], set()
    for out in outputs:
        receivers = service_receivers(project, out.service)
        for sev in ("critical", "warning"):
            if receivers[sev]:
                continue
            team = out.service.team
            if (team, sev) in seen:
                continue
            seen.add((team, sev))
            who = f"team {team}" if team else f"{out.service.name} (no metadata.team)"
            where = f"alerting.teams.{team}.{sev} or alerting.route.{sev}" if team else f"alerting.route.{sev}"
            own = team and dict(project.alerting.teams).get(team) is not None
            problems.append(_problem(project, ("alerting", "teams", team, sev) if own else ("alerting", "route", sev),
                                     f"{sev} alerts of {who} would reach no receiver",
                                     f"set {where} to a receiver in alerting.receivers"))
    return problems


def check_routing(project: Project, outputs: Sequence[ServiceOutput], index: SpecIndex) -> list[Problem]:
    return (_spec_receivers(project, outputs, index) + _unknown_teams(project, outputs)
            + _group_by(project, outputs) + _unrouted(project, outputs, index))
