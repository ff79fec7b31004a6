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
from datetime import UTC, datetime
from typing import Any

from .where_parse import And, Cmp, In, IsNull, Like, Lit, Or, WhereError, parse_date, parse_where

__all__ = ["WhereError", "compile_where", "parse_date", "parse_where"]

#: Field types understood by :func:`compile_where`.
FILTERABLE_TYPES = frozenset({"int", "number", "str", "bool", "date"})


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


class _Compiler:
    """Turns a parsed ``where`` tree into a predicate, resolving fields case-insensitively."""

    def __init__(self, field_types: Mapping[str, str]):
        self.field_types = field_types
        self.by_lower = {name.lower(): name for name in field_types}

    def resolve(self, field: str) -> tuple[str, str]:
        canonical = self.by_lower.get(field.lower())
        if canonical is None:
            raise WhereError(f"unknown field {field!r}")
        ftype = self.field_types[canonical]
        if ftype not in FILTERABLE_TYPES:
            raise WhereError(f"field {canonical!r} cannot be used in a where clause")
        return canonical, ftype

    def build(self, node) -> Callable[[Mapping[str, Any]], bool]:
        if isinstance(node, Or):
            subs = [self.build(p) for p in node.parts]
            return lambda r: any(s(r) for s in subs)
        if isinstance(node, And):
            subs = [self.build(p) for p in node.parts]
            return lambda r: all(s(r) for s in subs)
        if isinstance(node, IsNull):
            name, _ = self.resolve(node.field)
            if node.negated:
                return lambda r: r.get(name) is not None
            return lambda r: r.get(name) is None
        if isinstance(node, Cmp):
            return self.compare(node)
        if isinstance(node, In):
            name, ftype = self.resolve(node.field)
            wanted = frozenset(_coerce(v, ftype, name) for v in node.values)

            def isin(r, name=name, ftype=ftype, wanted=wanted):
                have = _record_value(r.get(name), ftype)
                return have is not None and have in wanted

            return isin
        if isinstance(node, Like):
            return self.like(node)
        raise WhereError("unsupported expression")  # pragma: no cover

    def compare(self, node: Cmp) -> Callable[[Mapping[str, Any]], bool]:
        name, ftype = self.resolve(node.field)
        if ftype == "bool" and node.op not in ("=", "<>"):
            raise WhereError(f"operator {node.op} is not valid for {name}")
        want = _coerce(node.value, ftype, name)
        fn = _OPS[node.op]

        def cmp(r, name=name, ftype=ftype, want=want, fn=fn):
            have = _record_value(r.get(name), ftype)
            return have is not None and fn(have, want)

        return cmp

    def like(self, node: Like) -> Callable[[Mapping[str, Any]], bool]:
        name, ftype = self.resolve(node.field)
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


def compile_where(
    text: str, field_types: Mapping[str, str]
) -> Callable[[Mapping[str, Any]], bool]:
    """Compile ``text`` into a predicate over records.

    ``field_types`` maps canonical field names (e.g. ``modifiedDate``) to one of
    ``int``, ``number``, ``str``, ``bool``, ``date``; any other type (``object``,
    ``list``) exists but is not filterable.  Field lookup is case-insensitive.
    """
    if not text or not text.strip():
        return lambda r: True
    return _Compiler(field_types).build(parse_where(text))
