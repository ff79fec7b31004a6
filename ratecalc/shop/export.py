"""Cin7 orders -> Custom Store XML pages.

A window (start, end) is read from Cin7 once, decided once (which orders go
out, with which status), and kept for a few minutes, so pages 2..P that
ShipStation asks for next are consistent with page 1 without asking Cin7
again. An order goes out when

* it is new to ShipStation and meets every import rule, or
* ratecalc exported it before and its mapped status changed since (so
  ShipStation's copy follows Cin7 to Shipped or Cancelled),

and never when its stage maps to no ShipStation status (an unknown status
makes ShipStation reject the whole batch). Exporting only reads Cin7: a write
would bump ``modifiedDate`` and make ShipStation fetch the order again.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime

from cachetools import TTLCache

from ratecalc import metrics
from ratecalc.shop.eligibility import ImportRules, reasons
from ratecalc.shop.statuses import StatusMap
from ratecalc.shop.xml_export import ExportOptions, build_orders_document
from ratecalc.upstream.cin7 import Cin7Client, date_literal

WINDOW_TTL_SECONDS = 300.0
PRODUCT_TTL_SECONDS = 600.0


@dataclass(frozen=True)
class Decision:
    order_id: int
    status: str | None  # the OrderStatus to emit, or None when skipped
    skip_rule: str | None = None


@dataclass(frozen=True)
class ExportWindow:
    selected: tuple[tuple[dict, str], ...]  # (Cin7 order, OrderStatus), in modifiedDate order
    products: dict[int, dict]
    considered: int


class ProductCache:
    """Cin7 products by id, fetched once per product (not once per line) and kept a while."""

    def __init__(self, cin7: Cin7Client, ttl: float = PRODUCT_TTL_SECONDS):
        self.cin7 = cin7
        self._cache: TTLCache = TTLCache(maxsize=20_000, ttl=ttl)
        self._lock = threading.Lock()

    def get_many(self, product_ids) -> dict[int, dict]:
        wanted = {int(i) for i in product_ids if i}
        with self._lock:
            found = {i: self._cache[i] for i in wanted if i in self._cache}
        missing = wanted - found.keys()
        if missing:
            fetched = self.cin7.products(missing)
            with self._lock:
                for product_id, product in fetched.items():
                    self._cache[product_id] = product
            found.update(fetched)
        return found


def product_ids(orders) -> set[int]:
    return {int(line["productId"]) for order in orders
            for line in order.get("lineItems") or [] if line.get("productId")}


class ExportService:
    def __init__(self, *, cin7: Cin7Client, store, status_map: StatusMap, rules: ImportRules,
                 options: ExportOptions, page_size: int, products: ProductCache, clock):
        self.cin7 = cin7
        self.store = store
        self.status_map = status_map
        self.rules = rules
        self.options = options
        self.page_size = page_size
        self.products = products
        self.clock = clock
        self._windows: TTLCache = TTLCache(maxsize=64, ttl=WINDOW_TTL_SECONDS)
        self._lock = threading.Lock()
        self._building: dict[tuple, threading.Lock] = {}

    # -- decisions -------------------------------------------------------------
    def decide(self, order: dict, exported_status: str | None, now: datetime) -> Decision:
        voided = _is_void(order)
        status = self.status_map.order_status(order.get("stage"), voided=voided)
        order_id = int(order["id"])
        if status is None:
            return Decision(order_id, None, "unmapped_status")
        if exported_status is not None:
            if exported_status == status:
                return Decision(order_id, None, "unchanged")
            return Decision(order_id, status)
        failed = reasons(order, self.rules, now)
        if failed:
            return Decision(order_id, None, failed[0].rule)
        return Decision(order_id, status)

    # -- windows and pages -----------------------------------------------------
    def window(self, start: datetime, end: datetime) -> ExportWindow:
        key = (start, end)
        with self._lock:
            cached = self._windows.get(key)
            if cached is not None:
                return cached
            building = self._building.setdefault(key, threading.Lock())
        with building:  # one Cin7 read per window, even when pages arrive together
            with self._lock:
                cached = self._windows.get(key)
            if cached is None:
                cached = self._build_window(start, end)
                with self._lock:
                    self._windows[key] = cached
                    self._building.pop(key, None)
            return cached

    def _build_window(self, start: datetime, end: datetime) -> ExportWindow:
        where = f"modifiedDate >= {date_literal(start)} AND modifiedDate < {date_literal(end)}"
        orders: dict[int, dict] = {}
        for page in self.cin7.iter_sales_orders(where=where, order="modifiedDate ASC"):
            for order in page:
                orders[int(order["id"])] = order  # an order moving between pages: keep one
        exported = self.store.exported(orders.keys()) if orders else {}
        now = self.clock()
        selected = []
        for order in orders.values():
            previous = exported.get(int(order["id"]))
            decision = self.decide(order, previous.status if previous else None, now)
            if decision.status is None:
                metrics.export_orders.labels("skipped").inc()
                metrics.order_skips.labels(decision.skip_rule).inc()
            else:
                metrics.export_orders.labels("exported").inc()
                selected.append((order, decision.status))
        products = self.products.get_many(product_ids(o for o, _ in selected))
        return ExportWindow(tuple(selected), products, len(orders))

    def page(self, start: datetime, end: datetime, page: int) -> bytes:
        window = self.window(start, end)
        pages = max(1, math.ceil(len(window.selected) / self.page_size))
        chunk = list(window.selected[(page - 1) * self.page_size: page * self.page_size])
        document = build_orders_document(chunk, pages, window.products, self.options)
        if chunk:
            self.store.mark_exported(((int(o["id"]), status) for o, status in chunk),
                                     self.clock())
        return document


def _is_void(order: dict) -> bool:
    if order.get("isVoid") is True:
        return True
    return str(order.get("status") or "").strip().upper() == "VOID"
