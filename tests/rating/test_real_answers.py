"""Rating that survives ShipStation's real answers (issue 9 section 2), on both APIs:
USPS's rows per service and package type, restricted services, confirmation per
carrier, and V2's required city and state."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest
import requests

from tests.conftest import DC_REQUEST
from tests.rating.conftest import rate_calls

AUTH = ("demo-key", "demo-secret")
THREE = ["fedex", "stamps_com", "ups"]


def body(**changes) -> dict:
    out = copy.deepcopy(DC_REQUEST)
    out.update(changes)
    return out


def usps_rows(shipstation, **changes) -> list[dict]:
    """What the simulator answers USPS for DC_REQUEST, asked directly (not through ratecalc)."""
    v1 = {"carrierCode": "stamps_com", "fromPostalCode": "78703", "toState": "DC",
          "toCountry": "US", "toPostalCode": "20500", "toCity": "Washington",
          "weight": {"value": 24, "units": "ounces"},
          "dimensions": {"length": 7, "width": 5, "height": 6, "units": "inches"}, **changes}
    r = requests.post(f"{shipstation.url}/shipments/getrates", json=v1, auth=AUTH, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def cost(row: dict) -> Decimal:
    return Decimal(str(row["shipmentCost"])) + Decimal(str(row["otherCost"]))


def test_three_carrier_quote_selects_the_package_row(api, shipstation, backend):
    """USPS answers many rows per service; the quote prices the merchant's parcel."""
    rows = usps_rows(shipstation)
    assert len(rows) > len({r["serviceCode"] for r in rows})  # many rows per service
    cheapest_any = min(rows, key=cost)
    parcel = min((r for r in rows if r["serviceName"].endswith(" - Package")
                  and r["serviceCode"] != "usps_media_mail"), key=cost)
    assert cost(cheapest_any) < cost(parcel)  # the trap: Media Mail or an envelope
    asked_directly = len(rate_calls(shipstation, backend))
    r = api.post("/v1/rates", json=body(carriers=THREE))
    assert r.status_code == 200, r.text
    got = r.json()
    assert {q["carrier_code"] for q in got["quotes"]} == set(THREE)
    selected = got["selected"]
    assert (selected["carrier_code"], selected["service_code"]) == \
        ("stamps_com", parcel["serviceCode"])
    assert Decimal(str(selected["carrier_cost"])) == cost(parcel)
    usps = [q for q in got["quotes"] if q["carrier_code"] == "stamps_com"]
    assert len(usps) == len({q["service_code"] for q in usps})  # one line per service
    assert "usps_media_mail" not in {q["service_code"] for q in got["quotes"]}
    sent = rate_calls(shipstation, backend)[asked_directly:]
    if backend == "v1":
        assert {c["json"]["packageCode"] for c in sent} == {"package"}


def test_rows_of_other_package_types_are_dropped_even_when_sent_back(api, shipstation, backend):
    """A carrier that answers every package type although "package" was asked for."""
    if backend == "v1":
        rows = json.dumps([
            {"serviceName": "USPS Priority Mail - Flat Rate Envelope",
             "serviceCode": "usps_priority_mail", "shipmentCost": 5.0, "otherCost": 0},
            {"serviceName": "USPS Priority Mail - Package", "serviceCode": "usps_priority_mail",
             "shipmentCost": 12.5, "otherCost": 0},
            {"serviceName": "USPS Priority Mail - Padded Flat Rate Envelope",
             "serviceCode": "usps_priority_mail", "shipmentCost": 6.0, "otherCost": 0}])
    else:
        rows = json.dumps([{
            "rate_type": "check", "carrier_id": "se-12345", "carrier_code": "stamps_com",
            "service_code": "usps_priority_mail", "service_type": "USPS Priority Mail",
            "package_type": package, "shipping_amount": {"currency": "usd", "amount": amount},
            "other_amount": {"currency": "usd", "amount": 0},
            "insurance_amount": {"currency": "usd", "amount": 0},
            "confirmation_amount": {"currency": "usd", "amount": 0}, "error_messages": []}
            for package, amount in (("flat_rate_envelope", 5.0), ("package", 12.5),
                                    ("flat_rate_padded_envelope", 6.0))])
    shipstation.force_status("stamps_com", 200, rows, times=1)
    r = api.post("/v1/rates", json=body(carriers=["stamps_com"]))
    assert r.status_code == 200, r.text
    assert [q["carrier_cost"] for q in r.json()["quotes"]] == [12.5]


def test_a_named_package_code_quotes_that_package(api, shipstation):
    envelope = [r for r in usps_rows(shipstation, packageCode="flat_rate_envelope")
                if r["serviceCode"] == "usps_priority_mail"][0]
    r = api.post("/v1/rates", json=body(carriers=["stamps_com"], package={
        **DC_REQUEST["package"], "package_code": "flat_rate_envelope"}))
    assert r.status_code == 200, r.text
    lines = {q["service_code"]: q for q in r.json()["quotes"]}
    assert Decimal(str(lines["usps_priority_mail"]["carrier_cost"])) == cost(envelope)


def test_media_mail_only_when_allowed_or_asked_for(rating_api, shipstation):
    default = rating_api()
    assert "usps_media_mail" not in {
        q["service_code"] for q in default.post("/v1/rates", json=body(carriers=["stamps_com"]))
        .json()["quotes"]}
    asked = default.post("/v1/rates", json=body(carriers=["stamps_com"],
                                                service_code="usps_media_mail"))
    assert asked.status_code == 200, asked.text
    assert asked.json()["selected"]["service_code"] == "usps_media_mail"
    media = [r for r in usps_rows(shipstation, packageCode="package")
             if r["serviceCode"] == "usps_media_mail"][0]
    unrestricted = rating_api(EXCLUDED_SERVICES="")
    got = unrestricted.post("/v1/rates", json=body(carriers=["stamps_com"])).json()
    assert got["selected"]["service_code"] == "usps_media_mail"  # the cheapest, when allowed
    assert Decimal(str(got["selected"]["carrier_cost"])) == cost(media)
    ups_off = rating_api(EXCLUDED_SERVICES="ups_ground,usps_media_mail")
    got = ups_off.post("/v1/rates", json=body(carriers=["ups", "stamps_com"])).json()
    assert {"ups_ground", "usps_media_mail"}.isdisjoint(q["service_code"] for q in got["quotes"])


def test_direct_signature_leaves_other_carriers_out(api, shipstation, backend):
    r = api.post("/v1/rates", json=body(carriers=THREE, confirmation="direct_signature"))
    assert r.status_code == 200, r.text
    got = r.json()
    assert {q["carrier_code"] for q in got["quotes"]} == {"fedex"}
    errors = {e["carrier_code"]: e for e in got["errors"]}
    assert set(errors) == {"stamps_com", "ups"}
    assert {e["code"] for e in errors.values()} == {"unsupported_option"}
    assert "direct_signature" in errors["ups"]["message"]
    assert not rate_calls(shipstation, backend, "ups")
    assert not rate_calls(shipstation, backend, "stamps_com")


def test_only_unsupporting_carriers_is_a_422(api, shipstation, backend):
    r = api.post("/v1/rates", json=body(carriers=["ups"], confirmation="direct_signature"))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "unsupported_option"
    assert not rate_calls(shipstation, backend)


def test_shipstation_refusing_a_confirmation_is_unsupported_option(rating_api, shipstation):
    """Should ShipStation refuse a confirmation ratecalc thought fine (V1's 400)."""
    api = rating_api(SHIPSTATION_API="v1")
    refusal = json.dumps({"Message": "The request is invalid.", "ModelState": {
        "rateOptions.confirmation": ["The confirmation is not supported by this carrier."]}})
    shipstation.force_status("ups", 400, refusal, times=1)
    r = api.post("/v1/rates", json=body(carriers=["ups", "fedex"], confirmation="signature"))
    assert r.status_code == 200, r.text
    assert [(e["carrier_code"], e["code"]) for e in r.json()["errors"]] == \
        [("ups", "unsupported_option")]


# -- V2 city and state --------------------------------------------------------------------
@pytest.fixture
def v2_api(rating_api):
    return rating_api(SHIPSTATION_API="v2")


def test_v2_fills_a_us_destination_from_the_zip_table(v2_api, shipstation):
    r = v2_api.post("/v1/rates", json=body(ship_to={"country": "US", "postal_code": "10001"},
                                           ship_from={"postal_code": "60601"}))
    assert r.status_code == 200, r.text
    sent = rate_calls(shipstation, "v2")[-1]["json"]
    assert (sent["to_city_locality"], sent["to_state_province"]) == ("NEW YORK", "NY")
    assert (sent["from_city_locality"], sent["from_state_province"]) == ("CHICAGO", "IL")


def test_v2_uses_the_configured_origin(v2_api, shipstation):
    assert v2_api.post("/v1/rates", json=body(ship_from={})).status_code == 200
    sent = rate_calls(shipstation, "v2")[-1]["json"]
    assert (sent["from_city_locality"], sent["from_state_province"]) == ("AUSTIN", "TX")
    assert (sent["to_city_locality"], sent["to_state_province"]) == ("WASHINGTON", "DC")


@pytest.mark.parametrize(("ship_to", "field"), [
    ({"country": "CA", "postal_code": "M5V 2T6", "state": "ON"}, "ship_to.city"),
    ({"country": "CA", "postal_code": "M5V 2T6", "city": "Toronto"}, "ship_to.state"),
    ({"country": "US", "postal_code": "99999"}, "ship_to.city"),
    ({"country": "US", "postal_code": "99999", "city": "Nowhere"}, "ship_to.state"),
])
def test_v2_without_a_place_is_a_400_before_any_call(v2_api, shipstation, ship_to, field):
    before = len(shipstation.calls())
    r = v2_api.post("/v1/rates", json=body(ship_to=ship_to))
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["details"]["field"] == field and field in error["message"]
    assert len(shipstation.calls()) == before


def test_v2_origin_elsewhere_without_a_place_is_a_400(v2_api, shipstation):
    before = len(shipstation.calls())
    r = v2_api.post("/v1/rates", json=body(ship_from={"postal_code": "M5V 2T6",
                                                      "country": "CA"}))
    assert r.status_code == 400, r.text
    assert r.json()["error"]["details"]["field"] == "ship_from.city"
    assert len(shipstation.calls()) == before


def test_v1_sends_no_looked_up_places(rating_api, shipstation):
    """V1's toCity/toState stay the caller's (V1 requires neither, UPS aside)."""
    api = rating_api(SHIPSTATION_API="v1")
    r = api.post("/v1/rates", json=body(carriers=["fedex"], ship_to={"country": "US",
                                                                     "postal_code": "10001"}))
    assert r.status_code == 200, r.text
    sent = rate_calls(shipstation, "v1")[-1]["json"]
    assert "toCity" not in sent and "toState" not in sent
