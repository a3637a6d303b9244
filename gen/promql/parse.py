"""PromQL as a parser sees it: whether an expression parses, and which series it reads.

The one definition of "which series does this expression read", for the build's lint
(recorded series a rule or panel reads) and for `obsgen probe` (metrics behind an empty panel).
"""
from __future__ import annotations

import promql_parser

# What Grafana puts in place of its variables when it runs a query; a range needs a real duration to parse.
GRAFANA_RANGES = {"$__rate_interval": "2m", "$__interval": "1m", "$__range": "1d"}


class UnknownMetric(str):
    """A selector that does not name its metric (`{__name__=~"..."}`): it could read anything."""


def with_grafana_ranges(expr: str) -> str:
    for variable, value in GRAFANA_RANGES.items():
        expr = expr.replace(variable, value)
    return expr


def parse(expr: str):
    """The expression's syntax tree, Grafana's range variables replaced. Raises ValueError if it does not parse."""
    return promql_parser.parse(with_grafana_ranges(expr))


def parse_error(expr: str) -> str | None:
    try:
        parse(expr)
    except ValueError as err:
        return str(err)
    return None


def selected_series(expr: str) -> set[str]:
    """Names of the metrics and recorded series an expression selects; an `UnknownMetric` for a selector
    whose name is a regex. Raises ValueError if it does not parse."""
    return series_in(parse(expr))


def series_in(tree) -> set[str]:
    """`selected_series` of an expression already parsed (`parse`)."""
    names: set[str] = set()

    def visit(node) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            name = node.name
            if not name:
                equal = [m.value for m in node.matchers.matchers
                         if m.name == "__name__" and m.op == promql_parser.MatchOp.Equal]
                name = equal[0] if equal else UnknownMetric("{__name__ matched by a regex}")
            names.add(name)

    promql_parser.walk(tree, visit)
    return names


def is_recorded(name: str) -> bool:
    """A recorded series' name (level:metric:operation), as opposed to a scraped metric's."""
    return ":" in name and not isinstance(name, UnknownMetric)


def recorded_series(expr: str) -> set[str]:
    """Names of recorded series an expression reads; none when it does not parse (lint reports that)."""
    try:
        return {name for name in selected_series(expr) if is_recorded(name)}
    except ValueError:
        return set()
