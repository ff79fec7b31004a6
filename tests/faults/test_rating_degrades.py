"""ShipStation misbehaving: what a caller of POST /v1/rates sees.

Stale-if-error stands in for failed carriers; the circuit breaker answers at
once instead of queueing requests on a dead upstream; no worker thread leaks.
"""

from __future__ import annotations

import threading
import time

import pytest

from ratecalc.rating.cache import MemoryQuoteCache
from tests.conftest import DC_REQUEST
from tests.support import InFlight, wait_until

GETRATES = "/shipments/getrates"


def distinct(n: int) -> dict:
    return {**DC_REQUEST, "package": {"weight": {"value": 5 + n, "units": "ounces"}}}


@pytest.fixture
def fast(make_api):
    def start(**env):
        env.setdefault("CARRIERS", "fedex,ups")
        env.setdefault("CACHE_TTL_SECONDS", "0.3")
        env.setdefault("QUOTE_DEADLINE_SECONDS", "3")
        env.setdefault("UPSTREAM_TIMEOUT_SECONDS", "1")
        env.setdefault("BREAKER_FAILURES", "1000")
        api = make_api(**env)
        # The quote caches (fresh and stale) on a clock the test turns: api.advance(seconds).
        now = [1000.0]
        settings, rating = api.services.settings, api.services.rating
        rating.cache = MemoryQuoteCache(settings.cache_max_entries, settings.cache_ttl_seconds,
                                        timer=lambda: now[0])
        if rating.stale is not None:
            rating.stale = MemoryQuoteCache(settings.cache_max_entries,
                                            settings.stale_if_error_seconds, timer=lambda: now[0])

        def advance(seconds: float) -> None:
            now[0] += seconds

        api.advance = advance
        return api

    return start


def test_stale_answer_when_shipstation_fails(fast, shipstation):
    api = fast()
    fresh = api.post("/v1/rates", json=DC_REQUEST).json()
    api.advance(0.4)  # the fresh entry expires; the stale one remains
    shipstation.force_status(None, 500)
    r = api.post("/v1/rates", json=DC_REQUEST)
    assert r.status_code == 200
    assert r.headers["X-Cache"] == "STALE"
    body = r.json()
    assert body["stale"] is True and body["cached"] is False
    assert body["quoted_at"] == fresh["quoted_at"]
    assert body["freight_fee"] == fresh["freight_fee"]
    assert "ratecalc_stale_answers_total 1.0" in api.get("/metrics", auth=False).text


def test_stale_never_serves_a_fresh_hit_past_its_ttl(fast, shipstation):
    api = fast()
    api.post("/v1/rates", json=DC_REQUEST)
    api.advance(0.4)
    calls = len(shipstation.calls(GETRATES))
    r = api.post("/v1/rates", json=DC_REQUEST)
    assert r.headers["X-Cache"] == "MISS"  # expired fresh entry: asked again
    assert r.json()["stale"] is False
    assert len(shipstation.calls(GETRATES)) == calls + 2


def test_stale_too_old_gives_the_error(fast, shipstation):
    api = fast(STALE_IF_ERROR_SECONDS="0.5")
    api.post("/v1/rates", json=DC_REQUEST)
    api.advance(0.6)
    shipstation.force_status(None, 500)
    r = api.post("/v1/rates", json=DC_REQUEST)
    assert r.status_code == 502
    assert r.json()["error"]["code"] == "upstream_error"


def test_no_rates_is_an_answer_not_an_outage(fast, shipstation):
    api = fast(CARRIERS="fedex")
    api.post("/v1/rates", json=DC_REQUEST)
    api.advance(0.4)
    shipstation.force_status("fedex", 500, body='{"Message":"An error has occurred.",'
                             '"ExceptionMessage":"No applicable services were available"}')
    r = api.post("/v1/rates", json=DC_REQUEST)
    assert r.status_code == 422


def test_breaker_opens_and_answers_at_once(fast, shipstation):
    api = fast(CARRIERS="fedex", BREAKER_FAILURES="3", BREAKER_RESET_SECONDS="30")
    shipstation.set_latency(0.0)
    shipstation.force_status(None, 503)
    # A failure is one call after its retries (1 + 2 attempts), so three failing
    # quotes open the circuit; each of them still answers 502 from ShipStation.
    for n in range(3):
        assert api.post("/v1/rates", json=distinct(n)).status_code == 502
        assert len(shipstation.calls(GETRATES)) == 3 * (n + 1)
    calls = len(shipstation.calls(GETRATES))
    started = time.monotonic()
    r = api.post("/v1/rates", json=distinct(99))
    assert time.monotonic() - started < 0.5
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "upstream_unavailable"
    assert int(r.headers["Retry-After"]) >= 1
    assert len(shipstation.calls(GETRATES)) == calls  # not called while open
    metrics = api.get("/metrics", auth=False).text
    assert 'ratecalc_circuit_open{upstream="shipstation"} 1.0' in metrics


def test_breaker_open_serves_stale(fast, shipstation):
    api = fast(CARRIERS="fedex", BREAKER_FAILURES="1")
    api.post("/v1/rates", json=DC_REQUEST)
    api.advance(0.4)
    shipstation.force_status(None, 503)
    assert api.post("/v1/rates", json=distinct(1)).status_code == 502  # opens it
    calls = len(shipstation.calls(GETRATES))
    r = api.post("/v1/rates", json=DC_REQUEST)
    assert len(shipstation.calls(GETRATES)) == calls
    assert r.status_code == 200 and r.headers["X-Cache"] == "STALE"


def test_breaker_half_opens_and_recovers(fast, shipstation):
    api = fast(CARRIERS="fedex", BREAKER_FAILURES="1", BREAKER_RESET_SECONDS="0.5")
    shipstation.force_status(None, 503, times=3)  # one call: 1 attempt + 2 retries
    assert api.post("/v1/rates", json=distinct(1)).status_code == 502  # 1st failure opens
    assert len(shipstation.calls(GETRATES)) == 3
    assert api.post("/v1/rates", json=distinct(2)).status_code == 503
    assert len(shipstation.calls(GETRATES)) == 3
    breaker = api.services.rating.backend.breaker
    wait_until(lambda: breaker.state == "half_open", timeout=5, interval=0.02,
               message="the breaker never half-opened")
    assert api.post("/v1/rates", json=distinct(3)).status_code == 200
    metrics = api.get("/metrics", auth=False).text
    assert 'ratecalc_circuit_open{upstream="shipstation"} 0.0' in metrics


def test_one_quote_cannot_open_the_breaker_by_itself(fast, shipstation):
    """3 carriers x 3 attempts all failing are 3 failed calls, under the default 5."""
    api = fast(CARRIERS="fedex,ups,stamps_com", BREAKER_FAILURES="5")
    shipstation.force_status(None, 500)
    first = api.post("/v1/rates", json=distinct(1))
    assert first.status_code == 502, first.text
    assert len(shipstation.calls(GETRATES)) == 9
    assert api.services.rating.backend.breaker.state == "closed"
    # The next quote is not turned away unasked: it calls ShipStation again.
    api.post("/v1/rates", json=distinct(2))
    assert len(shipstation.calls(GETRATES)) > 9


def test_a_call_that_recovers_on_retry_counts_as_a_success(fast, shipstation):
    api = fast(CARRIERS="fedex", BREAKER_FAILURES="1")
    shipstation.force_status(None, 503, times=1)
    assert api.post("/v1/rates", json=distinct(1)).status_code == 200
    assert api.services.rating.backend.breaker.state == "closed"


def fill_pool(backend) -> None:
    """Start every worker of the V1 fan-out pool now: it grows lazily, under load, up to
    its bound, and that growth is not a leak."""
    pool = getattr(backend, "_pool", None)
    if pool is None:
        return
    gate = threading.Barrier(pool._max_workers + 1)
    futures = [pool.submit(gate.wait, 10) for _ in range(pool._max_workers)]
    gate.wait(10)
    for future in futures:
        future.result(10)


@pytest.mark.parametrize("fault", ["html", "truncated", "timeouts", "refused"])
def test_faults_degrade_without_hanging_or_leaking_threads(fast, shipstation, fault):
    api = fast(CARRIERS="fedex", BREAKER_FAILURES="1000", SHIPSTATION_REQUESTS_PER_MINUTE="1000")

    def burst(offset: int) -> list[int]:
        # No keep-alive: a lingering connection would keep a server thread alive.
        out = []
        workers = [threading.Thread(target=lambda n=n: out.append(api.post(
            "/v1/rates", json=distinct(offset + n), headers={"Connection": "close"}
        ).status_code)) for n in range(8)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=20)
        return out

    in_flight = InFlight(shipstation.app)
    assert burst(100) == [200] * 8  # warm up
    fill_pool(api.services.rating.backend)
    if fault == "html":
        shipstation.force_status("fedex", 200, body="<html><body>Bad Gateway</body></html>")
    elif fault == "truncated":
        shipstation.force_status("fedex", 200, body='[{"serviceName":"FedEx Ground","servi')
    elif fault == "timeouts":
        shipstation.set_latency(1.5, "fedex")
    if fault == "refused":
        api.services.rating.backend.base_url = "http://127.0.0.1:1"
    expected = {"html": 502, "truncated": 502, "timeouts": 504, "refused": 502}[fault]
    counts = []
    for round_ in range(3):
        started = time.monotonic()
        results = burst(10 + 10 * round_)
        assert time.monotonic() - started < 10  # the 3 s quote deadline bounds everything
        assert results == [expected] * 8
        wait_until(in_flight.idle, timeout=10,  # the simulator's own slow handlers finish
                   message="the simulator still handles requests")
        counts.append(threading.active_count())
    # Pools may grow to their bound once; repeated faults must not add threads. A leak
    # of even one thread per request would add 16 over the last two rounds; allow a
    # few threads that are just finishing.
    assert counts[2] - counts[0] <= 3, counts
