"""Wiring of shop mode (Cin7 Omni as a ShipStation Custom Store).

``init_app(app)`` builds the shop's services from the settings, registers its
blueprints, its readiness and connection checks, and (unless
``RATECALC_DELIVERY_WORKER=off``) starts the delivery worker thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Flask

from ratecalc import metrics
from ratecalc.settings import Settings
from ratecalc.shop.autofreight.audit import status_json
from ratecalc.shop.export.eligibility import ImportRules, reasons
from ratecalc.shop.export.options import ExportOptions
from ratecalc.shop.export.service import ExportService, ProductCache
from ratecalc.shop.export.statuses import StatusMap
from ratecalc.shop.freight import FreightError, FreightService
from ratecalc.shop.notices.intake import NoticeIntake
from ratecalc.shop.notices.orders import NoticeOrders
from ratecalc.shop.notices.worker import DeliveryWorker
from ratecalc.shop.store.lazy import ReconnectingStore
from ratecalc.shop.store.records import StoreError
from ratecalc.upstream.cin7.client import DAY, Cin7Client
from ratecalc.upstream.cin7.records import ORDER_BY_ID, SalesOrder
from ratecalc.upstream.errors import UpstreamError
from ratecalc.upstream.limits.budget import ChainedLimiter, WindowLimiter
from ratecalc.upstream.transport import Deadline

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class ShopServices:
    settings: Settings
    cin7: Cin7Client
    store: object
    status_map: StatusMap
    rules: ImportRules
    export: ExportService
    intake: NoticeIntake
    worker: DeliveryWorker
    freight: FreightService
    clock: object = utcnow
    freight_worker: object = None  # the auto-freight FreightWorker, when RATECALC_AUTO_FREIGHT=on

    def why(self, order_id: int) -> dict:
        """Why an order did (not) import: every failed rule, its status, when exported."""
        found = self.cin7.sales_order(order_id)
        if found is None:
            raise FreightError(404, "order_not_found", f"No Cin7 sales order with id {order_id}.")
        order = SalesOrder(found)
        failed = reasons(order, self.rules, self.clock())
        status = self.status_map.order_status(order.stage, voided=order.is_void)
        exported = self.store.exported([order_id]).get(order_id)
        if status is None:
            failed.append(_unmapped(order.stage))
        return {
            "order_id": order_id, "reference": order.reference,
            "eligible": not failed,
            "reasons": [{"rule": r.rule, "message": r.message} for r in failed],
            "status": status,
            "exported_at": exported.exported_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            if exported else None,
            "exported_status": exported.status if exported else None,
            "freight_status": status_json(
                self.store.latest_freight([order_id]).get(order_id)),
        }

    def close(self) -> None:
        self.worker.stop()
        if self.freight_worker is not None:
            self.freight_worker.stop()
        self.store.close()


def _unmapped(stage):
    from ratecalc.shop.export.eligibility import Reason

    return Reason("status", f"stage {stage!r} maps to no ShipStation status in "
                            "RATECALC_STATUS_MAP, so it is never exported")


def cin7_limiter(settings: Settings):
    """Cin7's limits are per API connection, so every process must share them: through
    Redis when configured; otherwise each of the RATECALC_WORKERS processes takes its
    share (and so does the fallback while Redis is down)."""
    windows = cin7_windows(settings)
    share = [(max(1, limit // settings.workers), seconds) for limit, seconds in windows]
    local = WindowLimiter(share)
    if not settings.redis_url:
        return local
    from ratecalc.rating.keys import account_fingerprint
    from ratecalc.redis_guard import connect
    from ratecalc.upstream.limits.redis_cin7 import RedisWindowLimiter

    connection = account_fingerprint("cin7", settings.cin7_base_url, settings.cin7_username)
    return RedisWindowLimiter(connect(settings.redis_url.reveal()), connection, windows,
                              fallback=local)


def cin7_windows(settings: Settings) -> list[tuple[int, float]]:
    """Cin7's call limits as (calls, seconds) windows: RATECALC_CIN7_REQUESTS_PER_*."""
    return [(settings.cin7_requests_per_second, 1.0), (settings.cin7_requests_per_minute, 60.0),
            (settings.cin7_requests_per_day, DAY)]


def export_budget(settings: Settings):
    """The export's share of Cin7's daily calls (RATECALC_EXPORT_MAX_CIN7_SHARE), shared
    by every process through Redis when configured, else split between the workers."""
    share = max(1, int(round(settings.cin7_requests_per_day * settings.export_max_cin7_share, 6)))
    local = WindowLimiter([(max(1, share // settings.workers), DAY)])
    if not settings.redis_url:
        return local
    from ratecalc.rating.keys import account_fingerprint
    from ratecalc.redis_guard import connect
    from ratecalc.upstream.limits.redis_cin7 import RedisWindowLimiter

    connection = account_fingerprint("cin7", settings.cin7_base_url, settings.cin7_username)
    return RedisWindowLimiter(connect(settings.redis_url.reveal()), connection + ":export",
                              [(share, DAY)], fallback=local)


def build_shop(settings: Settings, *, clock=utcnow, store=None) -> ShopServices:
    status_map = StatusMap.parse(settings.status_map)  # validated when settings were read
    from ratecalc.upstream.breaker import breaker_for

    cin7 = Cin7Client(settings.cin7_base_url, settings.cin7_username or "",
                      settings.cin7_api_key.reveal() if settings.cin7_api_key else "",
                      timeout=max(settings.upstream_timeout_seconds, 30.0),
                      limiter=cin7_limiter(settings), breaker=breaker_for(settings, "cin7"))
    budget = export_budget(settings)
    export_cin7 = Cin7Client(cin7.base_url, *cin7._auth, timeout=cin7.timeout,
                             limiter=ChainedLimiter(budget, cin7.limiter), session=cin7.session,
                             breaker=cin7.breaker)
    if store is None:
        store = ReconnectingStore(settings.resolved_database_url).open()
    rules = ImportRules(stages=settings.import_stages, max_age_days=settings.import_max_age_days,
                        branch_ids=settings.cin7_branch_ids,
                        requires_freight=settings.export_requires_freight)
    products = ProductCache(cin7)
    orders = NoticeOrders(cin7, branch_ids=settings.cin7_branch_ids,
                          cancelled_stages=status_map.by_status.get("cancelled") or ("Cancelled",))
    worker = DeliveryWorker(store=store, cin7=cin7, dispatch_stage=settings.dispatch_stage,
                            clock=clock, lease_seconds=settings.delivery_lease_seconds,
                            orders=orders)
    return ShopServices(
        settings=settings, cin7=cin7, store=store, status_map=status_map, rules=rules,
        export=ExportService(
            cin7=export_cin7, budget=budget, store=store, status_map=status_map, rules=rules,
            options=ExportOptions(weight_units=settings.cin7_weight_units,
                                  custom_fields=settings.custom_fields,
                                  gift_message_field=settings.gift_message_field),
            page_size=settings.export_page_size, products=products, clock=clock),
        intake=NoticeIntake(store, clock, orders=orders, on_stored=worker.nudge),
        worker=worker,
        freight=FreightService(cin7=cin7, products=products,
                               weight_units=settings.cin7_weight_units),
        clock=clock,
    )


def init_app(app: Flask) -> None:
    from ratecalc.shop.api import api_bp, store_bp

    services = app.extensions["ratecalc"]
    shop = services.extras.get("shop") or build_shop(services.settings)
    services.extras["shop"] = shop
    services.extras.setdefault("readiness", []).append(lambda: _store_ready(shop))
    services.extras.setdefault("closers", []).append(shop.close)
    for outcome in ("stored", "duplicate", "rejected", "delivered", "failed"):
        metrics.shipnotify.labels(outcome)  # series exist at 0, so increase() sees the first
    app.register_blueprint(store_bp)
    app.register_blueprint(api_bp)
    app.register_error_handler(StoreError, _store_unavailable)
    if services.settings.delivery_worker == "in-process":
        shop.worker.start()
    if services.settings.auto_freight and shop.freight_worker is None:
        from ratecalc.shop.autofreight.worker import build_freight_worker

        shop.freight_worker = build_freight_worker(services.settings, shop, services.rating)
        if services.settings.freight_worker == "in-process":
            shop.freight_worker.start()


def _store_unavailable(exc: StoreError):
    from ratecalc.web.errors import error_response

    log.error("database unavailable: %s", exc)
    return error_response(503, "store_unavailable",
                          "The shop database is unavailable; retry later.",
                          headers={"Retry-After": "5"})


def _store_ready(shop: ShopServices) -> list[str]:
    # /readyz needs no token: say what is wrong, not where the database lives.
    try:
        shop.store.ping()
    except StoreError as exc:
        log.error("readiness: database unavailable: %s", exc)
        return ["database unavailable (details in the log)"]
    return []


def cin7_check(shop: ShopServices) -> tuple[bool, str]:
    """Cin7 answers with the stored credentials, and the shop database is usable."""
    try:
        shop.cin7.sales_orders_page(where=None, order=ORDER_BY_ID, page=1, rows=1,
                                    deadline=Deadline(30))
    except UpstreamError as exc:
        return False, f"failed: Cin7: {exc.message}"
    try:
        shop.store.ping()
    except StoreError as exc:
        return False, f"failed: database: {exc}"
    return True, "ok: Cin7 accepted the API connection; the database is usable"
