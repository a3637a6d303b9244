"""obsgen's parser of pod-name patterns: the tree it builds, its errors, and agreement with Python's `re`."""
from __future__ import annotations

import itertools
import random
import re

import pytest

from gen.spec import pod_regex as rx
from gen.spec.pod_patterns import common_name


# ---- a matcher over the tree, so the parse can be checked against re.fullmatch ----

def _accepts(node: rx.Node, ch: str, fold: bool) -> bool:
    if isinstance(node, rx.NotLiteral):
        return not _accepts(rx.Literal(node.char), ch, fold)
    if isinstance(node, rx.CharClass) and node.negated:
        return not _accepts(rx.CharClass(node.items), ch, fold)
    cases = (ch, ch.lower(), ch.upper()) if fold else (ch,)
    return any(rx.one_char_matches(node, c) for c in cases)


def _ends(nodes, text: str, starts: set[int], fold: bool) -> set[int]:
    for node in nodes:
        starts = _step(node, text, starts, fold)
    return starts


def _step(node: rx.Node, text: str, starts: set[int], fold: bool) -> set[int]:
    if isinstance(node, rx.ONE_CHAR):
        return {i + 1 for i in starts if i < len(text) and _accepts(node, text[i], fold)}
    if isinstance(node, rx.Anchor):
        return {i for i in starts if i == (0 if node.text in ("^", "\\A") else len(text))}
    if isinstance(node, rx.Group):
        return _ends(node.body, text, starts, fold if node.fold is None else node.fold)
    if isinstance(node, rx.Alternation):
        return set().union(*(_ends(b, text, starts, fold) for b in node.branches))
    assert isinstance(node, rx.Repeat)
    current = starts
    for _ in range(node.low):
        current = _ends(node.body, text, current, fold)
    result, count = set(current), node.low
    while current and (node.high is None or count < node.high):
        current = _ends(node.body, text, current, fold) - result
        result |= current
        count += 1
    return result


def fullmatch(pattern: str, text: str) -> bool:
    parsed = rx.parse(pattern)
    return len(text) in _ends(parsed.body, text, {0}, parsed.fold)


PATTERNS = [
    "a-.*", "a[b7]+-x{2}", "(a|b)+x?", "(?i)AB.", "[^a-]b*", "a{2,3}", "a{2,}", "a{,2}b", "(ab|ax)*7", r"\d+",
    r"\w-\W", r"[a-x]{1,2}", "a*?b", "a+?b??", "(?:ab)+", "(a)(b)?", "^a.$", r"a\.b", "[-a]x", "x|(?i:z)a",
    "(?i)[^A]b", "(?i)[A-Z]7", r"[\d-]+", r"\D\S", "(?P<name>ab)|x", "(|a)b", "(a|)b", "((a|b)x)*", "[]a]+",
    r"[^\w]", "a{x}", "a{", "b{}", r"\x61b", "(?-i:a)b", "(?i)a(?-i:b)", ".{3}", "[a-b7-7]+-", "Z|ZZ|ZZZ",
]
ALPHABET = "abx7-.Z_ "


@pytest.mark.parametrize("pattern", PATTERNS)
def test_the_tree_matches_what_python_matches(pattern):
    rng = random.Random(pattern)
    short = ["".join(t) for n in range(5) for t in itertools.product("ab7-xZ", repeat=n)]
    long = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12))) for _ in range(300)]
    for text in short + long:
        assert fullmatch(pattern, text) == bool(re.fullmatch(pattern, text)), (pattern, text)


def test_common_name_agrees_with_python_on_every_pair():
    patterns = ["a-.*", "a[b7]+-x{2}", "(a|b)+x?", "(?i)AB.", "a{2,3}", "(ab|ax)*7", r"\d+", "[a-x]{1,2}"]
    for first, second in itertools.product(patterns, repeat=2):
        name = common_name(first, second)
        if name is not None:
            assert re.fullmatch(first, name) and re.fullmatch(second, name), (first, second, name)
    assert common_name("a{2,3}", r"\d+") is None


def test_python_shapes_that_show_in_example_names():
    assert rx.parse("(a|b)").body == (rx.Group((rx.CharClass((rx.Literal("a"), rx.Literal("b"))),)),)
    assert rx.parse("ab|ac").body == (rx.Literal("a"), rx.CharClass((rx.Literal("b"), rx.Literal("c"))))
    assert rx.parse("foo|bar").body == (rx.Alternation(((rx.Literal("f"), rx.Literal("o"), rx.Literal("o")),
                                                        (rx.Literal("b"), rx.Literal("a"), rx.Literal("r")))),)
    assert rx.parse("[x]").body == (rx.Literal("x"),)
    assert rx.parse("[^x]").body == (rx.NotLiteral("x"),)
    assert rx.parse(r"\d").body == (rx.CharClass((rx.Category("d"),)),)
    assert rx.parse("(?:ab)+").body == (rx.Repeat((rx.Literal("a"), rx.Literal("b")), 1, None),)
    assert rx.parse("(ab)+").body == (rx.Repeat((rx.Group((rx.Literal("a"), rx.Literal("b"))),), 1, None),)
    assert rx.parse("a{2,5}?").body == (rx.Repeat((rx.Literal("a"),), 2, 5, lazy=True),)
    assert rx.parse("(?i)a").fold and not rx.parse("a").fold


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?P<x>a)(?P=x)", "a(?=b)", "a(?!b)", "(?<=a)b", "(?<!a)b", "a*+"])
def test_what_re2_lacks_is_unsupported(pattern):
    with pytest.raises(rx.Unsupported):
        rx.parse(pattern)


@pytest.mark.parametrize("pattern", ["broken-api-([a-z", "(a", "a)", "*a", "a**", "a{3,2}", "[z-a]", "^*", r"a\x4",
                                     "(?Q)a", "a(?i)b"])
def test_broken_patterns_are_errors_as_in_python(pattern):
    with pytest.raises(re.error):
        re.compile(pattern)
    with pytest.raises(rx.PatternError):
        rx.parse(pattern)
