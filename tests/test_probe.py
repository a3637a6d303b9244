"""`obsgen probe` offline: which metrics a query reads, how recorded series are traced to what they
record, and when an empty query is a Kubernetes-only skip. The live half is tests/live."""
from __future__ import annotations

import socket

import pytest

from gen.tools import probe
from gen.promql.parse import UnknownMetric, selected_series
from tests.conftest import run_obsgen


def test_selected_metrics_finds_every_selector():
    expr = ('sum by (kind) (rate(a_total{x="1"}[5m])) / on () group_left b:c:d offset 1m '
            '+ max_over_time(e[5m:1m]) + {__name__="f"} - time()')
    assert selected_series(expr) == {"a_total", "b:c:d", "e", "f"}


def test_selected_metrics_marks_regex_names_as_unknown():
    (name,) = selected_series('{__name__=~"node_.*"}')
    assert isinstance(name, UnknownMetric)


def test_selected_metrics_rejects_broken_promql():
    with pytest.raises(ValueError):
        selected_series("rate(x[5m]")


def _catalog(compiled, present=()):
    """The catalog of a Prometheus that loaded the article's service's rules."""
    groups = [g for s in compiled.services if s.service.name == "submission-api" for g in s.rule_file.to_dict()["groups"]]
    return probe.MetricCatalog(probe.recording_rules(groups), frozenset(present))


def test_recorded_series_are_traced_to_the_metrics_their_rules_read(compiled):
    catalog = _catalog(compiled)
    base, undefined = catalog.base_metrics({"namespace_pod_container:container_memory_working_set_bytes:ratio_limit"})
    assert undefined == set()
    assert base == {"container_memory_working_set_bytes"}  # the spec sets a limit: a constant, not KSM


def test_kubernetes_only_query_without_those_metrics_is_skipped(compiled):
    status, reason = probe.explain_empty({"namespace_pod_container:container_cpu_usage_seconds:rate5m"},
                                         _catalog(compiled))
    assert status == probe.SKIPPED
    assert "container_cpu_usage_seconds_total (cAdvisor)" in reason


def test_kubernetes_query_is_empty_when_those_metrics_exist(compiled):
    # With cAdvisor scraped, an empty panel is a real problem (a wrong label, a wrong container name).
    status, reason = probe.explain_empty({"container_cpu_usage_seconds_total"},
                                         _catalog(compiled, {"container_cpu_usage_seconds_total"}))
    assert status == probe.EMPTY and "select none of them" in reason


def test_kubernetes_query_is_skipped_when_one_of_its_exporters_is_missing():
    # cAdvisor scraped, kube-state-metrics not (the live test bed): a working set / limit ratio cannot show data.
    catalog = probe.MetricCatalog(
        {"x:ratio_limit": ("container_memory_working_set_bytes / on (pod) kube_pod_container_resource_limits",)},
        frozenset({"container_memory_working_set_bytes"}))
    status, reason = probe.explain_empty({"x:ratio_limit"}, catalog)
    assert status == probe.SKIPPED
    assert reason.endswith("has no series of: kube_pod_container_resource_limits (kube-state-metrics)")


def test_app_metric_with_no_series_is_empty_and_named(compiled):
    status, reason = probe.explain_empty({"nodejs_heap_size_used_byte", "container_cpu_usage_seconds_total"},
                                         _catalog(compiled))
    assert status == probe.EMPTY
    assert "no series at all of container_cpu_usage_seconds_total, nodejs_heap_size_used_byte" in reason


def test_recorded_series_no_rule_records_is_empty_with_a_hint(compiled):
    status, reason = probe.explain_empty({"job:not_recorded:rate5m"}, _catalog(compiled))
    assert status == probe.EMPTY and "no rule loaded in Prometheus records job:not_recorded:rate5m" in reason


def test_rules_api_and_rule_files_give_the_same_recordings():
    api = [{"rules": [{"type": "recording", "name": "a:b:c", "query": "sum(x)"},
                      {"type": "alerting", "name": "A", "query": "a:b:c > 1"}]}]
    files = [{"rules": [{"record": "a:b:c", "expr": "sum(x)"}, {"alert": "A", "expr": "a:b:c > 1"}]}]
    assert probe.recording_rules(api) == probe.recording_rules(files) == {"a:b:c": ("sum(x)",)}


def test_panels_inside_collapsed_rows_are_probed_too():
    dashboard = {"panels": [
        {"type": "row", "collapsed": True, "panels": [{"title": "inner", "targets": [{"expr": "up"}]}]},
        {"type": "timeseries", "title": "outer", "targets": [{"expr": "up"}]},
        {"type": "text", "title": "notes"},
    ]}
    assert [p["title"] for p in probe.panels_with_queries(dashboard)] == ["inner", "outer"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_probe_says_in_one_line_when_prometheus_cannot_be_reached(repo):
    result = run_obsgen("probe", "--prometheus", f"http://127.0.0.1:{_closed_port()}", "--timeout", "2", cwd=repo)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: cannot reach Prometheus at http://127.0.0.1:")


def test_probe_rejects_a_file_that_is_not_a_dashboard(repo, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"panels": [\n  {"title": }\n]}')
    result = run_obsgen("probe", "--prometheus", "http://127.0.0.1:1", "--dashboard", str(broken), cwd=repo)
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {broken}:2:13: not JSON: Expecting value"


def test_probe_rejects_bad_options(repo):
    result = run_obsgen("probe", "--prometheus", "http://127.0.0.1:1", "--since", "soon", cwd=repo)
    assert result.returncode == 2 and "is not a duration" in result.stderr
    result = run_obsgen("probe", "--prometheus", "http://127.0.0.1:1", "--var", "novalue", cwd=repo)
    assert result.returncode == 2 and "'novalue' is not NAME=VALUE" in result.stderr


def test_probe_with_a_missing_dashboard_is_a_usage_error_naming_the_real_ones(repo):
    """The README promises exit 2 for usage errors; a --dashboard path that does not exist is one."""
    result = run_obsgen("probe", "--prometheus", "http://127.0.0.1:1", "--dashboard",
                        "out/dashboards/submission-api.json", cwd=repo)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: out/dashboards/submission-api.json: no such dashboard file (dashboards in "
                           "out/dashboards: ")
    assert "out/dashboards/assessments/submission-api.json" in line
