"""One auto-freight poll: read what changed in Cin7, decide, quote, write in batches, audit.

* **Reading.** Sales orders modified since the stored cursor less 2 minutes (the
  first poll: ``RATECALC_AUTO_FREIGHT_LOOKBACK_HOURS`` back), ``modifiedDate``
  ascending, 250 a page until an empty page -- the export's client and limits.
  The products of the orders that may be priced are then fetched at once, 250 per
  call, so 1,000 orders cost a handful of calls, not one per page or per order.
* **Quoting.** Through the same rating service as ``POST /v1/rates`` (cache, pricing
  rules with ``order_value`` = the order's product total, cheapest fee selected),
  within auto-freight's half of the ShipStation minute.
* **Writing.** ``freightTotal`` and ``freightDescription``, up to 250 orders per PUT,
  each record's ``success`` checked; the fees priced so far go out before a quote must
  wait for the ShipStation share, and at least every interval. The lease is renewed
  before every PUT: a poller that lost it (it stalled, another took over) writes
  nothing more.
* **The cursor** moves to the poll's start once everything read was decided; an
  order that could not be priced for a passing reason (ShipStation or Cin7 failing)
  holds it at that order's ``modifiedDate``, so the next poll tries it again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from ratecalc import metrics
from ratecalc.rating.quote import QuoteFailed
from ratecalc.rating.request import InvalidRequest, OrderValue, Weight
from ratecalc.shop.autofreight import audit
from ratecalc.shop.autofreight.budgets import DailyBudgetReached
from ratecalc.shop.autofreight.decide import PRICE, Decision, Rules, decide, fee_of, needs_products
from ratecalc.shop.export.service import product_ids
from ratecalc.shop.freight import FreightError, rate_request
from ratecalc.shop.freight_options import FreightOptions
from ratecalc.shop.store.records import NewFreightAudit
from ratecalc.upstream.cin7.records import (
    MAX_RECORDS,
    ORDER_BY_MODIFIED,
    SalesOrder,
    date_literal,
    freight_update,
)
from ratecalc.upstream.errors import UpstreamError

log = logging.getLogger(__name__)
OVERLAP = timedelta(minutes=2)
PASSING = ("rate_limited", "busy", "upstream_timeout", "upstream_unavailable", "upstream_error")
QUOTE_TRIES = 3


class LeaseLost(Exception):
    """Another poller holds the lease now: stop before writing anything more."""


@dataclass
class Priced:
    order: SalesOrder
    decision: Decision
    selected: object  # the quote's selected PricedRate


@dataclass
class RunReport:
    read: int = 0
    written: int = 0
    skipped: int = 0
    failed: int = 0
    held: list[datetime] = field(default_factory=list)  # modifiedDates holding the cursor
    status: str = "ok"

    def as_dict(self) -> dict:
        return {"read": self.read, "written": self.written, "skipped": self.skipped,
                "failed": self.failed, "status": self.status}


@dataclass
class Poll:
    """What one poll needs; built once by :class:`~.worker.FreightWorker`."""

    store: object
    cin7: object  # a BudgetedCin7
    products: object  # a ProductCache over that client
    rating: object  # the RatingService
    share: object  # ShipStationShare
    day_budget: object  # Cin7DayBudget
    rules: Rules
    clock: object
    lookback: timedelta = timedelta(hours=24)
    currency: str = "USD"
    carriers: tuple[str, ...] = ()
    options: FreightOptions = FreightOptions()
    renew: object = None  # () -> bool: renew the lease
    flush_seconds: float = 60.0  # longest a priced fee waits for its PUT (the interval)

    # -- the pass --------------------------------------------------------------------
    def run(self) -> RunReport:
        report = RunReport()
        started = self.clock()
        state = self.store.freight_state()
        since = (state.cursor_at - OVERLAP) if state.cursor_at else started - self.lookback
        self.day_budget.load()
        try:
            orders = self._read(since)
            report.read = len(orders)
            self._handle(orders, report)
        except DailyBudgetReached as exc:
            report.status = "cin7_budget"
            log.warning("auto-freight: %s; polling again tomorrow (UTC)", exc.message)
        except LeaseLost:
            report.status = "lease_lost"
        except UpstreamError as exc:
            report.status = "cin7_error"
            log.warning("auto-freight: Cin7 failed: %s; trying again next poll", exc.message)
        finally:
            self.day_budget.save()
        cursor = state.cursor_at
        if report.status == "ok":
            cursor = min([started, *report.held])
        self.store.save_freight_run(cursor, report.status, started)
        self._gauges(cursor, started)
        return report

    def _gauges(self, cursor: datetime | None, started: datetime) -> None:
        metrics.auto_freight_last_run.set(started.timestamp())
        if cursor is not None:
            metrics.auto_freight_lag.set(max(0.0, (self.clock() - cursor).total_seconds()))

    def _read(self, since: datetime) -> dict[int, SalesOrder]:
        orders: dict[int, SalesOrder] = {}
        for page in self.cin7.iter_sales_orders(where=f"modifiedDate >= {date_literal(since)}",
                                                order=ORDER_BY_MODIFIED):
            for raw in page:
                order = SalesOrder(raw)
                if order.id is not None:
                    orders[int(order.id)] = order  # an order moving between pages: keep one
        return orders

    def _handle(self, orders: dict[int, SalesOrder], report: RunReport) -> None:
        written = self.store.latest_freight(orders.keys(), "written")
        latest = self.store.latest_freight(orders.keys())
        wanted = [o for o in orders.values()
                  if needs_products(o, written.get(int(o.id)), self.rules)]
        products = self.products.get_many(product_ids(wanted)) if wanted else {}
        to_price: list[tuple[SalesOrder, Decision]] = []
        skips: list[NewFreightAudit] = []
        for order in orders.values():
            decision = decide(order, products, written.get(int(order.id)), self.rules)
            if decision.action == PRICE:
                to_price.append((order, decision))
            else:
                skips.append(NewFreightAudit(
                    order_id=int(order.id), reference=order.reference, action="skipped",
                    reason=decision.reason, old_fee=audit.money(decision.current_fee),
                    fingerprint=decision.fingerprint, message=decision.detail))
        self._store(skips, latest, report)
        pending: list[Priced] = []
        since = time.monotonic()
        for order, decision in to_price:
            # 250 to a PUT; but the fees priced so far go out before a quote has to wait
            # for the ShipStation share, and at least every flush interval.
            if pending and (len(pending) >= MAX_RECORDS or self.share.short(self._carrier_calls())
                            or time.monotonic() - since >= self.flush_seconds):
                self._write(pending, latest, report)
                pending = []
            priced = self._quote(order, decision, products, latest, report)
            if priced is not None:
                since = since if pending else time.monotonic()
                pending.append(priced)
        if pending:
            self._write(pending, latest, report)

    def _store(self, records: list[NewFreightAudit], latest: dict, report: RunReport) -> None:
        fresh = [r for r in records if not audit.same_decision(r, latest.get(r.order_id))]
        now = self.clock()
        for record in fresh:
            self.store.add_freight_audit(record, now)
        for record in records:
            setattr(report, record.action, getattr(report, record.action) + 1)
            metrics.auto_freight_orders.labels(record.action, record.reason).inc()

    # -- quoting ---------------------------------------------------------------------
    def _request(self, order: SalesOrder, decision: Decision, products: dict):
        request = rate_request(order, products, self.rules.weight_units, self.options)
        request = replace(request, package=replace(
            request.package, weight=Weight(decision.weight, self.rules.weight_units)))
        amount = fee_of(order.product_total)
        currency = str(order.currency_code or self.currency).upper()
        if amount is not None and currency == self.currency:
            request = replace(request, order_value=OrderValue(amount, self.currency))
        return request

    def _carrier_calls(self) -> int:
        if self.carriers:
            return len(self.carriers)
        try:
            return max(1, len(self.rating.account_carriers()))
        except UpstreamError:
            return 1

    def _quote_once(self, request):
        taken = self.share.take(self._carrier_calls())
        try:
            return self.rating.quote(request)
        finally:
            self.share.give_back(taken)

    def _quote(self, order: SalesOrder, decision: Decision, products: dict, latest: dict,
               report: RunReport) -> Priced | None:
        def failed(reason: str, message: str, passing: bool) -> None:
            if passing and order.modified_at is not None:
                report.held.append(order.modified_at)
            self._store([NewFreightAudit(
                order_id=int(order.id), reference=order.reference, action="failed",
                reason=reason, old_fee=audit.money(decision.current_fee),
                fingerprint=decision.fingerprint, message=message)], latest, report)

        for attempt in range(QUOTE_TRIES):
            try:
                quote = self._quote_once(self._request(order, decision, products))
                return Priced(order, decision, quote.selected)
            except (InvalidRequest, FreightError) as exc:
                failed("invalid_request", str(exc), passing=False)
                return None
            except QuoteFailed as exc:
                passing = exc.code in PASSING
                if passing and attempt + 1 < QUOTE_TRIES and exc.code in ("rate_limited", "busy"):
                    self.share.stop.wait(min(30.0, exc.retry_after or 1.0))  # pressure: wait
                    continue
                failed("quote_failed", f"{exc.code}: {exc}", passing=passing)
                return None
        return None

    # -- writing ---------------------------------------------------------------------
    def _write(self, batch: list[Priced], latest: dict, report: RunReport) -> None:
        if self.renew is not None and not self.renew():
            raise LeaseLost()
        records = [freight_update(p.order.id, p.selected.freight_fee,
                                  p.selected.rate.service_name) for p in batch]
        try:
            results = self.cin7.put_sales_orders(records)
        except DailyBudgetReached:
            raise
        except UpstreamError as exc:
            report.held.extend(p.order.modified_at for p in batch if p.order.modified_at)
            self._store([self._record(p, "failed", "cin7_error", exc.message) for p in batch],
                        latest, report)
            return
        out = []
        for priced, result in zip(batch, results, strict=True):
            if result.success:
                out.append(self._record(priced, "written", priced.decision.reason, None))
            else:
                out.append(self._record(priced, "failed", "cin7_rejected",
                                        "; ".join(result.errors) or "Cin7 refused the record"))
        self._store(out, latest, report)

    @staticmethod
    def _record(priced: Priced, action: str, reason: str, message) -> NewFreightAudit:
        return audit.from_quote(priced.order.id, priced.order.reference, action=action,
                                reason=reason, old_fee=priced.decision.current_fee,
                                selected=priced.selected,
                                fingerprint=priced.decision.fingerprint, message=message)
