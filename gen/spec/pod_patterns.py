"""Do two pod-name patterns match a common pod name?

Selectors match pods with anchored RE2 patterns. Two services whose patterns share
a pod name in the same namespace select the same pod, so it would be alerted on
twice. The answer is exact: pod names are DNS subdomains, a finite alphabet, so
both patterns become automata over that alphabet and a breadth-first search of
their product finds the shortest common name, or proves there is none.
"""
from __future__ import annotations

import re

try:  # the regex parser moved in 3.11; both are the standard library's own
    import re._parser as re_parser  # type: ignore[import-not-found]
    from re._constants import MAXREPEAT  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    import sre_parse as re_parser  # type: ignore[no-redef]
    from sre_constants import MAXREPEAT  # type: ignore[no-redef]

ALPHABET = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")
MAX_NAME = 253  # longest Kubernetes object name
MAX_STATES = 100_000  # search budget; real selectors need a few hundred

_CATEGORIES = {
    "CATEGORY_DIGIT": frozenset("0123456789"),
    "CATEGORY_WORD": frozenset(c for c in ALPHABET if c.isalnum()),
    "CATEGORY_SPACE": frozenset(),
}


class Unsupported(ValueError):
    """A construct RE2 does not have either (back-references, look-around), or a pattern too large to compare."""


class _Automaton:
    """A Thompson NFA: state -> [(characters, next state)], state -> [next states without input]."""

    def __init__(self, pattern: str) -> None:
        self.moves: list[list[tuple[frozenset[str], int]]] = []
        self.free: list[list[int]] = []
        parsed = re_parser.parse(pattern)
        self.start = self._state()
        self.accept = self._sequence(list(parsed), self.start, bool(parsed.state.flags & re.IGNORECASE))

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

    def _sequence(self, items: list, start: int, fold: bool) -> int:
        for op, arg in items:
            start = self._item(str(op), arg, start, fold)
        return start

    def _item(self, op: str, arg, start: int, fold: bool) -> int:
        if op == "LITERAL":
            return self._step(start, _literal(arg, fold))
        if op == "NOT_LITERAL":
            return self._step(start, ALPHABET - _literal(arg, fold))
        if op == "ANY":
            return self._step(start, ALPHABET)
        if op == "IN":
            return self._step(start, _charset(arg, fold))
        if op == "AT":
            return start  # ^ and $ at the ends of an anchored match
        if op == "SUBPATTERN":
            add_flags, del_flags, sub = arg[1], arg[2], arg[-1]
            fold = (fold or bool(add_flags & re.IGNORECASE)) and not del_flags & re.IGNORECASE
            return self._sequence(list(sub), start, fold)
        if op == "BRANCH":
            end = self._state()
            for alternative in arg[1]:
                branch = self._state()
                self.free[start].append(branch)
                self.free[self._sequence(list(alternative), branch, fold)].append(end)
            return end
        if op in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            return self._repeat(arg, start, fold)
        raise Unsupported(op)

    def _repeat(self, arg, start: int, fold: bool) -> int:
        low, high, sub = arg
        items = list(sub)
        for _ in range(min(low, MAX_NAME + 1)):
            start = self._sequence(items, start, fold)
        if high == MAXREPEAT:
            loop = self._state()
            self.free[start].append(loop)
            self.free[self._sequence(items, loop, fold)].append(loop)
            return loop
        end = self._state()
        self.free[start].append(end)
        for _ in range(min(high, MAX_NAME + 1) - min(low, MAX_NAME + 1)):
            start = self._sequence(items, start, fold)
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


def _literal(code: int, fold: bool) -> frozenset[str]:
    char = chr(code)
    return frozenset({char.lower(), char.upper()} & ALPHABET if fold else {char} & ALPHABET)


def _charset(items, fold: bool) -> frozenset[str]:
    chars: set[str] = set()
    negate = False
    for op, arg in items:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            chars |= _literal(arg, fold)
        elif name == "RANGE":
            low, high = arg
            chars |= {c for c in ALPHABET if low <= ord(c) <= high or (fold and low <= ord(c.upper()) <= high)}
        elif name == "CATEGORY":
            kind = str(arg)
            base = kind.replace("NOT_", "")
            members = _CATEGORIES.get(base)
            if members is None:
                raise Unsupported(kind)
            chars |= (ALPHABET - members) if "NOT_" in kind else members
        else:
            raise Unsupported(name)
    return ALPHABET - chars if negate else frozenset(chars)


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
