"""Parser and evaluator for Cin7 Omni's SQL-like ``where`` query parameter.

Grammar (reference §1.3)::

    expr       := and_expr ( OR and_expr )*
    and_expr   := primary ( AND primary )*
    primary    := '(' expr ')' | predicate
    predicate  := field op literal
                | field IN '(' literal ( ',' literal )* ')'
                | field IS [NOT] NULL
                | field [NOT] LIKE string
    op         := '=' | '<>' | '<' | '>' | '<=' | '>='
    literal    := 'quoted string' ('' escapes a quote) | number | true | false
                | unquoted date (2024-05-01T00:00:00Z)

Keywords and field names are case-insensitive.  Only top-level scalar fields of the
resource may be used.  Anything else raises :class:`WhereError` (the simulator answers
400).  The text is tokenised and parsed; nothing is ever evaluated as code.

SQL semantics: a comparison involving NULL is not true (AND/OR only, so treating
"unknown" as false gives the same result as SQL's three-valued logic).  String
comparisons are case-insensitive — INFERENCE: Cin7 runs on SQL Server, whose default
collation is case-insensitive.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

__all__ = ["WhereError", "compile_where", "parse_date", "parse_where"]

#: Field types understood by :func:`compile_where`.
FILTERABLE_TYPES = frozenset({"int", "number", "str", "bool", "date"})


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


# -------------------------------------------------------------------- compilation

_TRUE_STRINGS = {"true": True, "false": False, "1": True, "0": False}


def _coerce(lit: Lit, ftype: str, field: str) -> Any:
    """Convert a literal to the field's type, like SQL Server's implicit conversion."""
    bad = WhereError(f"cannot compare {field} ({ftype}) with {lit.value!r}")
    if ftype == "str":
        # INFERENCE: unquoted numbers/dates/booleans against text fields are rejected
        # (quote your strings); SQL Server would sometimes convert, sometimes error.
        if lit.kind != "string":
            raise bad
        return lit.value.casefold()
    if ftype in ("int", "number"):
        if lit.kind in ("number", "string"):
            try:
                num = float(lit.value)
            except ValueError:
                raise bad from None
            if ftype == "int":
                if num != int(num):
                    raise bad
                return int(num)
            return num
        raise bad
    if ftype == "bool":
        if lit.kind == "bool":
            return lit.value
        key = str(lit.value).strip().lower()
        if lit.kind in ("number", "string") and key in _TRUE_STRINGS:
            return _TRUE_STRINGS[key]
        raise bad
    if ftype == "date":
        if lit.kind in ("string", "date"):
            try:
                return parse_date(lit.value)
            except ValueError:
                raise bad from None
        raise bad
    raise bad


def _record_value(value: Any, ftype: str) -> Any:
    """Normalise a stored value for comparison; None stays None."""
    if value is None:
        return None
    if ftype == "str":
        return str(value).casefold()
    if ftype == "date":
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        try:
            return parse_date(str(value))
        except ValueError:
            return None
    if ftype == "bool":
        return bool(value)
    if ftype in ("int", "number"):
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    return value


def _like_regex(pattern: str) -> re.Pattern:
    out = []
    for ch in pattern:
        if ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def compile_where(
    text: str, field_types: Mapping[str, str]
) -> Callable[[Mapping[str, Any]], bool]:
    """Compile ``text`` into a predicate over records.

    ``field_types`` maps canonical field names (e.g. ``modifiedDate``) to one of
    ``int``, ``number``, ``str``, ``bool``, ``date``; any other type (``object``,
    ``list``) exists but is not filterable.  Field lookup is case-insensitive.
    """
    by_lower = {name.lower(): name for name in field_types}

    def resolve(field: str) -> tuple[str, str]:
        canonical = by_lower.get(field.lower())
        if canonical is None:
            raise WhereError(f"unknown field {field!r}")
        ftype = field_types[canonical]
        if ftype not in FILTERABLE_TYPES:
            raise WhereError(f"field {canonical!r} cannot be used in a where clause")
        return canonical, ftype

    def build(node) -> Callable[[Mapping[str, Any]], bool]:
        if isinstance(node, Or):
            subs = [build(p) for p in node.parts]
            return lambda r: any(s(r) for s in subs)
        if isinstance(node, And):
            subs = [build(p) for p in node.parts]
            return lambda r: all(s(r) for s in subs)
        if isinstance(node, IsNull):
            name, _ = resolve(node.field)
            if node.negated:
                return lambda r: r.get(name) is not None
            return lambda r: r.get(name) is None
        if isinstance(node, Cmp):
            name, ftype = resolve(node.field)
            if ftype == "bool" and node.op not in ("=", "<>"):
                raise WhereError(f"operator {node.op} is not valid for {name}")
            want = _coerce(node.value, ftype, name)
            fn = _OPS[node.op]

            def cmp(r, name=name, ftype=ftype, want=want, fn=fn):
                have = _record_value(r.get(name), ftype)
                return have is not None and fn(have, want)

            return cmp
        if isinstance(node, In):
            name, ftype = resolve(node.field)
            wanted = frozenset(_coerce(v, ftype, name) for v in node.values)

            def isin(r, name=name, ftype=ftype, wanted=wanted):
                have = _record_value(r.get(name), ftype)
                return have is not None and have in wanted

            return isin
        if isinstance(node, Like):
            name, ftype = resolve(node.field)
            if ftype != "str":
                raise WhereError(f"LIKE is only valid on text fields, not {name}")
            rx = _like_regex(node.pattern)
            negated = node.negated

            def like(r, name=name, rx=rx, negated=negated):
                have = r.get(name)
                if have is None:
                    return False
                return (rx.fullmatch(str(have)) is None) if negated else bool(
                    rx.fullmatch(str(have))
                )

            return like
        raise WhereError("unsupported expression")  # pragma: no cover

    if not text or not text.strip():
        return lambda r: True
    return build(parse_where(text))
