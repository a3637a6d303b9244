"""`obsgen diff`: what a change to the specs does to alerts, rules and dashboards, for review.

Both sides are compiled in memory with the obsgen that runs, then compared as
models, not as text: alerts by service and name, recording rules by name, panels
by their stable id. Alert settings changes are reported in spec terms
(`NodejsEventLoopLagHigh: threshold 200ms -> 300ms`), and what follows from
them alone (the alert's expression, the threshold line on its panel) is not
repeated: the base is re-rendered with the new alert settings first, and only
the remaining differences are listed at the output level.
"""
from __future__ import annotations

import dataclasses
import difflib
import html
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from gen.tools import git_tree
from gen.errors import ObsgenError
from gen.spec.jsonnet import Pairs
from gen.spec.model import AlertSettings, Service
from gen.ir import (AlertRule, Compiled, Dashboard, DashboardPanel, RecordingRule, RenderedAlert, RuleFile,
    ServiceOutput, rule_dict)
from gen.pipeline import compile_specs, render_service
from gen.spec.project import PROJECT_FILE, load_project
from gen.render.alertmanager import routing_table
from gen.units import Duration, Quantity

MARKER = "<!-- obsgen-diff -->"  # lets a CI job find and update its own pull-request comment


@dataclass(frozen=True)
class Change:
    sign: str  # + added, - removed, ~ changed
    subject: str  # what changed: an alert name, "panel 'Heap'", "record x:y:z", "dashboard"
    text: str = ""
    before: str = ""  # long values (expressions, descriptions) shown as a two-line diff
    after: str = ""


@dataclass(frozen=True)
class ServiceDiff:
    name: str
    source: str
    status: str  # added | removed | changed
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class Report:
    base: str
    head: str
    services: tuple[ServiceDiff, ...]
    project: tuple[Change, ...]

    @property
    def changed(self) -> bool:
        return bool(self.services or self.project)


def show(value: Any) -> str:
    if value is None or value == "":
        return "(unset)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return str(value)


# ---- alert settings, in spec terms ----

def distinguished(rules: list[tuple[str, dict]]) -> list[str]:
    """Names for (alert name, labels) pairs, with the labels that tell same-named alerts apart.

    NodejsHeapLeak is one alert per heap signal: shown as NodejsHeapLeak{signal=old_space} and
    NodejsHeapLeak{signal=heap_used}, not as the same name twice.
    """
    by_name: dict[str, list[dict]] = {}
    for name, labels in rules:
        by_name.setdefault(name, []).append(labels)
    out = []
    for name, labels in rules:
        siblings = by_name[name]
        if len(siblings) < 2:
            out.append(name)
            continue
        keys = sorted({k for other in siblings for k in other if len({str(o.get(k)) for o in siblings}) > 1})
        shown = ",".join(f"{k}={labels[k]}" for k in keys if k in labels)
        out.append(f"{name}{{{shown}}}" if shown else name)
    return out


def _alert_names(out: ServiceOutput) -> dict[str, list[str]]:
    rules = [rule for domain in out.domains for group in domain.groups for rule in group.rules
             if isinstance(rule, AlertRule) and rule.setting]
    shown = distinguished([(rule.name, dict(rule.labels)) for rule in rules])
    names: dict[str, list[str]] = {}
    for rule, name in zip(rules, shown):
        if name not in names.setdefault(rule.setting, []):
            names[rule.setting].append(name)
    return names


def _settings_diff(old: AlertSettings, new: AlertSettings) -> list[str]:
    out = []
    if old.severity != new.severity:
        out.append(f"severity {old.severity} -> {new.severity}")
    if old.for_ != new.for_:
        out.append(f"for {old.for_} -> {new.for_}")
    old_params = dict(old.params)
    for name, value in new.params:
        if old_params.get(name) != value:
            out.append(f"{name} {show(old_params.get(name))} -> {show(value)}")
    return out


def setting_changes(old: ServiceOutput, new: ServiceOutput) -> list[Change]:
    old_names, new_names = _alert_names(old), _alert_names(new)
    old_settings = {s.key: s for s in old.service.alerts.settings}
    changes = []
    for setting in new.service.alerts.settings:
        before = old_settings.get(setting.key)
        if before is None or before == setting:
            continue
        if before.enabled != setting.enabled:
            sign, verb = ("+", "enabled") if setting.enabled else ("-", "disabled")
            names = new_names if setting.enabled else old_names
            for name in names.get(setting.key, [f"alerts.{setting.key}"]):
                changes.append(Change(sign, name, f"alert {'added' if sign == '+' else 'removed'} "
                                                  f"(alerts.{setting.key} {verb})"))
            continue
        text = ", ".join(_settings_diff(before, setting))
        if not text:
            continue
        names = new_names.get(setting.key) if setting.enabled else None
        for name in names or [f"alerts.{setting.key} (disabled)"]:
            changes.append(Change("~", name, text))
    return changes


# ---- other spec fields, as context for the output changes they cause ----

def _spec_fields(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, (Duration, Quantity)):
        return {prefix: value.text}
    if dataclasses.is_dataclass(value):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            if f.name in SPEC_FIELDS_SHOWN_ELSEWHERE:
                continue
            out.update(_spec_fields(getattr(value, f.name), f"{prefix}.{f.name}" if prefix else f.name))
        return out
    return {prefix: value}


# Alert settings are reported per alert, routing per team; the source is where the spec is, not what it says.
SPEC_FIELDS_SHOWN_ELSEWHERE = ("settings", "source", "routing")  # routing: see routing_changes


def spec_changes(old: Service, new: Service) -> list[Change]:
    before, after = _spec_fields(old), _spec_fields(new)
    return [Change("~", "spec", f"{key.rstrip('_')} {show(before.get(key))} -> {show(after.get(key))}")
            for key in after if before.get(key) != after.get(key)]


# ---- rules ----

Rendered = RecordingRule | RenderedAlert


def _keyed(items: Iterable[tuple[str, Rendered]]) -> dict[tuple[str, int], tuple[str, Rendered]]:
    """Items keyed by (name, n-th of that name), so repeated names pair up in order.

    Alerts that share a name carry the labels that tell them apart in the name
    (NodejsHeapLeak{signal=old_space}), so each is paired with its own and shown once.
    """
    items = list(items)
    names = distinguished([(_name(rule), _identity(rule)) for _, rule in items])
    seen: dict[str, int] = {}
    out = {}
    for name, (group, rule) in zip(names, items):
        out[(name, seen.get(name, 0))] = (group, rule)
        seen[name] = seen.get(name, 0) + 1
    return out


def _name(rule: Rendered) -> str:
    return rule.record if isinstance(rule, RecordingRule) else rule.name


def _identity(rule: Rendered) -> dict:
    """The labels that say which of several same-named alerts a rule is (not severity or routing)."""
    if not isinstance(rule, RenderedAlert):
        return {}
    return {k: v for k, v in rule.labels if k not in ("severity", "service", "team")}


def _rules(rule_file: RuleFile, kind: type) -> dict[tuple[str, int], tuple[str, Rendered]]:
    return _keyed((g.name, r) for g, r in rule_file.rules() if isinstance(r, kind))


def _same(a: tuple[str, Rendered], b: tuple[str, Rendered]) -> bool:
    """Same group and the same rule as a rule file writes it."""
    return a[0] == b[0] and rule_dict(a[1]) == rule_dict(b[1])


def _label_changes(old: dict, new: dict) -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) == new.get(key):
            continue
        if key == "severity" and key in old and key in new:
            out.append(f"severity {old[key]} -> {new[key]}")
        elif key not in old:
            out.append(f"label {key}={new[key]} added")
        elif key not in new:
            out.append(f"label {key}={old[key]} removed")
        else:
            out.append(f"label {key} {old[key]} -> {new[key]}")
    return out


SHORT_ANNOTATIONS = ("runbook_url", "dashboard_url")


def _alert_changes(name: str, old: tuple[str, RenderedAlert], new: tuple[str, RenderedAlert]) -> list[Change]:
    (old_group, a), (new_group, b) = old, new
    short = []
    if a.for_ != b.for_:
        short.append(f"for {show(a.for_)} -> {show(b.for_)}")
    short += _label_changes(dict(a.labels), dict(b.labels))
    if old_group != new_group:
        short.append(f"moved from group {old_group} to {new_group}")
    old_notes, new_notes = dict(a.annotations), dict(b.annotations)
    for key in sorted(set(old_notes) | set(new_notes)):
        if old_notes.get(key) != new_notes.get(key) and key in SHORT_ANNOTATIONS:
            short.append(f"{key} {show(old_notes.get(key))} -> {show(new_notes.get(key))}")
    changes = [Change("~", name, ", ".join(short))] if short else []
    if a.expr != b.expr:
        changes.append(Change("~", name, "expression changed", a.expr, b.expr))
    for key in sorted(set(old_notes) | set(new_notes)):
        if old_notes.get(key) != new_notes.get(key) and key not in SHORT_ANNOTATIONS:
            changes.append(Change("~", name, f"{key} changed", old_notes.get(key, ""), new_notes.get(key, "")))
    return changes


def rule_changes(old: RuleFile, new: RuleFile) -> list[Change]:
    changes: list[Change] = []
    for kind, label in ((RenderedAlert, "alert"), (RecordingRule, "recording rule")):
        before, after = _rules(old, kind), _rules(new, kind)
        for key in [k for k in before if k not in after]:
            changes.append(Change("-", key[0], f"{label} removed"))
        for key in [k for k in after if k not in before]:
            changes.append(Change("+", key[0], f"{label} added"))
        for key in [k for k in after if k in before and not _same(before[k], after[k])]:
            if kind is RenderedAlert:
                changes += _alert_changes(key[0], before[key], after[key])  # type: ignore[arg-type]
            elif before[key][1].expr != after[key][1].expr:
                changes.append(Change("~", key[0], "expression changed", before[key][1].expr,
                                      after[key][1].expr))
            else:
                changes.append(Change("~", key[0], "labels or group changed"))
    return changes


# ---- dashboards ----

@dataclass(frozen=True)
class PanelAt:
    """Where a panel sits: its row (by the row's stable id, titled for display) and its place in that row."""

    panel: DashboardPanel
    row_id: int | None
    row: str
    index: int


def _panels(dashboard: Dashboard) -> dict[int, PanelAt]:
    out, row_id, row, index = {}, None, "", 0
    for panel in dashboard.panels:
        if panel.is_row:
            row_id, row, index = panel.id, panel.title, 0
            out[panel.id] = PanelAt(panel, None, "", 0)
            continue
        out[panel.id] = PanelAt(panel, row_id, row, index)
        index += 1
    return out


def _describe(placed: PanelAt) -> str:
    return f"{'row' if placed.panel.is_row else 'panel'} '{placed.panel.title}'"


def _moved(old: dict[int, PanelAt], new: dict[int, PanelAt]) -> set[int]:
    """Panels whose row changed, or whose order among the panels both sides share changed in their row."""
    moved = {pid for pid in new if pid in old and old[pid].row_id != new[pid].row_id}
    for row_id in {p.row_id for p in new.values()}:
        common = [pid for pid in new if pid in old and new[pid].row_id == row_id and old[pid].row_id == row_id
                  and not new[pid].panel.is_row]
        before = sorted(common, key=lambda pid: old[pid].index)
        after = sorted(common, key=lambda pid: new[pid].index)
        matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
        kept = {pid for block in matcher.get_matching_blocks() for pid in after[block.b:block.b + block.size]}
        moved |= set(common) - kept
    return moved


PANEL_FIELDS: tuple[tuple[str, Callable[[dict], Any]], ...] = (
    ("unit", lambda p: p.get("fieldConfig", {}).get("defaults", {}).get("unit")),
    ("type", lambda p: p.get("type")),
    ("size", lambda p: (p.get("gridPos", {}).get("w"), p.get("gridPos", {}).get("h"))),
    ("min", lambda p: p.get("fieldConfig", {}).get("defaults", {}).get("min")),
    ("max", lambda p: p.get("fieldConfig", {}).get("defaults", {}).get("max")),
)


def _panel_changes(subject: str, old_panel: DashboardPanel, new_panel: DashboardPanel) -> list[Change]:
    changes = []
    if old_panel.title != new_panel.title:
        changes.append(Change("~", subject, f"renamed to '{new_panel.title}'"))
    old, new = old_panel.body, new_panel.body
    short = [f"{name} {show(get(old))} -> {show(get(new))}" for name, get in PANEL_FIELDS if get(old) != get(new)]
    if old.get("description") != new.get("description"):
        short.append("description changed")
    if old.get("fieldConfig", {}).get("defaults", {}).get("thresholds") != \
            new.get("fieldConfig", {}).get("defaults", {}).get("thresholds"):
        short.append("thresholds changed")
    if short:
        changes.append(Change("~", subject, ", ".join(short)))
    old_targets = {q.ref: q for q in old_panel.queries}
    new_targets = {q.ref: q for q in new_panel.queries}
    for ref in sorted(set(old_targets) | set(new_targets)):
        a, b = old_targets.get(ref), new_targets.get(ref)
        if a is None:
            changes.append(Change("+", subject, f"query {ref} added", "", b.expr))
        elif b is None:
            changes.append(Change("-", subject, f"query {ref} removed", a.expr, ""))
        else:
            if a.expr != b.expr:
                changes.append(Change("~", subject, f"query {ref} changed", a.expr, b.expr))
            if a.legend != b.legend:
                changes.append(Change("~", subject, f"query {ref} legend {show(a.legend)} -> {show(b.legend)}"))
    return changes


DASHBOARD_FIELDS: tuple[tuple[str, Callable[[dict], Any]], ...] = (
    ("title", lambda d: d.get("title")),
    ("uid", lambda d: d.get("uid")),
    ("tags", lambda d: tuple(d.get("tags", []))),
    ("refresh", lambda d: d.get("refresh")),
    ("time range", lambda d: d.get("time", {}).get("from")),
)


def _named_queries(items: list[dict], query: str) -> dict[str, str]:
    return {item.get("name", ""): str(item.get(query, "")) for item in items}


def dashboard_changes(old_dashboard: Dashboard, new_dashboard: Dashboard) -> list[Change]:
    old, new = old_dashboard.body, new_dashboard.body
    changes = [Change("~", "dashboard", f"{name} {show(get(old))} -> {show(get(new))}")
               for name, get in DASHBOARD_FIELDS if get(old) != get(new)]
    for kind, key, query in (("variable", "templating", "query"), ("annotation", "annotations", "expr")):
        before = _named_queries(old.get(key, {}).get("list", []), query)
        after = _named_queries(new.get(key, {}).get("list", []), query)
        for name in sorted(set(before) | set(after)):
            if before.get(name) != after.get(name):
                sign = "+" if name not in before else "-" if name not in after else "~"
                changes.append(Change(sign, f"{kind} '{name}'", "changed" if sign == "~" else "",
                                      before.get(name, ""), after.get(name, "")))
    old_panels, new_panels = _panels(old_dashboard), _panels(new_dashboard)
    for pid, placed in old_panels.items():
        if pid not in new_panels:
            where = f" (row '{placed.row}')" if placed.row else ""
            changes.append(Change("-", _describe(placed), f"removed{where}"))
    moved = _moved(old_panels, new_panels)
    for pid, placed in new_panels.items():
        subject = _describe(old_panels[pid]) if pid in old_panels else _describe(placed)
        if pid not in old_panels:
            where = f" (row '{placed.row}')" if placed.row else ""
            changes.append(Change("+", subject, f"added{where}"))
            continue
        if pid in moved:
            before = old_panels[pid]
            text = (f"moved from row '{before.row}' to row '{placed.row}'" if before.row_id != placed.row_id
                    else f"moved within row '{placed.row}' (position {before.index + 1} -> {placed.index + 1})")
            changes.append(Change("~", subject, text))
        changes += _panel_changes(subject, old_panels[pid].panel, placed.panel)
    return changes


# ---- services and project ----

def output_changes(old: ServiceOutput, new: ServiceOutput) -> list[Change]:
    return rule_changes(old.rule_file, new.rule_file) + dashboard_changes(old.dashboard, new.dashboard)


def service_changes(old: ServiceOutput, new: ServiceOutput) -> list[Change]:
    """Alert settings in spec terms, then whatever else changed in the output."""
    try:
        explained = render_service(dataclasses.replace(old.service, alerts=new.service.alerts))
    except ObsgenError:
        return output_changes(old, new)
    return spec_changes(old.service, new.service) + setting_changes(old, explained) + output_changes(explained, new)


def _inventory(out: ServiceOutput, sign: str) -> list[Change]:
    alerts = distinguished([(a.name, _identity(a)) for a in out.rule_file.alerts])
    records = out.rule_file.records
    panels = out.dashboard.content_panels
    verb = "added" if sign == "+" else "removed"
    summary = Change(sign, "service", f"{verb}: {len(alerts)} alerts, {len(records)} recording rules, "
                                      f"{len(panels)} panels")
    return [summary] + [Change(sign, name, f"alert {verb}") for name in alerts]


def compare(old: Compiled, new: Compiled, base: str, head: str) -> Report:
    before = {o.service.name: o for o in old.services}
    after = {o.service.name: o for o in new.services}
    services = []
    for name in sorted(set(before) | set(after)):
        if name not in after:
            services.append(ServiceDiff(name, before[name].service.source, "removed",
                                        tuple(_inventory(before[name], "-"))))
        elif name not in before:
            services.append(ServiceDiff(name, after[name].service.source, "added",
                                        tuple(_inventory(after[name], "+"))))
        else:
            changes = service_changes(before[name], after[name])
            if changes:
                services.append(ServiceDiff(name, after[name].service.source, "changed", tuple(changes)))
    old_settings, new_settings = dict(old.project.settings), dict(new.project.settings)
    project = tuple(Change("~", new.project.file or PROJECT_FILE,
                           f"{key}: {show(old_settings.get(key))} -> {show(new_settings.get(key))}")
                    for key in sorted(set(old_settings) | set(new_settings))
                    if old_settings.get(key) != new_settings.get(key))
    return Report(base, head, tuple(services), project + tuple(routing_changes(old, new)))


def _routed(compiled: Compiled) -> bool:
    targets = compiled.project.targets
    return targets.alertmanager or targets.alertmanager_config.enabled


def routing_changes(old: Compiled, new: Compiled) -> list[Change]:
    """Who now gets which severity, per team and per service with its own routing: in words, not tree paths."""
    if not (_routed(old) or _routed(new)):
        return []
    before = routing_table(old.project, [o.service for o in old.services]) if _routed(old) else {}
    after = routing_table(new.project, [o.service for o in new.services]) if _routed(new) else {}
    changes = []
    for who in sorted(set(before) | set(after)):
        if who not in after:
            if who.startswith("service ") and who[len("service "):] in {o.service.name for o in new.services}:
                changes.append(Change("~", "routing", f"{who} now goes where its team's alerts go"))
            continue
        for sev, receiver in after[who].items():
            was = before.get(who, {}).get(sev)
            if was == receiver:
                continue
            where = f"go to {receiver}" if receiver else "go nowhere"
            since = f" (were {'nowhere' if not was else was})" if who in before else ""
            changes.append(Change("~" if who in before else "+", "routing",
                                  f"{sev} alerts of {who} {'now ' if who in before else ''}{where}{since}"))
    return changes


# ---- compiling the base ----

def _library_paths(copy: Path, project_dir: Path, repo: git_tree.Repository) -> list[str]:
    """Where the base's project file puts Jsonnet libraries, read leniently: load_project judges the file."""
    try:
        paths = yaml.safe_load(copy.read_text())["jsonnet"]["libraryPaths"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return []
    out = []
    for rel in paths if isinstance(paths, list) else []:
        try:
            out.append(repo.relative(project_dir / str(rel)))
        except ObsgenError:
            continue  # outside the repository: not in git, and load_project reports it
    return out


def compile_at(ref: str, spec_dir: Path, project_file: Path, overrides: tuple[Pairs, Pairs]) -> Compiled:
    """Compile the specs as they are at `ref`, in a temporary copy of the repository's layout."""
    repo = git_tree.repository(Path.cwd())
    commit = git_tree.resolve(repo, ref)
    with tempfile.TemporaryDirectory(prefix="obsgen-diff-") as tmp:
        root = Path(tmp)
        base = root / repo.prefix
        project_rel = repo.relative(project_file)
        git_tree.checkout(repo, commit, [project_rel], root)
        project_dir = (Path.cwd() / project_file).parent
        git_tree.checkout(repo, commit, [repo.relative(spec_dir), *_library_paths(root / project_rel, project_dir,
                                                                                  repo)], root)
        specs = root / repo.relative(spec_dir)
        specs.mkdir(parents=True, exist_ok=True)  # no specs at the base: every service is new
        try:
            project = load_project(root / project_rel, base)
            project = dataclasses.replace(project, jsonnet=project.jsonnet.with_overrides(*overrides))
            return compile_specs(specs, base, project)
        except ObsgenError as err:
            raise _at(ref, err) from None


def _at(ref: str, err: ObsgenError) -> ObsgenError:
    return ObsgenError([dataclasses.replace(p, file=f"{ref}:{p.file}") for p in err.problems])


# ---- rendering ----

def _summary(report: Report) -> str:
    counts = {}
    for service in report.services:
        counts[service.status] = counts.get(service.status, 0) + 1
    parts = [f"{n} service{'s' if n != 1 else ''} {status}" for status, n in sorted(counts.items())]
    if report.project:
        parts.append(f"{len(report.project)} project setting{'s' if len(report.project) != 1 else ''} changed")
    return ", ".join(parts) if parts else "no changes to alerts, rules or dashboards"


def _line(change: Change) -> str:
    text = f"{change.subject}: {change.text}" if change.text else change.subject
    return f"{change.sign} {text}"


def render_text(report: Report) -> str:
    lines = [f"obsgen diff {report.base} -> {report.head}: {_summary(report)}"]
    for change in report.project:
        lines.append(f"  {_line(change)}")
    for service in report.services:
        lines.append(f"{service.name} ({service.source}): {service.status}")
        for change in service.changes:
            lines.append(f"  {_line(change)}")
            if change.before:
                lines.append(f"      - {change.before}")
            if change.after:
                lines.append(f"      + {change.after}")
    return "\n".join(lines) + "\n"


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


# GitHub refuses comments over 65536 characters; leave room for what CI adds around the report.
MAX_MARKDOWN = 60_000


def _details(change: Change) -> list[str]:
    lines = [f"<details><summary>{change.sign} <code>{html.escape(change.subject)}</code>: "
             f"{html.escape(change.text)}</summary>", "", "```diff"]
    if change.before:
        lines.append(f"- {change.before}")
    if change.after:
        lines.append(f"+ {change.after}")
    return lines + ["```", "</details>", ""]


def render_markdown(report: Report, limit: int = MAX_MARKDOWN) -> str:
    """Short changes as a list; expressions and texts, which are long, folded away under each service."""
    lines = [MARKER, f"### obsgen: {_summary(report)}", "",
             f"Compared {_code(report.base)} with {report.head}, both compiled from the specs by this obsgen.", ""]
    if report.project:
        lines.append("**Project file**")
        lines += [f"- {_code(c.subject)}: {c.text}" for c in report.project]
        lines.append("")
    for service in report.services:
        lines.append(f"#### {_code(service.name)} {service.status} ({_code(service.source)})")
        short = [c for c in service.changes if not (c.before or c.after)]
        long = [c for c in service.changes if c.before or c.after]
        lines += [f"- {c.sign} {_code(c.subject)}" + (f": {c.text}" if c.text else "") for c in short]
        lines.append("")
        for change in long:
            lines += _details(change)
    text = "\n".join(lines).rstrip("\n") + "\n"
    if len(text) <= limit:
        return text
    note = "\n_The summary is cut here: run `obsgen diff` locally for the rest._\n"
    return text[: text.rfind("\n", 0, limit - len(note)) + 1] + note


RENDERERS = {"text": render_text, "markdown": render_markdown}
