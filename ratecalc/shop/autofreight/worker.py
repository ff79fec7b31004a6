"""The auto-freight worker: polls Cin7 every interval, one poller at a time.

It runs inside ``serve`` (unless ``RATECALC_FREIGHT_WORKER=off``) or alone as
``ratecalc freight-worker``. With several processes or replicas each runs one,
and the store's lease decides which polls: a session advisory lock on
PostgreSQL (released the moment its holder's connection ends), a lease row on
SQLite (renewed every poll and before every write; taken over once it has run
out). The others wait, and take over when the holder dies.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta

from ratecalc import metrics
from ratecalc.settings import Settings
from ratecalc.shop.autofreight.budgets import BudgetedCin7, Cin7DayBudget, ShipStationShare
from ratecalc.shop.autofreight.decide import REASONS, Rules
from ratecalc.shop.autofreight.run import Poll, RunReport
from ratecalc.shop.export.service import ProductCache
from ratecalc.shop.freight_options import FreightOptions
from ratecalc.shop.store.records import FREIGHT_ACTIONS, StoreError
from ratecalc.units import to_grams

log = logging.getLogger(__name__)
LEASE = "auto-freight"
MIN_LEASE_SECONDS = 60.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


class FreightWorker:
    def __init__(self, poll: Poll, *, interval: float, clock=None, holder: str | None = None,
                 lease_seconds: float | None = None):
        self.poll = poll
        self.interval = interval
        self.clock = clock or _utcnow
        self.holder = holder or f"freight-{uuid.uuid4().hex[:12]}"
        self.lease_seconds = lease_seconds or max(MIN_LEASE_SECONDS, 3 * interval)
        self.stop_event = poll.share.stop
        self._thread: threading.Thread | None = None
        self.polls = 0  # polls this worker made (it held the lease)
        poll.renew = self.renew
        for action in FREIGHT_ACTIONS:  # series exist at 0, so increase() sees the first
            for reason in REASONS:
                metrics.auto_freight_orders.labels(action, reason)

    @property
    def store(self):
        return self.poll.store

    def renew(self) -> bool:
        return self.store.acquire_lease(LEASE, self.holder, self.clock(), self.lease_seconds)

    def run_once(self) -> RunReport | None:
        """One poll if this worker holds (or gets) the lease; None when another does."""
        if not self.renew():
            return None
        self.polls += 1
        return self.poll.run()

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.run_once()
            except StoreError as exc:
                log.error("auto-freight: database unavailable: %s", exc)
            except Exception:  # never let one bad poll end the worker
                log.exception("auto-freight poll failed")
            self.stop_event.wait(self.interval)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="auto-freight",
                                            daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        try:
            self.store.release_lease(LEASE, self.holder)
        except StoreError:
            pass  # the lease runs out by itself (SQLite) or ended with its connection


def shipstation_share(settings: Settings) -> int:
    """Half of the ShipStation minute this worker's process may use."""
    minute = settings.shipstation_requests_per_minute
    if not settings.redis_url:
        minute = max(1, minute // max(1, settings.workers))  # each process has its share
    return max(1, minute // 2)


def rules_from(settings: Settings, status_map) -> Rules:
    amount, units = settings.max_package_weight
    return Rules(
        weight_units=settings.cin7_weight_units, stages=settings.auto_freight_stages,
        reprice=settings.auto_freight_reprice, packaging_weight=settings.packaging_weight,
        max_weight_grams=to_grams(amount, units), branch_ids=settings.cin7_branch_ids,
        cancelled_stages=status_map.by_status.get("cancelled") or ("Cancelled",),
        dispatched_stages=tuple(dict.fromkeys((settings.dispatch_stage, "Dispatched"))))


def build_freight_worker(settings: Settings, shop, rating, *, clock=None,
                         window_seconds: float = 60.0) -> FreightWorker:
    from ratecalc.rating.request import Dimensions

    clock = clock or shop.clock
    share = ShipStationShare(shipstation_share(settings), window_seconds)
    day_budget = Cin7DayBudget(shop.store, settings.auto_freight_max_cin7_calls_per_day, clock)
    cin7 = BudgetedCin7(shop.cin7, day_budget)
    box = settings.default_box
    poll = Poll(
        store=shop.store, cin7=cin7, products=ProductCache(cin7), rating=rating, share=share,
        day_budget=day_budget, rules=rules_from(settings, shop.status_map), clock=clock,
        lookback=timedelta(hours=settings.auto_freight_lookback_hours),
        currency=settings.currency, carriers=settings.carriers,
        options=FreightOptions(dimensions=Dimensions(*box) if box else None),
        flush_seconds=settings.auto_freight_interval_seconds)
    return FreightWorker(poll, interval=settings.auto_freight_interval_seconds, clock=clock)
