"""Blueprint: ``POST /v1/rates``, ``GET /v1/carriers`` and ``GET /v1/pricing``."""

from __future__ import annotations

import hashlib
import json
import threading

from cachetools import LRUCache
from flask import Blueprint, current_app, jsonify

from ratecalc import metrics
from ratecalc.rating import schemas
from ratecalc.rating.quote import Quote, QuoteFailed
from ratecalc.rating.render import invalid_request, pricing_body, quote_body, quote_failed
from ratecalc.rating.request import InvalidRequest, RateRequest
from ratecalc.rating.service import RatingService
from ratecalc.upstream.errors import UpstreamError, http_status, retry_after_headers
from ratecalc.web.auth import require_bearer
from ratecalc.web.bodies import json_bytes, parse_json
from ratecalc.web.errors import ApiError
from ratecalc.web.hooks import API_HEADERS

bp = Blueprint("rating", __name__)
MAX_BODY_BYTES = 64 * 1024
_carriers_schema = schemas.CarriersResponseSchema()
# Bound once: labels() looks its child up under a lock on every call.
_OK, _CACHED, _STALE = (metrics.quote_requests.labels(outcome)
                        for outcome in ("ok", "cached", "stale"))


def rating_service() -> RatingService:
    return current_app.extensions["ratecalc"].rating


# Validated requests keyed by their exact bytes, bounded by the bytes they hold: a
# caller padding bodies with white space cannot grow it past REQUEST_CACHE_BYTES.
REQUEST_CACHE_BYTES = 8 * 1024 * 1024
ENTRY_OVERHEAD_BYTES = 1024  # the RateRequest and the cache's own bookkeeping
_requests: LRUCache = LRUCache(maxsize=REQUEST_CACHE_BYTES,
                               getsizeof=lambda entry: entry[0] + ENTRY_OVERHEAD_BYTES)
_requests_lock = threading.Lock()


class _Doorkeeper:
    """Which bodies were seen before, approximately, in a fixed 128 KiB bit filter.

    A body is kept in the request cache on its second sighting, not its first:
    Cin7 asks the same questions again and again, and those are worth keeping,
    while a body seen once (every distinct quote) would only push them out and
    cost a kilobyte each. A false "seen" caches a body one sighting early, which
    is harmless; the filter is cleared when it fills up, so it never grows.
    """

    BITS = 1 << 20

    def __init__(self):
        self._bits = bytearray(self.BITS // 8)
        self._added = 0

    def seen_before(self, body: bytes) -> bool:
        """True when ``body`` was (probably) seen before; remembers it either way."""
        digest = hashlib.blake2b(body, digest_size=8).digest()
        spots = (int.from_bytes(digest[:4], "little") % self.BITS,
                 int.from_bytes(digest[4:], "little") % self.BITS)
        seen = all(self._bits[n >> 3] & (1 << (n & 7)) for n in spots)
        for n in spots:
            self._bits[n >> 3] |= 1 << (n & 7)
        self._added += 1
        if self._added > self.BITS // 16:  # about 12% full: clear before false hits grow
            self._bits = bytearray(self.BITS // 8)
            self._added = 0
        return seen


_doorkeeper = _Doorkeeper()


def known_request(body: bytes) -> RateRequest | None:
    """The request validated before for these exact bytes, if the cache still holds it."""
    with _requests_lock:
        entry = _requests.get(body)
    return None if entry is None else entry[1]


def validated_body(body: bytes) -> RateRequest:
    """The request for these exact bytes (a frozen value, so it can be shared).

    Cin7's order screen asks the same questions again and again; a cache hit then
    skips JSON parsing and validation too. A body is kept from its second sighting
    (:class:`_Doorkeeper`). Invalid bodies raise and are not kept.
    """
    known = known_request(body)
    if known is not None:
        return known
    try:
        request = schemas.load_rate_request(parse_json(body))
    except InvalidRequest as exc:
        raise invalid_request(exc) from None
    with _requests_lock:
        if _doorkeeper.seen_before(body):
            _requests[body] = (len(body), request)
    return request


def run_quote(request: RateRequest) -> Quote:
    try:
        return rating_service().quote(request)
    except InvalidRequest as exc:
        raise invalid_request(exc) from None
    except QuoteFailed as exc:
        raise quote_failed(exc) from None


@bp.post("/v1/rates")
def post_rates():
    with metrics.quote_duration.time():
        try:
            quote = run_quote(validated_body(json_bytes(MAX_BODY_BYTES)))
        except ApiError as exc:
            metrics.quote_requests.labels(
                "invalid" if exc.status in (400, 413, 415) else exc.code).inc()
            raise
        (_STALE if quote.stale else _CACHED if quote.cached else _OK).inc()
    if quote.rendered is None:
        quote.rendered = json.dumps(quote_body(quote), separators=(",", ":")).encode() + b"\n"
    response = current_app.response_class(
        quote.rendered, content_type="application/json",
        headers=STALE_HEADERS if quote.stale else HIT_HEADERS if quote.cached else MISS_HEADERS)
    response.ratecalc_headers_set = True  # the app's after_request need not add them
    return response


# Built once: every quote answer carries these (the app adds API_HEADERS to other answers).
HIT_HEADERS = [("X-Cache", "HIT"), *API_HEADERS]
MISS_HEADERS = [("X-Cache", "MISS"), *API_HEADERS]
STALE_HEADERS = [("X-Cache", "STALE"), *API_HEADERS]


@bp.get("/v1/carriers")
def get_carriers():
    try:
        carriers = rating_service().carriers()
    except UpstreamError as exc:
        raise ApiError(http_status(exc.code), exc.code, exc.message,
                       headers=retry_after_headers(exc.code, exc.retry_after)) from None
    return jsonify(_carriers_schema.dump({"carriers": [
        {"code": c.code, "name": c.name, "nickname": c.nickname} for c in carriers
    ]}))


@bp.get("/v1/pricing")
def get_pricing():
    """The pricing rules in force (RATECALC_PRICING_FILE, else RATECALC_MARKUP_PERCENT)."""
    service = rating_service()
    return jsonify(pricing_body(service.pricing, service.markup_percent))


@bp.before_request
def _require_token():
    require_bearer(current_app.extensions["ratecalc"].settings.api_tokens)
