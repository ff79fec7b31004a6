"""quote(): normalise -> per-carrier cache -> coalesced fan-out -> pricing -> select.

Rates are cached per carrier (the unit V1 rates in one call), so a quote for
``fedex,ups`` and a later one for ``fedex`` share the FedEx entry, and a carrier
that failed is fetched again next time while the others stay cached. The cache
holds ShipStation's own costs: the markup and the pricing rules (exclusions
included) are applied after it, at answer time, so a change of either takes
effect at once and an order value never splits a cache entry.

Before any call: V2 shipments get both ends' city and state (or a 400 naming the
field), and carriers that cannot offer the confirmation asked for are left out
(``unsupported_option``). After the cache: RATECALC_EXCLUDED_SERVICES (Media
Mail by default: it is for media only) and the pricing file's exclude_services
both drop services, unless the request's service_code names that service.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from cachetools import LRUCache

from ratecalc import metrics
from ratecalc.model import Carrier, CarrierRates, Shipment
from ratecalc.rating.bulkhead import RETRY_AFTER_SECONDS, Bulkhead, Busy
from ratecalc.rating.cache import QuoteCache, SingleFlight
from ratecalc.rating.keys import cache_key, normalise
from ratecalc.rating.options import (
    confirmation_supported,
    unsupported_error,
    with_places,
    without_ups_lacking_a_state_code,
)
from ratecalc.rating.pricing import NO_RULES, Pricing
from ratecalc.rating.quote import PricedRate, Quote, QuoteFailed
from ratecalc.rating.request import InvalidRequest, RateRequest
from ratecalc.upstream.errors import UpstreamError
from ratecalc.upstream.transport import Deadline

# When carriers fail in different ways, the answer names the most actionable.
ERROR_PRIORITY = ("rate_limited", "upstream_unavailable", "upstream_timeout", "upstream_auth",
                  "upstream_error", "no_rates", "unsupported_option")
# Failures for which the last good answer may stand in ("no service" is an answer).
STALE_ON = {"upstream_error", "upstream_auth", "upstream_timeout", "rate_limited",
            "upstream_unavailable"}


class RatesBackend(Protocol):
    api_version: str

    def account_carriers(self, deadline: Deadline) -> list[Carrier]: ...
    def carriers_cached(self) -> bool: ...
    def rate(self, shipment: Shipment, carrier_codes: list[str],
             deadline: Deadline) -> dict[str, CarrierRates | UpstreamError]: ...


ANSWERS_KEPT = 256  # whole-hit quotes kept with their entries (about 10 KB each, rendered)
HIT, MISS = metrics.cache_lookups.labels("hit"), metrics.cache_lookups.labels("miss")


@dataclass(eq=False)
class _Plan:
    """What a request always comes to before the cache is asked: its shipment, carriers
    and cache keys, and the last whole-hit quote it was given (``kept``).

    Kept per request object (the request cache hands out one object per body), so the
    order screen's repeated question costs one lookup here instead of one per step.
    ``static`` is false when the carriers are the account's, whose list can change:
    then the carriers are worked out again and the plan reused only if they match.
    """

    request: RateRequest
    shipment: Shipment
    codes: list[str]
    unsupported: list[dict]
    keys: list[str]
    static: bool
    kept: tuple | None = None  # (entries, Quote) of the last whole-hit answer


def _kept_for(plan: _Plan, entries) -> Quote | None:
    """The plan's kept quote, while the cache holds the very entries it came from."""
    kept = plan.kept
    if kept is None or len(kept[0]) != len(entries):
        return None
    return kept[1] if all(a is b for a, b in zip(kept[0], entries, strict=True)) else None


class RatingService:
    def __init__(self, *, backend: RatesBackend, cache: QuoteCache, flights: SingleFlight,
                 markup_percent: Decimal, currency: str, deadline_seconds: float,
                 configured_carriers: tuple[str, ...] = (), account: str = "",
                 default_from: dict | None = None, stale: QuoteCache | None = None,
                 bulkhead: Bulkhead | None = None, pricing: Pricing | None = None,
                 excluded_services: tuple[str, ...] = ()):
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
        self.bulkhead = bulkhead or Bulkhead(None)
        self.pricing = pricing or NO_RULES  # RATECALC_PRICING_FILE (none: the markup alone)
        # The order screen asks the same question again and again: a quote answered
        # wholly from the cache is kept with the entries it came from, and given again
        # while the cache holds those same entries (pricing them is then skipped).
        self._plans: LRUCache = LRUCache(maxsize=ANSWERS_KEPT)  # id(request) -> _Plan
        self._answers_lock = threading.Lock()
        self.excluded_services = frozenset(excluded_services)  # RATECALC_EXCLUDED_SERVICES

    # -- carriers --------------------------------------------------------------
    def account_carriers(self, deadline: Deadline | None = None) -> list[Carrier]:
        """The account's carriers, one per code (the client caches the list for an hour)."""
        carriers = self.backend.account_carriers(deadline or Deadline(self.deadline_seconds))
        return list({c.code: c for c in carriers}.values())

    def carriers(self, deadline: Deadline | None = None) -> list[Carrier]:
        """The carriers a quote rate-shops by default."""
        account = self.account_carriers(deadline)
        if not self.configured_carriers:
            return account
        known = {c.code: c for c in account}
        return [known.get(code, Carrier(code=code, name=code)) for code in
                self.configured_carriers]

    def _carrier_codes(self, requested: tuple[str, ...] | None,
                       deadline: Deadline) -> list[str]:
        if requested:
            return sorted({c.strip().lower() for c in requested})
        if self.configured_carriers:
            return sorted(set(self.configured_carriers))
        if self.backend.carriers_cached():
            return sorted({c.code for c in self.account_carriers(deadline)})
        with self.bulkhead.slot():  # listing them waits on ShipStation
            return sorted({c.code for c in self.account_carriers(deadline)})

    # -- quoting ---------------------------------------------------------------
    def quote(self, request: RateRequest) -> Quote:
        try:
            return self._quote(request)
        except Busy as exc:
            raise QuoteFailed("busy", f"ratecalc is busy: {exc}; retry shortly.", [],
                              retry_after=RETRY_AFTER_SECONDS) from None

    def _quote(self, request: RateRequest) -> Quote:
        deadline = Deadline(self.deadline_seconds)
        plan = self._plan(request, deadline)
        shipment, codes = plan.shipment, plan.codes
        unsupported = [dict(e) for e in plan.unsupported]  # its errors are popped below
        results, all_cached = self._rates_for(shipment, codes, plan.keys, deadline)
        entries = tuple(results[c] for c in codes)
        if all_cached:
            kept = _kept_for(plan, entries)
            if kept is not None:
                return kept
        stale = self._stand_in_stale(shipment, results)
        priced, errors = self._price(shipment, request, codes, results)
        errors = unsupported + errors
        retry_after = max((e.pop("_retry_after") or 0 for e in errors), default=0)
        if not priced:
            if not errors:
                raise QuoteFailed("no_rates", "Every service ShipStation offered for this "
                                  "shipment is excluded (RATECALC_EXCLUDED_SERVICES or the "
                                  "pricing rules' exclude_services).", [])
            raise self._failure(errors, retry_after)
        priced.sort(key=PricedRate.sort_key)
        quoted_at = min(outcome.quoted_at for outcome in results.values()
                        if isinstance(outcome, CarrierRates))
        currency = next((o.currency for o in results.values()
                         if isinstance(o, CarrierRates) and o.currency), self.currency)
        quote = Quote(shipment=shipment,
                      markup_percent=self.pricing.markup_percent(self.markup_percent),
                      currency=currency, quotes=priced, errors=errors,
                      cached=all_cached and not stale, quoted_at=quoted_at, carriers=codes,
                      stale=stale)
        if quote.cached and not unsupported:
            plan.kept = (entries, quote)
        return quote

    def kept_answer(self, request: RateRequest) -> Quote | None:
        """The quote this very request was last given whole from the cache, while the
        cache still holds the entries it came from; else None (``quote()`` answers).

        Never calls ShipStation and counts the lookups only when it answers, so the
        cached-quote door (``rating/hits.py``) can try it first and hand anything else on.
        """
        with self._answers_lock:
            plan = self._plans.get(id(request))
        if plan is None or plan.request is not request or not plan.static or plan.kept is None:
            return None
        quote = _kept_for(plan, self.cache.get_many(plan.keys))
        if quote is not None:
            HIT.inc(len(plan.keys))
        return quote

    def _plan(self, request: RateRequest, deadline: Deadline) -> _Plan:
        """The request as sent upstream, checked before any call, with its carriers and
        keys (kept per request: the same request always makes the same shipment)."""
        # Keyed by identity: the request cache gives the same object for the same bytes,
        # and an int hashes at once where a nested frozen dataclass hashes every field.
        with self._answers_lock:
            known = self._plans.get(id(request))
        if known is not None and known.request is request:
            if known.static:
                return known
            shipment = known.shipment
        else:
            known, shipment = None, self._new_shipment(request)
        codes, unsupported = self._codes_for(request, shipment, deadline)
        if known is not None and known.codes == codes:
            return known
        plan = _Plan(request, shipment, codes, unsupported,
                     [cache_key(shipment, code, self.account) for code in codes],
                     static=bool(request.carriers or self.configured_carriers))
        with self._answers_lock:
            self._plans[id(request)] = plan
        return plan

    def _new_shipment(self, request: RateRequest) -> Shipment:
        self._check_order_value(request)
        shipment = normalise(request, **self.default_from)
        if not shipment.from_postal_code:
            raise InvalidRequest("ship_from.postal_code",
                               "No origin postal code: send ship_from.postal_code or set "
                               "RATECALC_SHIP_FROM_POSTAL_CODE.")
        if getattr(self.backend, "api_version", "v1") == "v2":
            shipment = with_places(shipment)
        return shipment

    def _codes_for(self, request: RateRequest, shipment: Shipment,
                   deadline: Deadline) -> tuple[list[str], list[dict]]:
        """The carriers to rate, and an ``unsupported_option`` error for each left out."""
        try:
            codes = self._carrier_codes(request.carriers, deadline)
        except UpstreamError as exc:
            raise QuoteFailed(exc.code, f"Could not list the account's carriers: {exc.message}",
                              [], exc.retry_after) from None
        if not codes:
            raise QuoteFailed("no_rates", "The ShipStation account has no carriers.", [])
        if any(c.startswith("ups") for c in codes):
            if shipment.to_state is None:
                raise InvalidRequest("ship_to.state", "ship_to.state is required when rating "
                                                      "UPS (ShipStation's rule).")
        unsupported = [unsupported_error(c, shipment.confirmation) for c in codes
                       if not confirmation_supported(c, shipment.confirmation)]
        codes = [c for c in codes if confirmation_supported(c, shipment.confirmation)]
        if getattr(self.backend, "api_version", "v1") == "v1":
            codes, left_out = without_ups_lacking_a_state_code(codes, shipment)
            unsupported += left_out
        if not codes:
            raise QuoteFailed("unsupported_option", "No carrier of this quote offers "
                              f"confirmation {shipment.confirmation!r}.",
                              [{k: v for k, v in e.items() if k != "_retry_after"}
                               for e in unsupported])
        return codes, unsupported

    def _check_order_value(self, request: RateRequest) -> None:
        value = request.order_value
        if value is not None and value.currency.upper() != self.currency:
            raise InvalidRequest("order_value.currency",
                                 f"order_value.currency must be {self.currency}, the account's "
                                 f"currency (RATECALC_CURRENCY), not {value.currency.upper()}.")

    def _price(self, shipment: Shipment, request: RateRequest, codes: list[str],
               results: dict) -> tuple[list[PricedRate], list[dict]]:
        """Every rate with its fee (excluded services left out), and the carriers' errors."""
        order_value = request.order_value.amount if request.order_value else None
        pricing, markup = self.pricing, self.markup_percent
        priced, errors = [], []
        for code in codes:
            outcome = results[code]
            if isinstance(outcome, UpstreamError):
                errors.append({"carrier_code": code, "code": outcome.code,
                               "message": outcome.message, "_retry_after": outcome.retry_after})
                continue
            for rate in outcome.rates:
                if rate.service_code in self.excluded_services \
                        and rate.service_code != shipment.service_code:
                    continue  # restricted (Media Mail): only when the request names it
                line = pricing.price(rate.carrier_cost, carrier=rate.carrier_code or code,
                                     service=rate.service_code, country=shipment.to_country,
                                     order_value=order_value, base_markup=markup)
                if line is not None:
                    priced.append(PricedRate(rate, line.fee, line))
        return priced, errors

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

    def _rates_for(self, shipment: Shipment, codes: list[str], key_list: list[str],
                   deadline: Deadline):
        """Each carrier's rates: from the cache, from a flight in progress, or fetched."""
        results: dict[str, CarrierRates | UpstreamError] = {}
        misses = []
        found = self.cache.get_many(key_list)
        for code, hit in zip(codes, found, strict=True):
            if hit:
                results[code] = hit
            else:
                misses.append(code)
        if len(misses) < len(codes):
            HIT.inc(len(codes) - len(misses))
        if not misses:
            return results, True
        MISS.inc(len(misses))
        keys = dict(zip(codes, key_list, strict=True))
        with self.bulkhead.slot():
            self._rates_for_misses(shipment, misses, keys, deadline, results)
        return results, False

    def _rates_for_misses(self, shipment, misses, keys, deadline, results) -> None:
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

