"""Pod-name patterns: do two of them match a common pod name, and what names does one match?

Selectors match pods with anchored RE2 patterns. Two services whose patterns share
a pod name in the same namespace select the same pod, so it would be alerted on
twice. The answer is exact: pod names are DNS subdomains, a finite alphabet, so
both patterns become automata over that alphabet and a breadth-first search of
their product finds the shortest common name, or proves there is none.
"""
from __future__ import annotations

import re
from typing import Sequence

from gen.spec import pod_regex as rx
from gen.spec.pod_regex import Unsupported

ALPHABET = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")
MAX_NAME = 253  # longest Kubernetes object name
MAX_STATES = 100_000  # search budget; real selectors need a few hundred

__all__ = ["ALPHABET", "Unsupported", "common_name"]


class _Automaton:
    """A Thompson NFA: state -> [(characters, next state)], state -> [next states without input]."""

    def __init__(self, pattern: str) -> None:
        self.moves: list[list[tuple[frozenset[str], int]]] = []
        self.free: list[list[int]] = []
        parsed = rx.parse(pattern)
        self.start = self._state()
        self.accept = self._sequence(parsed.body, self.start, parsed.fold)

    def _state(self) -> int:
        if len(self.moves) >= MAX_STATES:
            raise Unsupported("pattern too large to compare")
        self.moves.append([])
        self.free.append([])
        return len(self.moves) - 1

    def _step(self, start: int, chars: frozenset[str]) -> int:
        end = self._state()
        self.moves[start].append((chars, end))
        return end

    def _sequence(self, items, start: int, fold: bool) -> int:
        for item in items:
            start = self._item(item, start, fold)
        return start

    def _item(self, node: rx.Node, start: int, fold: bool) -> int:
        if isinstance(node, rx.ONE_CHAR):
            return self._step(start, _chars(node, fold))
        if isinstance(node, rx.Anchor):
            return start  # ^ and $ at the ends of an anchored match
        if isinstance(node, rx.Group):
            return self._sequence(node.body, start, fold if node.fold is None else node.fold)
        if isinstance(node, rx.Alternation):
            end = self._state()
            for alternative in node.branches:
                branch = self._state()
                self.free[start].append(branch)
                self.free[self._sequence(alternative, branch, fold)].append(end)
            return end
        if isinstance(node, rx.Repeat):
            return self._repeat(node, start, fold)
        raise Unsupported(type(node).__name__)

    def _repeat(self, node: rx.Repeat, start: int, fold: bool) -> int:
        low = min(node.low, MAX_NAME + 1)
        for _ in range(low):
            start = self._sequence(node.body, start, fold)
        if node.high is None:
            loop = self._state()
            self.free[start].append(loop)
            self.free[self._sequence(node.body, loop, fold)].append(loop)
            return loop
        end = self._state()
        self.free[start].append(end)
        for _ in range(min(node.high, MAX_NAME + 1) - low):
            start = self._sequence(node.body, start, fold)
            self.free[start].append(end)
        return end

    def closure(self, states: frozenset[int]) -> frozenset[int]:
        seen = set(states)
        todo = list(states)
        while todo:
            for nxt in self.free[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return frozenset(seen)

    def advance(self, states: frozenset[int], char: str) -> frozenset[int]:
        return self.closure(frozenset(nxt for s in states for chars, nxt in self.moves[s] if char in chars))


def _chars(node: rx.Node, fold: bool) -> frozenset[str]:
    """The pod-name characters a one-character node accepts; a negation is taken after folding case."""
    if isinstance(node, rx.NotLiteral):
        return ALPHABET - _chars(rx.Literal(node.char), fold)
    if isinstance(node, rx.CharClass) and node.negated:
        return ALPHABET - _chars(rx.CharClass(node.items), fold)
    cases = (str.lower, str.upper) if fold else (str,)
    return frozenset(c for c in ALPHABET if any(rx.one_char_matches(node, case(c)) for case in cases))


def common_name(first: str, second: str) -> str | None:
    """The shortest pod name both anchored patterns match, or None when there is none.

    Raises Unsupported for constructs RE2 lacks (the spec validator already refuses those).
    """
    a, b = _Automaton(first), _Automaton(second)
    start = (a.closure(frozenset({a.start})), b.closure(frozenset({b.start})))
    parents: dict[tuple[frozenset[int], frozenset[int]], tuple | None] = {start: None}
    frontier = [start]
    alphabet = sorted(ALPHABET)
    for _ in range(MAX_NAME + 1):
        following = []
        for pair in frontier:
            if a.accept in pair[0] and b.accept in pair[1]:
                return _spell(pair, parents)
            for char in alphabet:
                nxt = (a.advance(pair[0], char), b.advance(pair[1], char))
                if nxt[0] and nxt[1] and nxt not in parents:
                    parents[nxt] = (pair, char)
                    following.append(nxt)
                    if len(parents) > MAX_STATES:
                        return None
        frontier = following
        if not frontier:
            return None
    return None


def _spell(pair, parents) -> str:
    chars = []
    while parents[pair] is not None:
        pair, char = parents[pair]
        chars.append(char)
    return "".join(reversed(chars))


# --- example names ----------------------------------------------------------------------------------

_POD_SUFFIXES = ("7d9f8b6c5d-x2k4p", "7d9f8b6c5d-q8w3n", "7d9f8b6c5d-m5z7r")


class _Filler:
    """A Deployment's pod suffix, handed out left to right to the parts of a pattern that accept it, so that
    `name-.*` and `name-[a-z0-9]+-[a-z0-9]{5}` both give `name-7d9f8b6c5d-x2k4p`."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def rest(self) -> str:
        rest, self.pos = self.text[self.pos:], len(self.text)
        return rest

    def take(self, node: rx.Node, most: int | None) -> str:
        """As many characters as the one-character `node` accepts, at most `most` (None: no limit)."""
        start = self.pos
        while (self.pos < len(self.text) and (most is None or self.pos - start < most)
               and rx.one_char_matches(node, self.text[self.pos])):
            self.pos += 1
        return self.text[start:self.pos]

    def skip(self, char: str) -> None:
        if self.text[self.pos:self.pos + 1] == char:
            self.pos += 1


def _example(pattern: Sequence[rx.Node], filler: _Filler) -> str:
    """One string the parsed regex matches, with the filler's text wherever the pattern accepts it."""
    out = ""
    for node in pattern:
        if isinstance(node, rx.Literal):
            out += node.char
            filler.skip(node.char)
        elif isinstance(node, rx.ONE_CHAR):
            out += filler.take(node, 1) or _first_char(node)
        elif isinstance(node, rx.Repeat):
            body = node.body
            if len(body) == 1 and isinstance(body[0], rx.AnyChar):
                out += filler.rest() or "x" * node.low
            elif len(body) == 1 and isinstance(body[0], rx.ONE_CHAR):
                taken = filler.take(body[0], node.high)
                out += taken + _example(body, _Filler("")) * max(0, max(node.low, 1) - len(taken))
            else:
                out += _example(body, filler) * max(node.low, 1)
        elif isinstance(node, rx.Group):
            out += _example(node.body, filler)
        elif isinstance(node, rx.Alternation):
            out += _example(node.branches[0], filler)
    return out


def _first_char(node: rx.Node) -> str:
    """A character a one-character node accepts, when the filler has none to give."""
    if isinstance(node, rx.CharClass):
        return _first_in(node)
    if isinstance(node, rx.NotLiteral):
        return "y" if node.char == "x" else "x"
    return "x"


def _first_in(node: rx.CharClass) -> str:
    if node.negated:
        return "x"
    for item in node.items:
        if isinstance(item, rx.Literal):
            return item.char
        if isinstance(item, rx.Range):
            return item.low
        if isinstance(item, rx.Category):
            return "a" if item.kind == "w" else "0"
    return "x"


def example_names(regex: str, count: int) -> list[str]:
    """Pod names that match `regex`, named as a Deployment names its pods (`<name>-<hash>-<suffix>`)."""
    names = []
    for i in range(count):
        name = _example(rx.parse(regex).body, _Filler(_POD_SUFFIXES[i]))
        if not re.fullmatch(regex, name):
            raise ValueError(f"cannot make an example pod name for pattern {regex!r}")
        names.append(name)
    if len(set(names)) != len(names):
        raise ValueError(f"pod pattern {regex!r} matches a single name; rule tests need pods that differ")
    return names
