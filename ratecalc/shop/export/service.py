"""Cin7 orders -> Custom Store XML pages, like every other Custom Store.

ShipStation asks for every order *modified* in a window, "regardless of the
order's status" (the Custom Store guide), and WooCommerce, Magento, Spree and
Solidus all answer so. An order goes out when it is modified in the window and

* meets every import rule -- whether it was exported before or not, with its
  current data, so edits made in Cin7 after the first export reach ShipStation
  and a page ShipStation failed to import is sent again; or
* ratecalc exported it before and its mapped status changed since (so
  ShipStation's copy follows Cin7 to Shipped or Cancelled, rules or not),

and never when its stage maps to no ShipStation status (an unknown status
makes ShipStation reject the whole batch). Exporting only reads Cin7: a write
would bump ``modifiedDate`` and make ShipStation fetch the order again.

A window is built once (:mod:`ratecalc.shop.export.building`) and kept in the
store (:mod:`ratecalc.shop.store.windows`) for ``WINDOW_TTL_SECONDS``: pages
1..N are slices of one stored list, whichever gunicorn worker or replica
answers each, and no page asks Cin7 for orders again. The export may spend at
most ``RATECALC_EXPORT_MAX_CIN7_SHARE`` of Cin7's daily calls (the rest is for
ship-notice delivery and freight); past it, it answers 503 with Retry-After.
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from cachetools import TTLCache

from ratecalc import metrics
from ratecalc.shop.export.building import REUSE_HOURS, WindowBuilder
from ratecalc.shop.export.document import build_orders_document
from ratecalc.shop.export.eligibility import ImportRules, reasons
from ratecalc.shop.export.options import ExportOptions
from ratecalc.shop.export.statuses import StatusMap
from ratecalc.upstream.cin7.client import DAY, Cin7Client, counting_calls
from ratecalc.upstream.cin7.records import SalesOrder
from ratecalc.upstream.errors import UpstreamError

WINDOW_TTL_SECONDS = 900.0  # a stored window answers its pages this long
PRODUCT_TTL_SECONDS = 600.0


@dataclass(frozen=True)
class Decision:
    order_id: int
    status: str | None  # the OrderStatus to emit, or None when skipped
    skip_rule: str | None = None


class ExportBudgetExhausted(Exception):
    """The export used its share of Cin7's daily calls; the message names the setting."""

    def __init__(self, retry_after: float | None):
        super().__init__("the export used its share of Cin7's daily API calls "
                         "(RATECALC_EXPORT_MAX_CIN7_SHARE); ship notices keep the rest")
        self.retry_after = retry_after


def rules_key(rules: ImportRules, status_map: StatusMap) -> str:
    """What a window's decisions depend on besides the data: a stored window built
    under other rules is neither served nor reused."""
    text = repr((rules.stages, rules.max_age_days, rules.branch_ids,
                 sorted(status_map.by_status.items())))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class ProductCache:
    """Cin7 products by id, fetched once per product (not once per line) and kept a while."""

    def __init__(self, cin7: Cin7Client, ttl: float = PRODUCT_TTL_SECONDS):
        self.cin7 = cin7
        self._cache: TTLCache = TTLCache(maxsize=20_000, ttl=ttl)
        self._lock = threading.Lock()

    def get_many(self, product_ids, cin7: Cin7Client | None = None) -> dict[int, dict]:
        wanted = {int(i) for i in product_ids if i}
        with self._lock:
            found = {i: self._cache[i] for i in wanted if i in self._cache}
        missing = wanted - found.keys()
        if missing:
            fetched = (cin7 or self.cin7).products(missing)
            with self._lock:
                for product_id, product in fetched.items():
                    self._cache[product_id] = product
            found.update(fetched)
        return found


def product_ids(orders) -> set[int]:
    return {int(line.product_id) for order in orders
            for line in SalesOrder.of(order).line_items if line.product_id}


class ExportService:
    def __init__(self, *, cin7: Cin7Client, store, status_map: StatusMap, rules: ImportRules,
                 options: ExportOptions, page_size: int, products: ProductCache, clock,
                 budget=None):
        self.cin7 = cin7  # the export's client: its calls count against ``budget``
        self.store = store
        self.status_map = status_map
        self.rules = rules
        self.rules_key = rules_key(rules, status_map)
        self.options = options
        self.page_size = page_size
        self.products = products
        self.clock = clock
        self.budget = budget  # the export's share of Cin7's day (a limiter), or None
        self._lock = threading.Lock()
        self._building: dict[tuple, threading.Lock] = {}

    # -- decisions -------------------------------------------------------------
    def decide(self, order: dict | SalesOrder, exported_status: str | None,
               now: datetime) -> Decision:
        order = SalesOrder.of(order)
        status = self.status_map.order_status(order.stage, voided=order.is_void)
        order_id = int(order.id)
        if status is None:
            return Decision(order_id, None, "unmapped_status")
        failed = reasons(order, self.rules, now)
        if not failed:
            return Decision(order_id, status)
        if exported_status is not None and exported_status != status:
            return Decision(order_id, status)  # ShipStation's copy follows Cin7
        return Decision(order_id, None, failed[0].rule)

    # -- windows and pages -----------------------------------------------------
    def window(self, start: datetime, end: datetime):
        """The stored window, built now if there is none fresh enough."""
        now = self.clock()
        fresh_since = now - timedelta(seconds=WINDOW_TTL_SECONDS)
        found = self.store.find_window(start, end, self.rules_key)
        if found is not None and found.built_at >= fresh_since:
            return found
        key = (start, end)
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        with building:  # one build per window in this process, even when pages arrive together
            found = self.store.find_window(start, end, self.rules_key)
            if found is not None and found.built_at >= fresh_since:
                return found
            builder = WindowBuilder(self, start, end, now)
            entries = builder.build()
            window = self.store.save_window(
                start, end, self.rules_key, now, entries, builder.considered,
                fresh_since=fresh_since, prune_before=now - timedelta(hours=REUSE_HOURS))
        with self._lock:
            self._building.pop(key, None)
        return window

    def page(self, start: datetime, end: datetime, page: int) -> bytes:
        """One page of the window's XML. Raises UpstreamError, StoreError or
        ExportBudgetExhausted."""
        with counting_calls() as calls:
            try:
                return self._page(start, end, page)
            except UpstreamError as exc:
                if exc.code == "rate_limited" and self._share_used():
                    raise ExportBudgetExhausted(exc.retry_after) from None
                raise
            finally:
                metrics.export_cin7_calls.observe(calls[0])

    def _share_used(self) -> bool:
        return self.budget is not None and self.budget.remaining(DAY) == 0

    def _page(self, start: datetime, end: datetime, page: int) -> bytes:
        window = self.window(start, end)
        pages = max(1, math.ceil(window.size / self.page_size))
        lo = (page - 1) * self.page_size
        entries = self.store.window_entries(window.id, lo, lo + self.page_size)
        chunk = []
        for entry in entries:
            if entry.body is None:
                continue
            order = SalesOrder(entry.body)
            # The body may be newer than the window's decision (a later window read it).
            status = self.status_map.order_status(order.stage, voided=order.is_void)
            chunk.append((order, status or entry.status))
        products = self.products.get_many(product_ids(o for o, _ in chunk), cin7=self.cin7)
        document = build_orders_document(chunk, pages, products, self.options)
        if chunk:
            self.store.mark_exported(((int(o.id), status) for o, status in chunk),
                                     self.clock())
        return document
