"""``/ui/orders/<id>``: what happened to one Cin7 order, and its search box.

Eligibility and status come from :meth:`ShopServices.why` (the same answer as
``GET /v1/orders/<id>/eligibility``); the ship-notice timeline from the store,
every notice that names the order by id or by reference; the freight history
from the auto-freight endpoint when it is installed.
"""

from __future__ import annotations

from flask import request

from ratecalc import bounds
from ratecalc.shop.freight import FreightError
from ratecalc.shop.store.records import StoreError
from ratecalc.ui import sources, words
from ratecalc.ui.views import bp, local_redirect, page, shop
from ratecalc.upstream.cin7.records import SalesOrder
from ratecalc.upstream.errors import UpstreamError

DONE = {"retried": "The notice is queued for another delivery attempt.",
        "not_failed": "That notice is not failed any more, so it was not retried.",
        "unknown": "There is no such notice on this order."}


def _when(moment) -> str | None:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else None


@bp.get("/orders")
def order_search():
    query = (request.args.get("q") or "").strip()[:60]
    if not query:
        return page("order.html", order=None, query="")
    services = shop()
    if services is None:
        return page("order.html", 404, order=None, query=query, error=_NO_SHOP)
    try:
        found = _find(services.cin7, query)
    except UpstreamError as exc:
        return page("order.html", 502, order=None, query=query,
                    error=f"Cin7 did not answer: {exc.message}")
    if found is None:
        return page("order.html", 404, order=None, query=query,
                    error=f"No Cin7 sales order has the id or reference {query!r}.")
    return local_redirect(f"/ui/orders/{found}")


def _find(cin7, query: str) -> int | None:
    """Digits are an id first, then a reference ("1050" may be either); "#1050" a reference."""
    if query.isascii() and query.isdigit():
        try:
            order_id = bounds.record_id(query, "order id")
        except bounds.OutOfBounds:
            order_id = None
        if order_id and cin7.sales_order(order_id):
            return order_id
    found = cin7.sales_order_by_reference(query)
    order_id = SalesOrder(found).id if found else None  # either casing of Cin7's fields
    return int(order_id) if order_id else None


_NO_SHOP = "Shop mode is not enabled on this server (RATECALC_CIN7_* settings), so there " \
           "are no Cin7 orders to look up."


@bp.get("/orders/<id:order_id>")
def order_page(order_id: int):
    services = shop()
    if services is None:
        return page("order.html", 404, order=None, query=str(order_id), error=_NO_SHOP)
    try:
        why = services.why(order_id)
    except FreightError as exc:
        return page("order.html", exc.status, order=None, query=str(order_id),
                    error=words.freight_error(exc.code, exc.message))
    except UpstreamError as exc:
        return page("order.html", 502, order=None, query=str(order_id),
                    error=f"Cin7 did not answer: {exc.message}")
    try:
        notices = [_notice(n) for n in
                   services.store.notices_for_order(order_id, why.get("reference"))]
        notice_error = None
    except StoreError:
        notices, notice_error = [], "The shop database is unavailable; notices cannot be shown."
    return page("order.html", order=why, query=str(order_id), notices=notices,
                notice_error=notice_error, history=sources.freight_history(order_id),
                done=DONE.get(request.args.get("done", "")))


def _notice(notice) -> dict:
    events = [("received", _when(notice.created_at), None)]
    if notice.attempts:
        events.append(("attempts", f"{notice.attempts} so far", None))
    if notice.status == "delivered":
        events.append(("delivered to Cin7", _when(notice.delivered_at), None))
    elif notice.status == "failed":
        events.append(("failed", None, notice.last_error or "no message from Cin7"))
    else:
        detail = f"last error: {notice.last_error}" if notice.last_error else None
        events.append((f"{notice.status}, next attempt", _when(notice.next_attempt_at), detail))
    return {"id": notice.id, "status": notice.status, "tracking": notice.tracking_number,
            "carrier": notice.carrier, "service": notice.service, "events": events,
            "failed": notice.status == "failed"}


@bp.post("/orders/<id:order_id>/notices/<id:notice_id>/retry")
def retry_notice(order_id: int, notice_id: int):
    services = shop()
    if services is None:
        return page("order.html", 404, order=None, query=str(order_id), error=_NO_SHOP)
    notice = services.store.get_notice(notice_id)
    if notice is None or order_id not in (notice.order_id, notice.resolved_order_id):
        return local_redirect(f"/ui/orders/{order_id}?done=unknown")
    if not services.store.retry(notice_id, services.clock()):
        return local_redirect(f"/ui/orders/{order_id}?done=not_failed")
    services.worker.nudge()
    return local_redirect(f"/ui/orders/{order_id}?done=retried")
