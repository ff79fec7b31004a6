"""A Cin7 Omni API v1 simulator (Flask) for tests and the local sandbox.

Follows /work/shared/reference/cin7-omni-api.md.  Routes live under ``/api`` so a client's
base URL is ``{server.url}/api`` (Cin7's real base: ``https://api.cin7.com/api``):

* ``GET  /api/v1/SalesOrders`` (fields, where, order, page, rows), ``GET .../SalesOrders/{id}``
* ``PUT  /api/v1/SalesOrders`` (array of partial orders, <= 250, per-record envelope)
* ``GET  /api/v1/Products[/{id}]`` (productOptions nested), ``GET /api/v1/ProductOptions[/{id}]``
* ``GET  /api/v1/Stock``, ``GET /api/v1/Branches[/{id}]``

Route matching is case-insensitive (ASP.NET Web API), as are query-parameter names, field
names in ``where``/``order``/``fields`` and property names in request bodies.

Imports nothing from ``ratecalc`` outside ``ratecalc.sandbox``.
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import hmac
import json
import re
import threading
import time
from bisect import bisect_right, insort
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, request

from . import cin7_data
from .cin7_where import WhereError, compile_where, parse_date

__all__ = ["Cin7Simulator", "MAX_ROWS", "BATCH_LIMIT"]

MAX_ROWS = 250
DEFAULT_ROWS = 50
BATCH_LIMIT = 250

# Error bodies are bare JSON strings (reference §1.4).
MSG_UNAUTHORIZED = "Unauthorized access"
MSG_NOT_FOUND = "Resource not found"
MSG_MALFORMED = "Missing or malformed JSON data; please see the documentation for examples."
MSG_BATCH = "Batch limit is 250."
MSG_ROWS = "The rows argument cannot be greater than 250."
MSG_PAGE = "The page number is out of range; the value must be greater than or equal to 1."
MSG_RATE = "Rate limit exceeded. Retry after some time."

# ------------------------------------------------------------------------- schemas
# Field -> type.  int/number/str/bool/date are filterable and sortable; object/list not.

_STR, _INT, _NUM, _BOOL = "str", "int", "number", "bool"
_DATE, _OBJ, _LIST = "date", "object", "list"


def _fields(spec: str, ftype: str) -> dict[str, str]:
    return {name: ftype for name in spec.split()}


ORDER_FIELDS: dict[str, str] = {
    "id": _INT, "createdDate": _DATE, "modifiedDate": _DATE, "createdBy": _INT,
    "processedBy": _INT, "isApproved": _BOOL, "reference": _STR, "memberId": _INT,
    **_fields("memberEmail firstName lastName company email phone mobile fax", _STR),
    **_fields(
        "deliveryFirstName deliveryLastName deliveryCompany deliveryAddress1 deliveryAddress2 "
        "deliveryCity deliveryState deliveryPostalCode deliveryCountry", _STR),
    **_fields(
        "billingFirstName billingLastName billingCompany billingAddress1 billingAddress2 "
        "billingCity billingPostalCode billingState billingCountry", _STR),
    "branchId": _INT, "branchEmail": _STR, "projectName": _STR, "trackingCode": _STR,
    "internalComments": _STR, "productTotal": _NUM, "freightTotal": _NUM,
    "freightDescription": _STR, "surcharge": _NUM, "surchargeDescription": _STR,
    "discountTotal": _NUM, "discountDescription": _STR, "total": _NUM, "currencyCode": _STR,
    "currencyRate": _NUM, "currencySymbol": _STR, "currencyId": _INT, "taxStatus": _STR,
    "taxRate": _NUM, "source": _STR, "customFields": _OBJ, "status": _STR, "stage": _STR,
    **_fields("memberCostCenter memberAlternativeTaxRate costCenter alternativeTaxRate", _STR),
    "estimatedDeliveryDate": _DATE, "salesPersonId": _INT, "salesPersonEmail": _STR,
    "paymentTerms": _STR, "customerOrderNo": _STR, "voucherCode": _STR,
    "deliveryInstructions": _STR, "invoiceDate": _DATE, "invoiceNumber": _INT,
    "dispatchedDate": _DATE, "logisticsCarrier": _STR, "logisticsStatus": _INT,
    "ediStatus": _INT, "distributionBranchId": _INT,
    **_fields("departmentNumber storeLocationNumber distributionCenter", _STR),
    "isVoid": _BOOL, "accountingAttributes": _OBJ, "cancellationDate": _DATE,
    "modifiedCOGSDate": _DATE, "lineItems": _LIST,
}

LINE_FIELDS: dict[str, str] = {
    "id": _INT, "createdDate": _DATE, "transactionId": _INT, "parentId": _INT,
    "productId": _INT, "productOptionId": _INT, "integrationRef": _STR, "sort": _INT,
    "code": _STR, "name": _STR, "option1": _STR, "option2": _STR, "option3": _STR,
    "qty": _NUM, "styleCode": _STR, "barcode": _STR, "sizeCodes": _STR, "sizes": _LIST,
    "lineComments": _STR, "unitCost": _NUM, "unitPrice": _NUM, "uomPrice": _NUM,
    "discount": _NUM, "uomQtyOrdered": _NUM, "uomQtyShipped": _NUM, "uomSize": _NUM,
    "qtyShipped": _NUM, "holdingQty": _NUM, "accountCode": _STR, "stockControl": _STR,
    "stockMovements": _LIST, "taxRate": _NUM,
}

SIZE_FIELDS: dict[str, str] = {"name": _STR, "code": _STR, "barcode": _STR, "qty": _NUM}

PRODUCT_FIELDS: dict[str, str] = {
    "id": _INT, "status": _STR, "createdDate": _DATE, "modifiedDate": _DATE,
    "styleCode": _STR, "name": _STR, "description": _STR, "brand": _STR, "category": _STR,
    "subCategory": _STR, "supplierId": _INT, "tags": _STR, "channels": _STR,
    "weight": _NUM, "height": _NUM, "width": _NUM, "length": _NUM, "volume": _NUM,
    "images": _LIST, "pdfUpload": _STR, "stockControl": _STR, "orderType": _STR,
    "optionLabel1": _STR, "optionLabel2": _STR, "optionLabel3": _STR, "sizeRangeId": _INT,
    "customFields": _OBJ, "productOptions": _LIST,
}

OPTION_FIELDS: dict[str, str] = {
    "id": _INT, "productId": _INT, "createdDate": _DATE, "modifiedDate": _DATE,
    "status": _STR, "productOptionCode": _STR, "productOptionBarcode": _STR,
    "productOptionSizeCode": _STR, "productOptionSizeBarcode": _STR, "supplierCode": _STR,
    "option1": _STR, "option2": _STR, "option3": _STR, "optionWeight": _NUM, "size": _STR,
    "sizeId": _INT, "retailPrice": _NUM, "wholesalePrice": _NUM, "vipPrice": _NUM,
    "specialPrice": _NUM, "stockAvailable": _NUM, "stockOnHand": _NUM, "uomOptions": _LIST,
    "image": _OBJ, "priceColumns": _OBJ,
}

STOCK_FIELDS: dict[str, str] = {
    "productId": _INT, "productOptionId": _INT, "modifiedDate": _DATE, "styleCode": _STR,
    "code": _STR, "barcode": _STR, "branchId": _INT, "branchName": _STR, "productName": _STR,
    "option1": _STR, "option2": _STR, "option3": _STR, "size": _STR, "available": _NUM,
    "stockOnHand": _NUM, "openSales": _NUM, "incoming": _NUM, "virtual": _NUM, "holding": _NUM,
}

BRANCH_FIELDS: dict[str, str] = {
    "id": _INT, "createdDate": _DATE, "modifiedDate": _DATE, "isActive": _BOOL,
    "branchType": _STR, "company": _STR, "email": _STR, "address1": _STR, "address2": _STR,
    "city": _STR, "state": _STR, "postCode": _STR, "country": _STR, "branchLocations": _LIST,
}

# Nested projections allowed in ``fields=`` (e.g. ``lineItems(code,qty)``).
_NESTED = {
    ("order", "lineItems"): LINE_FIELDS,
    ("line", "sizes"): SIZE_FIELDS,
    ("product", "productOptions"): OPTION_FIELDS,
}

# PUT: read-only per spec (reference §3.2) plus computed totals (INFERENCE: productTotal and
# total are derived from the lines/charges, so writes to them are ignored).
ORDER_READ_ONLY = frozenset({
    "id", "createdDate", "modifiedDate", "createdBy", "status", "invoiceNumber", "source",
    "cancellationDate", "modifiedCOGSDate", "productTotal", "total", "accountingAttributes",
})
LINE_READ_ONLY = frozenset({
    "id", "createdDate", "transactionId", "parentId", "productId", "qtyShipped",
    "uomQtyShipped", "uomSize", "holdingQty", "sizeCodes", "stockMovements", "sizes",
    "stockControl",
})
# Max lengths from the spec (reference §2.1).  Too long -> record-level failure.
MAX_LEN = {"reference": 30, "trackingCode": 50, "phone": 50, "mobile": 50, "fax": 50,
           "memberEmail": 250, "voucherCode": 30, "deliveryInstructions": 2000,
           **{k: 250 for k in ORDER_FIELDS
              if k.startswith("delivery") and k != "deliveryInstructions"}}
_MONEY_FIELDS = frozenset({"freightTotal", "surcharge", "discountTotal", "taxRate", "taxStatus"})


# ------------------------------------------------------------------------- helpers


def iso(dt: datetime) -> str:
    """``yyyy-MM-ddTHH:mm:ssZ`` in UTC (reference §1.4)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _norm_date(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return iso(value)
    return iso(parse_date(str(value)))


class _BadRequest(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


class _RecordError(Exception):
    pass


def _convert(value: Any, ftype: str) -> Any:
    """Body value -> stored value, the way Newtonsoft would bind it; ValueError if it can't."""
    if ftype == _STR:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError
        return value if isinstance(value, str) else str(value)
    if ftype == _INT:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, str):
            value = float(value.strip())
        if not isinstance(value, int | float) or value != int(value):
            raise ValueError
        return int(value)
    if ftype == _NUM:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, str):
            return float(value.strip())
        if not isinstance(value, int | float):
            raise ValueError
        return float(value)
    if ftype == _BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ValueError
    if ftype == _DATE:
        if not isinstance(value, str):
            raise ValueError
        return iso(parse_date(value))
    if ftype == _OBJ:
        if not isinstance(value, dict):
            raise ValueError
        return value
    if ftype == _LIST:
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


def _split_top(text: str) -> list[str]:
    """Split on commas not inside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise _BadRequest("Invalid fields argument: unbalanced parentheses.")
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth:
        raise _BadRequest("Invalid fields argument: unbalanced parentheses.")
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


_FIELD_ITEM = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?$", re.DOTALL)


def _parse_fields(text: str, kind: str, schema: dict[str, str]):
    """``id,reference,lineItems(code,qty)`` -> [(name, subprojection|None)]."""
    lower = {k.lower(): k for k in schema}
    out = []
    for item in _split_top(text):
        m = _FIELD_ITEM.match(item)
        if not m:
            raise _BadRequest(f"Invalid fields argument: {item!r}.")
        # INFERENCE: an unknown field name in ``fields`` is a 400 (not silently dropped).
        name = lower.get(m.group(1).lower())
        if name is None:
            raise _BadRequest(f"Invalid fields argument: unknown field {m.group(1)!r}.")
        sub = None
        if m.group(2) is not None:
            sub_schema = _NESTED.get((kind, name))
            if sub_schema is None:
                raise _BadRequest(f"Invalid fields argument: {name} has no child fields.")
            sub_kind = "line" if name == "lineItems" else "option"
            sub = _parse_fields(m.group(2), sub_kind, sub_schema)
        out.append((name, sub))
    return out


def _project(record: dict, proj) -> dict:
    if proj is None:
        return record
    out = {}
    for name, sub in proj:
        value = record.get(name)
        if sub is not None and isinstance(value, list):
            value = [_project(v, sub) if isinstance(v, dict) else v for v in value]
        out[name] = value
    return out


def _sort_key(value: Any, ftype: str):
    if value is None:
        return (0, 0)
    if ftype == _STR:
        return (1, str(value).casefold())
    if ftype == _DATE:
        try:
            return (1, parse_date(str(value)).timestamp())
        except ValueError:
            return (0, 0)
    if ftype == _BOOL:
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
            raise _BadRequest(f"Invalid order argument: {part.strip()!r}.")
        name = lower.get(words[0].lower())
        if name is None or schema[name] in (_OBJ, _LIST):
            raise _BadRequest(f"Invalid order argument: unknown field {words[0]!r}.")
        direction = words[1].upper() if len(words) == 2 else "DESC"  # default DESC (§1.3)
        if direction not in ("ASC", "DESC"):
            raise _BadRequest(f"Invalid order argument: {part.strip()!r}.")
        out.append((name, direction == "DESC"))
    return out


def _json_response(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status=status,
        headers=headers,
        content_type="application/json; charset=utf-8",
    )


# ---------------------------------------------------------------------- simulator


class Cin7Simulator:
    """In-memory Cin7 Omni account behind a Flask app (see module docstring)."""

    def __init__(
        self,
        credentials: Iterable[tuple[str, str]] = (("demo-user", "demo-api-key"),),
        now: datetime | None = None,
        seed_demo: bool = True,
        per_second: int | None = 3,
        per_minute: int | None = 60,
        per_day: int | None = 5000,
    ):
        self._lock = threading.RLock()
        self.credentials: dict[str, str] = dict(credentials)
        self._clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.requests: list[dict] = []
        self.orders: dict[int, dict] = {}
        self.products: dict[int, dict] = {}
        self.product_options: dict[int, dict] = {}  # flat index of productOptions (same dicts)
        self.branches: dict[int, dict] = {}
        self.stock: list[dict] = []
        #: Stages the account knows; PUT stage values are matched case-insensitively
        #: against this list (custom stages must exist in the account).
        self.stages: list[str] = list(cin7_data.DEMO_STAGES)
        #: Seconds sent in a Retry-After header on 429; None = no header (UNCONFIRMED
        #: whether Cin7 sends one, reference §1.2).
        self.retry_after: int | None = None
        self._limits = {1.0: per_second, 60.0: per_minute, 86400.0: per_day}
        self._hits: dict[str, list[float]] = {}
        self._latency = 0.0
        self._outage: int | None = None
        self._fail_next: list[int] = []
        self._put_failures: dict[int, str] = {}
        self._next_order_id = 1
        self._next_line_id = 50001
        self._next_product_id = 1
        self._next_option_id = 1
        self._next_invoice = 6001
        self.app = self._make_app()
        if seed_demo:
            cin7_data.seed(self, now or self.now())

    # ---------------------------------------------------------------- clock/faults

    def now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        return now.astimezone(UTC)

    def set_clock(self, now_fn: Callable[[], datetime] | None) -> None:
        """Use ``now_fn()`` (aware UTC datetime) for modifiedDate and rate-limit windows."""
        with self._lock:
            self._clock = now_fn or (lambda: datetime.now(UTC))

    def set_latency(self, seconds: float) -> None:
        self._latency = max(0.0, float(seconds))

    def set_outage(self, status: int | None = 503) -> None:
        self._outage = status

    def fail_next(self, n: int, status: int = 500) -> None:
        with self._lock:
            self._fail_next.extend([status] * n)

    def fail_put_for(self, order_id: int,
                     message: str | None = "Simulated record failure.") -> None:
        with self._lock:
            if message is None:
                self._put_failures.pop(int(order_id), None)
            else:
                self._put_failures[int(order_id)] = message

    def set_rate_limits(self, per_second: int | None = None, per_minute: int | None = None,
                        per_day: int | None = None) -> None:
        """Replace all three limits (None = unlimited) and forget past calls."""
        with self._lock:
            self._limits = {1.0: per_second, 60.0: per_minute, 86400.0: per_day}
            self._hits.clear()

    def reset_faults(self) -> None:
        """Clear latency, outage, pending fail_next and fail_put_for (not rate limits)."""
        with self._lock:
            self._latency = 0.0
            self._outage = None
            self._fail_next.clear()
            self._put_failures.clear()

    def calls(self, method: str | None = None, path: str | None = None) -> list[dict]:
        """Logged requests, optionally filtered by method and path.

        ``path`` matches case-insensitively with or without the ``/api`` prefix and may use
        shell wildcards: ``calls("PUT", "/v1/SalesOrders")``, ``calls(path="/api/v1/Products*")``.
        """
        with self._lock:
            log = list(self.requests)
        out = []
        for entry in log:
            if method and entry["method"].upper() != method.upper():
                continue
            if path:
                p = entry["path"].lower()
                short = p[4:] if p.startswith("/api/") else p
                pat = path.lower()
                if not (fnmatch.fnmatchcase(p, pat) or fnmatch.fnmatchcase(short, pat)):
                    continue
            out.append(entry)
        return out

    # ---------------------------------------------------------------- state helpers

    def add_branch(self, branch: dict) -> dict:
        with self._lock:
            b = dict(branch)
            b.setdefault("id", max(self.branches, default=0) + 1)
            now = iso(self.now())
            b.setdefault("createdDate", now)
            b.setdefault("modifiedDate", now)
            b.setdefault("branchLocations", [])
            self.branches[b["id"]] = b
            return b

    def add_product(self, product: dict) -> dict:
        """Store a product (style) with nested productOptions; fills ids/defaults."""
        with self._lock:
            now = iso(self.now())
            p = {
                "id": None, "status": "Public", "createdDate": now, "modifiedDate": now,
                "styleCode": None, "name": None, "description": None, "brand": None,
                "category": None, "subCategory": None, "supplierId": 0, "tags": None,
                "channels": None, "weight": 0.0, "height": 0.0, "width": 0.0, "length": 0.0,
                "volume": 0.0, "images": [], "pdfUpload": None, "stockControl": "FIFO",
                "orderType": "Stock", "optionLabel1": None, "optionLabel2": None,
                "optionLabel3": None, "sizeRangeId": 0, "customFields": {},
                "productOptions": [],
            }
            p.update(copy.deepcopy(product))
            if p["id"] is None:
                p["id"] = max(self._next_product_id, max(self.products, default=0) + 1)
            if p["id"] in self.products:
                raise ValueError(f"product {p['id']} already exists")
            self._next_product_id = max(self._next_product_id, p["id"] + 1)
            for k in ("createdDate", "modifiedDate"):
                p[k] = _norm_date(p[k])
            options = []
            for raw in p["productOptions"] or []:
                o = {
                    "id": None, "productId": p["id"], "createdDate": p["createdDate"],
                    "modifiedDate": p["modifiedDate"], "status": "Active",
                    "productOptionCode": None, "productOptionBarcode": None,
                    "productOptionSizeCode": None, "productOptionSizeBarcode": None,
                    "supplierCode": None, "option1": None, "option2": None, "option3": None,
                    "optionWeight": 0.0, "size": None, "sizeId": 0, "retailPrice": 0.0,
                    "wholesalePrice": 0.0, "vipPrice": 0.0, "specialPrice": 0.0,
                    "stockAvailable": 0.0, "stockOnHand": 0.0, "uomOptions": [],
                    "image": None, "priceColumns": {},
                }
                o.update(raw)
                o["productId"] = p["id"]
                if o["id"] is None:
                    o["id"] = max(self._next_option_id,
                                  max(self.product_options, default=0) + 1)
                self._next_option_id = max(self._next_option_id, o["id"] + 1)
                options.append(o)
                self.product_options[o["id"]] = o
            p["productOptions"] = options
            self.products[p["id"]] = p
            return p

    def _find_option(self, option_id: Any = None, code: Any = None):
        if option_id and option_id in self.product_options:
            return self.product_options[option_id]
        if code:
            for o in self.product_options.values():
                if code in (o["productOptionCode"], o["productOptionSizeCode"]):
                    return o
        return None

    def _new_line(self, raw: dict, order_id: int, sort: int, created: str) -> dict:
        line = {
            "id": None, "createdDate": created, "transactionId": order_id, "parentId": 0,
            "productId": None, "productOptionId": None, "integrationRef": None, "sort": sort,
            "code": None, "name": None, "option1": None, "option2": None, "option3": None,
            "qty": 0.0, "styleCode": None, "barcode": None, "sizeCodes": None, "sizes": [],
            "lineComments": None, "unitCost": 0.0, "unitPrice": 0.0, "uomPrice": 0.0,
            "discount": 0.0, "uomQtyOrdered": 0.0, "uomQtyShipped": 0.0, "uomSize": None,
            "qtyShipped": 0.0, "holdingQty": 0.0, "accountCode": None, "stockControl": "FIFO",
            "stockMovements": [], "taxRate": None,
        }
        line.update(copy.deepcopy(raw))
        if line["id"] is None:
            line["id"] = self._next_line_id
        self._next_line_id = max(self._next_line_id, int(line["id"]) + 1)
        line["transactionId"] = order_id
        line["createdDate"] = _norm_date(line["createdDate"]) or created
        # Fill product details from the catalogue when only an option id / code is given.
        opt = self._find_option(line.get("productOptionId"), line.get("code"))
        if opt is not None and not line["sizes"]:
            prod = self.products.get(opt["productId"], {})
            line["productOptionId"] = line["productOptionId"] or opt["id"]
            line["productId"] = line["productId"] or opt["productId"]
            line["code"] = line["code"] or opt["productOptionCode"]
            line["name"] = line["name"] or prod.get("name")
            line["styleCode"] = line["styleCode"] or prod.get("styleCode")
            line["barcode"] = line["barcode"] or opt["productOptionBarcode"]
            for k in ("option1", "option2", "option3"):
                if line[k] is None:
                    line[k] = opt[k]
        for k in ("productId", "productOptionId"):
            if line[k] is None:
                line[k] = 0
        if line["sizes"]:
            if not line["qty"]:
                line["qty"] = float(sum(s.get("qty") or 0 for s in line["sizes"]))
            if line["sizeCodes"] is None:
                # UNCONFIRMED: packed "Qty|Size|Code|Barcode" per size; separator ';' chosen.
                line["sizeCodes"] = ";".join(
                    f"{s.get('qty') or 0:g}|{s.get('name') or ''}|{s.get('code') or ''}|"
                    f"{s.get('barcode') or ''}" for s in line["sizes"])
        if not line["uomQtyOrdered"]:
            line["uomQtyOrdered"] = line["qty"]
        line["uomQtyShipped"] = line["qtyShipped"]
        return line

    @staticmethod
    def _status(order: dict) -> str:
        # status is read-only and derived; the API returns it upper-case (reference §2.3).
        if order.get("isVoid"):
            return "VOID"
        return "APPROVED" if order.get("isApproved") else "DRAFT"

    @staticmethod
    def _recompute_totals(order: dict, products: bool = True) -> None:
        # INFERENCE: productTotal = sum(qty*unitPrice - line discount); total adds freight and
        # surcharge, subtracts discountTotal (stored positive), and adds tax when prices are
        # tax-exclusive (reference §2.1/§3.4 say total includes all of these; unverified).
        if products:
            order["productTotal"] = round(sum(
                (ln.get("qty") or 0) * (ln.get("unitPrice") or 0) - (ln.get("discount") or 0)
                for ln in order.get("lineItems") or []), 2)
        base = ((order.get("productTotal") or 0) + (order.get("freightTotal") or 0)
                + (order.get("surcharge") or 0) - (order.get("discountTotal") or 0))
        if str(order.get("taxStatus") or "").lower() == "excl":
            base *= 1 + (order.get("taxRate") or 0) / 100
        order["total"] = round(base, 2)

    def add_order(self, order: dict) -> dict:
        """Store a sales order; fills every field Cin7 returns (defaults), ids, dates, lines,
        status and totals (unless given).  Returns the stored dict (same object as
        ``self.orders[id]``).  Dates may be datetimes or strings."""
        with self._lock:
            now = iso(self.now())
            o: dict[str, Any] = {name: None for name in ORDER_FIELDS}
            o.update({
                "createdBy": 0, "processedBy": 0, "isApproved": True, "memberId": 0,
                "branchId": 1, "freightTotal": 0.0, "surcharge": 0.0, "discountTotal": 0.0,
                "currencyRate": 1.0, "currencyId": 0, "taxStatus": "Excl", "taxRate": 0.0,
                "customFields": {}, "stage": "New", "salesPersonId": 0, "logisticsStatus": 0,
                "ediStatus": 0, "distributionBranchId": 0, "isVoid": False,
                "accountingAttributes": {"importDate": None,
                                         "accountingImportStatus": "NotImported"},
                "lineItems": [],
            })
            given = copy.deepcopy(order)
            o.update(given)
            if o["id"] is None:
                o["id"] = max(self._next_order_id, max(self.orders, default=0) + 1)
            o["id"] = int(o["id"])
            if o["id"] in self.orders:
                raise ValueError(f"sales order {o['id']} already exists")
            self._next_order_id = max(self._next_order_id, o["id"] + 1)
            for name, ftype in ORDER_FIELDS.items():
                if ftype == _DATE:
                    o[name] = _norm_date(o[name])
            o["createdDate"] = o["createdDate"] or now
            o["modifiedDate"] = o["modifiedDate"] or now
            if not o["reference"]:
                o["reference"] = f"SO-{o['id']}"  # "leave blank to auto-generate"
            o["lineItems"] = [
                self._new_line(ln, o["id"], i + 1 if ln.get("sort") is None else ln["sort"],
                               o["createdDate"])
                for i, ln in enumerate(o["lineItems"] or [])
            ]
            o["status"] = self._status(o)
            if "productTotal" not in given or "total" not in given:
                self._recompute_totals(o, products="productTotal" not in given)
            self.orders[o["id"]] = o
            return o

    def touch(self, order_id: int, **changes) -> dict:
        """Set fields directly (no read-only filtering) and bump modifiedDate, like a user
        editing the order in Cin7.  Returns the stored order."""
        with self._lock:
            o = self.orders[int(order_id)]
            for key, value in changes.items():
                if ORDER_FIELDS.get(key) == _DATE:
                    value = _norm_date(value)
                elif key == "lineItems":
                    value = [self._new_line(ln, o["id"], i + 1, o["createdDate"])
                             if "transactionId" not in ln else ln for i, ln in enumerate(value)]
                o[key] = value
            o["status"] = self._status(o)
            if "modifiedDate" not in changes:
                o["modifiedDate"] = iso(self.now())
            return o

    # ---------------------------------------------------------------- flask app

    def _make_app(self) -> Flask:
        app = Flask(f"cin7-sim-{id(self)}")

        methods = ["GET", "PUT", "POST", "DELETE", "PATCH"]

        @app.route("/api/<path:rest>", methods=methods)
        def api(rest: str):
            return self._handle(rest)

        @app.route("/", defaults={"rest": ""}, methods=methods)
        @app.route("/<path:rest>", methods=methods)
        def other(rest: str):
            return self._log(_json_response(MSG_NOT_FOUND, 404))

        return app

    def _log(self, resp: Response, body: Any = None) -> Response:
        with self._lock:
            self.requests.append({
                "method": request.method,
                "path": request.path,
                "query": request.args.to_dict(flat=True),
                "json": body,
                "status": resp.status_code,
                "time": time.time(),
            })
        return resp

    def _auth_user(self) -> str | None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic" or not token:
            return None
        try:
            user, sep, key = base64.b64decode(token.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        expected = self.credentials.get(user)
        if not sep or expected is None or not hmac.compare_digest(expected, key):
            return None
        return user

    def _rate_limited(self, user: str) -> bool:
        """Sliding windows per credential; rejected calls are not counted (INFERENCE)."""
        now = self.now().timestamp()
        with self._lock:
            hits = self._hits.setdefault(user, [])
            active = [w for w, lim in self._limits.items() if lim is not None]
            horizon = max(active, default=0.0)
            cut = bisect_right(hits, now - horizon)
            if cut:
                del hits[:cut]
            for window in active:
                limit = self._limits[window]
                if len(hits) - bisect_right(hits, now - window) >= limit:
                    return True
            if active:
                insort(hits, now)
            return False

    def _handle(self, rest: str) -> Response:
        body: Any = None
        # A body without a JSON content type does not bind in ASP.NET (-> malformed 400).
        if request.method in ("PUT", "POST") and request.is_json:
            try:
                body = json.loads(request.get_data(as_text=True) or "null")
            except ValueError:
                body = None
        if self._latency:
            time.sleep(self._latency)
        if self._outage is not None:
            return self._log(Response("Service Unavailable", status=self._outage,
                                      content_type="text/plain"), body)
        with self._lock:
            forced = self._fail_next.pop(0) if self._fail_next else None
        if forced is not None:
            # ASP.NET Web API's default error body.
            return self._log(_json_response({"Message": "An error has occurred."}, forced), body)
        user = self._auth_user()
        if user is None:
            return self._log(_json_response(
                MSG_UNAUTHORIZED, 401, {"WWW-Authenticate": 'Basic realm="api.cin7.com"'}), body)
        if self._rate_limited(user):
            headers = {"Retry-After": str(self.retry_after)} if self.retry_after else None
            return self._log(_json_response(MSG_RATE, 429, headers), body)
        try:
            resp = self._route(rest.strip("/"), body)
        except _BadRequest as exc:
            resp = _json_response(exc.message, exc.status)
        except WhereError as exc:
            # UNCONFIRMED wording; Cin7 answers a bad where clause with 400.
            resp = _json_response(f"Invalid where clause: {exc}", 400)
        return self._log(resp, body)

    def _route(self, rest: str, body: Any) -> Response:
        parts = rest.split("/")
        if len(parts) < 2 or parts[0].lower() != "v1":
            raise _BadRequest(MSG_NOT_FOUND, 404)
        resource = parts[1].lower()
        ident = parts[2] if len(parts) == 3 else None
        if len(parts) > 3:
            raise _BadRequest(MSG_NOT_FOUND, 404)
        method = request.method
        args = {k.lower(): v for k, v in request.args.items()}

        tables: dict[str, tuple[str, dict[str, str], Callable[[], list[dict]]]] = {
            "salesorders": ("order", ORDER_FIELDS, lambda: list(self.orders.values())),
            "products": ("product", PRODUCT_FIELDS, lambda: list(self.products.values())),
            "productoptions": ("option", OPTION_FIELDS,
                               lambda: list(self.product_options.values())),
            "branches": ("branch", BRANCH_FIELDS, lambda: list(self.branches.values())),
            "stock": ("stock", STOCK_FIELDS, lambda: list(self.stock)),
        }
        if resource not in tables:
            raise _BadRequest(MSG_NOT_FOUND, 404)
        kind, schema, rows = tables[resource]

        if method == "PUT" and resource == "salesorders" and ident is None:
            return self._put_orders(body)
        if method != "GET" or (ident is not None and resource == "stock"):
            return _json_response(
                {"Message": f"The requested resource does not support http method '{method}'."},
                405)
        if ident is not None:
            try:
                key = int(ident)
            except ValueError:
                raise _BadRequest(MSG_NOT_FOUND, 404) from None
            with self._lock:
                table = {"salesorders": self.orders, "products": self.products,
                         "productoptions": self.product_options,
                         "branches": self.branches}[resource]
                record = copy.deepcopy(table.get(key))
            if record is None:
                raise _BadRequest(MSG_NOT_FOUND, 404)
            proj = _parse_fields(args["fields"], kind, schema) if args.get("fields") else None
            return _json_response(_project(record, proj))
        with self._lock:
            records = rows()
            if resource == "stock" and args.get("barcode"):
                records = [r for r in records if r.get("barcode") == args["barcode"]]
            page = self._list(records, kind, schema, args)
            page = copy.deepcopy(page)
        return _json_response(page)

    @staticmethod
    def _list(records: list[dict], kind: str, schema: dict[str, str],
              args: dict[str, str]) -> list[dict]:
        def int_arg(name: str, default: int) -> int:
            raw = args.get(name)
            if raw is None or raw == "":
                return default
            try:
                return int(raw)
            except ValueError:
                raise _BadRequest(
                    f"The value '{raw}' is not valid for {name}.") from None

        rows = int_arg("rows", DEFAULT_ROWS)
        page = int_arg("page", 1)
        if rows > MAX_ROWS:
            raise _BadRequest(MSG_ROWS)
        if rows < 1:
            # INFERENCE: Cin7's message for rows < 1 is unknown.
            raise _BadRequest("The rows argument must be greater than or equal to 1.")
        if page < 1:
            raise _BadRequest(MSG_PAGE)
        proj = _parse_fields(args["fields"], kind, schema) if args.get("fields") else None
        # UNCONFIRMED: default order when none is given; id ASC chosen.
        order = _parse_order(args["order"], schema) if args.get("order") else []
        pred = compile_where(args.get("where") or "", schema)
        matched = [r for r in records if pred(r)]
        key_field = "id" if "id" in schema else "productOptionId"
        # id ASC as the final tie-breaker keeps paging deterministic (a real DB may not be).
        matched.sort(key=lambda r: _sort_key(r.get(key_field), _INT))
        for name, desc in reversed(order):
            ftype = schema[name]
            matched.sort(key=lambda r, n=name, t=ftype: _sort_key(r.get(n), t), reverse=desc)
        start = (page - 1) * rows
        return [_project(r, proj) for r in matched[start:start + rows]]

    # ---------------------------------------------------------------- PUT

    def _put_orders(self, body: Any) -> Response:
        if not isinstance(body, list) or not all(isinstance(r, dict) for r in body):
            raise _BadRequest(MSG_MALFORMED)
        if len(body) > BATCH_LIMIT:
            raise _BadRequest(MSG_BATCH)
        # Pass 1: bind types like Newtonsoft.  A value that cannot be bound (e.g. a word in
        # freightTotal, a bad date) fails the whole request (INFERENCE: model binding error).
        bound = []
        for raw in body:
            rec = _canon_keys(raw, ORDER_FIELDS)
            out: dict[str, Any] = {}
            for name, value in rec.items():
                if value is None:
                    continue  # null = unchanged
                ftype = ORDER_FIELDS[name]
                if value == "" and ftype != _STR:
                    out[name] = ""  # clear
                    continue
                try:
                    if name == "lineItems":
                        out[name] = [self._bind_line(ln) for ln in _convert(value, _LIST)]
                    else:
                        out[name] = _convert(value, ftype)
                except (ValueError, TypeError):
                    raise _BadRequest(MSG_MALFORMED) from None
            bound.append(out)
        with self._lock:
            now = iso(self.now())
            results = [self._update_one(i, rec, now) for i, rec in enumerate(bound)]
        return _json_response(results)

    @staticmethod
    def _bind_line(raw: Any) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise ValueError
        out = {}
        for name, value in _canon_keys(raw, LINE_FIELDS).items():
            if value is None:
                continue
            ftype = LINE_FIELDS[name]
            out[name] = "" if (value == "" and ftype != _STR) else _convert(value, ftype)
        return out

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
            if name == "lineItems":
                continue
            if value == "":
                o[name] = "" if ORDER_FIELDS[name] == _STR else (
                    {} if name == "customFields" else None)
                continue
            if name == "stage":
                match = next((s for s in self.stages if s.casefold() == value.casefold()), None)
                if match is None:
                    errors.append(f"Stage '{value}' does not exist.")
                    continue
                value = match
            elif name == "taxStatus":
                match = next((s for s in ("Incl", "Excl", "Exempt", "Undefined")
                              if s.casefold() == value.casefold()), None)
                if match is None:
                    errors.append(f"TaxStatus '{value}' is not valid.")
                    continue
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
                errors.append("BranchId is not updatable once the sales order is dispatched.")
                continue
            if isinstance(value, str) and name in MAX_LEN and len(value) > MAX_LEN[name]:
                errors.append(f"{name[0].upper()}{name[1:]} cannot be longer than "
                              f"{MAX_LEN[name]} characters.")
                continue
            o[name] = value
        if "lineItems" in changes and changes["lineItems"] != "":
            errors.extend(self._apply_lines(o, changes["lineItems"], now))
        if "isVoid" in changes and o["isVoid"]:
            o["cancellationDate"] = now
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
        if changes.get("invoiceDate") and not o["invoiceNumber"]:
            o["invoiceNumber"] = self._next_invoice
            self._next_invoice += 1
        if errors:
            raise _RecordError("; ".join(errors))
        lines_changed = "lineItems" in changes
        if lines_changed or _MONEY_FIELDS & changes.keys():
            self._recompute_totals(o, products=lines_changed)
        o["status"] = self._status(o)
        o["modifiedDate"] = now
        return o

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
                        value = "" if LINE_FIELDS[name] == _STR else None
                    line[name] = value
            else:
                if not (changes.get("code") or changes.get("productOptionId")):
                    errors.append("A new line item needs a code or productOptionId.")
                    continue
                sort = max((ln["sort"] or 0 for ln in o["lineItems"]), default=0) + 1
                o["lineItems"].append(self._new_line(
                    {k: v for k, v in changes.items() if v != ""}, o["id"], sort, now))
        return errors
