"""Tokeniser and parser of Cin7 Omni's ``where`` parameter: text -> a small tree.

The grammar is in :mod:`where`, which compiles the tree into a predicate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any


class WhereError(ValueError):
    """The where clause is not valid (the simulator turns this into HTTP 400)."""


# --------------------------------------------------------------------------- dates

_DATE_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)


@lru_cache(maxsize=65536)
def parse_date(text: str) -> datetime:
    """Parse a Cin7-style date (``2024-01-31T00:00:00Z``; date-only and offsets allowed).

    Naive values are taken as UTC.  Returns an aware UTC datetime; raises ValueError.
    """
    m = _DATE_RE.match(text.strip())
    if not m:
        raise ValueError(f"not a date: {text!r}")
    y, mo, d, hh, mi, ss, frac, tz = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    dt = datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0), micro)
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        offset_min = sign * (int(digits[:2]) * 60 + int(digits[2:]))
        return dt.replace(tzinfo=timezone(timedelta(minutes=offset_min))).astimezone(UTC)
    return dt.replace(tzinfo=UTC)


# ----------------------------------------------------------------------- tokeniser

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<op><>|<=|>=|=|<|>)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<date>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?)?(?:Z|[+-]\d{2}:?\d{2})?)
  | (?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)

_KEYWORDS = {"AND", "OR", "IN", "IS", "NOT", "NULL", "LIKE", "TRUE", "FALSE"}


@dataclass(frozen=True)
class _Tok:
    kind: str  # string op lparen rparen comma date number ident kw end
    value: Any
    pos: int


def _tokenise(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    n = len(text)
    while pos < n:
        m = _TOKEN_RE.match(text, pos)
        if not m:
            if text[pos] == "'":
                raise WhereError(f"unterminated string literal at position {pos}")
            raise WhereError(f"unexpected character {text[pos]!r} at position {pos}")
        kind = m.lastgroup
        raw = m.group()
        if kind == "ident":
            # An identifier glued to a number/date ("1abc") or a stray char is caught by
            # the parser; here only classify keywords.
            if raw.upper() in _KEYWORDS:
                toks.append(_Tok("kw", raw.upper(), pos))
            else:
                toks.append(_Tok("ident", raw, pos))
        elif kind == "string":
            toks.append(_Tok("string", raw[1:-1].replace("''", "'"), pos))
        elif kind != "ws":
            toks.append(_Tok(kind, raw, pos))
        pos = m.end()
    toks.append(_Tok("end", None, n))
    return toks


# -------------------------------------------------------------------------- AST


@dataclass(frozen=True)
class Lit:
    kind: str  # string number bool date
    value: Any


@dataclass(frozen=True)
class Cmp:
    field: str
    op: str
    value: Lit


@dataclass(frozen=True)
class In:
    field: str
    values: tuple[Lit, ...]


@dataclass(frozen=True)
class IsNull:
    field: str
    negated: bool


@dataclass(frozen=True)
class Like:
    field: str
    pattern: str
    negated: bool


@dataclass(frozen=True)
class And:
    parts: tuple[Any, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Any, ...]


class _Parser:
    def __init__(self, text: str):
        self.toks = _tokenise(text)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def is_kw(self, word: str) -> bool:
        tok = self.peek()
        return tok.kind == "kw" and tok.value == word

    def expect_kw(self, word: str) -> None:
        if not self.is_kw(word):
            self.fail(f"expected {word}")
        self.take()

    def fail(self, what: str):
        tok = self.peek()
        got = "end of clause" if tok.kind == "end" else repr(tok.value)
        raise WhereError(f"{what} at position {tok.pos}, got {got}")

    def parse(self):
        if self.peek().kind == "end":
            raise WhereError("empty where clause")
        node = self.expr()
        if self.peek().kind != "end":
            self.fail("unexpected token")
        return node

    def expr(self):
        parts = [self.and_expr()]
        while self.is_kw("OR"):
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_expr(self):
        parts = [self.primary()]
        while self.is_kw("AND"):
            self.take()
            parts.append(self.primary())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def primary(self):
        tok = self.peek()
        if tok.kind == "lparen":
            self.take()
            node = self.expr()
            if self.peek().kind != "rparen":
                self.fail("expected ')'")
            self.take()
            return node
        if tok.kind != "ident":
            self.fail("expected a field name")
        field = self.take().value
        nxt = self.peek()
        if nxt.kind == "op":
            op = self.take().value
            return Cmp(field, op, self.literal())
        if self.is_kw("IN"):
            self.take()
            if self.peek().kind != "lparen":
                self.fail("expected '(' after IN")
            self.take()
            values = [self.literal()]
            while self.peek().kind == "comma":
                self.take()
                values.append(self.literal())
            if self.peek().kind != "rparen":
                self.fail("expected ',' or ')' in IN list")
            self.take()
            return In(field, tuple(values))
        if self.is_kw("IS"):
            self.take()
            negated = False
            if self.is_kw("NOT"):
                self.take()
                negated = True
            self.expect_kw("NULL")
            return IsNull(field, negated)
        negated = False
        if self.is_kw("NOT"):
            self.take()
            negated = True
            if not self.is_kw("LIKE"):
                self.fail("expected LIKE after NOT")
        if self.is_kw("LIKE"):
            self.take()
            lit = self.literal()
            if lit.kind != "string":
                raise WhereError("LIKE needs a quoted string pattern")
            return Like(field, lit.value, negated)
        self.fail(f"expected an operator after {field!r}")

    def literal(self) -> Lit:
        tok = self.peek()
        if tok.kind == "string":
            self.take()
            return Lit("string", tok.value)
        if tok.kind == "number":
            self.take()
            return Lit("number", tok.value)
        if tok.kind == "date":
            self.take()
            return Lit("date", tok.value)
        if tok.kind == "kw" and tok.value in ("TRUE", "FALSE"):
            self.take()
            return Lit("bool", tok.value == "TRUE")
        self.fail("expected a value")
        raise AssertionError  # unreachable


def parse_where(text: str):
    """Parse a where clause into an AST (raises :class:`WhereError`)."""
    return _Parser(text).parse()
