"""ShipStation V1 (published swagger): every getrates request ratecalc sends and every
answer of the simulator validates against the spec's schema, and the simulator refuses
what the spec refuses. Schema excerpts and their sources: tests/specs/README.md."""

from __future__ import annotations

import copy

import pytest
import requests

from ratecalc.simulators.shipstation import rates
from tests.specs.scenarios import SCENARIOS
from tests.specs.schemas import problems, v1

AUTH = ("demo-key", "demo-secret")
BODY = {"carrierCode": "fedex", "fromPostalCode": "78703", "toState": "DC",
        "toCountry": "US", "toPostalCode": "20500", "toCity": "Washington",
        "weight": {"value": 24, "units": "ounces"},
        "dimensions": {"length": 7, "width": 5, "height": 6, "units": "inches"},
        "confirmation": "delivery", "residential": False}


def test_every_getrates_request_ratecalc_sends_is_valid(make_api, shipstation):
    api = make_api(SHIPSTATION_API="v1")
    for name, body in SCENARIOS.items():
        r = api.post("/v1/rates", json=body)
        assert r.status_code == 200, (name, r.text)
    calls = shipstation.calls("/shipments/getrates")
    assert len(calls) >= len(SCENARIOS) * 2
    request_schema, answer_schema = v1("getrates_body_doc_table"), v1("getrates_200_from_example")
    for call in calls:
        assert problems(request_schema, call["json"]) == [], call["json"]
        assert call["status"] == 200, call
        assert problems(answer_schema, call["response"]) == [], call["response"]
    sent = [c["json"] for c in calls]
    assert all(b.get("packageCode") for b in sent)  # the merchant's package, always named
    assert {b.get("confirmation") for b in sent} >= {"delivery", "signature",
                                                     "adult_signature", "direct_signature"}
    carriers_answer = shipstation.calls("/carriers")[0]["response"]
    assert problems(v1("carriers_200_from_example"), carriers_answer) == []


@pytest.mark.parametrize("carrier", sorted(rates.CATALOG))
def test_every_simulator_answer_has_the_published_shape(shipstation, carrier):
    answered = 0
    packages = [None, *(p.code for p in rates.packages_for(carrier))]
    for package in packages:
        for confirmation in rates.V1_CONFIRMATIONS:
            body = {**BODY, "carrierCode": carrier, "packageCode": package,
                    "confirmation": confirmation}
            r = requests.post(f"{shipstation.url}/shipments/getrates", json=body, auth=AUTH,
                              timeout=10)
            assert problems(v1("getrates_body_doc_table"), body) == []
            if r.status_code == 200:
                answered += 1
                assert problems(v1("getrates_200_from_example"), r.json()) == [], r.text
            else:  # no service for that package, or direct_signature off FedEx
                assert r.status_code in (400, 500), r.text
    assert answered >= len(packages)


INVALID = {
    "no carrierCode": {"carrierCode": None},
    "no toPostalCode": {"toPostalCode": None},
    "no weight": {"weight": None},
    "kilograms": {"weight": {"value": 1, "units": "kilograms"}},
    "feet": {"dimensions": {"length": 1, "width": 1, "height": 1, "units": "feet"}},
    "three-letter country": {"toCountry": "USA"},
    "region name as toState": {"toState": "Auckland"},
    "unknown confirmation": {"confirmation": "carrier_pigeon"},
    "residential as text": {"residential": "yes"},
}


@pytest.mark.parametrize("change", INVALID.values(), ids=INVALID.keys())
def test_the_simulator_refuses_what_the_spec_refuses(shipstation, change):
    body = {k: v for k, v in {**copy.deepcopy(BODY), **change}.items() if v is not None}
    assert problems(v1("getrates_body_doc_table"), body) != []  # the spec refuses it
    r = requests.post(f"{shipstation.url}/shipments/getrates", json=body, auth=AUTH, timeout=10)
    assert r.status_code == 400, r.text
    assert r.json()["Message"] == "The request is invalid."
