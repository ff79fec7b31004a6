"""Blueprint: ``POST /v1/rates`` and ``GET /v1/carriers``."""

from __future__ import annotations

from functools import lru_cache

from flask import Blueprint, current_app, jsonify
from marshmallow import ValidationError

from ratecalc import metrics
from ratecalc.auth import require_bearer
from ratecalc.errors import ApiError
from ratecalc.rating import schemas
from ratecalc.rating.markup import cents
from ratecalc.rating.service import InvalidQuote, Quote, QuoteFailed, RatingService
from ratecalc.requests_body import json_bytes, parse_json
from ratecalc.upstream.errors import UpstreamError

bp = Blueprint("rating", __name__)
MAX_BODY_BYTES = 64 * 1024
_request_schema = schemas.RatesRequestSchema()
_carriers_schema = schemas.CarriersResponseSchema()


def rating_service() -> RatingService:
    return current_app.extensions["ratecalc"].rating


def first_error(messages, prefix: str = "") -> tuple[str, str]:
    """The first (field path, message) of marshmallow's nested error dict."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            # marshmallow files whole-object errors ("Invalid input type.") under
            # "_schema": they belong to the object itself, not to a field of it.
            if key == "_schema":
                path = prefix
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            return first_error(value, path)
    if isinstance(messages, list) and messages:
        if isinstance(messages[0], str):
            return prefix, messages[0]
        return first_error(messages[0], prefix)
    return prefix, str(messages)


def validate_rate_request(data) -> dict:
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_request", "The body must be a JSON object.")
    try:
        return _request_schema.load(data)
    except ValidationError as exc:
        field, message = first_error(exc.messages)
        raise ApiError(400, "invalid_request", f"{field}: {message}",
                       details={"field": field, "errors": exc.messages}) from None


@lru_cache(maxsize=4096)
def validated_body(body: bytes) -> dict:
    """The validated request for these exact bytes (read-only: it is shared).

    Cin7's order screen asks the same questions again and again; a cache hit then
    skips JSON parsing and validation too. Invalid bodies raise and are not kept.
    """
    return validate_rate_request(parse_json(body))


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


def run_quote(payload: dict) -> Quote:
    """Quote a validated request, turning failures into API errors (shared with shop)."""
    try:
        return rating_service().quote(payload)
    except InvalidQuote as exc:
        raise ApiError(400, "invalid_request", exc.message,
                       details={"field": exc.field}) from None
    except QuoteFailed as exc:
        headers = {}
        if exc.code in ("rate_limited", "upstream_unavailable"):
            headers["Retry-After"] = str(int(exc.retry_after or 1))
        raise ApiError(exc.status, exc.code, exc.message, details={"errors": exc.errors},
                       headers=headers) from None


@bp.post("/v1/rates")
def post_rates():
    with metrics.quote_duration.time():
        try:
            payload = validated_body(json_bytes(MAX_BODY_BYTES))
            quote = run_quote(payload)
        except ApiError as exc:
            metrics.quote_requests.labels(
                "invalid" if exc.status in (400, 413, 415) else exc.code).inc()
            raise
        metrics.quote_requests.labels(
            "stale" if quote.stale else "cached" if quote.cached else "ok").inc()
    response = jsonify(quote_body(quote))
    response.headers["X-Cache"] = "STALE" if quote.stale else "HIT" if quote.cached else "MISS"
    return response


@bp.get("/v1/carriers")
def get_carriers():
    try:
        carriers = rating_service().carriers()
    except UpstreamError as exc:
        status = {"upstream_timeout": 504, "rate_limited": 503}.get(exc.code, 502)
        headers = {"Retry-After": str(int(exc.retry_after or 1))} if status == 503 else {}
        raise ApiError(status, exc.code, exc.message, headers=headers) from None
    return jsonify(_carriers_schema.dump({"carriers": [
        {"code": c.code, "name": c.name, "nickname": c.nickname} for c in carriers
    ]}))


@bp.before_request
def _require_token():
    require_bearer(current_app.extensions["ratecalc"].settings.api_tokens)
