"""The docs document every spec field, from the schema itself, and the README counts from the compiler, so neither can drift."""
from __future__ import annotations

import re

from gen.tools.docs import BEGIN, minimal_summary, replace_section, replace_summary
from gen.spec.schema import spec_schema, walk_fields
from gen.spec.validate import _amount
from gen.synth.scenario import ALERTS as SCENARIO_ALERTS
from gen.domains.alerts import SERVICE_ALERTS, SLO_ALERTS

from .conftest import REPO, run_obsgen


def test_the_spec_reference_is_generated_from_the_schema():
    reference = (REPO / "docs" / "reference.md").read_text()
    assert replace_section(reference) == reference, "docs/reference.md spec reference is stale: run `obsgen docs`"
    assert run_obsgen("docs", "--check", cwd=REPO).returncode == 0


def test_the_readme_counts_come_from_the_compiled_minimal_spec():
    """"Thirteen alerts" was written by hand and could drift; the sentence is generated from the output."""
    readme = (REPO / "README.md").read_text()
    assert replace_summary(readme) == readme, "README minimal spec summary is stale: run `obsgen docs`"
    alerts = {"NodejsEventLoopLagHigh", "NodejsHeapLeak", "NodejsHeapLeakWithinProcess", "PodCpuUsageRising",
              "PodCrashLooping", "PodMemoryExhaustionForecast", "PodMemoryLeak", "PodMemoryLeakWithinPod",
              "PodMemoryNearLimit", "PodOOMKilled", "PodRestartsFrequent", "ServiceDown", "ServiceNotScraped",
              "ServiceTargetDown"}
    assert f" {len(alerts)} alerts " in minimal_summary()
    # Every non-queue alert the scenario library knows of is in the minimal spec's output, except those a spec
    # must turn on (PodOverProvisioned, an info alert that is off by default).
    settings = spec_schema()["properties"]["spec"]["properties"]["alerts"]["properties"]
    opt_in = {a.name for a in SERVICE_ALERTS if settings[a.setting]["properties"]["enabled"]["default"] is False}
    assert opt_in == {"PodOverProvisioned"}
    # SLO alerts need `slos:` in the spec, as queue alerts need `queues:`.
    slo = {a.name for a in SLO_ALERTS}
    assert alerts == {a for a in SCENARIO_ALERTS if not a.startswith("Queue")} - opt_in - slo


def test_docs_check_fails_on_a_stale_count(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "reference.md").write_text((REPO / "docs" / "reference.md").read_text())
    stale = (REPO / "README.md").read_text().replace(" 14 alerts ", " fourteen alerts ")
    (tmp_path / "README.md").write_text(stale)
    result = run_obsgen("docs", "--check", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "error: README.md: minimal spec summary is out of date; run `obsgen docs`\n"


def test_every_duration_and_size_has_a_range_that_holds_its_default():
    for path, field in walk_fields(spec_schema()):
        if field.get("format") not in ("duration", "duration-or-zero", "size"):
            continue
        assert "x-range" in field, f"{'.'.join(path)}: add it to gen.spec.schema.RANGES"
        low, high = (_amount(field["format"], b) for b in field["x-range"])
        if field.get("default") is not None:
            assert low <= _amount(field["format"], field["default"]) <= high, ".".join(path)


README_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(text: str) -> set[str]:
    out, fenced = set(), False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif line.startswith("#") and not fenced:
            title = re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower())
            out.add(title.replace(" ", "-"))
        elif not fenced:
            out.update(re.findall(r'<a id="([^"]+)"></a>', line))  # explicit anchors (docs/alert-records.md)
    return out


def test_readme_and_docs_links_resolve():
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    for page in pages:
        for target in README_LINK.findall(page.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            file, _, anchor = target.partition("#")
            path = (page.parent / file).resolve() if file else page
            assert path.exists(), f"{page.name}: link to missing {target}"
            if anchor and path.suffix == ".md":
                assert anchor in _anchors(path.read_text()), f"{page.name}: no heading for {target}"


def test_the_readme_is_short_with_contents_and_an_architecture_section():
    readme = (REPO / "README.md").read_text()
    assert len(readme) < 20_000 and readme.count("\n") < 250
    assert "## Contents" in readme and "## Architecture" in readme
    assert "(docs/architecture.md)" in readme
    assert BEGIN not in readme  # the generated reference lives in docs/reference.md


def test_out_paths_in_the_docs_exist_in_the_committed_out():
    """`obsgen probe --dashboard out/dashboards/submission-api.json` did not exist with `layout: folders`."""
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for path in re.findall(r"(?<![\w/<])out/[\w./-]+\.(?:json|yml|yaml)\b", page.read_text()):
            assert (REPO / path).exists(), f"{page.name} names {path}, which the example build does not write"


def test_every_field_has_a_description_and_a_default_or_is_required():
    schema = spec_schema()
    for path, field in walk_fields(schema):
        assert field.get("description"), f"{'.'.join(path)} has no description"
        node = schema
        for part in path[:-1]:
            node = node["items"] if part == "[]" else node["properties"][part]
        required = path[-1] in node.get("required", [])
        assert required or "default" in field or field.get("type") == "object", f"{'.'.join(path)} has no default"


def test_every_alert_default_explains_itself():
    """Windows, horizons, thresholds and `for`: each default comes with a one-line reason."""
    alerts = spec_schema()["properties"]["spec"]["properties"]["alerts"]["properties"]
    for name, alert in alerts.items():
        for key, field in alert.get("properties", {}).items():
            if key in ("enabled", "severity"):
                continue
            assert "Default" in field["description"], f"alerts.{name}.{key}: say why the default is what it is"


def test_editor_schema_copy_is_fresh():
    published = (REPO / "schema" / "obsgen-v1.schema.json").read_text()
    assert published.strip() == run_obsgen("schema", cwd=REPO).stdout.strip(), "run `make schema`"
