"""The README documents every spec field, from the schema itself, so the two cannot drift."""
from __future__ import annotations

from gen.spec.reference import replace_section
from gen.spec.schema import spec_schema, walk_fields

from .conftest import REPO, run_obsgen


def test_readme_spec_reference_is_generated_from_the_schema():
    readme = (REPO / "README.md").read_text()
    assert replace_section(readme) == readme, "README spec reference is stale: run `obsgen docs`"
    assert run_obsgen("docs", "--check", cwd=REPO).returncode == 0


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
