"""Builds the long-lived objects a process needs from its settings.

One :class:`Services` per app: the rating service with its cache, single-flight
and ShipStation client. Tests build their own from settings pointing at the
simulators; nothing here is a module-level global.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ratecalc import metrics
from ratecalc.rating import pricing
from ratecalc.rating.bulkhead import FAN_OUT_PER_SLOT, Bulkhead
from ratecalc.rating.cache import MemoryQuoteCache, SingleFlight
from ratecalc.rating.keys import account_fingerprint
from ratecalc.rating.service import RatingService
from ratecalc.settings import Settings
from ratecalc.upstream.breaker import breaker_for
from ratecalc.upstream.limits.budget import CallBudget
from ratecalc.upstream.shipstation.v1 import ShipStationV1

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    rating: RatingService
    budget: CallBudget
    extras: dict = field(default_factory=dict)

    def breakers(self) -> dict:
        found = {"shipstation": self.rating.backend.breaker}
        shop = self.extras.get("shop")
        if shop is not None:
            found["cin7"] = shop.cin7.breaker
        return found

    def close(self) -> None:
        for closer in self.extras.get("closers", ()):
            closer()
        self.rating.backend.close()


def process_budget(settings: Settings) -> int:
    """This process's share of the ShipStation budget, so all workers together stay within it."""
    share = settings.shipstation_requests_per_minute // max(1, settings.workers)
    return max(1, share)



def shared_state(settings: Settings, account: str, budget: CallBudget):
    """(cache, stale, flights, budget) on Redis when configured, in-process otherwise."""
    memory = MemoryQuoteCache(settings.cache_max_entries, settings.cache_ttl_seconds)
    stale = None
    if settings.stale_if_error_seconds > 0:
        stale = MemoryQuoteCache(settings.cache_max_entries, settings.stale_if_error_seconds)
    if not settings.redis_url:
        return memory, stale, SingleFlight(), budget
    from ratecalc.rating.redis_state import RedisCallBudget, RedisQuoteCache, RedisSingleFlight
    from ratecalc.redis_guard import connect

    guard = connect(settings.redis_url.reveal())
    # While Redis is down, each process may not know how many others there are:
    # it takes a conservative share, as if there were at least two replicas.
    budget.per_window = max(1, process_budget(settings) // 2)
    shared_budget = RedisCallBudget(
        guard, settings.shipstation_requests_per_minute, account, fallback=budget,
        on_remaining=metrics.shipstation_rate_limit_remaining.set)
    if stale is not None:
        stale = RedisQuoteCache(guard, settings.stale_if_error_seconds, stale, namespace="s")
    return (RedisQuoteCache(guard, settings.cache_ttl_seconds, memory), stale,
            RedisSingleFlight(guard, settings.quote_deadline_seconds + 5), shared_budget)


def build_services(settings: Settings) -> Services:
    # First: a bad pricing file stops start-up before anything is opened.
    rules = pricing.load_setting(settings.pricing_file)
    bulkhead = Bulkhead.for_threads(settings.threads)
    budget = CallBudget(process_budget(settings),
                        on_remaining=metrics.shipstation_rate_limit_remaining.set,
                        min_call_seconds=min(1.0, settings.upstream_timeout_seconds / 2))
    if settings.shipstation_api == "v2":
        from ratecalc.rating.places import warm
        from ratecalc.upstream.shipstation.v2 import ShipStationV2

        warm()  # the ZIP table fills V2's required city and state; load it before quotes

        key = settings.shipstation_v2_api_key.reveal() if settings.shipstation_v2_api_key else ""
        account = account_fingerprint("v2", settings.shipstation_base_url, key)
        cache, stale, flights, budget = shared_state(settings, account, budget)
        backend = ShipStationV2(settings.shipstation_base_url, key,
                                timeout=settings.upstream_timeout_seconds, budget=budget,
                                ship_from_country=settings.ship_from_country,
                                breaker=breaker_for(settings, "shipstation"))
    else:
        key = settings.shipstation_api_key.reveal() if settings.shipstation_api_key else ""
        secret = (settings.shipstation_api_secret.reveal()
                  if settings.shipstation_api_secret else "")
        account = account_fingerprint("v1", settings.shipstation_base_url, key)
        cache, stale, flights, budget = shared_state(settings, account, budget)
        backend = ShipStationV1(settings.shipstation_base_url, key, secret,
                                timeout=settings.upstream_timeout_seconds, budget=budget,
                                # every slot of the bulkhead rating its carriers at once
                                max_parallel=max(8, FAN_OUT_PER_SLOT * bulkhead.limit),
                                breaker=breaker_for(settings, "shipstation"))
    rating = RatingService(
        backend=backend,
        cache=cache,
        stale=stale,
        flights=flights,
        markup_percent=settings.markup_percent,
        pricing=rules,
        currency=settings.currency,
        deadline_seconds=settings.quote_deadline_seconds,
        configured_carriers=settings.carriers,
        account=account,
        bulkhead=bulkhead,
        excluded_services=settings.excluded_services,
        default_from={
            "default_from_postal_code": settings.ship_from_postal_code,
            "default_from_country": settings.ship_from_country,
            "default_from_city": settings.ship_from_city,
            "default_from_state": settings.ship_from_state,
        },
    )
    if settings.workers > 1 and not settings.redis_url:
        log.warning(
            "quote cache and single-flight are per process with %d workers and no "
            "RATECALC_REDIS_URL; the ShipStation budget is split: %d calls/min per worker",
            settings.workers, process_budget(settings),
        )
    return Services(settings=settings, rating=rating, budget=budget)
