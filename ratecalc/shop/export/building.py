"""Building one export window: which Cin7 orders it lists, in which order, with which status.

Orders are read from Cin7 one page (250) at a time; each page is decided at
once, the bodies of the orders that go out are kept in the store, and only
``(id, modifiedDate, status)`` stays in memory -- well under 1 KiB an order,
whatever the window's size.

**Reusing an overlapping window.** ShipStation's polls overlap: each asks again
for part of the previous window. A window ``W`` built at ``T`` listed every
order whose modifiedDate was in ``[W.start, W.end)`` at ``T``. An order
modified since then has a modifiedDate of at least ``T`` (less the clock skew
allowed between Cin7 and us). So for a new window starting at or after
``W.start``, with ``cutoff = min(W.end, T - skew)``:

* Cin7 is asked only for ``modifiedDate >= max(start, cutoff)``, with no upper
  bound, so every order modified since ``W`` is seen, even one edited out of
  the window;
* the part before the cutoff comes from ``W``'s list (orders modified since
  are dropped from it), each order decided again with its kept body, today's
  date and today's export records -- no Cin7 call.

An order ``W`` skipped and nobody modified since is skipped again, as its data
did not change. ``W`` must have been built with the same import rules and
status map (the ``rules`` key), and recently (``REUSE_HOURS``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ratecalc import metrics
from ratecalc.upstream.cin7.records import (
    ORDER_BY_MODIFIED,
    SalesOrder,
    where_modified,
    where_modified_since,
)

REUSE_HOURS = 6
CLOCK_SKEW = timedelta(minutes=5)
CHUNK = 250


class WindowBuilder:
    def __init__(self, service, start: datetime, end: datetime, now: datetime):
        self.service = service
        self.store = service.store
        self.start, self.end, self.now = start, end, now
        self.entries: dict[int, tuple[datetime, str]] = {}  # id -> (modified, status)
        self.seen: set[int] = set()  # every order Cin7 returned in this build
        self.considered = 0

    def build(self) -> list[tuple[int, str]]:
        """The window's (order id, status) list, in modifiedDate then id order."""
        base, cutoff = self._base()
        if base is None:
            where = where_modified(self.start, self.end)
        else:
            where = where_modified_since(max(self.start, cutoff))
        for page in self.service.cin7.iter_sales_orders(where=where, order=ORDER_BY_MODIFIED):
            self._fresh(page, bounded=base is not None)
        if base is not None:
            self._reuse(base, min(self.end, cutoff))
        ordered = sorted(self.entries.items(), key=lambda item: (item[1][0], item[0]))
        return [(order_id, status) for order_id, (_, status) in ordered]

    def _base(self):
        """The kept window that covers most of this one, and how far it covers it."""
        since = self.now - timedelta(hours=REUSE_HOURS)
        best, best_cutoff = None, self.start
        for window in self.store.reusable_windows(self.start, self.service.rules_key, since):
            cutoff = min(window.end, window.built_at - CLOCK_SKEW)
            if cutoff > best_cutoff:
                best, best_cutoff = window, cutoff
        return best, best_cutoff

    def _fresh(self, page: list[dict], *, bounded: bool) -> None:
        orders: dict[int, SalesOrder] = {}
        for raw in page:
            order = SalesOrder(raw)
            if order.id is None:
                continue
            order_id = int(order.id)
            self.seen.add(order_id)
            self.entries.pop(order_id, None)  # moved between Cin7's pages: the later read
            if bounded and not self._inside(order.modified_at, self.end):
                continue  # modified since the kept window, and out of this one now
            orders[order_id] = order
        kept = self._decide(list(orders.values()))
        self.store.save_snapshots(((int(o.id), o.modified_at, dict(o.raw)) for o in kept),
                                  self.now)

    def _reuse(self, base, until: datetime) -> None:
        for lo in range(0, base.size, CHUNK):
            orders = []
            for entry in self.store.window_entries(base.id, lo, lo + CHUNK):
                if entry.body is None or entry.order_id in self.seen:
                    continue
                order = SalesOrder(entry.body)
                if self._inside(order.modified_at, until):
                    orders.append(order)
            self._decide(orders)

    def _inside(self, modified: datetime | None, until: datetime) -> bool:
        return modified is not None and self.start <= modified < until

    def _decide(self, orders: list[SalesOrder]) -> list[SalesOrder]:
        """Decide each order; the ones that go out join the list and are returned."""
        if not orders:
            return []
        exported = self.store.exported(int(o.id) for o in orders)
        kept = []
        for order in orders:
            self.considered += 1
            previous = exported.get(int(order.id))
            decision = self.service.decide(order, previous.status if previous else None,
                                           self.now)
            if decision.status is None:
                metrics.export_orders.labels("skipped").inc()
                metrics.order_skips.labels(decision.skip_rule).inc()
                continue
            metrics.export_orders.labels("exported").inc()
            self.entries[int(order.id)] = (order.modified_at or self.start, decision.status)
            kept.append(order)
        return kept
