"""The rating service's answers as the API shows them: response bodies and error replies.

The one place a :class:`Quote` becomes JSON, shared by ``POST /v1/rates``, shop
freight and ``ratecalc quote --json``.
"""

from __future__ import annotations

from decimal import Decimal

from ratecalc.rating.markup import cents
from ratecalc.rating.pricing import Priced, Pricing, terms_text
from ratecalc.rating.quote import Quote, QuoteFailed
from ratecalc.rating.request import InvalidRequest
from ratecalc.upstream.errors import retry_after_headers
from ratecalc.web.errors import ApiError


def quote_body(quote: Quote) -> dict:
    """The response body. Built directly (it is on every request's path); its shape is
    RatesResponseSchema's, which the OpenAPI document and schemathesis hold it to."""
    def money(amount) -> float:
        # Rounded to cents in Decimal first; float's shortest repr then prints it exactly.
        return float(cents(amount))

    def line(priced):
        rate = priced.rate
        return {
            "carrier_code": rate.carrier_code, "service_code": rate.service_code,
            "service_name": rate.service_name, "shipment_cost": money(rate.shipment_cost),
            "other_cost": money(rate.other_cost), "carrier_cost": money(rate.carrier_cost),
            "freight_fee": money(priced.freight_fee), "delivery_days": rate.delivery_days,
            "estimated_delivery_date": rate.estimated_delivery_date,
            "pricing": pricing_line(priced.pricing, quote.markup_percent),
        }

    quotes = [line(p) for p in quote.quotes]
    return {
        "currency": quote.currency,
        "markup_percent": float(quote.markup_percent),
        "freight_fee": quotes[0]["freight_fee"],
        "selected": quotes[0],
        "quotes": quotes,
        "errors": quote.errors,
        "cached": quote.cached,
        "stale": quote.stale,
        "quoted_at": quote.quoted_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def pricing_line(priced: Priced | None, markup_percent: Decimal) -> dict:
    """A quote line's ``pricing``: the rule, its markup and handling fee, what moved the fee."""
    if priced is None:  # a line priced by the markup alone
        return {"rule": None, "markup_percent": format(markup_percent, "f"),
                "handling_fee": "0.00", "rounded_up": False, "clamped": None, "free": False}
    return {"rule": priced.rule, "markup_percent": format(priced.markup_percent, "f"),
            "handling_fee": format(priced.handling_fee, "f"), "rounded_up": priced.rounded_up,
            "clamped": priced.clamped, "free": priced.free}


def pricing_body(pricing: Pricing, markup_percent: Decimal) -> dict:
    """``GET /v1/pricing``: the active rules; [defaults]' markup falls back to the setting."""
    defaults = terms_text(pricing.defaults)
    defaults["markup_percent"] = format(pricing.markup_percent(markup_percent), "f")
    rules = []
    for rule in pricing.rules:
        terms = terms_text(rule.terms)
        if rule.terms.markup_percent is None:
            terms["markup_percent"] = format(markup_percent, "f")
        rules.append({"name": rule.name, "carrier": rule.carrier, "service": rule.service,
                      "country": list(rule.country) if rule.country is not None else None,
                      "overrides": terms_text(rule.terms, only=rule.overrides),
                      "terms": terms})
    return {"file": pricing.source, "defaults": defaults, "rules": rules}


def invalid_request(exc: InvalidRequest) -> ApiError:
    details = {"field": exc.field} if exc.field else {}
    if exc.errors:
        details["errors"] = exc.errors
    message = f"{exc.field}: {exc.message}" if exc.field else exc.message
    return ApiError(400, "invalid_request", message, details=details)


def quote_failed(exc: QuoteFailed) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message, details={"errors": exc.errors},
                    headers=retry_after_headers(exc.code, exc.retry_after))
