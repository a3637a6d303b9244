"""libyaml's emitter writes exactly the bytes PyYAML's pure-Python emitter writes, on every generated YAML file.

gen/write.py serializes with yaml.CSafeDumper when PyYAML has libyaml (it does in .venv: the wheels bundle
it); the output contract is the pure-Python emitter's bytes, so both must agree on the whole example output.
"""
from __future__ import annotations

import random

import pytest
import yaml

from gen import write
from gen.pipeline import compile_specs

from .conftest import REPO

YAML_SUFFIXES = (".yaml", ".yml")


def test_libyaml_is_used_when_present():
    assert yaml.__with_libyaml__, "PyYAML without libyaml: gen/write.py falls back to the slow pure-Python emitter"
    assert issubclass(write._Dumper, yaml.CSafeDumper)
    assert write._PURE_DUMPER is not write._Dumper and not issubclass(write._PURE_DUMPER, yaml.CSafeDumper)


def test_c_dumper_output_is_byte_identical_to_the_pure_python_dumper(compiled, monkeypatch):
    c_files = {rel: content for rel, content in compiled.files.items() if rel.endswith(YAML_SUFFIXES)}
    assert len(c_files) > 20, sorted(compiled.files)
    monkeypatch.setattr(write, "_Dumper", write._PURE_DUMPER)
    pure = compile_specs(REPO / "specs", REPO)
    pure_files = {rel: content for rel, content in pure.files.items() if rel.endswith(YAML_SUFFIXES)}
    assert sorted(pure_files) == sorted(c_files)
    differ = [rel for rel in sorted(c_files) if c_files[rel] != pure_files[rel]]
    assert not differ, f"libyaml and pure-Python YAML differ in {differ}"
    # The JSON files do not go through YAML at all, so they match as well.
    assert pure.files == compiled.files


@pytest.mark.parametrize("value", [
    "plain", "with: colon", "- dash", "multi\nline\n", "trailing space ", "  leading", "", "null", "yes", "1e3",
    "010", "0x1F", "'quoted'", '"double"', "#hash", "tab\tinside", "ünïcödé", "emoji 🔥", "a\\b", "{braces}",
    "[brackets]", "line\n  indented\n", "no final newline\nx", "*star", "&amp", "!bang", "%percent", "@at", "`tick",
    "long " * 200, "ends with colon:", "key: value\nother: 2\n", "two final breaks\n\n", "\n", "cr\rkey",
    "nel\x85inside", "line\u2028separator", "para\u2029separator", "\U0010ffff", "\x00\x1b\x7f\ufeff",
])
def test_to_yaml_writes_the_pure_python_bytes_on_awkward_strings(value):
    data = {"groups": [{"name": value, "rules": [{"expr": value, "labels": {"x": value}}]}], value: [value, 1, None]}
    fast = write.to_yaml(data, "x.yaml").decode()
    assert fast.split("\n", 1)[1] == _pure(data)
    assert write.from_yaml(fast) == yaml.load(fast, Loader=yaml.SafeLoader)


def _pure(data) -> str:
    return yaml.dump(data, Dumper=write._PURE_DUMPER, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=1 << 30, indent=2)


def _c_only(data) -> str:
    return yaml.dump(data, Dumper=write._Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=1 << 30, indent=2)


@pytest.mark.parametrize("data", [{"a": "emoji \U0001F525"}, {"a": "nel\x85"}, {"": 1}, {"cr\r": 1},
                                  {"a": "keep\n\n", "b": 1}])
def test_where_libyaml_differs_to_yaml_falls_back_to_the_pure_python_emitter(data):
    """Why to_yaml checks its data: libyaml alone writes other bytes for these."""
    assert _c_only(data) != _pure(data)
    assert write.to_yaml(data, "x.yaml").decode().split("\n", 1)[1] == _pure(data)


def test_to_yaml_writes_the_pure_python_bytes_on_random_strings():
    rng = random.Random(20261201)
    alphabet = [*"abc :-#'\"\n\r\t\\{}[],&*!|>%@`?=~ ", "\u00e9", "\u2028", "\u2029", "\x85", "\ufeff", "\x7f",
                "\x00", "\x1b", "\U0001F525", "\u200b", "\ue000", "\ud7ff", "\ufffd", "\U0010ffff"]
    for _ in range(3000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
        t = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 4)))
        data = {"k": s, s: [s, 1.5, True, None, {t: s}], t: {"e": [s, {"x": t}]}}
        assert write.to_yaml(data, "x.yaml").decode().split("\n", 1)[1] == _pure(data), (s, t)
