"""Do two pod-name patterns match a common pod name?

Selectors match pods with anchored RE2 patterns. Two services whose patterns share
a pod name in the same namespace select the same pod, so it would be alerted on
twice. The answer is exact: pod names are DNS subdomains, a finite alphabet, so
both patterns become automata over that alphabet and a breadth-first search of
their product finds the shortest common name, or proves there is none.
"""
from __future__ import annotations

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
