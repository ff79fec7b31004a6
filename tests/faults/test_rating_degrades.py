"""ShipStation misbehaving: what a caller of POST /v1/rates sees.

Stale-if-error stands in for failed carriers; the circuit breaker answers at
once instead of queueing requests on a dead upstream; no worker thread leaks.
"""

from __future__ import annotations

import threading
import time

import pytest

from tests.conftest import DC_REQUEST

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
        return make_api(**env)

    return start


def test_stale_answer_when_shipstation_fails(fast, shipstation):
    api = fast()
    fresh = api.post("/v1/rates", json=DC_REQUEST).json()
    time.sleep(0.4)  # the fresh entry expires; the stale one remains
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
    time.sleep(0.4)
    calls = len(shipstation.calls(GETRATES))
    r = api.post("/v1/rates", json=DC_REQUEST)
    assert r.headers["X-Cache"] == "MISS"  # expired fresh entry: asked again
    assert r.json()["stale"] is False
    assert len(shipstation.calls(GETRATES)) == calls + 2


def test_stale_too_old_gives_the_error(fast, shipstation):
    api = fast(STALE_IF_ERROR_SECONDS="0.5")
    api.post("/v1/rates", json=DC_REQUEST)
    time.sleep(0.6)
    shipstation.force_status(None, 500)
    r = api.post("/v1/rates", json=DC_REQUEST)
    assert r.status_code == 502
    assert r.json()["error"]["code"] == "upstream_error"


def test_no_rates_is_an_answer_not_an_outage(fast, shipstation):
    api = fast(CARRIERS="fedex")
    api.post("/v1/rates", json=DC_REQUEST)
    time.sleep(0.4)
    shipstation.force_status("fedex", 500, body='{"Message":"An error has occurred.",'
                             '"ExceptionMessage":"No applicable services were available"}')
    r = api.post("/v1/rates", json=DC_REQUEST)
    assert r.status_code == 422


def test_breaker_opens_and_answers_at_once(fast, shipstation):
    api = fast(CARRIERS="fedex", BREAKER_FAILURES="3", BREAKER_RESET_SECONDS="30")
    shipstation.set_latency(0.0)
    shipstation.force_status(None, 503)
    # One quote makes 3 attempts (1 + 2 retries): the third failure opens the circuit,
    # so that quote already answers "unavailable".
    first = api.post("/v1/rates", json=distinct(0))
    assert first.status_code == 502
    calls = len(shipstation.calls(GETRATES))
    assert calls == 3
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
    time.sleep(0.4)
    shipstation.force_status(None, 503)
    assert api.post("/v1/rates", json=distinct(1)).status_code == 503  # opens it
    calls = len(shipstation.calls(GETRATES))
    r = api.post("/v1/rates", json=DC_REQUEST)
    assert len(shipstation.calls(GETRATES)) == calls
    assert r.status_code == 200 and r.headers["X-Cache"] == "STALE"


def test_breaker_half_opens_and_recovers(fast, shipstation):
    api = fast(CARRIERS="fedex", BREAKER_FAILURES="1", BREAKER_RESET_SECONDS="0.5")
    shipstation.force_status(None, 503, times=1)
    assert api.post("/v1/rates", json=distinct(1)).status_code == 503  # 1st failure opens
    assert len(shipstation.calls(GETRATES)) == 1
    assert api.post("/v1/rates", json=distinct(2)).status_code == 503
    assert len(shipstation.calls(GETRATES)) == 1
    time.sleep(0.6)
    assert api.post("/v1/rates", json=distinct(3)).status_code == 200
    metrics = api.get("/metrics", auth=False).text
    assert 'ratecalc_circuit_open{upstream="shipstation"} 0.0' in metrics


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

    assert burst(100) == [200] * 8  # warm up
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
        time.sleep(1.6)  # the simulator's own slow handlers finish
        counts.append(threading.active_count())
    # Pools may grow to their bound once; repeated faults must not add threads. A leak
    # of even one thread per request would add 16 over the last two rounds; allow a
    # few threads that are just finishing.
    assert counts[2] - counts[0] <= 3, counts
