"""GET list semantics of the Cin7 simulator: ``fields`` projection, ``order``, paging.

``where`` is compiled by :mod:`.cin7_where`; :func:`list_page` puts the pieces together.
"""

from __future__ import annotations

import re
from typing import Any

from .fields import BOOL, DATE, INT, LIST, NESTED, OBJ, STR
from .http import MSG_PAGE, MSG_ROWS, BadRequest
from .where import compile_where, parse_date

MAX_ROWS = 250
DEFAULT_ROWS = 50

_FIELD_ITEM = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?$", re.DOTALL)


def _split_top(text: str) -> list[str]:
    """Split on commas not inside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise BadRequest("Invalid fields argument: unbalanced parentheses.")
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth:
        raise BadRequest("Invalid fields argument: unbalanced parentheses.")
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def parse_fields(text: str, kind: str, schema: dict[str, str]):
    """``id,reference,lineItems(code,qty)`` -> [(name, subprojection|None)]."""
    lower = {k.lower(): k for k in schema}
    out = []
    for item in _split_top(text):
        m = _FIELD_ITEM.match(item)
        if not m:
            raise BadRequest(f"Invalid fields argument: {item!r}.")
        # INFERENCE: an unknown field name in ``fields`` is a 400 (not silently dropped).
        name = lower.get(m.group(1).lower())
        if name is None:
            raise BadRequest(f"Invalid fields argument: unknown field {m.group(1)!r}.")
        sub = None
        if m.group(2) is not None:
            sub_schema = NESTED.get((kind, name))
            if sub_schema is None:
                raise BadRequest(f"Invalid fields argument: {name} has no child fields.")
            sub_kind = "line" if name == "lineItems" else "option"
            sub = parse_fields(m.group(2), sub_kind, sub_schema)
        out.append((name, sub))
    return out


def project(record: dict, proj) -> dict:
    """Keep only the fields of ``proj`` (from :func:`parse_fields`); None keeps all."""
    if proj is None:
        return record
    out = {}
    for name, sub in proj:
        value = record.get(name)
        if sub is not None and isinstance(value, list):
            value = [project(v, sub) if isinstance(v, dict) else v for v in value]
        out[name] = value
    return out


def _sort_key(value: Any, ftype: str):
    if value is None:
        return (0, 0)
    if ftype == STR:
        return (1, str(value).casefold())
    if ftype == DATE:
        try:
            return (1, parse_date(str(value)).timestamp())
        except ValueError:
            return (0, 0)
    if ftype == BOOL:
        return (1, int(bool(value)))
    try:
        return (1, float(value))
    except (TypeError, ValueError):
        return (1, 0)


def _parse_order(text: str, schema: dict[str, str]) -> list[tuple[str, bool]]:
    lower = {k.lower(): k for k in schema}
    out = []
    for part in text.split(","):
        words = part.split()
        if not words:
            continue
        if len(words) > 2:
            raise BadRequest(f"Invalid order argument: {part.strip()!r}.")
        name = lower.get(words[0].lower())
        if name is None or schema[name] in (OBJ, LIST):
            raise BadRequest(f"Invalid order argument: unknown field {words[0]!r}.")
        direction = words[1].upper() if len(words) == 2 else "DESC"  # default DESC (§1.3)
        if direction not in ("ASC", "DESC"):
            raise BadRequest(f"Invalid order argument: {part.strip()!r}.")
        out.append((name, direction == "DESC"))
    return out


def list_page(records: list[dict], kind: str, schema: dict[str, str],
              args: dict[str, str]) -> list[dict]:
    """One page of ``records`` per the (lower-cased) query ``args``."""
    def int_arg(name: str, default: int) -> int:
        raw = args.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise BadRequest(
                f"The value '{raw}' is not valid for {name}.") from None

    rows = int_arg("rows", DEFAULT_ROWS)
    page = int_arg("page", 1)
    if rows > MAX_ROWS:
        raise BadRequest(MSG_ROWS)
    if rows < 1:
        # INFERENCE: Cin7's message for rows < 1 is unknown.
        raise BadRequest("The rows argument must be greater than or equal to 1.")
    if page < 1:
        raise BadRequest(MSG_PAGE)
    proj = parse_fields(args["fields"], kind, schema) if args.get("fields") else None
    # UNCONFIRMED: default order when none is given; id ASC chosen.
    order = _parse_order(args["order"], schema) if args.get("order") else []
    pred = compile_where(args.get("where") or "", schema)
    matched = [r for r in records if pred(r)]
    key_field = "id" if "id" in schema else "productOptionId"
    # id ASC as the final tie-breaker keeps paging deterministic (a real DB may not be).
    matched.sort(key=lambda r: _sort_key(r.get(key_field), INT))
    for name, desc in reversed(order):
        ftype = schema[name]
        matched.sort(key=lambda r, n=name, t=ftype: _sort_key(r.get(n), t), reverse=desc)
    start = (page - 1) * rows
    return [project(r, proj) for r in matched[start:start + rows]]
