"""The fast paths that make fleet builds quick give exactly the answers of the plain ways they replace.

Each optimisation of `make bench` (tests/bench.py) is checked here against the straightforward version on
random input and on the example output: same bytes, same problems, same order.
"""
from __future__ import annotations

import json
import math
import random

import pytest
import yaml

from gen import write
from gen.checks import crosscheck, external, lint
from gen.promql import selectors
from gen.pipeline import compile_specs
from gen.promql.parse import parse_error, recorded_series
from gen.spec.project import default_project

from tests.fleet import write_fleet

RNG_SEED = 20261204


# --- JSON: write.to_json against json.dumps ---------------------------------------------------------------

_JSON_STRINGS = ["", "a", "é", "\U0001F525", "\x00", "\n", '"', "\\", "\u2028", "\x7f", "\ud7ff", "</script>"]


def _random_json(rng: random.Random, depth: int = 0):
    kind = rng.randrange(10 if depth < 4 else 6)
    if kind == 0:
        return rng.choice(_JSON_STRINGS) + rng.choice(_JSON_STRINGS)
    if kind == 1:
        return rng.choice([None, True, False])
    if kind == 2:
        return rng.choice([0, -1, 7, 2 ** 70, -(2 ** 64)])
    if kind == 3:
        return rng.choice([0.0, -0.0, 0.1, 1e16, 1e-7, 2.5, math.inf, -math.inf, math.nan, 123456789.125])
    if kind in (4, 5):
        return rng.choice(_JSON_STRINGS)
    if kind in (6, 7):
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 8:
        return tuple(_random_json(rng, depth + 1) for _ in range(rng.randrange(3)))
    keys = rng.choice([_JSON_STRINGS, [1, 2, -3], [0.5, 2.0], [True], [None]])
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randrange(4))}


def _json_dumps(data) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def test_to_json_writes_the_bytes_of_json_dumps_on_random_data():
    rng = random.Random(RNG_SEED)
    for _ in range(5000):
        data = _random_json(rng)
        assert write.to_json(data) == _json_dumps(data), data


def test_to_json_writes_the_bytes_of_json_dumps_on_every_example_dashboard(compiled):
    for out in compiled.services:
        assert write.to_json(out.dashboard.to_json_data()) == _json_dumps(out.dashboard.to_json_data())


@pytest.mark.parametrize("data", [{"a": {1, 2}}, {(1, 2): 3}, {"a": 1, 2: "b"}, [object()]])
def test_to_json_fails_as_json_dumps_does(data):
    with pytest.raises(TypeError) as expected:
        json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)
    with pytest.raises(TypeError) as found:
        write.to_json(data)
    assert str(found.value) == str(expected.value)


# --- YAML: the JSON pre-check of libyaml agreement ---------------------------------------------------------

def test_the_quick_libyaml_check_agrees_with_the_walk_over_every_string():
    rng = random.Random(RNG_SEED)
    alphabet = [*"ab :\"\\\n\r", "\x85", "\u2028", "\u2029", "\U0001F525", "é", ""]
    for _ in range(20000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5)))
        t = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 3)))
        data = rng.choice([{"k": s}, {s: 1}, [s, {t: [s]}], {"a": [1, None, True, 2.5, {t: s}]}])
        assert write._c_dumper_agrees(data) == write._c_dumper_agrees_walk(data), data


def test_the_fast_yaml_representer_makes_the_nodes_of_pyyaml_s(compiled):
    plain = write._dumper(yaml.CSafeDumper)
    for out in compiled.services:
        data = out.rule_file.to_dict()
        assert yaml.dump(data, Dumper=write._Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                         width=1 << 30, indent=2) == \
            yaml.dump(data, Dumper=plain, sort_keys=False, default_flow_style=False, allow_unicode=True,
                      width=1 << 30, indent=2)


# --- PromQL layout: regex scan against the character-by-character scan -------------------------------------

def _layout_one_char_at_a_time(expr: str, width: int = 100) -> str:
    """selectors.layout as it was first written: the reference."""
    if len(expr) <= width:
        return expr
    lines, start, depth, quote_char, i = [], 0, 0, "", 0
    while i < len(expr):
        ch = expr[i]
        if quote_char:
            if ch == "\\":
                i += 2
                continue
            if ch == quote_char:
                quote_char = ""
        elif ch in "\"'`":
            quote_char = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and ch == " ":
            operator = next((op for op in selectors._SET_OPERATORS if expr.startswith(op, i)), None)
            if operator:
                lines.append(expr[start:i])
                start = i + 1
                i += len(operator)
                continue
        i += 1
    lines.append(expr[start:])
    return "\n".join(lines)


def test_layout_splits_exactly_where_the_character_scan_splits():
    rng = random.Random(RNG_SEED)
    atoms = [" and ", " or ", " unless ", " ", "a", "x", "(", ")", "[", "]", "{", "}", '"', "'", "`", "\\", "\n",
             "and", "or", "  and  or ", "unless"]
    for _ in range(50000):
        expr = "".join(rng.choice(atoms) for _ in range(rng.randint(0, 50)))
        for width in (0, 100):
            assert selectors.layout(expr, width) == _layout_one_char_at_a_time(expr, width), expr


def test_layout_of_every_example_rule_is_unchanged(compiled):
    for out in compiled.services:
        for _, rule in out.rule_file.rules():
            flat = rule.expr.replace("\n", " ")
            assert selectors.layout(flat) == _layout_one_char_at_a_time(flat)


# --- lint: one parse per expression, in workers or here ----------------------------------------------------

EXPRESSIONS = ['up{job="a"}', "a:b:c + x", 'sum(rate(x[5m:1m]))', '{__name__="a:b"}', 'x{y="a\\x3ab"}',
               "rate(x[5m]", 'svc:mem:floor{service="x"} > on() group_left a:b', "", "a and", 'foo{a=~"("}']


def test_expression_facts_are_what_parse_and_recorded_series_say():
    exprs = lint.Exprs()
    for expr in EXPRESSIONS:
        assert exprs(expr).error == parse_error(expr)
        assert exprs(expr).recorded == recorded_series(expr)


def test_parsing_in_worker_processes_gives_the_same_facts(monkeypatch):
    monkeypatch.setattr(lint, "PARALLEL_FROM", 1)
    many = [f'{e} + on() up{{job="{i}"}}' if e else e for i in range(40) for e in EXPRESSIONS]
    in_workers = lint.Exprs(many, workers=2)
    assert in_workers._pending, "the workers were not used"
    here = lint.Exprs()
    assert [in_workers(e) for e in many] == [here(e) for e in many]


# Label values that behave differently under a matcher: empty, matching "" as a regex or not, not compiling.
_MATCHER_VALUES = ["", "x", "_", ".*", ".+", "x.*", "a|", "(", "x(", "[z-a]", "*", "(?i)abc", "a{2}", "$pod", "é",
                   "report-api-.*", "a|b", "(?:)", "^x$", "x?", "[a-"]
_MATCHER_OPS = ["=", "!=", "=~", "!~"]
SHAPE_EXPRESSIONS = ['{a="x"}', '{a=""}', '{a!="x"}', '{a=~".*"}', '{a!~"x"}', 'up{a="x\\"y"}', "up{a='x'}",
                     'up{a = "x", b =~ "y|z"}', 'label_replace(up{a="x"}, "b", "$1", "a", "(.*)")',
                     'label_replace(up{a="x"}, "b", "$1", "a", "(")', 'up{a="x"} # a "comment"',
                     'up{__name__="a:b", c="d"}', 'x >= "a"', 'x{a="b"} == "c"', 'count_values("v", up{a="b"})',
                     'sum by (a) (rate(x{job="j", pod=~"$pod"}[$__rate_interval]))', 'a:b:c{s="x"} / a:b:d{s="y"}']


def _random_matchers(rng: random.Random) -> str:
    name = rng.choice(["up", "a:b:c", ""])
    matchers = ", ".join(f'{rng.choice("lm")}{rng.choice(_MATCHER_OPS)}"{rng.choice(_MATCHER_VALUES)}"'
                         for _ in range(rng.randrange(1, 3)))
    selector = f"{name}{{{matchers}}}"
    return rng.choice([selector, f"rate({selector}[5m])", f"sum by (l) ({selector})", f"{selector} > 1",
                       f"{selector} and on (l) x:y:z{{m=\"a\"}}"])


def test_facts_from_the_shape_of_an_expression_are_those_of_the_expression(compiled, tmp_path):
    """Fleet builds parse each shape once (lint._ShapeParser); every answer must be the whole parse's."""
    write_fleet(tmp_path / "specs", 40)
    fleet = compile_specs(tmp_path / "specs", tmp_path, default_project(), proofs=False)
    rng = random.Random(RNG_SEED)
    generated = [_random_matchers(rng) for _ in range(3000)]
    examples = [*lint.expressions(compiled.services), *lint.expressions(fleet.services)]
    parser = lint._ShapeParser()
    for expr in [*EXPRESSIONS, *SHAPE_EXPRESSIONS, *generated, *examples]:
        assert parser.facts(expr) == lint._facts(expr), expr
    assert sum(1 for expr in generated if lint._facts(expr).error) > 300  # the values that must fail did fail
    fleet_exprs = set(lint.expressions(fleet.services))
    shapes = lint._ShapeParser()
    for expr in fleet_exprs:
        shapes.facts(expr)
    assert len(shapes._shapes) * 5 < len(fleet_exprs), "the fleet's expressions were not parsed by shape"


# --- shared pods: only pairs that can share a pod are compared ---------------------------------------------

def test_the_pairs_left_out_never_share_a_pod():
    rng = random.Random(RNG_SEED)
    patterns = ["api-.*", "api-[a-z0-9]+-[a-z0-9]{5}", "api", "ap.*", "(?i)API-.*", "api-web-.*", "web-.*",
                "^api-x", "a|b", "api-w?eb-.*", "[a-z]+-.*"]
    for _ in range(300):
        a, b = rng.choice(patterns), rng.choice(patterns)
        prefixes = crosscheck._literal_prefix(a), crosscheck._literal_prefix(b)
        if crosscheck._prefixes_differ(*prefixes):
            assert crosscheck.common_name(a, b) is None, (a, b)


# --- promtool over many files: split runs read as one --------------------------------------------------------

def test_promtool_on_many_files_in_several_runs_says_what_one_run_says(monkeypatch, compiled):
    if lint.promtool() is None:
        pytest.skip("promtool is not installed")
    files = dict(compiled.rule_files)
    files["rules/zz-broken.rules.yml"] = b"groups:\n- name: x\n  rules:\n  - record: a:b\n    expr: rate(x[5m]\n"
    one = lint.promtool_check_rules(files)
    monkeypatch.setattr(external, "FILES_PER_RUN", 1)
    monkeypatch.setattr(external, "available_cores", lambda: 3)
    assert one and lint.promtool_check_rules(files) == one
    assert lint.promtool_check_rules(dict(compiled.rule_files)) == []
