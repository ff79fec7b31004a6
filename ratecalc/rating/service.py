"""quote(): normalise -> per-carrier cache -> coalesced fan-out -> markup -> select.

Rates are cached per carrier (the unit V1 rates in one call), so a quote for
``fedex,ups`` and a later one for ``fedex`` share the FedEx entry, and a carrier
that failed is fetched again next time while the others stay cached. The
markup is applied after the cache, so a markup change takes effect at once.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from ratecalc import metrics
from ratecalc.model import Carrier, CarrierRates, Rate, Shipment
from ratecalc.rating.cache import QuoteCache, SingleFlight
from ratecalc.rating.keys import cache_key, normalise
from ratecalc.rating.markup import freight_fee
from ratecalc.upstream.errors import UpstreamError
from ratecalc.upstream.http import Deadline

CARRIER_LIST_TTL_SECONDS = 3600.0
# When carriers fail in different ways, the answer names the most actionable.
ERROR_PRIORITY = ("rate_limited", "upstream_unavailable", "upstream_timeout", "upstream_auth",
                  "upstream_error", "no_rates")
ERROR_STATUS = {"no_rates": 422, "upstream_error": 502, "upstream_auth": 502,
                "upstream_timeout": 504, "rate_limited": 503, "upstream_unavailable": 503}
# Failures for which the last good answer may stand in ("no service" is an answer).
STALE_ON = {"upstream_error", "upstream_auth", "upstream_timeout", "rate_limited",
            "upstream_unavailable"}


class RatesBackend(Protocol):
    api_version: str

    def list_carriers(self, deadline: Deadline) -> list[Carrier]: ...
    def rate(self, shipment: Shipment, carrier_codes: list[str],
             deadline: Deadline) -> dict[str, CarrierRates | UpstreamError]: ...


class InvalidQuote(Exception):
    """The request is valid JSON but cannot be rated (e.g. UPS without a state)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class QuoteFailed(Exception):
    """No carrier produced a quote; ``code`` picks the HTTP answer."""

    def __init__(self, code: str, message: str, errors: list[dict],
                 retry_after: float | None = None):
        super().__init__(message)
        self.code = code
        self.status = ERROR_STATUS[code]
        self.message = message
        self.errors = errors
        self.retry_after = retry_after


@dataclass(frozen=True)
class PricedRate:
    rate: Rate
    freight_fee: Decimal

    def sort_key(self):
        return (self.freight_fee, self.rate.carrier_cost, self.rate.service_code)


@dataclass
class Quote:
    shipment: Shipment
    markup_percent: Decimal
    currency: str
    quotes: list[PricedRate]
    errors: list[dict]
    cached: bool
    quoted_at: datetime
    carriers: list[str] = field(default_factory=list)
    stale: bool = False

    @property
    def selected(self) -> PricedRate:
        return self.quotes[0]


class RatingService:
    def __init__(self, *, backend: RatesBackend, cache: QuoteCache, flights: SingleFlight,
                 markup_percent: Decimal, currency: str, deadline_seconds: float,
                 configured_carriers: tuple[str, ...] = (), account: str = "",
                 default_from: dict | None = None, stale: QuoteCache | None = None):
        self.backend = backend
        self.cache = cache
        self.flights = flights
        self.markup_percent = markup_percent
        self.currency = currency
        self.deadline_seconds = deadline_seconds
        self.configured_carriers = configured_carriers
        self.account = account
        self.default_from = default_from or {}
        self.stale = stale  # last good answers, kept longer, for stale-if-error
        self._carriers: tuple[float, list[Carrier]] | None = None
        self._carriers_lock = threading.Lock()

    # -- carriers --------------------------------------------------------------
    def account_carriers(self, deadline: Deadline | None = None) -> list[Carrier]:
        """The account's carriers from ShipStation, refreshed hourly."""
        with self._carriers_lock:
            cached = self._carriers
            if cached and time.monotonic() - cached[0] < CARRIER_LIST_TTL_SECONDS:
                return cached[1]
            carriers = self.backend.list_carriers(deadline or Deadline(self.deadline_seconds))
            unique = list({c.code: c for c in carriers}.values())
            self._carriers = (time.monotonic(), unique)
            return unique

    def carriers(self, deadline: Deadline | None = None) -> list[Carrier]:
        """The carriers a quote rate-shops by default."""
        account = self.account_carriers(deadline)
        if not self.configured_carriers:
            return account
        known = {c.code: c for c in account}
        return [known.get(code, Carrier(code=code, name=code)) for code in
                self.configured_carriers]

    def _carrier_codes(self, requested: list[str] | None, deadline: Deadline) -> list[str]:
        if requested:
            return sorted({c.strip().lower() for c in requested})
        if self.configured_carriers:
            return sorted(set(self.configured_carriers))
        return sorted({c.code for c in self.account_carriers(deadline)})

    # -- quoting ---------------------------------------------------------------
    def quote(self, request: dict) -> Quote:
        deadline = Deadline(self.deadline_seconds)
        shipment = normalise(request, **self.default_from)
        if not shipment.from_postal_code:
            raise InvalidQuote("ship_from.postal_code",
                               "No origin postal code: send ship_from.postal_code or set "
                               "RATECALC_SHIP_FROM_POSTAL_CODE.")
        try:
            codes = self._carrier_codes(request.get("carriers"), deadline)
        except UpstreamError as exc:
            raise QuoteFailed(exc.code, f"Could not list the account's carriers: {exc.message}",
                              [], exc.retry_after) from None
        if not codes:
            raise QuoteFailed("no_rates", "The ShipStation account has no carriers.", [])
        if shipment.to_state is None and any(c.startswith("ups") for c in codes):
            raise InvalidQuote("ship_to.state",
                               "ship_to.state is required when rating UPS (ShipStation's rule).")

        results, all_cached = self._rates_for(shipment, codes, deadline)
        stale = self._stand_in_stale(shipment, results)
        priced, errors = [], []
        for code in codes:
            outcome = results[code]
            if isinstance(outcome, UpstreamError):
                errors.append({"carrier_code": code, "code": outcome.code,
                               "message": outcome.message, "_retry_after": outcome.retry_after})
                continue
            for rate in outcome.rates:
                priced.append(PricedRate(rate, freight_fee(rate.carrier_cost,
                                                           self.markup_percent)))
        retry_after = max((e.pop("_retry_after") or 0 for e in errors), default=0)
        if not priced:
            raise self._failure(errors, retry_after)
        priced.sort(key=PricedRate.sort_key)
        quoted_at = min(outcome.quoted_at for outcome in results.values()
                        if isinstance(outcome, CarrierRates))
        currency = next((o.currency for o in results.values()
                         if isinstance(o, CarrierRates) and o.currency), self.currency)
        return Quote(shipment=shipment, markup_percent=self.markup_percent,
                     currency=currency, quotes=priced, errors=errors,
                     cached=all_cached and not stale, quoted_at=quoted_at, carriers=codes,
                     stale=stale)

    def _stand_in_stale(self, shipment: Shipment, results: dict) -> bool:
        """Replace failed carriers by their last good answer, if young enough."""
        if self.stale is None:
            return False
        used = False
        for code, outcome in results.items():
            if isinstance(outcome, UpstreamError) and outcome.code in STALE_ON:
                last_good = self.stale.get(cache_key(shipment, code, self.account))
                if last_good is not None:
                    results[code] = last_good
                    used = True
        if used:
            metrics.stale_answers.inc()
        return used

    def _rates_for(self, shipment: Shipment, codes: list[str], deadline: Deadline):
        """Each carrier's rates: from the cache, from a flight in progress, or fetched."""
        results: dict[str, CarrierRates | UpstreamError] = {}
        keys = {code: cache_key(shipment, code, self.account) for code in codes}
        misses = []
        for code in codes:
            hit = self.cache.get(keys[code])
            metrics.cache_lookups.labels("hit" if hit else "miss").inc()
            if hit:
                results[code] = hit
            else:
                misses.append(code)
        if not misses:
            return results, True

        leading, following = {}, {}
        for code in misses:
            flight, leader = self.flights.claim(keys[code])
            (leading if leader else following)[code] = flight
        if leading:
            self._fetch(shipment, leading, keys, deadline, results)
        for code, flight in following.items():
            outcome = flight.wait(deadline.remaining())
            results[code] = outcome if outcome is not None else UpstreamError(
                "upstream_timeout", "ShipStation did not answer within the quote deadline")
        return results, False

    def _fetch(self, shipment, leading, keys, deadline, results) -> None:
        outcomes: dict[str, CarrierRates | UpstreamError] = {}
        try:
            # Another leader may have filled the cache between our miss and our claim.
            to_fetch = []
            for code in leading:
                hit = self.cache.get(keys[code])
                if hit:
                    outcomes[code] = hit
                else:
                    to_fetch.append(code)
            if to_fetch:
                outcomes.update(self.backend.rate(shipment, to_fetch, deadline))
            for code, outcome in outcomes.items():
                if isinstance(outcome, CarrierRates):
                    self.cache.set(keys[code], outcome)
                    if self.stale is not None:
                        self.stale.set(keys[code], outcome)
        except Exception as exc:  # never leave followers waiting on a crashed leader
            failure = UpstreamError("upstream_error", f"rating failed: {type(exc).__name__}")
            for code in leading:
                outcomes.setdefault(code, failure)
            raise
        finally:
            for code, flight in leading.items():
                outcome = outcomes.get(code) or UpstreamError(
                    "upstream_error", "no answer for this carrier")
                results[code] = outcome
                self.flights.land(keys[code], flight, outcome)

    @staticmethod
    def _failure(errors: list[dict], retry_after: float) -> QuoteFailed:
        codes = {e["code"] for e in errors}
        code = next(c for c in ERROR_PRIORITY if c in codes)
        messages = {
            "no_rates": "ShipStation has no service for this shipment.",
            "upstream_error": "ShipStation failed to rate this shipment.",
            "upstream_auth": "ShipStation refused the stored API credentials.",
            "upstream_timeout": "ShipStation did not answer in time.",
            "rate_limited": "The ShipStation call budget is exhausted; retry later.",
            "upstream_unavailable": "ShipStation is failing; ratecalc is not calling it "
                                    "for a while (circuit open).",
        }
        return QuoteFailed(code, messages[code], errors,
                           retry_after=max(1, math.ceil(retry_after)) if retry_after else None)

