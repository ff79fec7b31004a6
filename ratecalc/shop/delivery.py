"""The worker that applies stored ship notifications to Cin7 sales orders.

Exactly once, whatever fails in between:

* notices are *claimed* with a lease (``claim_due``), so several workers never
  take the same one, and a worker that dies mid-batch lets its lease expire
  and another picks the notice up;
* the write is idempotent: the Cin7 PUT sets fields to values (tracking code,
  dispatched date, stage), and the comment line it appends carries a marker
  (``[ratecalc notice N]``) that is checked before appending, so re-applying
  a notice after a crash changes nothing;
* transient failures (timeouts, 5xx, 429, Cin7 down) go back to ``pending``
  with exponential backoff and jitter, for a week; record-level errors from
  Cin7 mark the notice ``failed`` with Cin7's message, to be retried by hand.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ratecalc import metrics
from ratecalc.shop.cin7_dates import parse_cin7_datetime
from ratecalc.shop.store import StoredNotice, StoreError
from ratecalc.upstream.cin7 import Cin7Client
from ratecalc.upstream.errors import UpstreamError

log = logging.getLogger(__name__)
TRACKING_MAX = 50  # Cin7's trackingCode limit
GIVE_UP_AFTER = timedelta(days=7)


def marker(notice: StoredNotice) -> str:
    return f"[ratecalc notice {notice.id}]"


def comment_line(notice: StoredNotice) -> str:
    payload = notice.payload or {}
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


def fully_shipped(order: dict, notices: list[StoredNotice]) -> bool:
    """True once the notices together cover every line's dispatch quantity.

    A notice without items means the whole order shipped (Magento reads it so).
    """
    required: dict[str, Decimal] = {}
    for line in order.get("lineItems") or []:
        quantity = Decimal(str(line.get("qtyShipped") or line.get("qty") or 0))
        if quantity > 0 and line.get("id") is not None:
            required[str(line["id"])] = quantity
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


def build_update(order: dict, batch: list[StoredNotice], history: list[StoredNotice],
                 dispatch_stage: str) -> dict:
    """The PUT record applying ``batch`` (this run's notices) to ``order``.

    ``history`` is every notice for the order already delivered; together with
    the batch it says whether all lines have shipped (split shipments).
    """
    latest = batch[-1]
    record: dict = {"id": order["id"]}
    if latest.tracking_number:
        record["trackingCode"] = latest.tracking_number[:TRACKING_MAX]
    if not (order.get("logisticsCarrier") or "").strip() and latest.carrier:
        record["logisticsCarrier"] = latest.carrier
    comments = order.get("internalComments") or ""
    new_lines = [comment_line(n) for n in batch if marker(n) not in comments]
    if new_lines:
        record["internalComments"] = "\n".join(([comments] if comments else []) + new_lines)
    if not order.get("dispatchedDate") and fully_shipped(order, history + batch):
        record["dispatchedDate"] = dispatched_at(latest)
        record["stage"] = dispatch_stage
    return record


class DeliveryWorker:
    def __init__(self, *, store, cin7: Cin7Client, dispatch_stage: str, clock=None,
                 worker_id: str | None = None, lease_seconds: float = 120.0,
                 batch_size: int = 250, poll_seconds: float = 5.0,
                 backoff_base: float = 30.0, backoff_cap: float = 3600.0):
        self.store = store
        self.cin7 = cin7
        self.dispatch_stage = dispatch_stage
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
        """Claim due notices, apply them, record the outcome. Returns how many were handled."""
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

    def _deliver(self, claimed: list[StoredNotice]) -> None:
        orders = self._orders_for(claimed)
        groups: dict[int, list[StoredNotice]] = {}
        for notice in claimed:
            order = orders.get(notice.id)
            if order is None:
                self._fail(notice, "no Cin7 sales order with "
                           + (f"id {notice.order_id}" if notice.order_id is not None
                              else f"reference {notice.order_number!r}"))
                continue
            groups.setdefault(int(order["id"]), []).append(notice)
        if not groups:
            return
        by_id = {int(o["id"]): o for o in orders.values() if o is not None}
        records, batches = [], []
        for order_id, batch in groups.items():
            history = self._delivered_before(by_id[order_id])
            records.append(build_update(by_id[order_id], batch, history, self.dispatch_stage))
            batches.append(batch)
        results = self.cin7.put_sales_orders(records)
        for batch, result in zip(batches, results, strict=True):
            for notice in batch:
                if result.success:
                    if self.store.mark_delivered(notice.id, self.worker_id, self.clock()):
                        metrics.shipnotify.labels("delivered").inc()
                else:
                    self._fail(notice, "Cin7: " + ("; ".join(result.errors) or "not saved"))

    def _delivered_before(self, order: dict) -> list[StoredNotice]:
        """Notices already applied to the order, matched by id or by reference (either
        spelling of a leading '#'), for split shipments."""
        reference = order.get("reference") or None
        found = {n.id: n for n in self.store.notices_for_order(int(order["id"]), reference)}
        if reference:
            other = reference[1:] if reference.startswith("#") else "#" + reference
            found.update({n.id: n for n in self.store.notices_for_order(None, other)})
        return [n for n in sorted(found.values(), key=lambda n: n.id)
                if n.status == "delivered"]

    def _orders_for(self, claimed: list[StoredNotice]) -> dict[int, dict | None]:
        """Each notice's current Cin7 order (read fresh: a PUT replaces comments)."""
        ids = sorted({n.order_id for n in claimed if n.order_id is not None})
        by_id: dict[int, dict] = {}
        for start in range(0, len(ids), 250):
            chunk = ids[start:start + 250]
            where = "id IN (" + ",".join(map(str, chunk)) + ")"
            for order in self.cin7.sales_orders_page(where=where, order="id ASC", page=1):
                by_id[int(order["id"])] = order
        found: dict[int, dict | None] = {}
        by_reference: dict[str, dict | None] = {}
        for notice in claimed:
            if notice.order_id is not None and notice.order_id in by_id:
                found[notice.id] = by_id[notice.order_id]
            elif notice.order_number:
                if notice.order_number not in by_reference:
                    by_reference[notice.order_number] = self.cin7.sales_order_by_reference(
                        notice.order_number)
                found[notice.id] = by_reference[notice.order_number]
            else:
                found[notice.id] = None
        return found

    def _fail(self, notice: StoredNotice, error: str) -> None:
        log.warning("ship notification %s failed: %s", notice.id, error)
        if self.store.mark_failed(notice.id, self.worker_id, error[:1000]):
            metrics.shipnotify.labels("failed").inc()

    def _retry_all(self, claimed: list[StoredNotice], error: str) -> None:
        now = self.clock()
        for notice in claimed:
            if now - notice.created_at > GIVE_UP_AFTER:
                self._fail(notice, f"gave up after {GIVE_UP_AFTER.days} days: {error}")
                continue
            delay = min(self.backoff_cap, self.backoff_base * 2 ** max(0, notice.attempts - 1))
            delay *= random.uniform(0.5, 1.0)  # noqa: S311 (jitter, not crypto)
            self.store.mark_retry(notice.id, self.worker_id, error[:1000],
                                  now + timedelta(seconds=delay))
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
