"""Grafana's query interpolation, offline: the numbers and strings Grafana itself would produce."""
from __future__ import annotations

import re

import promql_parser
import pytest

from gen.tools.grafana_query import (QueryTemplateError, TimeWindow, Variable, build_request, dashboard_variables,
    interpolate, regex_escape, resolution, round_interval_ms, seconds_to_hms)
from gen.tools.probe import panels_with_queries

NOW = 1_700_000_000.0


def window(seconds: float) -> TimeWindow:
    return TimeWindow(NOW - seconds, NOW)


@pytest.mark.parametrize("ms, rounded", [
    (0.6, 1), (600, 500), (1000, 1000), (1499, 1000), (3400, 2000), (3600, 5000), (14000, 15000), (60000, 60000),
    (604.8 * 1000, 600000), (86_400_000, 86_400_000), (10**12, 31_536_000_000),
])
def test_interval_ladder_matches_grafana(ms, rounded):
    assert round_interval_ms(ms) == rounded


@pytest.mark.parametrize("seconds, text", [
    (0.5, "500ms"), (1, "1s"), (15, "15s"), (90, "1m"), (600, "10m"), (7200, "2h"), (86400 * 8, "8d"),
])
def test_seconds_to_hms_truncates_like_grafana(seconds, text):
    assert seconds_to_hms(seconds) == text


@pytest.mark.parametrize("range_s, scrape, interval, interval_text, rate_interval", [
    # Short range: the scrape interval is the floor of $__interval; $__rate_interval is 4 scrapes.
    (600, 15, 15, "15s", 60),
    (600, 1, 1, "1s", 4),
    # 7 days over 1000 points is 604.8s, rounded to 10m; $__rate_interval is one interval plus a scrape.
    (7 * 86400, 15, 600, "10m", 615),
    # 1 hour over 1000 points is 3.6s -> 5s, under the 15s scrape floor.
    (3600, 15, 15, "15s", 60),
])
def test_resolution_matches_grafana(range_s, scrape, interval, interval_text, rate_interval):
    res = resolution(window(range_s), scrape)
    assert (res.interval, res.interval_text, res.rate_interval) == (interval, interval_text, rate_interval)
    assert res.builtins()["__range"] == f"{range_s}s"


def test_min_step_raises_the_interval_and_stands_in_for_the_scrape_interval():
    res = resolution(window(600), 15, target_min_step="1m")
    assert (res.interval, res.interval_text, res.rate_interval) == (60, "60s", 240)


def test_more_than_11000_points_raise_the_step():
    res = resolution(window(30 * 86400), 1, max_data_points=100000)
    assert res.interval == 236  # ceil(2592000 / 11000)


def test_bad_min_step_is_a_clear_error():
    with pytest.raises(QueryTemplateError, match="not an interval"):
        resolution(window(600), 15, target_min_step="soon")


POD = Variable("pod", ("$__all",), multi=True, include_all=True, all_value="api-.*")
NAMESPACE = Variable("namespace", ("exam",))


@pytest.mark.parametrize("expr, expected", [
    ('up{namespace="$namespace", pod=~"$pod"}', 'up{namespace="exam", pod=~"api-.*"}'),
    ('up{namespace="${namespace}"}', 'up{namespace="exam"}'),
    ('up{namespace="[[namespace]]"}', 'up{namespace="exam"}'),
    ('up{namespace="${namespace:raw}"}', 'up{namespace="exam"}'),
    ('up{x="$unknown"}', 'up{x="$unknown"}'),  # Grafana leaves unknown variables alone
    ("rate(x[$__rate_interval])", "rate(x[60s])"),
    ("avg_over_time(x[$__range]) and x[$__interval]", "avg_over_time(x[600s]) and x[15s]"),
])
def test_interpolate(expr, expected):
    builtins = resolution(window(600), 15).builtins()
    assert interpolate(expr, {"pod": POD, "namespace": NAMESPACE}, builtins) == expected


def test_multi_value_selection_becomes_an_escaped_alternation():
    pods = Variable("pod", ("api-1.a", "api-2"), multi=True, include_all=True)
    assert interpolate('x{pod=~"$pod"}', {"pod": pods}, {}) == 'x{pod=~"(api-1\\\\.a|api-2)"}'
    assert regex_escape("a.b") == "a\\\\.b"


def test_all_without_all_value_asks_for_the_options():
    pods = Variable("pod", ("$__all",), multi=True, include_all=True, query="label_values(up, pod)")
    assert interpolate('x{pod=~"$pod"}', {"pod": pods}, {}, lambda v: ("a", "b")) == 'x{pod=~"(a|b)"}'
    assert interpolate('x{pod=~"$pod"}', {"pod": pods}, {}) == 'x{pod=~".*"}'


def test_overrides_replace_saved_values(compiled):
    dashboard = next(o.dashboard.to_json_data() for o in compiled.services if o.service.name == "submission-api")
    variables = dashboard_variables(dashboard, {"namespace": "prod"})
    assert variables["namespace"].value == ("prod",)
    assert variables["pod"].is_all and variables["pod"].all_value == "submission-api-.*"


# What Grafana would have substituted: $name, ${name...} or [[name]].
TEMPLATE_LEFT = re.compile(r"\$(?:\{|[A-Za-z_])|\[\[")


def test_every_generated_panel_query_interpolates_to_plain_promql(compiled):
    """The real generated dashboards: after Grafana's substitution no variable is left and all parse."""
    for service in compiled.services:
        variables = dashboard_variables(service.dashboard.to_json_data())
        for panel in panels_with_queries(service.dashboard.to_json_data()):
            for target in panel["targets"]:
                request = build_request(target, panel, variables, window(3600), 15)
                # `$1` in label_replace is a regex group, not a variable (Grafana leaves unknown names as they are).
                assert not TEMPLATE_LEFT.search(request.expr), (panel["title"], request.expr)
                promql_parser.parse(request.expr)
                assert request.step == 15 and request.start % 15 == 0 and request.end % 15 == 0


def test_explicit_formats():
    pods = Variable("pod", ("a.b", "c"), multi=True)
    assert interpolate("${pod:regex} ${pod:pipe} ${pod:csv}", {"pod": pods}, {}) == r"(a\.b|c) a.b|c a.b,c"
    with pytest.raises(QueryTemplateError, match="format 'lucene'"):
        interpolate("${pod:lucene}", {"pod": pods}, {})
