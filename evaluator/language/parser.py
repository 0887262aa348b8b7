"""Parse condition text into the syntax tree; Lark's errors stop here and become ConditionSyntaxError."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from .. import limits as _limits
from ..errors import INVISIBLE_CLASS, INVISIBLE_HINT, character_in_words
from ..resources import grammar_dir
from . import ast

# A whole number longer than this is no count, cap or code (and Python refuses to turn one of
# more than 4,300 digits into text).
MAX_DIGITS = 30


@dataclass
class ConditionSyntaxError(Exception):
    """A condition that does not parse: a message for a person and the offset it points at."""

    message: str
    offset: int
    hint: str | None = None

    def __str__(self) -> str:
        return f"{self.message} (at character {self.offset + 1})"


@lru_cache(maxsize=1)
def _lark() -> Lark:
    text = (grammar_dir() / "conditions.lark").read_text(encoding="utf-8")
    return Lark(text, parser="lalr", propagate_positions=True, maybe_placeholders=True)


def _unit(token: Token) -> str:
    return str(token).rstrip("s")


@v_args(meta=True)
class _Builder(Transformer):
    """Builds nodes only; it never evaluates anything."""

    def int_lit(self, meta, c):
        if len(c[0]) > MAX_DIGITS:
            raise ConditionSyntaxError(f"a whole number of {len(c[0]):,} digits is too long "
                                       f"(at most {MAX_DIGITS})", meta.start_pos)
        return ast.Literal(meta.start_pos, int(c[0]), end=meta.end_pos)

    def str_lit(self, meta, c):
        return ast.Literal(meta.start_pos, str(c[0])[1:-1], end=meta.end_pos)

    def date_lit(self, meta, c):
        text = str(c[0])
        try:
            value = date.fromisoformat(text)
        except ValueError:
            raise ConditionSyntaxError(f"{text} is not a real date", meta.start_pos) from None
        return ast.Literal(meta.start_pos, value, end=meta.end_pos)

    def true_lit(self, meta, c):
        return ast.Literal(meta.start_pos, True, end=meta.end_pos)

    def false_lit(self, meta, c):
        return ast.Literal(meta.start_pos, False, end=meta.end_pos)

    def list_lit(self, meta, c):
        return ast.ListLit(meta.start_pos, tuple(x for x in c if x is not None), end=meta.end_pos)

    def name(self, meta, c):
        return ast.Name(meta.start_pos, str(c[0]), end=meta.end_pos)

    def current_field(self, meta, c):
        return ast.CurrentField(meta.start_pos, str(c[0]), end=meta.end_pos)

    def call(self, meta, c):
        return ast.Call(meta.start_pos, str(c[0]), tuple(x for x in c[1:] if x is not None), end=meta.end_pos)

    def not_(self, meta, c):
        return ast.Not(meta.start_pos, c[0], end=meta.end_pos)

    def and_(self, meta, c):
        return balanced(ast.And, c)

    def or_(self, meta, c):
        return balanced(ast.Or, c)

    def compare(self, meta, c):
        return ast.Compare(meta.start_pos, str(c[1]), c[0], c[2], end=meta.end_pos)

    def member(self, meta, c):
        return ast.Member(meta.start_pos, c[0], c[1], False, end=meta.end_pos)

    def not_member(self, meta, c):
        return ast.Member(meta.start_pos, c[0], c[1], True, end=meta.end_pos)

    def contains(self, meta, c):
        return ast.Contains(meta.start_pos, c[0], c[1], end=meta.end_pos)

    def is_empty(self, meta, c):
        return ast.IsEmpty(meta.start_pos, c[0], False, end=meta.end_pos)

    def is_not_empty(self, meta, c):
        return ast.IsEmpty(meta.start_pos, c[0], True, end=meta.end_pos)

    def is_known(self, meta, c):
        return ast.IsKnown(meta.start_pos, c[0], False, end=meta.end_pos)

    def is_missing(self, meta, c):
        return ast.IsKnown(meta.start_pos, c[0], True, end=meta.end_pos)

    def add(self, meta, c):
        return ast.Arith(meta.start_pos, "+", c[0], c[1], end=meta.end_pos)

    def sub(self, meta, c):
        return ast.Arith(meta.start_pos, "-", c[0], c[1], end=meta.end_pos)

    def mul(self, meta, c):
        return ast.Arith(meta.start_pos, "*", c[0], c[1], end=meta.end_pos)

    def neg(self, meta, c):
        return ast.Neg(meta.start_pos, c[0], end=meta.end_pos)

    def duration(self, meta, c):
        return ast.Duration(meta.start_pos, c[0], _unit(c[1]), end=meta.end_pos)

    def count(self, meta, c):
        return ast.Aggregate(meta.start_pos, "count", c[0], end=meta.end_pos)

    def any_earlier(self, meta, c):
        return ast.Aggregate(meta.start_pos, "any", c[0], end=meta.end_pos)

    def no_earlier(self, meta, c):
        return ast.Aggregate(meta.start_pos, "none", c[0], end=meta.end_pos)

    def same_iso_week(self, meta, c):
        if _unit(c[0]) != "week":
            raise ConditionSyntaxError(f"'same iso {c[0]}' is not a window; write 'same iso week'", meta.start_pos)
        return ast.SameIsoWeek(meta.start_pos, end=meta.end_pos)

    def same_period(self, meta, c):
        unit = _unit(c[0])
        if unit not in ("month", "year"):
            raise ConditionSyntaxError(
                f"'same {c[0]}' is ambiguous; write 'same iso week' (Monday to Sunday)", meta.start_pos)
        return ast.SamePeriod(meta.start_pos, unit, end=meta.end_pos)

    def same_field(self, meta, c):
        return ast.SameField(meta.start_pos, str(c[0]), end=meta.end_pos)

    def within(self, meta, c):
        return ast.Within(meta.start_pos, c[0], end=meta.end_pos)

    def since_latest(self, meta, c):
        return ast.SinceLatest(meta.start_pos, c[0], end=meta.end_pos)

    def was(self, meta, c):
        return ast.Was(meta.start_pos, str(c[0]), end=meta.end_pos)


def balanced(kind: type, operands: list) -> ast.Node:
    """A chain a and b and c … as a balanced tree of binary nodes, operands in their order: its
    depth grows with the logarithm of its length, so walking it never runs out of stack (and
    both operators are associative, in three-valued logic too). Built level by level, no recursion."""
    level = list(operands)
    while len(level) > 1:
        paired = [kind(level[i].offset, level[i], level[i + 1], end=level[i + 1].end) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _too_deep(tree: Tree, limit: int) -> int | None:
    """The offset where the parse tree first nests deeper than `limit` levels, or None. Walks
    with a list, not recursion, since the tree may be thousands of levels deep."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            meta = node.meta
            return meta.start_pos if not meta.empty else 0
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))
    return None


# Malformed conditions mapped to messages a policy author understands (Lark's match_examples).
# Each message is tested against its examples in tests/test_parser.py.
UNCLOSED_PARENTHESIS = "a parenthesis is opened but never closed"
UNCLOSED_LIST = "a list is opened with '[' but never closed with ']'"

FRIENDLY_ERRORS: dict[str, list[str]] = {
    UNCLOSED_PARENTHESIS: [
        "(channel = \"written\"",
        "not (dialogue and documented",
        "count of earlier contacts where (same unit",
        "a in [1, 2",
    ],
    "a closing parenthesis has no opening one": [
        "channel = \"written\")",
        "dialogue and documented)",
    ],
    "write '=' to compare, not '=='": [
        "channel == \"written\"",
        "a == 1 and b = 2",
    ],
    "a condition is missing after 'and', 'or' or 'not'": [
        "dialogue and",
        "dialogue or",
        "not",
        "a = 1 and not",
    ],
    "a value is missing after the comparison": [
        "channel =",
        "duration_minutes >=",
        "channel in",
        "kva contains",
    ],
    "two values follow each other without 'and', 'or' or a comparison between them": [
        "dialogue documented",
        "channel = \"written\" booked",
        "a = 1 b = 2",
    ],
    "'where' takes its condition in parentheses: where ( … )": [
        "count of earlier contacts where channel = \"written\"",
        "any earlier contact where same unit",
    ],
    "a history count reads 'count of earlier contacts where ( … )'": [
        "count earlier contacts",
        "count of contacts",
        "count of earlier where",
    ],
    "'is' must be followed by 'known', 'missing', 'empty' or 'not empty'": [
        "dialogue is true",
        "kva is \"A1\"",
    ],
}


def _parse_raw(text: str):
    return _lark().parse(text)


SWEDISH_WORDS = {"och": "and", "samt": "and", "eller": "or", "inte": "not", "dagar": "days", "dag": "days",
                 "veckor": "weeks", "vecka": "weeks", "månader": "months", "månad": "months", "år": "years"}


def _slip(text: str, pos: int) -> str | None:
    """Slips a policy author makes that the grammar alone cannot name: Swedish words for the
    language's words, '=>' and '<>', a list in round brackets."""
    before = re.findall(r"[^\W\d_]+", text[:pos].lower())[-1:]  # the word before, and the one here
    here = re.match(r"[^\W\d_]+", text[pos:].lower())
    for word in before + ([here.group()] if here else []):
        if word in SWEDISH_WORDS:
            return f"write '{SWEDISH_WORDS[word]}', not '{word}': conditions use English words"
    near = text[max(0, pos - 1):pos + 2]
    if "=>" in near:
        return "write '>=' for 'at least', not '=>'"
    if "<>" in near:
        return "write '!=' for 'not equal', not '<>'"
    if re.search(r"\b(not\s+)?in\s*\(", text[:pos + 1]):
        return 'a list is written in square brackets: channel in ["video", "phone"]'
    return None


def _match_examples(exc: UnexpectedInput) -> str | None:
    """The FRIENDLY_ERRORS label whose examples fail in the parser state `exc` failed in.
    Lark's own debug message in match_examples fails on some states (a TypeError from '%d'
    given a ParserState, with use_accepts=True): then the states alone decide, and failing that
    the generic messages below do."""
    for use_accepts in (True, False):
        try:
            return exc.match_examples(_parse_raw, FRIENDLY_ERRORS, use_accepts=use_accepts)
        except Exception:  # noqa: BLE001 - a bug in a hint must not hide the problem it explains
            continue
    return None


def _unclosed(text: str, opener: str, closer: str) -> int | None:
    """The offset of the innermost `opener` that no `closer` closes (brackets inside a quoted
    text do not count), or None when every one is closed."""
    stack: list[int] = []
    quoted = False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif ch == opener:
            stack.append(i)
        elif ch == closer and stack:
            stack.pop()
    return stack[-1] if stack else None


def _friendly(exc: UnexpectedInput, text: str, pos: int) -> str:
    slip = _slip(text, pos)
    if slip:
        return slip
    label = _match_examples(exc)
    if label:
        return label
    at_end = isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END")
    if at_end and text.count("(") > text.count(")"):
        return UNCLOSED_PARENTHESIS
    if at_end and text.count("[") > text.count("]"):
        return UNCLOSED_LIST
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        return "the condition ends too early"
    if isinstance(exc, UnexpectedToken):
        return f"'{exc.token}' was not expected here"
    return "this condition cannot be read"


def parse_condition(text: str, limits: _limits.Limits | None = None) -> ast.Node:
    """Parse one condition. Raises ConditionSyntaxError with a friendly message and an offset.
    A condition longer than `max_condition_chars`, or nesting deeper than
    `max_condition_nesting`, is refused (the limits in force unless `limits` is given)."""
    limits = limits or _limits.current()
    if not text.strip():
        raise ConditionSyntaxError("the condition is empty", 0)
    if len(text) > limits.max_condition_chars:
        raise ConditionSyntaxError(
            _limits.refused("the condition's length in characters", "max_condition_chars",
                            limits.max_condition_chars, len(text)) + "; " + _limits.raise_hint("max_condition_chars"),
            limits.max_condition_chars)
    try:
        tree = _lark().parse(text)
    except UnexpectedCharacters as exc:
        ch = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        slip = _slip(text, exc.pos_in_stream)
        hint = None
        if ch and re.fullmatch(INVISIBLE_CLASS, ch):
            msg = f"{character_in_words(ch)} cannot be used here"
            hint = INVISIBLE_HINT
        elif slip:
            msg = slip
        elif ch in "&|":
            msg = "write 'and' or 'or', not '&&' or '||'"
        elif ch in "\"'":
            msg = "a text is opened with a quote but not closed on the same line"
        elif ch.isupper():
            msg = "names and words are written in lower case"
        elif text.startswith("==", exc.pos_in_stream - 1) or ch == "=":
            msg = "write '=' to compare, not '=='"
        else:
            msg = f"{character_in_words(ch)} cannot be used here"
        raise ConditionSyntaxError(msg, exc.pos_in_stream, hint) from None
    except UnexpectedInput as exc:
        pos = getattr(exc, "pos_in_stream", None)
        if pos is None:
            token = getattr(exc, "token", None)
            pos = token.start_pos if token is not None and token.start_pos is not None else len(text)
        message = _friendly(exc, text, pos)
        # an opening bracket never closed is said where it opens, not where the text ends
        opened = (_unclosed(text, "(", ")") if message == UNCLOSED_PARENTHESIS
                  else _unclosed(text, "[", "]") if message == UNCLOSED_LIST else None)
        if opened is None and message == UNCLOSED_PARENTHESIS:
            opened = _unclosed(text, "[", "]")
        raise ConditionSyntaxError(message, opened if opened is not None else min(pos, max(len(text) - 1, 0))) from None
    deep = _too_deep(tree, limits.max_condition_nesting)
    if deep is not None:
        raise ConditionSyntaxError(
            f"the condition nests deeper than {limits.max_condition_nesting} levels here "
            f"(the limit max_condition_nesting); write it flatter, or "
            + _limits.raise_hint("max_condition_nesting"), deep)
    try:
        return _Builder().transform(tree)
    except Exception as exc:  # Lark wraps errors raised in callbacks
        inner = getattr(exc, "orig_exc", exc)
        if isinstance(inner, ConditionSyntaxError):
            raise inner from None
        raise
