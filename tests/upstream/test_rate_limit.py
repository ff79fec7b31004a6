"""ShipStation's rate limit and ratecalc's retries, over real HTTP both ways.

The X-Rate-Limit-* headers are V1's; the V2 simulator advertises none, so the
header-driven tests run on V1 and the retry rules (shared transport) on both.
"""

from __future__ import annotations

import copy
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client import REGISTRY

from tests.conftest import DC_REQUEST
from tests.rating.conftest import rate_calls


def quote(n: int, carriers=("fedex",)) -> dict:
    """A distinct shipment per ``n`` (so every quote misses the cache)."""
    body = copy.deepcopy(DC_REQUEST)
    body["carriers"] = list(carriers)
    body["package"]["weight"]["value"] = 20 + n
    return body


def statuses(shipstation, path="/shipments/getrates") -> list[int]:
    return [c["status"] for c in shipstation.calls(path=path)]


def test_never_causes_a_429_while_serving_many_quotes(make_api, shipstation):
    shipstation.set_rate_limit(5, 3.0)
    api = make_api()
    headers = {"Authorization": f"Bearer {api.token}"}

    def one(n):
        return requests.post(api.url + "/v1/rates", json=quote(n), headers=headers, timeout=30)

    start = time.monotonic()
    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(one, range(10)))
    elapsed = time.monotonic() - start
    assert [r.status_code for r in responses] == [200] * 10, [r.text for r in responses]
    assert 429 not in statuses(shipstation)
    assert statuses(shipstation) == [200] * 10
    # 10 calls at 5 per 3-second window need a second window: ratecalc waited for it.
    assert elapsed >= 2.5


def test_many_carriers_many_quotes_stay_within_the_window(make_api, shipstation):
    shipstation.set_rate_limit(5, 2.0)
    api = make_api()
    for n in range(3):
        r = api.post("/v1/rates", json=quote(n, carriers=("fedex", "stamps_com", "ups")))
        assert r.status_code == 200, r.text
        assert r.json()["errors"] == []
    assert statuses(shipstation) == [200] * 9


def test_excess_requests_get_503_with_retry_after_within_the_deadline(make_api, shipstation):
    shipstation.set_rate_limit(5, 30.0)
    api = make_api(QUOTE_DEADLINE_SECONDS="1")
    answers = []
    for n in range(8):
        start = time.monotonic()
        r = api.post("/v1/rates", json=quote(n))
        answers.append((r, time.monotonic() - start))
    assert [r.status_code for r, _ in answers] == [200] * 5 + [503] * 3
    for r, elapsed in answers[5:]:
        error = r.json()["error"]
        assert error["code"] == "rate_limited"
        assert error["details"]["errors"][0]["carrier_code"] == "fedex"
        assert elapsed < 1.0 + 0.5
        retry_after = int(r.headers["Retry-After"])
        assert 1 <= retry_after <= 31
    assert statuses(shipstation) == [200] * 5


def test_a_request_waits_for_budget_within_the_deadline(make_api, shipstation):
    shipstation.set_rate_limit(2, 1.0)
    api = make_api(QUOTE_DEADLINE_SECONDS="5")
    for n in range(2):
        assert api.post("/v1/rates", json=quote(n)).status_code == 200
    start = time.monotonic()
    r = api.post("/v1/rates", json=quote(2))
    elapsed = time.monotonic() - start
    assert r.status_code == 200, r.text
    assert 0.3 <= elapsed < 4.0
    assert 429 not in statuses(shipstation)


def test_own_budget_per_minute_is_a_ceiling(make_api, shipstation):
    api = make_api(SHIPSTATION_REQUESTS_PER_MINUTE="3", QUOTE_DEADLINE_SECONDS="1")
    codes = [api.post("/v1/rates", json=quote(n)).status_code for n in range(5)]
    assert codes == [200, 200, 200, 503, 503]
    assert len(shipstation.calls()) == 3


def test_a_429_from_another_program_is_retried_after_the_reset(make_api, shipstation):
    shipstation.set_rate_limit(40, 2.0)
    shipstation.force_status(None, 429, times=1)
    api = make_api(QUOTE_DEADLINE_SECONDS="6")
    start = time.monotonic()
    r = api.post("/v1/rates", json=quote(0))
    elapsed = time.monotonic() - start
    assert r.status_code == 200, r.text
    assert statuses(shipstation) == [429, 200]
    assert 0.9 <= elapsed < 6.0  # waited for X-Rate-Limit-Reset (>= 1 s), within the deadline


def test_a_429_whose_reset_is_past_the_deadline_is_503(make_api, shipstation):
    shipstation.set_rate_limit(40, 30.0)
    shipstation.force_status(None, 429, times=1)
    api = make_api(QUOTE_DEADLINE_SECONDS="1")
    start = time.monotonic()
    r = api.post("/v1/rates", json=quote(0))
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "rate_limited"
    assert int(r.headers["Retry-After"]) >= 1
    assert time.monotonic() - start < 1.5
    assert statuses(shipstation) == [429]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retried(rating_api, shipstation, backend, status):
    shipstation.force_status(None, status, times=2)
    api = rating_api()
    r = api.post("/v1/rates", json=quote(0))
    assert r.status_code == 200, r.text
    assert r.json()["errors"] == []
    assert [c["status"] for c in rate_calls(shipstation, backend)] == [status, status, 200]


def test_5xx_is_retried_at_most_twice(rating_api, shipstation, backend):
    shipstation.force_status(None, 500, times=5)
    api = rating_api()
    r = api.post("/v1/rates", json=quote(0))
    assert r.status_code == 502, r.text
    assert r.json()["error"]["code"] == "upstream_error"
    assert len(rate_calls(shipstation, backend)) == 3


@pytest.mark.parametrize(("status", "code"), [(400, "upstream_error"), (404, "upstream_error"),
                                              (401, "upstream_auth"), (403, "upstream_auth")])
def test_4xx_is_not_retried(rating_api, shipstation, backend, status, code):
    shipstation.force_status(None, status, times=1)
    api = rating_api()
    r = api.post("/v1/rates", json=quote(0))
    assert r.status_code == 502, r.text
    assert r.json()["error"]["code"] == code
    assert len(rate_calls(shipstation, backend)) == 1


def test_5xx_retries_stay_within_the_deadline(make_api, shipstation):
    shipstation.force_status(None, 500)
    shipstation.set_latency(0.4)
    api = make_api(QUOTE_DEADLINE_SECONDS="0.6", UPSTREAM_TIMEOUT_SECONDS="5")
    start = time.monotonic()
    r = api.post("/v1/rates", json=quote(0))
    assert r.status_code in (502, 504), r.text
    assert time.monotonic() - start < 1.2
    assert len(shipstation.calls()) <= 2


def test_remaining_gauge_follows_shipstation(make_api, shipstation):
    shipstation.set_rate_limit(7, 30.0)
    api = make_api()
    api.post("/v1/rates", json=quote(0))
    api.post("/v1/rates", json=quote(1))
    assert REGISTRY.get_sample_value("ratecalc_shipstation_rate_limit_remaining") == 5
