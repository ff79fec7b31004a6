"""ShipStation V2 (published OpenAPI, estimate and carriers): every request ratecalc sends
and every answer of the simulator validates against the spec's schema, and the simulator
refuses what the spec refuses. Schema excerpts and their sources: tests/specs/README.md."""

from __future__ import annotations

import copy

import pytest
import requests

from tests.specs.scenarios import SCENARIOS
from tests.specs.schemas import problems, v2

V2 = {"API-Key": "demo-v2-key"}
BODY = {"carrier_ids": ["se-12345", "se-12347", "se-12348"], "from_country_code": "US",
        "from_postal_code": "78703", "from_city_locality": "Austin", "from_state_province": "TX",
        "to_country_code": "US", "to_postal_code": "20500", "to_city_locality": "Washington",
        "to_state_province": "DC", "weight": {"value": 24, "unit": "ounce"},
        "dimensions": {"length": 7, "width": 5, "height": 6, "unit": "inch"},
        "confirmation": "delivery", "address_residential_indicator": "no",
        "ship_date": "2024-05-03T00:00:00Z"}


def test_every_estimate_request_ratecalc_sends_is_valid(make_api, shipstation):
    api = make_api(SHIPSTATION_API="v2")
    for name, body in SCENARIOS.items():
        r = api.post("/v1/rates", json=body)
        assert r.status_code == 200, (name, r.text)
    calls = shipstation.calls("/v2/rates/estimate")
    assert len(calls) >= len(SCENARIOS)
    for call in calls:
        assert problems(v2("estimate_rates_request_body"), call["json"]) == [], call["json"]
        assert call["status"] == 200, call
        assert problems(v2("estimate_rates_response_body"), call["response"]) == []
        for end in ("from", "to"):  # V2 quotes carry city and state
            assert call["json"][f"{end}_city_locality"] and call["json"][f"{end}_state_province"]
    carriers = shipstation.calls("/v2/carriers")[0]["response"]
    assert problems(v2("get_carriers_response_body"), carriers) == []


@pytest.mark.parametrize("confirmation", ["none", "delivery", "signature", "adult_signature",
                                          "direct_signature", "delivery_mailed",
                                          "verbal_confirmation"])
@pytest.mark.parametrize("lane", ["domestic", "abroad", "heavy"])
def test_every_simulator_answer_has_the_published_shape(shipstation, confirmation, lane):
    body = {**BODY, "confirmation": confirmation}
    if lane == "abroad":
        body.update(to_country_code="CA", to_postal_code="M5V 2T6", to_city_locality="Toronto",
                    to_state_province="ON")
    if lane == "heavy":  # USPS has no service: an error row
        body["weight"] = {"value": 100, "unit": "pound"}
    assert problems(v2("estimate_rates_request_body"), body) == []
    r = requests.post(f"{shipstation.url}/v2/rates/estimate", json=body, headers=V2, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json() and problems(v2("estimate_rates_response_body"), r.json()) == []


INVALID = {
    "no from city": {"from_city_locality": None},
    "no from state": {"from_state_province": None},
    "no to city": {"to_city_locality": None},
    "empty to state": {"to_state_province": ""},
    "no ship_date": {"ship_date": None},
    "ship_date a date": {"ship_date": "2024-05-03"},
    "no weight": {"weight": None},
    "stone": {"weight": {"value": 1, "unit": "stone"}},
    "confirmation off the enum": {"confirmation": "delivery_code"},
    "country name": {"to_country_code": "Germany"},
}


@pytest.mark.parametrize("change", INVALID.values(), ids=INVALID.keys())
def test_the_simulator_refuses_what_the_spec_refuses(shipstation, change):
    body = {k: v for k, v in {**copy.deepcopy(BODY), **change}.items() if v is not None}
    assert problems(v2("estimate_rates_request_body"), body) != []  # the spec refuses it
    r = requests.post(f"{shipstation.url}/v2/rates/estimate", json=body, headers=V2, timeout=10)
    assert r.status_code == 400, r.text
    assert problems(v2("error_response_body"), r.json()) == [], r.text


@pytest.mark.parametrize(("path", "headers"), [("/v2/carriers", {"API-Key": "wrong"}),
                                               ("/v2/nowhere", V2)])
def test_error_bodies_have_the_published_shape(shipstation, path, headers):
    r = requests.get(f"{shipstation.url}{path}", headers=headers, timeout=10)
    assert r.status_code in (401, 404)
    assert problems(v2("error_response_body"), r.json()) == [], r.text
