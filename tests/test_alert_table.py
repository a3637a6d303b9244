"""docs/alert-records.md is generated from the alert registry and the compiled rules, and every link in it resolves."""
from __future__ import annotations

import re

from gen.domains.alerts import REGISTRY
from gen.tools.alert_table import DOCS, anchor, render

from .conftest import REPO


def test_docs_alert_table_is_current():
    expected = render(REPO)
    actual = (REPO / DOCS).read_text() if (REPO / DOCS).exists() else ""
    assert actual == expected, f"{DOCS} is out of date: run `.venv/bin/python -m gen.tools.alert_table`"


def test_every_alert_is_listed_and_every_link_has_an_anchor():
    text = (REPO / DOCS).read_text()
    table = text.split("## Alert expressions")[0]
    for alert in REGISTRY:
        assert f"| `{alert.name}` |" in table, alert.name
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', text))
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert links, "the table links no recorded series"
    assert links <= anchors, f"links without an anchor: {sorted(links - anchors)}"
    assert anchor("namespace_pod_container:container_memory_working_set_bytes:floor") in anchors


def test_readme_links_the_alert_table():
    assert "docs/alert-records.md" in (REPO / "README.md").read_text()
