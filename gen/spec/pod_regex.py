"""Pod-name patterns as a syntax tree: the RE2 subset selectors use, parsed by obsgen itself.

Supported: literals and escapes (`\\.`, `\\-`, `\\n`, `\\x2d`), `.`, classes `[...]` with ranges,
negation and `\\d \\w \\s` (and `\\D \\W \\S`), quantifiers `* + ? {m} {m,} {m,n}` and their lazy
forms, groups `(...)`, `(?:...)`, `(?P<name>...)`, alternation `|`, anchors `^ $ \\A \\z`, and the
case-insensitive flag, global `(?i)` or scoped `(?i:...)` / `(?-i:...)`. Back-references and
look-around, which RE2 lacks, raise `Unsupported`; broken syntax raises `PatternError`.

The tree is shaped as Python's own parser shapes it where that shows in example pod names: an
alternation of single characters is a class, alternatives lose their common leading items, `[x]`
is the literal x, and a quantified non-capturing group without flags is its contents.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union


class Unsupported(ValueError):
    """A construct RE2 does not have either (back-references, look-around), or a pattern too large to compare."""


class PatternError(ValueError):
    """Not a regular expression at all."""


# ---- the tree ----

@dataclass(frozen=True)
class Literal:
    char: str


@dataclass(frozen=True)
class AnyChar:
    """`.`: any character but a newline."""


@dataclass(frozen=True)
class Range:
    low: str
    high: str


@dataclass(frozen=True)
class Category:
    """`\\d`, `\\w`, `\\s` (kind d, w, s); `negated` for `\\D`, `\\W`, `\\S`."""

    kind: str
    negated: bool = False

    def matches(self, ch: str) -> bool:
        found = {"d": ch.isdigit(), "w": ch.isalnum() or ch == "_", "s": ch.isspace()}[self.kind]
        return found != self.negated


ClassItem = Union[Literal, Range, Category]


@dataclass(frozen=True)
class CharClass:
    """`[...]`, `\\d` and friends outside brackets, or an alternation of single characters."""

    items: tuple[ClassItem, ...]
    negated: bool = False

    def matches(self, ch: str) -> bool:
        found = any(_item_matches(item, ch) for item in self.items)
        return found != self.negated


@dataclass(frozen=True)
class NotLiteral:
    """`[^x]`: any character but one."""

    char: str


@dataclass(frozen=True)
class Anchor:
    """`^`, `$`, `\\A`, `\\z`: selectors are anchored anyway, so these match the empty string at the ends."""

    text: str


@dataclass(frozen=True)
class Repeat:
    body: tuple["Node", ...]
    low: int
    high: int | None  # None: no upper bound
    lazy: bool = False


@dataclass(frozen=True)
class Group:
    body: tuple["Node", ...]
    capturing: bool = True
    # Case folding inside the group: True for (?i:...), False for (?-i:...), None to inherit.
    fold: bool | None = None

    @property
    def plain(self) -> bool:
        return not self.capturing and self.fold is None


@dataclass(frozen=True)
class Alternation:
    branches: tuple[tuple["Node", ...], ...]


Node = Union[Literal, AnyChar, CharClass, NotLiteral, Anchor, Repeat, Group, Alternation]

# Nodes that match exactly one character.
ONE_CHAR = (Literal, AnyChar, CharClass, NotLiteral)


@dataclass(frozen=True)
class Pattern:
    body: tuple[Node, ...]
    fold: bool = False  # the global (?i) flag


def _item_matches(item: ClassItem, ch: str) -> bool:
    if isinstance(item, Literal):
        return ch == item.char
    if isinstance(item, Range):
        return item.low <= ch <= item.high
    return item.matches(ch)


def one_char_matches(node: Node, ch: str) -> bool:
    """Does a one-character node accept `ch` (case-sensitively)?"""
    if isinstance(node, Literal):
        return ch == node.char
    if isinstance(node, NotLiteral):
        return ch != node.char
    if isinstance(node, AnyChar):
        return ch != "\n"
    if isinstance(node, CharClass):
        return node.matches(ch)
    return False


# ---- the parser ----

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
_CATEGORIES = {"d": Category("d"), "w": Category("w"), "s": Category("s"),
               "D": Category("d", True), "W": Category("w", True), "S": Category("s", True)}


def parse(pattern: str) -> Pattern:
    return _Parser(pattern).pattern()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    # -- reading --

    def peek(self, ahead: int = 0) -> str:
        at = self.pos + ahead
        return self.text[at] if at < len(self.text) else ""

    def take(self, expected: str = "") -> str:
        char = self.peek()
        if not char:
            raise self.error("unexpected end of pattern")
        if expected and char != expected:
            raise self.error(f"expected '{expected}'")
        self.pos += 1
        return char

    def match(self, text: str) -> bool:
        if self.text.startswith(text, self.pos):
            self.pos += len(text)
            return True
        return False

    def error(self, message: str) -> PatternError:
        return PatternError(f"{message} at position {self.pos} of {self.text!r}")

    # -- grammar --

    def pattern(self) -> Pattern:
        fold = False
        if self.match("(?i)"):
            fold = True
        body = self.alternation(depth=0)
        if self.pos < len(self.text):
            raise self.error("unbalanced parenthesis")
        return Pattern(body, fold)

    def alternation(self, depth: int) -> tuple[Node, ...]:
        branches = [self.sequence()]
        while self.match("|"):
            branches.append(self.sequence())
        if self.peek() == ")" and depth == 0:
            raise self.error("unbalanced parenthesis")
        return _simplify(branches)

    def sequence(self) -> list[Node]:
        items: list[Node] = []
        while self.peek() and self.peek() not in "|)":
            char = self.peek()
            bounds = self.bounds() if char == "{" else None
            if char in "*+?":
                self.quantifier(items, *{"*": (0, None), "+": (1, None), "?": (0, 1)}[self.take()])
            elif bounds is not None:
                self.quantifier(items, *bounds)
            else:
                items.append(self.atom())
        return items

    def bounds(self) -> tuple[int, int | None] | None:
        """`{m}`, `{m,}`, `{m,n}` (and Python's `{,n}`) at the cursor, consumed; None (nothing consumed) when
        the brace is a literal."""
        text = self.text[self.pos:]
        end = text.find("}")
        inner = text[1:end] if end > 0 else None
        if inner is None or not inner or not all(c.isdigit() or c == "," for c in inner) or inner.count(",") > 1:
            return None
        low_text, comma, high_text = inner.partition(",")
        low = int(low_text) if low_text else 0
        high = int(high_text) if high_text else (None if comma else low)
        if high is not None and high < low:
            raise self.error("min repeat greater than max repeat")
        self.pos += end + 1
        return low, high

    def quantifier(self, items: list[Node], low: int, high: int | None) -> None:
        if not items or isinstance(items[-1], Anchor):
            raise self.error("nothing to repeat")
        if isinstance(items[-1], Repeat):
            raise self.error("multiple repeat")
        lazy = self.match("?")
        if self.peek() == "+":
            raise Unsupported(f"possessive quantifiers are not RE2: {self.text!r}")
        last = items.pop()
        body = last.body if isinstance(last, Group) and last.plain else (last,)
        items.append(Repeat(body, low, high, lazy))

    def atom(self) -> Node:
        char = self.take()
        if char == ".":
            return AnyChar()
        if char in "^$":
            return Anchor(char)
        if char == "(":
            return self.group()
        if char == "[":
            return self.char_class()
        if char == "\\":
            return self.escape(in_class=False)
        return Literal(char)

    def group(self) -> Node:
        capturing, fold = True, None
        if self.match("?"):
            if self.peek() in ("=", "!") or self.text.startswith(("<=", "<!"), self.pos):
                raise Unsupported(f"look-around is not RE2: {self.text!r}")
            if self.match("P="):
                raise Unsupported(f"back-references are not RE2: {self.text!r}")
            if self.match("P<"):
                end = self.text.find(">", self.pos)
                name = self.text[self.pos:end] if end >= 0 else ""
                if not name.isidentifier():
                    raise self.error("bad group name")
                self.pos = end + 1
            elif self.match(":"):
                capturing = False
            elif self.match("i:"):
                capturing, fold = False, True
            elif self.match("-i:"):
                capturing, fold = False, False
            else:
                raise self.error("unknown or misplaced group flag (only a leading (?i), (?i:...) and (?-i:...))")
        body = self.alternation(depth=1)
        if not self.match(")"):
            raise self.error("missing ), unterminated subpattern")
        return Group(body, capturing, fold)

    def escape(self, in_class: bool) -> Node:
        char = self.take()
        if char in _CATEGORIES:
            category = _CATEGORIES[char]
            return category if in_class else CharClass((category,))  # type: ignore[return-value]
        if char.isdigit() and char != "0":
            raise Unsupported(f"back-references are not RE2: {self.text!r}")
        if char in _ESCAPES:
            return Literal(_ESCAPES[char])
        if char == "x":
            digits = self.text[self.pos:self.pos + 2]
            if len(digits) != 2 or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise self.error("incomplete escape \\x")
            self.pos += 2
            return Literal(chr(int(digits, 16)))
        if not in_class and char in "Az":
            return Anchor("\\" + char)
        if char.isalnum():
            raise Unsupported(f"escape \\{char} is not supported in pod patterns: {self.text!r}")
        return Literal(char)

    def char_class(self) -> Node:
        negated = self.match("^")
        items: list[ClassItem] = []
        first = True
        while True:
            char = self.peek()
            if not char:
                raise self.error("unterminated character set")
            if char == "]" and not first:
                self.pos += 1
                break
            first = False
            item = self.class_atom()
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.pos += 1
                high = self.class_atom()
                if not isinstance(item, Literal) or not isinstance(high, Literal):
                    raise self.error("bad character range")
                if high.char < item.char:
                    raise self.error(f"bad character range {item.char}-{high.char}")
                items.append(Range(item.char, high.char))
            else:
                items.append(item)
        if len(items) == 1 and isinstance(items[0], Literal):
            return NotLiteral(items[0].char) if negated else items[0]
        return CharClass(tuple(items), negated)

    def class_atom(self) -> ClassItem:
        char = self.take()
        if char == "\\":
            return self.escape(in_class=True)  # type: ignore[return-value]
        if char == "[" and self.peek() == ":":
            raise Unsupported(f"POSIX classes like [:alpha:] are not supported in pod patterns: {self.text!r}")
        return Literal(char)


def _simplify(branches: list[list[Node]]) -> tuple[Node, ...]:
    """One sequence for the alternatives: common leading items taken out, single characters as a class."""
    if len(branches) == 1:
        return tuple(branches[0])
    prefix: list[Node] = []
    while all(branches) and all(b[0] == branches[0][0] for b in branches):
        prefix.append(branches[0][0])
        branches = [b[1:] for b in branches]
    items: list[ClassItem] = []
    for branch in branches:
        if len(branch) != 1:
            break
        node = branch[0]
        if isinstance(node, Literal):
            items.append(node)
        elif isinstance(node, CharClass) and not node.negated:
            items.extend(node.items)
        else:
            break
    else:
        return (*prefix, CharClass(tuple(dict.fromkeys(items))))
    return (*prefix, Alternation(tuple(tuple(b) for b in branches)))
