"""Blueprints of shop mode.

* ``/shipstation/custom-store`` — what ShipStation calls (XML, Basic auth or
  ``SS-UserName``/``SS-Password``); plain-text errors, since ShipStation shows
  the body in its store log.
* ``/v1/orders/<id>/freight``, ``/v1/orders/<id>/eligibility``,
  ``/v1/shipnotify`` — JSON for merchants and scripts (bearer token).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from ratecalc import bounds, metrics
from ratecalc.rating.quote import QuoteFailed
from ratecalc.rating.render import invalid_request, quote_body, quote_failed
from ratecalc.rating.request import InvalidRequest
from ratecalc.shop.autofreight import audit
from ratecalc.shop.autofreight.audit import record_json
from ratecalc.shop.export.document import MAX_PAGES
from ratecalc.shop.export.service import ExportBudgetExhausted
from ratecalc.shop.export.window import WindowDateError, export_window
from ratecalc.shop.freight import FreightError, rate_request
from ratecalc.shop.freight_options import load_freight_options
from ratecalc.shop.notices.intake import MAX_NOTICE_BYTES
from ratecalc.shop.notices.parse import ShipNoticeError
from ratecalc.shop.store.records import FREIGHT_ACTIONS, NOTICE_STATUSES, StoreError
from ratecalc.upstream.errors import UpstreamError, http_status, retry_after_headers
from ratecalc.web.auth import basic_credentials, credentials_match, require_bearer
from ratecalc.web.bodies import json_body, raw_body
from ratecalc.web.errors import ApiError

store_bp = Blueprint("custom_store", __name__)
api_bp = Blueprint("shop_api", __name__)
XML = "text/xml; charset=utf-8"


def shop():
    return current_app.extensions["ratecalc"].extras["shop"]


def plain(status: int, message: str, headers: dict | None = None) -> Response:
    return Response(message + "\n", status=status, content_type="text/plain; charset=utf-8",
                    headers=headers)


# -- the Custom Store endpoint ---------------------------------------------------------
def _store_credentials() -> tuple[str | None, str | None]:
    basic = basic_credentials()
    if basic:
        return basic
    for source in (request.args, request.headers):
        if source.get("SS-UserName") is not None:
            return source.get("SS-UserName"), source.get("SS-Password")
    return None, None


@store_bp.route("/shipstation/custom-store", methods=["GET", "POST"])
def custom_store():
    settings = current_app.extensions["ratecalc"].settings
    if not settings.shop_enabled:
        return plain(404, "Custom Store is not enabled on this server.")
    username, password = _store_credentials()
    if not credentials_match(username, password, settings.store_username,
                             settings.store_password):
        metrics.export_requests.labels("unauthorized").inc() if request.method == "GET" \
            else metrics.shipnotify.labels("unauthorized").inc()
        return plain(401, "Invalid store username or password.",
                     {"WWW-Authenticate": 'Basic realm="ratecalc"'})
    action = (request.args.get("action") or "").strip().lower()
    if action == "export":
        if request.method != "GET":
            return plain(405, "action=export takes GET.", {"Allow": "GET"})
        return _export()
    if action == "shipnotify":
        if request.method != "POST":
            return plain(405, "action=shipnotify takes POST.", {"Allow": "POST"})
        return _shipnotify()
    return plain(400, "Missing or unknown action: use action=export or action=shipnotify.")


def _export() -> Response:
    try:
        start, end = export_window(request.args.get("start_date"), request.args.get("end_date"))
        page = bounds.integer(request.args.get("page") or "1", "page", minimum=1,
                              maximum=MAX_PAGES)
    except WindowDateError as exc:
        metrics.export_requests.labels("bad_request").inc()
        return plain(400, str(exc))
    except bounds.OutOfBounds:
        metrics.export_requests.labels("bad_request").inc()
        return plain(400, "page must be a whole number >= 1.")
    try:
        document = shop().export.page(start, end, page)
    except ExportBudgetExhausted as exc:
        metrics.export_requests.labels("budget_exhausted").inc()
        return plain(503, f"Export paused: {exc}.",
                     retry_after_headers("rate_limited", exc.retry_after))
    except UpstreamError as exc:
        metrics.export_requests.labels("upstream_error").inc()
        status = 503 if exc.code == "rate_limited" else 502
        return plain(status, f"Could not read orders from Cin7: {exc.message}",
                     retry_after_headers(exc.code, exc.retry_after) if status == 503 else None)
    except StoreError as exc:
        metrics.export_requests.labels("store_error").inc()
        return plain(503, f"Database unavailable: {exc}")
    metrics.export_requests.labels("ok").inc()
    return Response(document, status=200, content_type=XML)


def _shipnotify() -> Response:
    try:
        body = raw_body(MAX_NOTICE_BYTES)
    except ApiError as exc:
        metrics.shipnotify.labels("rejected").inc()
        return plain(exc.status, exc.message)
    try:
        row, created = shop().intake.receive(body, request.args.to_dict())
    except ShipNoticeError as exc:
        return plain(400, f"Invalid ShipNotice: {exc}")
    except StoreError as exc:
        # Not stored: a non-2xx makes ShipStation send it again later.
        metrics.shipnotify.labels("store_error").inc()
        return plain(503, f"Could not store the notification: {exc}")
    return plain(200, f"OK notice {row.id} {'stored' if created else 'already received'}")


# -- JSON API for merchants and scripts --------------------------------------------------
@api_bp.before_request
def _require_token():
    require_bearer(current_app.extensions["ratecalc"].settings.api_tokens)


def _upstream_error(exc: UpstreamError) -> ApiError:
    return ApiError(http_status(exc.code), exc.code, f"Cin7: {exc.message}",
                    headers=retry_after_headers(exc.code, exc.retry_after))


@api_bp.get("/v1/orders/<id:order_id>/eligibility")
def eligibility(order_id: int):
    try:
        return jsonify(shop().why(order_id))
    except FreightError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    except UpstreamError as exc:
        raise _upstream_error(exc) from None


@api_bp.post("/v1/orders/<id:order_id>/freight")
def freight(order_id: int):
    # Every option is optional: no body (or an empty one) means a real write with defaults.
    has_body = request.content_length or request.headers.get("Transfer-Encoding")
    body = json_body(64 * 1024, allow_empty=True) if has_body else {}
    try:
        options = load_freight_options(body)
    except InvalidRequest as exc:
        raise invalid_request(exc) from None
    dry_run = options.dry_run
    service = shop().freight
    try:
        order, products = service.load(order_id)
        rate = rate_request(order, products, service.weight_units, options)
        quote = current_app.extensions["ratecalc"].rating.quote(rate)
        written = None
        if not dry_run:
            written = _manual_write(service, order, quote)
    except InvalidRequest as exc:
        raise invalid_request(exc) from None
    except QuoteFailed as exc:
        raise quote_failed(exc) from None
    except FreightError as exc:
        raise ApiError(exc.status, exc.code, exc.message, details=exc.details) from None
    except UpstreamError as exc:
        raise _upstream_error(exc) from None
    return jsonify({"order_id": order.id, "reference": order.reference,
                    "dry_run": dry_run, "quote": quote_body(quote), "written": written})


def _manual_write(service, order, quote) -> dict:
    """Write the fee, and record it in the freight audit like auto-freight's writes."""
    services = shop()
    return audit.write_by_hand(service, services.store, services.clock, order, quote.selected)


def _limit(default: int = 100) -> int:
    try:
        return min(500, max(1, int(request.args.get("limit", default))))
    except ValueError:
        raise ApiError(400, "invalid_request", "limit: Not a valid integer.",
                       details={"field": "limit"}) from None


@api_bp.get("/v1/orders/<id:order_id>/freight/history")
def freight_history(order_id: int):
    records = shop().store.freight_history(order_id, limit=_limit())
    return jsonify({"order_id": order_id, "history": [record_json(r) for r in records]})


@api_bp.get("/v1/freight/runs")
def freight_runs():
    status = request.args.get("status")
    if status is not None and status not in FREIGHT_ACTIONS:
        raise ApiError(400, "invalid_request", "status: must be failed, skipped or written.",
                       details={"field": "status"})
    shop_services = shop()
    records = shop_services.store.freight_records(action=status, limit=_limit())
    state = shop_services.store.freight_state()
    settings = current_app.extensions["ratecalc"].settings

    def iso(moment):
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None

    return jsonify({
        "auto_freight": settings.auto_freight,
        "cursor": iso(state.cursor_at), "last_run_at": iso(state.last_run_at),
        "last_run_status": state.last_run_status,
        "cin7_calls_today": state.cin7_calls
        if state.cin7_calls_day == shop_services.clock().strftime("%Y-%m-%d") else 0,
        "runs": [record_json(r) for r in records],
    })


@api_bp.get("/v1/shipnotify")
def list_notifications():
    status = request.args.get("status")
    if status is not None and status not in NOTICE_STATUSES:
        raise ApiError(400, "invalid_request",
                       f"status: must be {', '.join(NOTICE_STATUSES[:-1])} "
                       f"or {NOTICE_STATUSES[-1]}.",
                       details={"field": "status"})
    notices = shop().store.list_notices(status=status, limit=_limit())
    return jsonify({"notifications": [notice_json(n) for n in notices]})


@api_bp.post("/v1/shipnotify/<id:notice_id>/retry")
def retry_notification(notice_id: int):
    shop_services = shop()
    notice = shop_services.store.get_notice(notice_id)
    if notice is None:
        raise ApiError(404, "not_found", f"No ship notification {notice_id}.")
    if not shop_services.store.retry(notice_id, shop_services.clock()):
        raise ApiError(409, "not_failed",
                       f"Ship notification {notice_id} is {notice.status}, not failed.")
    shop_services.worker.nudge()
    return jsonify(notice_json(shop_services.store.get_notice(notice_id)))


def notice_json(notice) -> dict:
    def iso(moment):
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None

    return {
        "id": notice.id, "status": notice.status, "order_id": notice.order_id,
        "order_number": notice.order_number, "carrier": notice.carrier,
        "service": notice.service, "tracking_number": notice.tracking_number,
        "attempts": notice.attempts, "last_error": notice.last_error,
        "created_at": iso(notice.created_at), "delivered_at": iso(notice.delivered_at),
        "next_attempt_at": iso(notice.next_attempt_at),
    }
