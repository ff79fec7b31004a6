"""What the quote page does: quote a form, and preview / write freight on a Cin7 order.

Quotes go through the rating service exactly as ``POST /v1/rates`` does (same
schema, cache, pricing rules, selection); freight goes through the shop's
:class:`~ratecalc.shop.freight.FreightService` as ``POST /v1/orders/<id>/freight``
does. The write step quotes again (normally a cache hit) and writes only when the
fee is still the one the person saw in the preview.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from flask import current_app

from ratecalc import bounds
from ratecalc.rating import schemas
from ratecalc.rating.markup import cents
from ratecalc.rating.quote import Quote, QuoteFailed
from ratecalc.rating.render import pricing_line
from ratecalc.rating.request import InvalidRequest
from ratecalc.shop.autofreight.audit import write_by_hand
from ratecalc.shop.freight import FreightError, rate_request
from ratecalc.ui import words
from ratecalc.ui.quoteform import QuoteForm, input_for
from ratecalc.upstream.errors import UpstreamError

log = logging.getLogger(__name__)


def _services():
    return current_app.extensions["ratecalc"]


def money(amount) -> str:
    return format(cents(Decimal(str(amount))), "f")


def pricing_words(pricing: dict) -> str:
    """``rule ups-canada: +20% and 5.00 handling, rounded up, minimum fee``."""
    parts = [f"+{pricing['markup_percent']}%"]
    if Decimal(pricing["handling_fee"]):
        parts.append(f"{pricing['handling_fee']} handling")
    if pricing["rounded_up"]:
        parts.append("rounded up")
    if pricing["clamped"]:
        parts.append(f"{pricing['clamped']} fee")
    if pricing["free"]:
        parts.append("free over the order value")
    head = f"rule {pricing['rule']}" if pricing["rule"] else "default markup"
    return f"{head}: {', '.join(parts)}"


def quote_rows(quote: Quote) -> list[dict]:
    rows = []
    for index, priced in enumerate(quote.quotes):  # already sorted by fee, cheapest first
        rate = priced.rate
        pricing = pricing_line(priced.pricing, quote.markup_percent)
        rows.append({
            "cheapest": index == 0, "carrier": rate.carrier_code,
            "service": rate.service_name or rate.service_code, "service_code": rate.service_code,
            "fee": money(priced.freight_fee), "carrier_cost": money(rate.carrier_cost),
            "delivery_days": rate.delivery_days, "pricing": pricing_words(pricing),
        })
    return rows


def carrier_errors(errors: list[dict]) -> list[dict]:
    return [{"carrier": e.get("carrier_code") or "ShipStation",
             "plain": words.carrier_error(e.get("code", "")),
             "detail": str(e.get("message") or "")[:300]} for e in errors]


def run_form_quote(form_data) -> tuple[QuoteForm, dict]:
    form = QuoteForm.from_request(form_data)
    services = _services()
    try:
        request = schemas.load_rate_request(form.body(services.settings.currency))
        quote = services.rating.quote(request)
    except InvalidRequest as exc:
        return form, {"field_error": {"input": input_for(exc.field or ""),
                                      "message": f"{exc.field}: {exc.message}"
                                      if exc.field else exc.message}}
    except QuoteFailed as exc:
        return form, {"failed": words.carrier_error(exc.code), "detail": exc.message,
                      "errors": carrier_errors(exc.errors)}
    return form, {"rows": quote_rows(quote), "errors": carrier_errors(quote.errors),
                  "cached": quote.cached, "stale": quote.stale,
                  "quoted_at": quote.quoted_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
                  "currency": quote.currency}


def apply_freight(order_text: str | None, step: str | None, expected: str | None) -> dict:
    """``step`` preview: old and new freight. ``step`` write: write it if the fee held."""
    shop = _services().extras.get("shop")
    if shop is None:
        return {"error": "Shop mode is not enabled, so there are no Cin7 orders to apply to."}
    try:
        order_id = bounds.record_id(order_text or "", "Cin7 order #")
    except bounds.OutOfBounds as exc:
        return {"error": f"{exc.field} {exc.message}.", "order_text": (order_text or "")[:20]}
    try:
        outcome = _preview(shop, order_id)
        if step == "write":
            outcome = _write(shop, outcome, expected)
    except FreightError as exc:
        return {"error": words.freight_error(exc.code, exc.message), "order_id": order_id}
    except InvalidRequest as exc:
        return {"error": f"The order cannot be quoted: {exc}", "order_id": order_id}
    except QuoteFailed as exc:
        return {"error": words.carrier_error(exc.code), "order_id": order_id,
                "errors": carrier_errors(exc.errors)}
    except UpstreamError as exc:
        return {"error": f"Cin7 did not answer as expected: {exc.message}",
                "order_id": order_id}
    return outcome


def _preview(shop, order_id: int) -> dict:
    service = shop.freight
    order, products = service.load(order_id)
    quote = _services().rating.quote(rate_request(order, products, service.weight_units))
    selected = quote.selected
    old_fee = order.freight_total
    return {
        "order_id": order.id, "reference": order.reference, "dry_run": True,
        "old_fee": money(old_fee) if old_fee not in (None, "") else None,
        "old_description": order.freight_description or "",
        "new_fee": money(selected.freight_fee),
        "new_description": selected.rate.service_name or selected.rate.service_code,
        "carrier": selected.rate.carrier_code, "_order": order, "_selected": selected,
    }


def _write(shop, preview: dict, expected: str | None) -> dict:
    if expected != preview["new_fee"]:
        preview["changed_from"] = (expected or "")[:20]
        return preview  # shown again as a preview: the person confirms the new fee
    selected = preview.pop("_selected")
    written = write_by_hand(shop.freight, shop.store, shop.clock, preview.pop("_order"),
                            selected)  # recorded in the freight audit as a manual write
    log.info("ui: freight %s written on Cin7 order %s", preview["new_fee"], preview["order_id"])
    preview.update(dry_run=False, written=True,
                   new_description=written.get("freightDescription", ""))
    return preview
