"""The worker that applies stored ship notifications to Cin7 sales orders.

Exactly once, whatever fails in between:

* a notice is delivered only once its Cin7 order is *resolved* (intake does it,
  or this worker when Cin7 was unavailable at intake), and the order is checked
  again before the write: it may have been cancelled since;
* notices are *claimed* with a lease (``claim_due``), by resolved order id, so
  several workers never take the same notice or the same order (however the
  notices spelled it), and a worker that dies mid-batch lets its lease expire
  and another picks the notice up;
* the write is idempotent: the Cin7 PUT sets fields to values (tracking code,
  dispatched date, stage), and the comment line it appends carries a marker
  (``[ratecalc notice N]``) that is checked before appending, so re-applying
  a notice after a crash changes nothing;
* transient failures (timeouts, 5xx, 429, Cin7 down) go back to ``pending``
  with exponential backoff and jitter, for a week; record-level errors from
  Cin7, and a 4xx Cin7 gives for one notice's lookup or write, mark that notice
  ``failed`` with Cin7's message (the others in the batch go on), to be retried
  by hand.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ratecalc import metrics
from ratecalc.shop.notices.identity import shipment_identity
from ratecalc.shop.notices.orders import NoticeOrders, NoticeRefused, refused_by_cin7
from ratecalc.shop.store.records import StoredNotice, StoreError
from ratecalc.upstream.cin7.client import Cin7Client
from ratecalc.upstream.cin7.dates import parse_cin7_datetime
from ratecalc.upstream.cin7.records import (
    MAX_RECORDS,
    ORDER_BY_ID,
    PutResult,
    SalesOrder,
    chunks,
    reference_spellings,
    sales_order_update,
    where_ids,
)
from ratecalc.upstream.errors import UpstreamError

log = logging.getLogger(__name__)
GIVE_UP_AFTER = timedelta(days=7)
CIN7_TRACKING_CHARS = 50


def marker(notice: StoredNotice) -> str:
    return f"[ratecalc notice {notice.id}]"


def comment_line(notice: StoredNotice) -> str:
    payload = notice.payload or {}
    if not notice.tracking_number and not notice.carrier and not payload.get("items"):
        return "Marked as shipped in ShipStation (no label, no tracking) " + marker(notice)
    parts = [f"ShipStation shipment via {notice.carrier or 'unknown carrier'}"]
    if notice.service:
        parts[0] += f" {notice.service}"
    if notice.tracking_number:
        parts.append(f"tracking {notice.tracking_number}")
    if payload.get("shipping_cost") is not None:
        parts.append(f"carrier cost {Decimal(str(payload['shipping_cost'])):.2f}")
    if payload.get("ship_date"):
        parts.append(f"shipped {payload['ship_date']}")
    if payload.get("notes_to_customer"):
        parts.append(f"notes to buyer: {payload['notes_to_customer']}")
    return ", ".join(parts) + " " + marker(notice)


def _line_id(value) -> str:
    # Size-range lines go out as one Item per size, "<line id>-<n>".
    return str(value or "").split("-", 1)[0].strip()


def fully_shipped(order: dict | SalesOrder, notices: list[StoredNotice]) -> bool:
    """True once the notices together cover every line's dispatch quantity.

    A notice without items means the whole order shipped (Magento reads it so).
    """
    required: dict[str, Decimal] = {}
    for line in SalesOrder.of(order).line_items:
        quantity = Decimal(str(line.qty_shipped or line.qty or 0))
        if quantity > 0 and line.id is not None:
            required[str(line.id)] = quantity
    shipped: dict[str, Decimal] = {}
    for notice in notices:
        items = (notice.payload or {}).get("items") or []
        if not items:
            return True
        for item in items:
            line = _line_id(item.get("line_item_id"))
            shipped[line] = shipped.get(line, Decimal(0)) + Decimal(str(item.get("quantity") or 0))
    return all(shipped.get(line, Decimal(0)) >= quantity for line, quantity in required.items())


def dispatched_at(notice: StoredNotice) -> str:
    payload = notice.payload or {}
    moment = parse_cin7_datetime(payload.get("ship_date")) or parse_cin7_datetime(
        payload.get("label_create_date")) or notice.created_at
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_update(order: dict | SalesOrder, batch: list[StoredNotice],
                 history: list[StoredNotice], dispatch_stage: str) -> dict:
    """The PUT record applying ``batch`` (this run's notices) to ``order``.

    ``history`` is every notice for the order already delivered; together with
    the batch it says whether all lines have shipped (split shipments).
    """
    order = SalesOrder.of(order)
    latest = batch[-1]
    carrier = None
    if not (order.logistics_carrier or "").strip() and latest.carrier:
        carrier = latest.carrier
    comments = order.internal_comments or ""
    new_lines = [comment_line(n) for n in batch if marker(n) not in comments]
    dispatched = None
    if not order.dispatched_date and fully_shipped(order, history + batch):
        dispatched = dispatched_at(latest)
    # Cin7's trackingCode takes 50 characters; the comment line keeps the whole number.
    tracking = (latest.tracking_number or "")[:CIN7_TRACKING_CHARS] or None
    return sales_order_update(
        order.id, tracking_code=tracking, logistics_carrier=carrier,
        internal_comments="\n".join(([comments] if comments else []) + new_lines)
        if new_lines else None,
        dispatched_date=dispatched, stage=dispatch_stage if dispatched else None)


class DeliveryWorker:
    def __init__(self, *, store, cin7: Cin7Client, dispatch_stage: str, clock=None,
                 orders: NoticeOrders | None = None,
                 worker_id: str | None = None, lease_seconds: float = 120.0,
                 batch_size: int = 250, poll_seconds: float = 5.0,
                 backoff_base: float = 30.0, backoff_cap: float = 3600.0):
        self.store = store
        self.cin7 = cin7
        self.dispatch_stage = dispatch_stage
        self.orders = orders or NoticeOrders(cin7)  # which orders a notice may touch
        self.clock = clock or (lambda: datetime.now(UTC))
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:12]}"
        self.lease_seconds = lease_seconds
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one pass ------------------------------------------------------------------
    def run_once(self) -> int:
        """Resolve, claim and apply due notices, record the outcome. Returns how many
        were claimed (the ones resolved in this pass are claimed in it too)."""
        self._resolve_due()
        now = self.clock()
        claimed = self.store.claim_due(self.worker_id, now, limit=self.batch_size,
                                       lease_seconds=self.lease_seconds)
        if claimed:
            try:
                self._deliver(claimed)
            except UpstreamError as exc:
                self._retry_all(claimed, exc.message)
        self.update_gauges()
        return len(claimed)

    def _resolve_due(self) -> int:
        """Ask Cin7 for the order of each notice intake stored unresolved (Cin7 was
        unavailable then); a notice is claimed only once its order is known."""
        due = self.store.unresolved_due(self.clock(), limit=self.batch_size)
        for n, notice in enumerate(due):
            try:
                order = self.orders.resolve(notice.order_id, notice.order_number)
            except NoticeRefused as exc:
                log.warning("ship notification %s failed: %s", notice.id, exc)
                if self.store.fail_unresolved(notice.id, str(exc)):
                    metrics.shipnotify.labels("failed").inc()
                continue
            except UpstreamError as exc:  # Cin7 still unavailable: all of them wait
                for waiting in due[n:]:
                    if self.clock() - waiting.created_at > GIVE_UP_AFTER:
                        if self.store.fail_unresolved(
                                waiting.id, f"gave up after {GIVE_UP_AFTER.days} days: "
                                f"{exc.message}"[:1000]):
                            metrics.shipnotify.labels("failed").inc()
                        continue
                    self.store.defer_unresolved(waiting.id, exc.message[:1000],
                                                self._next_attempt(waiting))
                return n
            identity = shipment_identity(int(order.id), notice.tracking_number, notice.carrier)
            if not self.store.resolve_notice(notice.id, int(order.id), identity):
                metrics.shipnotify.labels("duplicate").inc()
        return len(due)

    def _deliver(self, claimed: list[StoredNotice]) -> None:
        groups: dict[int, list[StoredNotice]] = {}
        for notice in claimed:
            groups.setdefault(int(notice.resolved_order_id), []).append(notice)
        orders, lookup_errors = self._orders_for(sorted(groups))
        records, batches = [], []
        for order_id, batch in groups.items():
            order = orders.get(order_id)
            problem = lookup_errors.get(order_id) or (
                f"no Cin7 sales order with id {order_id}" if order is None
                else self.orders.refusal(order))  # it may have been cancelled since
            if problem:
                for notice in batch:
                    self._fail(notice, problem)
                continue
            history = self._delivered_before(order)
            records.append(build_update(order, batch, history, self.dispatch_stage))
            batches.append(batch)
        records, batches = self._still_held(records, batches)
        for batch, result in zip(batches, self._put(records), strict=True):
            for notice in batch:
                if result.success:
                    if self.store.mark_delivered(notice.id, self.worker_id, self.clock()):
                        metrics.shipnotify.labels("delivered").inc()
                else:
                    self._fail(notice, "Cin7: " + ("; ".join(result.errors) or "not saved"))

    def _still_held(self, records: list[dict], batches: list[list[StoredNotice]]):
        """Renew the leases just before writing and keep only the orders whose notices are
        all still ours: a slow read may have let a lease run out and another worker take
        the order over, and two read-modify-writes of one order would lose a comment line."""
        if not records:
            return records, batches
        held = self.store.renew_lease([n.id for batch in batches for n in batch],
                                      self.worker_id, self.clock(), self.lease_seconds)
        kept = [(record, batch) for record, batch in zip(records, batches, strict=True)
                if all(n.id in held for n in batch)]
        if len(kept) < len(records):
            log.info("%d order(s) taken over by another worker; not written here",
                     len(records) - len(kept))
        return [r for r, _ in kept], [b for _, b in kept]

    def _put(self, records: list[dict]) -> list[PutResult]:
        """PUT the records; when Cin7 refuses the whole request (a 4xx), each record
        goes alone, so one bad notice fails alone with Cin7's message."""
        if not records:
            return []
        try:
            return self.cin7.put_sales_orders(records)
        except UpstreamError as exc:
            if not refused_by_cin7(exc):
                raise
            if len(records) == 1:
                return [PutResult(0, False, records[0].get("id"), None, (exc.message,))]
        return [self._put([record])[0] for record in records]

    def _delivered_before(self, order: SalesOrder) -> list[StoredNotice]:
        """Notices already applied to the order, matched by id or by reference (either
        spelling of a leading '#'), for split shipments."""
        reference = order.reference or None
        found = {n.id: n for n in self.store.notices_for_order(int(order.id), reference)}
        for other in reference_spellings(reference) if reference else ():
            if other != reference:
                found.update({n.id: n for n in self.store.notices_for_order(None, other)})
        return [n for n in sorted(found.values(), key=lambda n: n.id)
                if n.status == "delivered"]

    def _orders_for(self, ids: list[int]) -> tuple[dict[int, SalesOrder], dict[int, str]]:
        """The current Cin7 orders (read fresh: a PUT replaces comments), and for each id
        Cin7 refused to look up, its message. Raises UpstreamError when Cin7 is down."""
        by_id: dict[int, SalesOrder] = {}
        errors: dict[int, str] = {}
        for chunk in chunks(ids, MAX_RECORDS):
            try:
                page = self.cin7.sales_orders_page(where=where_ids(chunk), order=ORDER_BY_ID,
                                                   page=1)
            except UpstreamError as exc:
                if not refused_by_cin7(exc):
                    raise
                page = self._one_by_one(chunk, errors)
            for raw in page:
                order = SalesOrder(raw)
                by_id[int(order.id)] = order
        return by_id, errors

    def _one_by_one(self, ids: list[int], errors: dict[int, str]) -> list[dict]:
        found = []
        for order_id in ids:
            try:
                raw = self.cin7.sales_order(order_id)
            except UpstreamError as exc:
                if not refused_by_cin7(exc):
                    raise
                errors[order_id] = f"Cin7 refused the order lookup: {exc.message}"
                continue
            if raw is not None:
                found.append(raw)
        return found

    def _fail(self, notice: StoredNotice, error: str) -> None:
        log.warning("ship notification %s failed: %s", notice.id, error)
        if self.store.mark_failed(notice.id, self.worker_id, error[:1000]):
            metrics.shipnotify.labels("failed").inc()

    def _next_attempt(self, notice: StoredNotice) -> datetime:
        delay = min(self.backoff_cap, self.backoff_base * 2 ** max(0, notice.attempts - 1))
        delay *= random.uniform(0.5, 1.0)  # noqa: S311 (jitter, not crypto)
        return self.clock() + timedelta(seconds=delay)

    def _retry_all(self, claimed: list[StoredNotice], error: str) -> None:
        now = self.clock()
        for notice in claimed:
            if now - notice.created_at > GIVE_UP_AFTER:
                self._fail(notice, f"gave up after {GIVE_UP_AFTER.days} days: {error}")
                continue
            self.store.mark_retry(notice.id, self.worker_id, error[:1000],
                                  self._next_attempt(notice))
        log.info("Cin7 unavailable (%s); %d notification(s) will be retried", error, len(claimed))

    def update_gauges(self) -> None:
        try:
            pending, oldest = self.store.pending_stats(self.clock())
        except StoreError:
            return
        metrics.outbox_pending.set(pending)
        metrics.outbox_oldest_pending.set(oldest)

    # -- background loop --------------------------------------------------------------
    def nudge(self) -> None:
        self._wake.set()

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                handled = self.run_once()
            except StoreError as exc:
                log.error("delivery worker: database unavailable: %s", exc)
                handled = 0
            except Exception:  # keep the loop alive; the notice stays claimed until its lease ends
                log.exception("delivery worker: unexpected error")
                handled = 0
            if handled:
                continue  # there may be more due right away
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def start(self) -> DeliveryWorker:
        self._thread = threading.Thread(target=self.run_forever, name="delivery-worker",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)
