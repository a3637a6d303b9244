"""A Jsonnet monitoring mixin: `mixin/mixin.libsonnet`, one `mixin/services/<service>.libsonnet` per service.

The mixin convention (kubernetes-mixin, kube-prometheus, jsonnet-bundler) is an
object with hidden fields `prometheusAlerts` and `prometheusRules` (each
`{groups: [...]}`) and `grafanaDashboards` (`{'<file>.json': dashboard}`).
Alerting and recording rules are kept in separate groups, as mixins do: a
recording group is named after its alert group with `.rules` appended.
Everything the mixin needs is inside `mixin/`, so it can be vendored alone.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any, TYPE_CHECKING, Sequence

from gen.ir import RecordingRule, RenderedAlert, RuleFile
from gen.write import header, to_yaml
from gen.targets.emitted import Emitted

if TYPE_CHECKING:
    from gen.ir import ServiceOutput
    from gen.spec.project import Project

DIRECTORY = "mixin"
INDEX = f"{DIRECTORY}/mixin.libsonnet"
RECORDING_SUFFIX = ".rules"


def _split(rule_file: RuleFile, kind: type, suffix: str) -> list[dict]:
    out = []
    for group in rule_file.groups:
        rules = tuple(r for r in group.rules if isinstance(r, kind))
        if rules:
            out.append(dataclasses.replace(group, name=group.name + suffix, rules=rules).to_dict())
    return out


def service_mixin(out: ServiceOutput) -> dict:
    return {
        "prometheusAlerts": {"groups": _split(out.rule_file, RenderedAlert, "")},
        "prometheusRules": {"groups": _split(out.rule_file, RecordingRule, RECORDING_SUFFIX)},
        "grafanaDashboards": {f"{out.service.name}.json": out.dashboard.to_json_data()},
    }


def _lines(value: Any, depth: int, indent: str = "") -> str:
    """JSON (which Jsonnet reads) opened up `depth` levels, a line per rule and per panel, compact below."""
    flat = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    if depth == 0 or not isinstance(value, (dict, list)) or not value or len(flat) <= 100:
        return flat
    inner = indent + "  "
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {_lines(value[k], depth - 1, inner)}"
                 for k in sorted(value)]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    return "[\n" + ",\n".join(f"{inner}{_lines(v, depth - 1, inner)}" for v in value) + f"\n{indent}]"


def _service_file(out: ServiceOutput) -> bytes:
    # Deep enough that a rule (mixin, alerts, groups, a group, its rules) and a dashboard panel are a line each.
    body = _lines(service_mixin(out), 5)
    return f"// {header(out.service.source)}\n{body}\n".encode()


def _index(outputs: Sequence[ServiceOutput], source: str) -> bytes:
    imports = "".join(f"  import 'services/{o.service.name}.libsonnet',\n" for o in outputs)
    return (
        f"// {header(source)}\n"
        "// A monitoring mixin of every obsgen service. Use it like any mixin:\n"
        "//   local obsgen = import 'mixin.libsonnet';\n"
        "//   obsgen.prometheusAlerts, obsgen.prometheusRules, obsgen.grafanaDashboards\n"
        f"local services = [\n{imports}];\n"
        "{\n"
        "  prometheusAlerts+:: {\n"
        "    groups+: std.flattenArrays([s.prometheusAlerts.groups for s in services]),\n"
        "  },\n"
        "  prometheusRules+:: {\n"
        "    groups+: std.flattenArrays([s.prometheusRules.groups for s in services]),\n"
        "  },\n"
        "  grafanaDashboards+:: std.foldl(function(all, s) all + s.grafanaDashboards, services, {}),\n"
        "}\n"
    ).encode()


def emit(project: Project, outputs: Sequence[ServiceOutput]) -> Emitted:
    if not project.targets.mixin:
        return Emitted()
    source = project.file or "the specs"
    files = {f"{DIRECTORY}/services/{o.service.name}.libsonnet": _service_file(o) for o in outputs}
    files[INDEX] = _index(outputs, source)
    # kube-prometheus puts a mixin's alerts and rules into one rule file; promtool checks that file.
    mixins = [service_mixin(o) for o in outputs]
    combined = {"groups": [g for m in mixins for g in m["prometheusAlerts"]["groups"]]
                + [g for m in mixins for g in m["prometheusRules"]["groups"]]}
    return Emitted(files, {f"{INDEX} (alerts and rules)": to_yaml(combined, source)})
