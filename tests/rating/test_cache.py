"""The in-process quote cache (TTL, size) and single-flight, with an injected timer."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from ratecalc.model import CarrierRates
from ratecalc.rating.cache import MemoryQuoteCache, SingleFlight
from tests.support import FakeClock


def rates(code: str = "fedex") -> CarrierRates:
    return CarrierRates(carrier_code=code, rates=(), quoted_at=datetime.now(UTC))


def test_get_returns_what_was_set_until_the_ttl_passes():
    timer = FakeClock()
    cache = MemoryQuoteCache(max_entries=10, ttl_seconds=900, timer=timer)
    value = rates()
    assert cache.get("k") is None
    cache.set("k", value)
    timer.now += 899.9
    assert cache.get("k") == value  # held packed: an equal answer comes back
    timer.now += 0.2
    assert cache.get("k") is None
    assert len(cache) == 0


def test_set_again_restarts_the_ttl():
    timer = FakeClock()
    cache = MemoryQuoteCache(max_entries=10, ttl_seconds=10, timer=timer)
    cache.set("k", rates())
    timer.now += 8
    newer = rates("ups")
    cache.set("k", newer)
    timer.now += 8
    assert cache.get("k") == newer


def test_size_is_bounded():
    cache = MemoryQuoteCache(max_entries=3, ttl_seconds=900, timer=FakeClock())
    for i in range(10):
        cache.set(f"k{i}", rates())
    assert len(cache) == 3
    assert cache.get("k9") is not None
    assert cache.get("k0") is None


def test_clear():
    cache = MemoryQuoteCache(max_entries=3, ttl_seconds=900, timer=FakeClock())
    cache.set("k", rates())
    cache.clear()
    assert cache.get("k") is None


def test_concurrent_use_is_safe():
    cache = MemoryQuoteCache(max_entries=50, ttl_seconds=900)
    errors = []

    def work(n):
        try:
            for i in range(500):
                cache.set(f"{n}-{i % 80}", rates())
                cache.get(f"{(n + 1) % 8}-{i % 80}")
        except Exception as exc:  # pragma: no cover - the assertion reports it
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(cache) <= 50


def test_single_flight_first_claim_leads_others_follow():
    flights = SingleFlight()
    flight, leader = flights.claim("k")
    same, follower = flights.claim("k")
    other, other_leader = flights.claim("other")
    assert leader is True and follower is False and other_leader is True
    assert same is flight and other is not flight


def test_followers_get_the_leaders_result():
    flights = SingleFlight()
    flight, _ = flights.claim("k")
    got = []
    waiter = threading.Thread(target=lambda: got.append(flights.claim("k")[0].wait(5)))
    waiter.start()
    result = rates()
    flights.land("k", flight, result)
    waiter.join(5)
    assert got == [result]


def test_after_landing_the_next_claim_leads_a_new_flight():
    flights = SingleFlight()
    flight, _ = flights.claim("k")
    flights.land("k", flight, rates())
    again, leader = flights.claim("k")
    assert leader is True and again is not flight


def test_wait_times_out_with_none():
    flight, _ = SingleFlight().claim("k")
    assert flight.wait(0.01) is None


def test_landing_a_stale_flight_leaves_the_new_one():
    flights = SingleFlight()
    old, _ = flights.claim("k")
    flights.land("k", old, rates())
    new, _ = flights.claim("k")
    flights.land("k", old, rates())  # a late duplicate landing must not drop ``new``
    current, leader = flights.claim("k")
    assert current is new and leader is False
