"""``PUT /api/v1/SalesOrders`` of the Cin7 simulator: binding the body, then validating and
applying each partial order atomically, with one result envelope per record."""

from __future__ import annotations

import copy
import threading
from datetime import timedelta
from typing import Any

from flask import Response

from .fields import (
    BOOL,
    DATE,
    INT,
    LINE_FIELDS,
    LINE_READ_ONLY,
    LIST,
    MAX_LEN,
    MONEY_FIELDS,
    NUM,
    OBJ,
    ORDER_FIELDS,
    ORDER_READ_ONLY,
    STR,
    iso,
)
from .http import MSG_BATCH, MSG_MALFORMED, BadRequest, json_response
from .records import order_status, recompute_totals
from .where import parse_date

BATCH_LIMIT = 250


class _RecordError(Exception):
    pass


def _convert(value: Any, ftype: str) -> Any:
    """Body value -> stored value, the way Newtonsoft would bind it; ValueError if it can't."""
    if ftype == STR:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError
        return value if isinstance(value, str) else str(value)
    if ftype == INT:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, str):
            value = float(value.strip())
        if not isinstance(value, int | float) or value != int(value):
            raise ValueError
        return int(value)
    if ftype == NUM:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, str):
            return float(value.strip())
        if not isinstance(value, int | float):
            raise ValueError
        return float(value)
    if ftype == BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ValueError
    if ftype == DATE:
        if not isinstance(value, str):
            raise ValueError
        return iso(parse_date(value))
    if ftype == OBJ:
        if not isinstance(value, dict):
            raise ValueError
        return value
    if ftype == LIST:
        if not isinstance(value, list):
            raise ValueError
        return value
    raise ValueError


def _canon_keys(record: dict, schema: dict[str, str]) -> dict[str, Any]:
    """Map body keys case-insensitively onto schema names; unknown keys are dropped."""
    lower = {k.lower(): k for k in schema}
    out: dict[str, Any] = {}
    for key, value in record.items():
        name = lower.get(str(key).lower())
        if name is not None:
            out[name] = value
    return out


def _bind_order(raw: dict) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in _canon_keys(raw, ORDER_FIELDS).items():
        if value is None:
            continue  # null = unchanged
        ftype = ORDER_FIELDS[name]
        if value == "" and ftype != STR:
            out[name] = ""  # clear
            continue
        try:
            if name == "lineItems":
                out[name] = [_bind_line(ln) for ln in _convert(value, LIST)]
            else:
                out[name] = _convert(value, ftype)
        except (ValueError, TypeError):
            raise BadRequest(MSG_MALFORMED) from None
    return out


def _bind_line(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValueError
    out = {}
    for name, value in _canon_keys(raw, LINE_FIELDS).items():
        if value is None:
            continue
        ftype = LINE_FIELDS[name]
        out[name] = "" if (value == "" and ftype != STR) else _convert(value, ftype)
    return out


def _later(previous: str | None, now: str) -> str:
    """Every write moves ``modifiedDate`` (as Cin7's does): at least one second past the
    last, even when two writes fall in the same second of this second-resolution clock."""
    if not previous or previous < now:
        return now
    try:
        return iso(parse_date(previous) + timedelta(seconds=1))
    except ValueError:  # WhereError: a date this simulator did not write
        return now


class PutMixin:
    """PUT handling for a :class:`~.cin7.Cin7Simulator`, whose ``__init__`` sets the state
    below (and provides ``now()`` and, via :class:`~.cin7_records.RecordsMixin`,
    ``_new_line()``)."""

    _lock: threading.RLock
    orders: dict[int, dict]
    stages: list[str]
    _put_failures: dict[int, str]
    _next_invoice: int

    def _put_orders(self, body: Any) -> Response:
        if not isinstance(body, list) or not all(isinstance(r, dict) for r in body):
            raise BadRequest(MSG_MALFORMED)
        if len(body) > BATCH_LIMIT:
            raise BadRequest(MSG_BATCH)
        # Pass 1: bind types like Newtonsoft.  A value that cannot be bound (e.g. a word in
        # freightTotal, a bad date) fails the whole request (INFERENCE: model binding error).
        bound = [_bind_order(raw) for raw in body]
        with self._lock:
            now = iso(self.now())
            results = [self._update_one(i, rec, now) for i, rec in enumerate(bound)]
        return json_response(results)

    def _update_one(self, index: int, rec: dict[str, Any], now: str) -> dict[str, Any]:
        oid = rec.get("id")
        # On failure the envelope carries id 0 and code "" (reference §3.1 example); match
        # results to records by ``index``.
        fail = {"index": index, "success": False, "id": 0, "code": "", "errors": []}
        if not oid:
            fail["errors"] = ["The id field is required to update a sales order."]
            return fail
        order = self.orders.get(oid)
        if order is None:
            fail["errors"] = [f"Sales order with id {oid} was not found."]
            return fail
        try:
            if oid in self._put_failures:
                raise _RecordError(self._put_failures[oid])
            new = self._apply(order, rec, now)
        except _RecordError as exc:
            fail["errors"] = [str(exc)]
            return fail
        self.orders[oid] = new
        return {"index": index, "success": True, "id": oid, "code": new["reference"] or "",
                "errors": []}

    def _apply(self, order: dict, rec: dict[str, Any], now: str) -> dict:
        """Validate and apply one partial update; returns the new order (atomic)."""
        if order["isVoid"]:
            # INFERENCE: a voided order cannot be edited (voiding is irreversible).
            raise _RecordError("This sales order has been voided and cannot be updated.")
        o = copy.deepcopy(order)
        changes = {k: v for k, v in rec.items() if k not in ORDER_READ_ONLY}
        errors = []
        for name, value in changes.items():
            error = self._set_field(o, order, name, value)
            if error:
                errors.append(error)
        if "lineItems" in changes and changes["lineItems"] != "":
            errors.extend(self._apply_lines(o, changes["lineItems"], now))
        if "isVoid" in changes and o["isVoid"]:
            o["cancellationDate"] = now
        errors.extend(self._dispatch_effects(o, order, changes))
        if changes.get("invoiceDate") and not o["invoiceNumber"]:
            o["invoiceNumber"] = self._next_invoice
            self._next_invoice += 1
        if errors:
            raise _RecordError("; ".join(errors))
        lines_changed = "lineItems" in changes
        if lines_changed or MONEY_FIELDS & changes.keys():
            recompute_totals(o, products=lines_changed)
        o["status"] = order_status(o)
        o["modifiedDate"] = _later(order.get("modifiedDate"), now)
        return o

    @staticmethod
    def _dispatch_effects(o: dict, order: dict, changes: dict) -> list[str]:
        """What dispatching or moving to Fully Picked does to the lines and the stage."""
        errors = []
        if changes.get("dispatchedDate"):
            if not o["isApproved"]:
                # INFERENCE: a draft cannot be dispatched.
                errors.append("A draft (unapproved) sales order cannot be dispatched.")
            else:
                # "Qty shipped ... read-only. Populate DispatchedDate to update this field"
                # (reference §2.2).  INFERENCE (§8.2): dispatching is all-or-nothing and the
                # stage moves to Dispatched unless the same record sets a stage.
                for ln in o["lineItems"]:
                    ln["qtyShipped"] = ln["qty"]
                    ln["uomQtyShipped"] = ln["qty"]
                    ln["stockMovements"] = [
                        {"batch": None, "quantity": ln["qty"], "serial": None}]
                if "stage" not in changes:
                    o["stage"] = "Dispatched"
        elif (changes.get("stage") and str(o["stage"]).casefold() == "fully picked"
              and str(order["stage"]).casefold() != "fully picked"):
            # "When you change the stage of an order to Fully Picked, Cin7 Omni will try to
            # dispatch the stock" (reference §2.3): fills the dispatch quantities.
            for ln in o["lineItems"]:
                if not ln["qtyShipped"]:
                    ln["qtyShipped"] = ln["qty"]
                    ln["uomQtyShipped"] = ln["qty"]
        return errors

    def _set_field(self, o: dict, order: dict, name: str, value) -> str | None:
        """Set one header field of the copy ``o``; returns Cin7's error, or None."""
        if name == "lineItems":
            return None
        if value == "":
            o[name] = "" if ORDER_FIELDS[name] == STR else (
                {} if name == "customFields" else None)
            return None
        if name == "stage":
            match = next((s for s in self.stages if s.casefold() == value.casefold()), None)
            if match is None:
                return f"Stage '{value}' does not exist."
            value = match
        elif name == "taxStatus":
            match = next((s for s in ("Incl", "Excl", "Exempt", "Undefined")
                          if s.casefold() == value.casefold()), None)
            if match is None:
                return f"TaxStatus '{value}' is not valid."
            value = match
        elif name == "customFields":
            merged = dict(o.get("customFields") or {})
            for k, v in value.items():
                if v is None:
                    continue
                if v == "":
                    merged.pop(k, None)
                else:
                    merged[k] = v
            value = merged
        elif name == "branchId" and value != order["branchId"] and order["dispatchedDate"]:
            return "BranchId is not updatable once the sales order is dispatched."
        if isinstance(value, str) and name in MAX_LEN and len(value) > MAX_LEN[name]:
            return (f"{name[0].upper()}{name[1:]} cannot be longer than "
                    f"{MAX_LEN[name]} characters.")
        o[name] = value
        return None

    def _apply_lines(self, o: dict, lines: list[dict], now: str) -> list[str]:
        """Update lines by id; lines without id are added; unmentioned lines are kept
        (UNCONFIRMED, reference §8.4)."""
        errors = []
        by_id = {ln["id"]: ln for ln in o["lineItems"]}
        for raw in lines:
            changes = {k: v for k, v in raw.items() if k not in LINE_READ_ONLY}
            lid = raw.get("id")
            if lid:
                line = by_id.get(lid)
                if line is None:
                    errors.append(f"Line item with id {lid} was not found on this order.")
                    continue
                for name, value in changes.items():
                    if value == "":
                        value = "" if LINE_FIELDS[name] == STR else None
                    line[name] = value
            else:
                if not (changes.get("code") or changes.get("productOptionId")):
                    errors.append("A new line item needs a code or productOptionId.")
                    continue
                sort = max((ln["sort"] or 0 for ln in o["lineItems"]), default=0) + 1
                o["lineItems"].append(self._new_line(
                    {k: v for k, v in changes.items() if v != ""}, o["id"], sort, now))
        return errors
