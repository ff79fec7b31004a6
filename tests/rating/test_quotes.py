"""POST /v1/rates end to end: ratecalc and the ShipStation simulator, both over real HTTP."""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import ROUND_HALF_UP, Decimal

import pytest
import requests

from ratecalc.rating.cache import MemoryQuoteCache
from ratecalc.simulators.shipstation import rates as shipstation_rates
from tests.conftest import DC_REQUEST
from tests.rating.conftest import crafted_rates, rate_calls, unreachable_url

D = Decimal
CARRIERS = ["fedex", "stamps_com", "ups"]
MONEY = ("shipment_cost", "other_cost", "carrier_cost", "freight_fee")


def quote_request(**changes) -> dict:
    body = copy.deepcopy(DC_REQUEST)
    body.update(changes)
    return body


def to(postal_code: str, **changes) -> dict:
    """A request to a different destination (so a different cache entry)."""
    body = quote_request(**changes)
    body["ship_to"] = dict(body["ship_to"], postal_code=postal_code)
    return body


def decimal_json(response) -> dict:
    return json.loads(response.text, parse_float=Decimal)


def cents(value: Decimal) -> Decimal:
    return value.quantize(D("0.01"), rounding=ROUND_HALF_UP)


# -- shape and arithmetic ---------------------------------------------------------
def test_response_shape(api):
    r = api.post("/v1/rates", json=quote_request(carriers=CARRIERS))
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert {"currency", "markup_percent", "freight_fee", "selected", "quotes", "errors",
            "cached", "quoted_at"} <= set(body)
    assert body.get("stale", False) is False  # a fresh answer is never a stand-in
    assert body["currency"] == "USD"
    assert body["markup_percent"] == 0
    assert body["errors"] == []
    assert body["cached"] is False
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["quoted_at"])
    assert {q["carrier_code"] for q in body["quotes"]} == set(CARRIERS)
    for line in [body["selected"], *body["quotes"]]:
        assert {"carrier_code", "service_code", "service_name", *MONEY} <= set(line)
        assert line["service_name"]
        for name in MONEY:
            assert isinstance(line[name], int | float) and not isinstance(line[name], bool)


@pytest.mark.parametrize("markup", ["0", "10", "12.5", "33.333"])
def test_arithmetic(rating_api, markup):
    api = rating_api(MARKUP_PERCENT=markup)
    r = api.post("/v1/rates", json=quote_request(carriers=CARRIERS, confirmation="signature"))
    assert r.status_code == 200, r.text
    body = decimal_json(r)
    assert body["markup_percent"] == D(markup)
    factor = 1 + D(markup) / 100
    assert len(body["quotes"]) >= 5
    for q in body["quotes"]:
        assert q["carrier_cost"] == q["shipment_cost"] + q["other_cost"]
        assert q["freight_fee"] == cents(q["carrier_cost"] * factor)
        if D(markup) > 0:
            assert q["freight_fee"] > q["carrier_cost"]
    fees = [q["freight_fee"] for q in body["quotes"]]
    assert fees == sorted(fees)
    best = min(body["quotes"], key=lambda q: (q["freight_fee"], q["carrier_cost"],
                                              q["service_code"]))
    assert body["selected"] == best
    assert body["freight_fee"] == best["freight_fee"]


def test_money_has_at_most_two_decimals_in_the_raw_json(rating_api):
    api = rating_api(MARKUP_PERCENT="12.345")
    r = api.post("/v1/rates", json=quote_request(carriers=CARRIERS))
    assert r.status_code == 200
    pattern = r'"(shipment_cost|other_cost|carrier_cost|freight_fee)":\s*([^,}\s]+)'
    found = re.findall(pattern, r.text)
    assert len(found) >= 4 * 6
    for name, number in found:
        assert re.fullmatch(r"\d+(\.\d{1,2})?", number), (name, number)


def test_costs_are_the_simulators(api, backend, shipstation):
    """The carrier costs are ShipStation's, unchanged (cross-checked against its catalog)."""
    r = api.post("/v1/rates", json=quote_request(carriers=["fedex"]))
    body = decimal_json(r)
    shipment = shipstation_rates.Shipment(
        from_country="US", from_postal="78703", to_country="US", to_postal="20500",
        weight_lb=D(24) / 16, dims_in=(D(7), D(5), D(6)))
    expected = {q.service.code: (q.shipment_cost, q.other_cost)
                for q in shipstation_rates.quote("fedex", shipment)}
    got = {q["service_code"]: (q["shipment_cost"], q["other_cost"]) for q in body["quotes"]}
    assert got == expected


def test_money_is_not_rounded_twice(rating_api, shipstation, backend):
    """12.5 % on 8.58 is 9.6525 -> 9.65 (one half-up rounding from the exact product)."""
    shipstation.force_status("fedex", 200, body=crafted_rates(backend, "fedex", [
        ("svc_a", 8.25, 0.33), ("svc_b", 0.02, 0.01)]))
    api = rating_api(MARKUP_PERCENT="12.5")
    body = decimal_json(api.post("/v1/rates", json=quote_request(carriers=["fedex"])))
    fees = {q["service_code"]: q["freight_fee"] for q in body["quotes"]}
    assert fees == {"svc_a": D("9.65"), "svc_b": D("0.03")}  # 0.03375 -> 0.03


def test_tie_on_fee_prefers_lower_carrier_cost_then_service_code(api, shipstation, backend):
    # All four round to a fee of 1.00; carrier costs 1.003, 1.001, 1.001, 1.004.
    shipstation.force_status("fedex", 200, body=crafted_rates(backend, "fedex", [
        ("a_svc", 1.003, 0), ("z_svc", 1.001, 0), ("m_svc", 1.0, 0.001), ("b_svc", 1.004, 0),
        ("cheap_later", 0.5, 0.49), ("dear", 2.0, 0)]))
    body = decimal_json(api.post("/v1/rates", json=quote_request(carriers=["fedex"])))
    order = [q["service_code"] for q in body["quotes"]]
    assert order == ["cheap_later", "m_svc", "z_svc", "a_svc", "b_svc", "dear"]
    assert body["selected"]["service_code"] == "cheap_later"


def test_equal_fee_and_cost_select_by_service_code(api, shipstation, backend):
    shipstation.force_status("fedex", 200, body=crafted_rates(backend, "fedex", [
        ("svc_b", 5.00, 0.50), ("svc_c", 9.00, 0), ("svc_a", 5.25, 0.25)]))
    body = decimal_json(api.post("/v1/rates", json=quote_request(carriers=["fedex"])))
    assert [q["service_code"] for q in body["quotes"]] == ["svc_a", "svc_b", "svc_c"]
    assert body["selected"]["service_code"] == "svc_a"
    assert body["freight_fee"] == D("5.50")


def test_selection_across_carriers(api):
    body = decimal_json(api.post("/v1/rates", json=quote_request(carriers=CARRIERS)))
    cheapest = min(body["quotes"], key=lambda q: q["freight_fee"])
    assert body["selected"]["freight_fee"] == cheapest["freight_fee"]
    assert body["freight_fee"] == cheapest["freight_fee"]


def test_service_code_limits_the_quotes(api):
    body = api.post("/v1/rates", json=quote_request(carriers=["fedex"],
                                                    service_code="fedex_2day")).json()
    assert [q["service_code"] for q in body["quotes"]] == ["fedex_2day"]


def test_default_carriers_are_the_accounts(api, shipstation):
    body = api.post("/v1/rates", json=quote_request()).json()
    assert {q["carrier_code"] for q in body["quotes"]} == set(CARRIERS)


def test_configured_carriers_are_the_default(rating_api):
    api = rating_api(CARRIERS="fedex,ups")
    body = api.post("/v1/rates", json=quote_request()).json()
    assert {q["carrier_code"] for q in body["quotes"]} == {"fedex", "ups"}


def test_ship_from_defaults_to_settings(api, shipstation, backend):
    body = quote_request(carriers=["fedex"])
    del body["ship_from"]
    assert api.post("/v1/rates", json=body).status_code == 200
    sent = rate_calls(shipstation, backend, "fedex")[-1]["json"]
    assert sent.get("fromPostalCode", sent.get("from_postal_code")) == "78703"


def test_residential_costs_more_than_business(api):
    business = decimal_json(api.post("/v1/rates", json=quote_request(carriers=["ups"])))
    home = copy.deepcopy(quote_request(carriers=["ups"]))
    home["ship_to"]["residential"] = True
    residential = decimal_json(api.post("/v1/rates", json=home))
    assert residential["cached"] is False
    ground = {b["service_code"]: b["carrier_cost"] for b in business["quotes"]}
    for q in residential["quotes"]:
        assert q["carrier_cost"] > ground[q["service_code"]]


# -- markup after the cache ----------------------------------------------------------
def test_markup_change_takes_effect_without_a_cache_flush(rating_api, shipstation, backend):
    api = rating_api(MARKUP_PERCENT="10")
    first = decimal_json(api.post("/v1/rates", json=quote_request(carriers=["fedex"])))
    calls = len(rate_calls(shipstation, backend))
    api.services.rating.markup_percent = D("25")
    r = api.post("/v1/rates", json=quote_request(carriers=["fedex"]))
    second = decimal_json(r)
    assert r.headers["X-Cache"] == "HIT" and second["cached"] is True
    assert len(rate_calls(shipstation, backend)) == calls
    assert second["markup_percent"] == D("25")
    for q in second["quotes"]:
        assert q["freight_fee"] == cents(q["carrier_cost"] * D("1.25"))
    assert second["freight_fee"] > first["freight_fee"]


def test_two_apps_with_different_markups(rating_api):
    low, high = rating_api(MARKUP_PERCENT="0"), rating_api(MARKUP_PERCENT="50")
    a = decimal_json(low.post("/v1/rates", json=quote_request(carriers=["fedex"])))
    b = decimal_json(high.post("/v1/rates", json=quote_request(carriers=["fedex"])))
    assert b["selected"]["carrier_cost"] == a["selected"]["carrier_cost"]
    assert b["freight_fee"] == cents(a["freight_fee"] * D("1.5"))


# -- fan-out and coalescing ---------------------------------------------------------
def test_carriers_are_rated_in_parallel(api, shipstation, backend):
    # Warm up: the call budget sends a single probe until ShipStation has answered once.
    assert api.post("/v1/rates", json=to("10001", carriers=CARRIERS)).status_code == 200
    shipstation.set_latency(0.3)
    start = time.perf_counter()
    r = api.post("/v1/rates", json=quote_request(carriers=CARRIERS))
    elapsed = time.perf_counter() - start
    assert r.status_code == 200, r.text
    assert {q["carrier_code"] for q in r.json()["quotes"]} == set(CARRIERS)
    assert 0.3 <= elapsed < 0.6, f"3 carriers at 300 ms took {elapsed:.3f}s"
    assert len(rate_calls(shipstation, backend)) == (6 if backend == "v1" else 2)


def test_single_flight_for_concurrent_identical_requests(rating_api, shipstation, backend):
    # 50 requests waiting at once need 50 threads, and the bulkhead's slots with them.
    api = rating_api(THREADS="52")
    shipstation.set_latency(0.3)
    barrier = threading.Barrier(50)
    body = quote_request(carriers=CARRIERS)
    headers = {"Authorization": f"Bearer {api.token}"}

    def one(_):
        barrier.wait(10)
        return requests.post(api.url + "/v1/rates", json=body, headers=headers, timeout=30)

    with ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(one, range(50)))
    assert [r.status_code for r in responses] == [200] * 50
    fees = {r.json()["freight_fee"] for r in responses}
    assert len(fees) == 1
    for carrier in CARRIERS:
        assert len(rate_calls(shipstation, backend, carrier)) == 1, carrier
    assert len(rate_calls(shipstation, backend)) == (3 if backend == "v1" else 1)


# -- cache ------------------------------------------------------------------------------
def test_cache_miss_then_hit(api, shipstation, backend):
    r1 = api.post("/v1/rates", json=quote_request(carriers=CARRIERS))
    assert r1.headers["X-Cache"] == "MISS" and r1.json()["cached"] is False
    calls = len(rate_calls(shipstation, backend))
    r2 = api.post("/v1/rates", json=quote_request(carriers=CARRIERS))
    assert r2.headers["X-Cache"] == "HIT" and r2.json()["cached"] is True
    assert len(rate_calls(shipstation, backend)) == calls
    first, second = r1.json(), r2.json()
    assert second["quotes"] == first["quotes"]
    assert second["quoted_at"] == first["quoted_at"]


def test_equivalent_requests_share_the_cache(api, shipstation, backend):
    api.post("/v1/rates", json=quote_request(carriers=["ups", "fedex"]))
    calls = len(rate_calls(shipstation, backend))
    same = quote_request(carriers=["FedEx", "ups"])
    same["ship_to"] = dict(same["ship_to"], country="us", postal_code="20500-0003",
                           city="washington", state="dc")
    same["package"] = dict(same["package"], weight={"value": 1.5, "units": "pounds"})
    r = api.post("/v1/rates", json=same)
    assert r.headers["X-Cache"] == "HIT", r.text
    assert len(rate_calls(shipstation, backend)) == calls


def test_a_subset_of_carriers_reuses_their_entries(api, shipstation, backend):
    api.post("/v1/rates", json=quote_request(carriers=["fedex", "ups"]))
    calls = len(rate_calls(shipstation, backend))
    r = api.post("/v1/rates", json=quote_request(carriers=["fedex"]))
    assert r.headers["X-Cache"] == "HIT"
    assert len(rate_calls(shipstation, backend)) == calls


def test_residential_and_business_are_different_entries(api, shipstation, backend):
    business = quote_request(carriers=["fedex"])
    residential = copy.deepcopy(business)
    residential["ship_to"]["residential"] = True
    assert api.post("/v1/rates", json=business).headers["X-Cache"] == "MISS"
    r = api.post("/v1/rates", json=residential)
    assert r.headers["X-Cache"] == "MISS"
    calls = rate_calls(shipstation, backend, "fedex")
    assert len(calls) == 2
    sent = calls[-1]["json"]
    assert sent.get("residential", sent.get("address_residential_indicator")) in (True, "yes")
    services = {q["service_code"] for q in r.json()["quotes"]}
    assert "fedex_home_delivery" in services  # a residential-only service
    assert api.post("/v1/rates", json=business).headers["X-Cache"] == "HIT"
    assert api.post("/v1/rates", json=residential).headers["X-Cache"] == "HIT"


@pytest.mark.parametrize("change", [
    {"confirmation": "signature"}, {"service_code": "fedex_2day"},
    {"ship_to": {**DC_REQUEST["ship_to"], "city": "Georgetown"}},
    {"package": {**DC_REQUEST["package"], "package_code": "flat_rate_envelope"}},
], ids=["confirmation", "service", "city", "package_code"])
def test_fields_sent_upstream_are_different_entries(api, change):
    # USPS answers rows for other package types (V2's estimate always does).
    carriers = ["stamps_com"] if "package" in change else ["fedex"]
    assert api.post("/v1/rates", json=quote_request(carriers=carriers)).status_code == 200
    r = api.post("/v1/rates", json=quote_request(carriers=carriers, **change))
    assert r.status_code == 200, r.text
    assert r.headers["X-Cache"] == "MISS"


def test_cache_expires_after_the_ttl(rating_api, shipstation, backend):
    api = rating_api(CACHE_TTL_SECONDS="0.5")
    now = [1000.0]  # the cache's clock, turned by the test
    settings = api.services.settings
    api.services.rating.cache = MemoryQuoteCache(settings.cache_max_entries,
                                                 settings.cache_ttl_seconds, timer=lambda: now[0])
    body = quote_request(carriers=["fedex"])
    assert api.post("/v1/rates", json=body).headers["X-Cache"] == "MISS"
    now[0] += 0.4
    hit = api.post("/v1/rates", json=body)
    assert hit.headers["X-Cache"] == "HIT"
    now[0] += 0.2  # 0.6 s after the answer: past the 0.5 s TTL
    r = api.post("/v1/rates", json=body)
    assert r.headers["X-Cache"] == "MISS" and r.json()["cached"] is False
    assert len(rate_calls(shipstation, backend, "fedex")) == 2


# -- carrier failures -----------------------------------------------------------------
@pytest.mark.parametrize("fault", ["status_500", "status_400", "malformed", "empty"])
def test_one_carrier_failing_still_answers_200_v1(make_api, shipstation, fault):
    """V1 rates one carrier per call, so one carrier's failure leaves the others."""
    api = make_api()
    if fault == "malformed":
        shipstation.force_malformed("ups")
    elif fault == "empty":
        shipstation.force_empty("ups")
    else:
        shipstation.force_status("ups", int(fault.split("_")[1]))
    r = api.post("/v1/rates", json=quote_request(carriers=CARRIERS))
    assert r.status_code == 200, r.text
    body = r.json()
    assert {q["carrier_code"] for q in body["quotes"]} == {"fedex", "stamps_com"}
    assert [e["carrier_code"] for e in body["errors"]] == ["ups"]
    expected = "no_rates" if fault == "empty" else "upstream_error"
    assert body["errors"][0]["code"] == expected
    assert body["errors"][0]["message"]


def test_one_carrier_without_rates_still_answers_200(api, shipstation):
    shipstation.force_empty("ups")
    r = api.post("/v1/rates", json=quote_request(carriers=CARRIERS))
    assert r.status_code == 200, r.text
    body = r.json()
    assert {q["carrier_code"] for q in body["quotes"]} == {"fedex", "stamps_com"}
    assert [(e["carrier_code"], e["code"]) for e in body["errors"]] == [("ups", "no_rates")]


def test_failed_carriers_are_not_cached(api, shipstation, backend):
    shipstation.force_empty("ups")
    first = api.post("/v1/rates", json=quote_request(carriers=CARRIERS))
    assert first.json()["errors"]
    shipstation.clear_faults()
    r = api.post("/v1/rates", json=quote_request(carriers=CARRIERS))
    assert r.status_code == 200
    body = r.json()
    assert body["errors"] == []
    assert body["cached"] is False and r.headers["X-Cache"] == "MISS"
    assert "ups" in {q["carrier_code"] for q in body["quotes"]}
    assert len(rate_calls(shipstation, backend, "ups")) == 2
    if backend == "v1":  # the others came from the cache
        assert len(rate_calls(shipstation, backend, "fedex")) == 1


def test_unknown_carrier_is_an_error_entry(api):
    r = api.post("/v1/rates", json=quote_request(carriers=["fedex", "dhl_express"]))
    assert r.status_code == 200, r.text
    errors = r.json()["errors"]
    assert [e["carrier_code"] for e in errors] == ["dhl_express"]


# -- no quote at all: the error codes ----------------------------------------------------
def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    return error


def test_422_no_rates_when_no_service_fits(api):
    body = quote_request(carriers=CARRIERS)
    body["package"] = {"weight": {"value": 400, "units": "pounds"}}
    error = assert_error(api.post("/v1/rates", json=body), 422, "no_rates")
    assert {e["carrier_code"] for e in error["details"]["errors"]} == set(CARRIERS)
    assert {e["code"] for e in error["details"]["errors"]} == {"no_rates"}


def test_422_no_rates_when_every_carrier_answers_empty(api, shipstation):
    for carrier in CARRIERS:
        shipstation.force_empty(carrier)
    assert_error(api.post("/v1/rates", json=quote_request(carriers=CARRIERS)), 422, "no_rates")


@pytest.mark.parametrize("fault", ["status_500", "status_503", "malformed", "status_404"])
def test_502_upstream_error(api, shipstation, fault):
    # One carrier: its retries stay below the circuit breaker's threshold.
    if fault == "malformed":
        shipstation.force_malformed(None)
    else:
        shipstation.force_status(None, int(fault.split("_")[1]))
    error = assert_error(api.post("/v1/rates", json=quote_request(carriers=["fedex"])),
                         502, "upstream_error")
    assert [(e["carrier_code"], e["code"]) for e in error["details"]["errors"]] == \
        [("fedex", "upstream_error")]


def test_502_upstream_error_for_every_carrier(api, shipstation):
    shipstation.force_malformed(None)
    error = assert_error(api.post("/v1/rates", json=quote_request(carriers=CARRIERS)),
                         502, "upstream_error")
    assert {e["carrier_code"] for e in error["details"]["errors"]} == set(CARRIERS)
    assert {e["code"] for e in error["details"]["errors"]} == {"upstream_error"}


def test_502_upstream_error_when_shipstation_is_unreachable(rating_api):
    api = rating_api(SHIPSTATION_BASE_URL=unreachable_url())
    assert_error(api.post("/v1/rates", json=quote_request(carriers=["fedex"])),
                 502, "upstream_error")


@pytest.mark.parametrize("with_carriers", [True, False], ids=["carriers", "account"])
def test_502_upstream_auth_does_not_print_the_secret(rating_api, backend, caplog,
                                                      with_carriers):
    caplog.set_level(logging.DEBUG)
    secret = "wrong-secret-4b1d9e"
    env = ({"SHIPSTATION_API_SECRET": secret} if backend == "v1"
           else {"SHIPSTATION_V2_API_KEY": secret})
    api = rating_api(**env)
    body = quote_request(carriers=CARRIERS) if with_carriers else quote_request()
    r = api.post("/v1/rates", json=body)
    error = assert_error(r, 502, "upstream_auth")
    assert "credentials" in error["message"]
    assert secret not in r.text and "demo-key" not in r.text
    assert caplog.records  # the request was logged...
    assert secret not in caplog.text  # ...without the secret


def test_504_upstream_timeout(rating_api, shipstation):
    api = rating_api(UPSTREAM_TIMEOUT_SECONDS="0.3")
    api.post("/v1/rates", json=to("10001", carriers=CARRIERS))  # warm carrier ids / budget
    shipstation.set_latency(1.5)
    start = time.perf_counter()
    r = api.post("/v1/rates", json=quote_request(carriers=CARRIERS))
    elapsed = time.perf_counter() - start
    assert_error(r, 504, "upstream_timeout")
    assert elapsed < 1.2, f"a 0.3 s timeout answered after {elapsed:.2f}s"


def test_one_slow_carrier_times_out_the_others_answer(make_api, shipstation):
    api = make_api(UPSTREAM_TIMEOUT_SECONDS="0.3")
    api.post("/v1/rates", json=to("10001", carriers=["fedex"]))  # warm the budget
    shipstation.set_latency(1.5, "ups")
    r = api.post("/v1/rates", json=quote_request(carriers=CARRIERS))
    assert r.status_code == 200, r.text
    errors = r.json()["errors"]
    assert [(e["carrier_code"], e["code"]) for e in errors] == [("ups", "upstream_timeout")]


def test_503_rate_limited_with_retry_after(rating_api, shipstation):
    api = rating_api(SHIPSTATION_REQUESTS_PER_MINUTE="2", QUOTE_DEADLINE_SECONDS="1")
    statuses = []
    for i in range(4):
        start = time.perf_counter()
        r = api.post("/v1/rates", json=to(f"2050{i}", carriers=["fedex"]))
        elapsed = time.perf_counter() - start
        statuses.append(r.status_code)
        if r.status_code == 503:
            break
    assert statuses[0] == 200 and statuses[-1] == 503, statuses
    error = assert_error(r, 503, "rate_limited")
    assert error["message"]
    retry_after = int(r.headers["Retry-After"])
    assert 1 <= retry_after <= 61
    assert elapsed < 1.5
    assert all(c["status"] != 429 for c in shipstation.calls())


def test_the_most_actionable_error_wins(make_api, shipstation):
    """Carriers failing differently: auth beats a plain upstream error beats no_rates."""
    api = make_api()
    shipstation.force_empty("fedex")
    shipstation.force_status("stamps_com", 500)
    shipstation.force_status("ups", 401)
    r = api.post("/v1/rates", json=quote_request(carriers=CARRIERS))
    error = assert_error(r, 502, "upstream_auth")
    codes = {e["carrier_code"]: e["code"] for e in error["details"]["errors"]}
    assert codes == {"fedex": "no_rates", "stamps_com": "upstream_error", "ups": "upstream_auth"}


def test_a_quote_given_again_from_the_cache_follows_the_cache(rating_api, shipstation, backend):
    """The whole-hit answer is kept with the entries it came from: new entries, new answer."""
    api = rating_api()
    shipstation.force_status("fedex", 200, body=crafted_rates(backend, "fedex", [
        ("svc_a", 8.25, 0.33)]))
    request = quote_request(carriers=["fedex"])
    first = api.post("/v1/rates", json=request)
    assert first.headers["X-Cache"] == "MISS"
    hits = [api.post("/v1/rates", json=request) for _ in range(3)]
    assert [h.headers["X-Cache"] for h in hits] == ["HIT"] * 3
    assert hits[1].content == hits[2].content
    assert decimal_json(hits[2])["selected"]["carrier_cost"] == D("8.58")
    shipstation.clear_faults()
    shipstation.force_status("fedex", 200, body=crafted_rates(backend, "fedex", [
        ("svc_a", 9.25, 0.33)]))
    api.services.rating.cache.clear()  # the entry expires
    assert api.post("/v1/rates", json=request).headers["X-Cache"] == "MISS"
    again = api.post("/v1/rates", json=request)
    assert again.headers["X-Cache"] == "HIT"
    assert decimal_json(again)["selected"]["carrier_cost"] == D("9.58")
