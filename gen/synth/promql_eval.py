"""A small PromQL evaluator: the generated rule expressions themselves, evaluated on synthetic series.

Rule tests state whether an alert fires at a time and the `$value` it carries.
Those expectations are derived from the scenario by an independent model of
PromQL semantics, not copied from promtool: the generated rules are parsed
(`promql_parser`) and evaluated here on the scenario's series, with the range
functions of `promql_model`; promtool then checks that the real engine agrees
with this reading. There is one model of each PromQL behaviour the tests rely
on, so a changed alert expression changes its expectations with it, and a
construct the model does not know is refused (NotImplementedError) instead of
guessed.

Semantics are Prometheus 2.x (promtool 2.42, promql/engine.go), with ranges and the
lookback left-open as in Prometheus 3 when the storage's clocks say so: selectors return
series sorted by labels; functions, aggregations and arithmetic drop the metric
name, comparisons (without `bool`) and set operators keep it; vector matching
is on all labels but the name, or `on(...)` / `ignoring(...)`, one-to-one;
`sum` adds in series order, `max`/`min` keep the first value unless a later
one beats it. The float operations are the engine's (`a / b` as written, x/0 is
±Inf or NaN), so a `$value` matches promtool's to the last digit.

Storage holds input series (samples on a fixed step, instant lookups see the
latest sample within 5 minutes) and recorded series (one value per rule
evaluation; a missing result is a stale marker that hides earlier ones).
`evaluate_group` runs a rule group as Prometheus does: evaluations at 0, E,
2E, ...; at each, the rules in order, each recording rule's result written
before the next rule reads it.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable, Mapping, Union

import promql_parser as pp

from gen.ir import RecordingRule, RuleGroup
from gen.synth.promql_model import LOOKBACK_SECONDS, RANGE_FUNCTIONS, SCALAR_RANGE_FUNCTIONS, Clock, Samples

METRIC_NAME = "__name__"

Labels = tuple[tuple[str, str], ...]  # sorted by name, as Prometheus orders a label set
Vector = list[tuple[Labels, float]]  # in the engine's order
Value = Union[Vector, float]  # an instant vector or a scalar


def labels_of(mapping: Mapping[str, str]) -> Labels:
    return tuple(sorted((k, v) for k, v in mapping.items() if v != ""))


@lru_cache(maxsize=1 << 16)
def _without(labels: Labels, *names: str) -> Labels:
    # Memoized: a replay drops the same names from the same few label sets millions of times.
    return tuple((k, v) for k, v in labels if k not in names)


def _keep(labels: Labels, names: Iterable[str]) -> Labels:
    wanted = set(names)
    return tuple((k, v) for k, v in labels if k in wanted)


def parse_series(text: str) -> Labels:
    """A concrete series as rule tests write it (`metric{a="1", b="2"}`): its label set."""
    node = pp.parse(text)
    if not isinstance(node, pp.VectorSelector) or node.matchers.or_matchers:
        raise ValueError(f"not a series: {text}")
    out = {METRIC_NAME: node.name} if node.name else {}
    for m in node.matchers.matchers:
        if m.op != pp.MatchOp.Equal:
            raise ValueError(f"not a series (matcher {m.name} is not `=`): {text}")
        out[m.name] = m.value
    return labels_of(out)


@dataclass
class Storage:
    """Input series (samples on `samples`' step from t=0) and recorded series (one value per evaluation)."""

    samples: Clock = Clock(60.0)
    evaluations: Clock = Clock(60.0)
    inputs: dict[Labels, Samples] = field(default_factory=dict)
    recorded: dict[Labels, list[float | None]] = field(default_factory=dict)
    # Which series a selector matches, computed once: inputs never change after loading, and recorded
    # series only gain label sets (their sample lists grow in place), so a match list stays valid until
    # a new recorded label set appears.
    _input_matches: dict[tuple, list] = field(default_factory=dict, repr=False)
    _recorded_matches: dict[tuple, tuple[int, list]] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, series: Iterable[tuple[str, Samples]], samples: Clock, evaluations: Clock) -> "Storage":
        """Storage holding rule-test input series given as (series, samples)."""
        store = cls(samples, evaluations)
        for text, values in series:
            labels = parse_series(text)
            if labels in store.inputs:
                raise ValueError(f"duplicate input series {text}")
            store.inputs[labels] = list(values)
        return store

    def record(self, evaluation: int, results: Vector, previous: Iterable[Labels] = ()) -> None:
        """Write a recording rule's results of one evaluation. Its series of the evaluation before (`previous`)
        that have no result now get a stale marker, as Prometheus writes one when a rule stops returning a series."""
        for labels, value in results:
            series = self.recorded.setdefault(labels, [])
            series.extend([None] * (evaluation - len(series)))
            series.append(value)
        for labels in previous:
            series = self.recorded[labels]
            series.extend([None] * (evaluation + 1 - len(series)))

    def select(self, node) -> list[tuple[Labels, Samples, Clock, bool]]:
        """The series a selector matches, sorted by labels: (labels, samples, clock, recorded?)."""
        key = (node.name, tuple((m.name, str(m.op), m.value) for m in node.matchers.matchers))
        known = self._recorded_matches.get(key)
        if known is not None and known[0] == len(self.recorded):
            return list(known[1])
        matchers = _matchers(node)
        inputs = self._input_matches.get(key)
        if inputs is None:
            inputs = self._input_matches[key] = [(labels, samples, self.samples, False)
                                                 for labels, samples in self.inputs.items()
                                                 if all(m(labels) for m in matchers)]
        found = [(labels, samples, self.evaluations, True) for labels, samples in self.recorded.items()
                 if all(m(labels) for m in matchers)]
        known = self._recorded_matches[key] = (len(self.recorded), sorted(inputs + found, key=lambda s: s[0]))
        return list(known[1])


def _matcher(name: str, op, value: str):
    if op == pp.MatchOp.Equal:
        return lambda labels: dict(labels).get(name, "") == value
    if op == pp.MatchOp.NotEqual:
        return lambda labels: dict(labels).get(name, "") != value
    pattern = re.compile(value)
    if op == pp.MatchOp.Re:
        return lambda labels: pattern.fullmatch(dict(labels).get(name, "")) is not None
    if op == pp.MatchOp.NotRe:
        return lambda labels: pattern.fullmatch(dict(labels).get(name, "")) is None
    raise NotImplementedError(f"label matcher {op}")


def _matchers(node) -> list:
    if node.at is not None:
        raise NotImplementedError("the @ modifier")
    if node.matchers.or_matchers:
        raise NotImplementedError("`or` inside label matchers")
    out = [_matcher(METRIC_NAME, pp.MatchOp.Equal, node.name)] if node.name else []
    return out + [_matcher(m.name, m.op, m.value) for m in node.matchers.matchers]


def _seconds(delta) -> float:
    return 0.0 if delta is None else delta.total_seconds()


# --- expressions ---------------------------------------------------------------------------------------

def evaluate(expr: str | object, storage: Storage, t: float) -> Value:
    """An expression's value at t (seconds): an instant vector, or a float for a scalar expression."""
    return _eval(pp.parse(expr) if isinstance(expr, str) else expr, storage, t)


def _eval(node, storage: Storage, t: float) -> Value:
    if isinstance(node, pp.NumberLiteral):
        return float(node.val)
    if isinstance(node, pp.ParenExpr):
        return _eval(node.expr, storage, t)
    if isinstance(node, pp.VectorSelector):
        return _instant(node, storage, t)
    if isinstance(node, pp.Call):
        return _call(node, storage, t)
    if isinstance(node, pp.AggregateExpr):
        return _aggregate(node, storage, t)
    if isinstance(node, pp.BinaryExpr):
        return _binary(node, storage, t)
    raise NotImplementedError(f"PromQL {type(node).__name__} is not modelled: {node}")


def _instant(node, storage: Storage, t: float) -> Vector:
    at = t - _seconds(node.offset)
    out = []
    for labels, samples, clock, recorded in storage.select(node):
        value = clock.latest(samples, at) if recorded else clock.instant(samples, at)
        if value is not None:
            out.append((labels, value))
    return out


def _call(node, storage: Storage, t: float) -> Value:
    name = node.func.name
    args = list(node.args)
    if name in INSTANT_FUNCTIONS:
        return INSTANT_FUNCTIONS[name](args, storage, t)
    if name in SCALAR_RANGE_FUNCTIONS:
        function, position = SCALAR_RANGE_FUNCTIONS[name]
        if len(args) != 2 or not isinstance(args[position], pp.MatrixSelector):
            raise NotImplementedError(f"PromQL function {name}() is only modelled with a matrix selector")
        scalar = _eval(args[1 - position], storage, t)
        if isinstance(scalar, list):
            raise NotImplementedError(f"a vector as the scalar argument of {name}()")
        return _over_range(args[position], storage, t, lambda c, s, end, r: function(c, s, end, r, scalar))
    if name not in RANGE_FUNCTIONS or len(args) != 1 or not isinstance(args[0], pp.MatrixSelector):
        raise NotImplementedError(f"PromQL function {name}() is only modelled as a range function of a matrix selector"
                                  if name in RANGE_FUNCTIONS else f"PromQL function {name}() is not modelled")
    return _over_range(args[0], storage, t, RANGE_FUNCTIONS[name])


def _over_range(matrix, storage: Storage, t: float, function) -> Vector:
    selector = matrix.vector_selector
    end = t - _seconds(selector.offset)
    range_ = _seconds(matrix.range)
    out = []
    for labels, samples, clock, _ in storage.select(selector):
        value = function(clock, samples, end, range_)
        if value is not None:
            out.append((_without(labels, METRIC_NAME), value))
    return out


def _time(args, storage: Storage, t: float) -> float:
    return t


def _round(args, storage: Storage, t: float) -> Vector:
    if len(args) != 1:
        raise NotImplementedError("round() with a nearest-multiple argument")
    vector = _vector(_eval(args[0], storage, t), "the argument of round")
    # Go: math.Floor(v*toNearestInverse+0.5) / toNearestInverse, to the nearest 1.
    return [(_without(labels, METRIC_NAME), math.floor(value + 0.5)) for labels, value in vector]


def _timestamp(args, storage: Storage, t: float) -> Vector:
    node = args[0] if len(args) == 1 else None
    if not isinstance(node, pp.VectorSelector):
        raise NotImplementedError("timestamp() is only modelled over a vector selector")
    at = t - _seconds(node.offset)
    out = []
    for labels, samples, clock, recorded in storage.select(node):
        # The time of the sample the selector picks: a rule's output at its evaluation, a scraped series'
        # latest sample within the lookback.
        if recorded:
            if clock.latest(samples, at) is not None:
                out.append((_without(labels, METRIC_NAME), min(int(at // clock.step), len(samples) - 1) * clock.step))
        else:
            found = clock.points(samples, at, LOOKBACK_SECONDS)
            if found:
                out.append((_without(labels, METRIC_NAME), found[-1][0]))
    return out


def _absent(args, storage: Storage, t: float) -> Vector:
    vector = _vector(_eval(args[0], storage, t), "the argument of absent")
    if vector:
        return []
    node = args[0]
    if not isinstance(node, pp.VectorSelector):
        return [((), 1.0)]
    # The equality matchers of the selector become the labels of its one result, as Prometheus does.
    equal = {m.name: m.value for m in node.matchers.matchers if m.op == pp.MatchOp.Equal and m.name != METRIC_NAME}
    return [(labels_of(equal), 1.0)]


INSTANT_FUNCTIONS = {"time": _time, "round": _round, "absent": _absent, "timestamp": _timestamp}


def _aggregate(node, storage: Storage, t: float) -> Vector:
    how = str(node.op)
    if how not in ("sum", "max", "min", "avg") or node.param is not None:
        raise NotImplementedError(f"PromQL aggregation {how} is not modelled")
    vector = _vector(_eval(node.expr, storage, t), f"the argument of {how}")
    modifier = node.modifier
    if modifier is None:
        key = lambda labels: ()
    elif modifier.type == pp.AggModifierType.By:
        key = lambda labels: _keep(labels, [n for n in modifier.labels if n != METRIC_NAME])
    else:
        key = lambda labels: _without(labels, METRIC_NAME, *modifier.labels)
    groups: dict[Labels, float] = {}
    counts: dict[Labels, float] = {}
    for labels, value in vector:
        group = key(labels)
        counts[group] = counts.get(group, 0.0) + 1
        if group not in groups:
            groups[group] = value
        elif how == "avg":
            # The engine's incremental mean (aggregation avg).
            groups[group] += value / counts[group] - groups[group] / counts[group]
        elif how == "sum":
            groups[group] += value
        elif how == "max":
            if groups[group] < value or math.isnan(groups[group]):
                groups[group] = value
        elif groups[group] > value or math.isnan(groups[group]):
            groups[group] = value
    return list(groups.items())


def _vector(value: Value, where: str) -> Vector:
    if not isinstance(value, list):
        raise NotImplementedError(f"a scalar as {where}")
    return value


# --- binary operators ----------------------------------------------------------------------------------

def _divide(a: float, b: float) -> float:
    if b != 0:
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


ARITHMETIC = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": _divide}
COMPARISONS = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
               "<=": lambda a, b: a <= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}
SET_OPERATORS = ("and", "or", "unless")


@dataclass(frozen=True)
class Matching:
    on: bool
    labels: tuple[str, ...]

    @classmethod
    def of(cls, modifier) -> "Matching":
        if modifier is None or modifier.matching is None:
            return cls(False, ())
        return cls(modifier.matching.type == pp.LabelModifierType.Include, tuple(modifier.matching.labels))

    def signature(self, labels: Labels) -> Labels:
        if self.on:
            return _keep(labels, self.labels)
        return _without(labels, METRIC_NAME, *self.labels)


def _binary(node, storage: Storage, t: float) -> Value:
    op = str(node.op)
    modifier = node.modifier
    if modifier is not None and modifier.return_bool:
        raise NotImplementedError(f"the bool modifier ({op} bool)")
    if op not in ARITHMETIC and op not in COMPARISONS and op not in SET_OPERATORS:
        raise NotImplementedError(f"PromQL operator {op} is not modelled")
    lhs, rhs = _eval(node.lhs, storage, t), _eval(node.rhs, storage, t)
    if op in SET_OPERATORS:
        return _set_operation(op, _vector(lhs, f"the left of {op}"), _vector(rhs, f"the right of {op}"),
                              Matching.of(modifier))
    if modifier is not None and modifier.card not in (pp.VectorMatchCardinality.OneToOne,
                                                      pp.VectorMatchCardinality.ManyToMany):
        raise NotImplementedError(f"group_left / group_right ({op})")
    if not isinstance(lhs, list) and not isinstance(rhs, list):
        if op in COMPARISONS:
            raise NotImplementedError(f"a comparison of two scalars ({op}) needs bool")
        return ARITHMETIC[op](lhs, rhs)
    if isinstance(lhs, list) and isinstance(rhs, list):
        return _vector_vector(op, lhs, rhs, Matching.of(modifier))
    return _vector_scalar(op, lhs, rhs)


def _vector_scalar(op: str, lhs: Value, rhs: Value) -> Vector:
    vector_on_left = isinstance(lhs, list)
    vector = lhs if vector_on_left else rhs
    out = []
    for labels, value in vector:
        a, b = (value, rhs) if vector_on_left else (lhs, value)
        if op in COMPARISONS:
            if COMPARISONS[op](a, b):  # a filter: the vector's element passes unchanged, name and all
                out.append((labels, value))
        else:
            out.append((_without(labels, METRIC_NAME), ARITHMETIC[op](a, b)))
    return out


def _vector_vector(op: str, lhs: Vector, rhs: Vector, matching: Matching) -> Vector:
    right: dict[Labels, tuple[Labels, float]] = {}
    for labels, value in rhs:
        signature = matching.signature(labels)
        if signature in right:
            raise ValueError(f"found duplicate series for the match group {dict(signature)} on the right hand-side "
                             f"of the operation ({op})")
        right[signature] = (labels, value)
    out, seen = [], set()
    for labels, value in lhs:
        match = right.get(matching.signature(labels))
        if match is None:
            continue
        if op in COMPARISONS:
            if not COMPARISONS[op](value, match[1]):
                continue
            result_value, result = value, labels
        else:
            result_value, result = ARITHMETIC[op](value, match[1]), _without(labels, METRIC_NAME)
        result = _keep(result, matching.labels) if matching.on else _without(result, *matching.labels)
        if result in seen:
            raise ValueError(f"multiple matches for labels {dict(result)}: many-to-one matching must be explicit "
                             f"({op})")
        seen.add(result)
        out.append((result, result_value))
    return out


def _set_operation(op: str, lhs: Vector, rhs: Vector, matching: Matching) -> Vector:
    right = {matching.signature(labels) for labels, _ in rhs}
    if op == "and":
        return [(labels, value) for labels, value in lhs if matching.signature(labels) in right]
    if op == "unless":
        return [(labels, value) for labels, value in lhs if matching.signature(labels) not in right]
    left = {matching.signature(labels) for labels, _ in lhs}
    return lhs + [(labels, value) for labels, value in rhs if matching.signature(labels) not in left]


# --- rule groups ---------------------------------------------------------------------------------------

def evaluate_group(group: RuleGroup, storage: Storage, evaluations: int) -> dict[str, list[Vector]]:
    """Run the group at evaluations 0 .. evaluations-1 of `storage.evaluations`, recording into `storage`.

    Returns each alert's expression result at every evaluation (the samples that make it pending or firing;
    `promql_model.firing_value` applies `for`). Alert labels are not added: values are what tests check.
    """
    parsed = [(rule, pp.parse(rule.expr)) for rule in group.rules]
    # Alerts as domains define them (AlertRule) or as rule files hold them (RenderedAlert): whatever is not a
    # recording rule. Alert names must be distinct within the group.
    alerts: dict[str, list[Vector]] = {rule.name: [] for rule, _ in parsed if not isinstance(rule, RecordingRule)}
    produced: dict[int, list[Labels]] = {}  # recording rule (index) -> its series of the last evaluation
    for k in range(evaluations):
        t = k * storage.evaluations.step
        for i, (rule, node) in enumerate(parsed):
            result = _vector(_eval(node, storage, t), f"the result of a rule ({rule.expr})")
            if isinstance(rule, RecordingRule):
                recorded = _as_recorded(rule, result)
                storage.record(k, recorded, produced.get(i, ()))
                produced[i] = [labels for labels, _ in recorded]
            else:
                alerts[rule.name].append(result)
    return alerts


def _as_recorded(rule: RecordingRule, result: Vector) -> Vector:
    out, seen = [], set()
    for labels, value in result:
        named = dict(labels)
        named[METRIC_NAME] = rule.record
        named.update(dict(rule.labels))
        key = labels_of(named)
        if key in seen:
            raise ValueError(f"rule {rule.record}: vector contains metrics with the same labelset after applying "
                             f"rule labels")
        seen.add(key)
        out.append((key, value))
    return out
