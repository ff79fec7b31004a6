"""The ShipStation simulator's own rules, exercised over real HTTP."""

from __future__ import annotations

import time
import uuid
from datetime import datetime

import pytest
import requests

from ratecalc.simulators.server import ServerThread
from ratecalc.simulators.shipstation.app import ShipStationSimulator
from tests.support import FakeClock

AUTH = ("demo-key", "demo-secret")
OTHER_AUTH = ("other-key", "other-secret")
V2 = {"API-Key": "demo-v2-key"}
NO_SERVICES = "No applicable services were available for the configured shipment"
IDS = {"stamps_com": "se-12345", "ups": "se-12347", "fedex": "se-12348"}


def v1_body(**overrides) -> dict:
    body = {"carrierCode": "fedex", "serviceCode": None, "packageCode": None,
            "fromPostalCode": "78703", "toState": "DC", "toCountry": "US",
            "toPostalCode": "20500", "toCity": "Washington",
            "weight": {"value": 24, "units": "ounces"},
            "dimensions": {"length": 7, "width": 5, "height": 6, "units": "inches"},
            "confirmation": "delivery", "residential": False}
    body.update(overrides)
    return body


def v2_body(**overrides) -> dict:
    body = {"carrier_ids": list(IDS.values()), "from_country_code": "US",
            "from_postal_code": "78703", "from_city_locality": "Austin",
            "from_state_province": "TX", "to_country_code": "US", "to_postal_code": "20500",
            "to_city_locality": "Washington", "to_state_province": "DC",
            "weight": {"value": 24, "unit": "ounce"},
            "dimensions": {"length": 7, "width": 5, "height": 6, "unit": "inch"},
            "confirmation": "delivery", "address_residential_indicator": "no",
            "ship_date": "2024-05-03T00:00:00Z"}
    body.update(overrides)
    return body


@pytest.fixture(scope="module")
def sim():
    simulator = ShipStationSimulator(credentials=(AUTH, OTHER_AUTH))
    server = ServerThread(simulator.app).start()
    simulator.url = server.url
    yield simulator
    server.stop()


@pytest.fixture(autouse=True)
def _clean(request):
    if "sim" in request.fixturenames:
        simulator = request.getfixturevalue("sim")
        simulator.reset()
        simulator.set_rate_limit(40, 60.0, v2_requests_per_window=200)


@pytest.fixture
def make_sim():
    servers = []

    def make(**kwargs) -> ShipStationSimulator:
        simulator = ShipStationSimulator(**kwargs)
        servers.append(ServerThread(simulator.app).start())
        simulator.url = servers[-1].url
        return simulator

    yield make
    for server in servers:
        server.stop()


def rates(sim, auth=AUTH, **overrides) -> requests.Response:
    return requests.post(f"{sim.url}/shipments/getrates", json=v1_body(**overrides), auth=auth,
                         timeout=5)


def costs(sim, **overrides) -> dict[str, float]:
    resp = rates(sim, **overrides)
    assert resp.status_code == 200, resp.text
    return {r["serviceCode"]: r["shipmentCost"] + r["otherCost"] for r in resp.json()}


def estimate(sim, headers=V2, **overrides) -> requests.Response:
    return requests.post(f"{sim.url}/v2/rates/estimate", json=v2_body(**overrides),
                         headers=headers, timeout=5)


def assert_aspnet_500(resp, text: str) -> None:
    assert resp.status_code == 500
    body = resp.json()
    assert body["Message"] == "An error has occurred."
    assert text in body["ExceptionMessage"]


def assert_v2_error(resp, status: int, code: str, mentions: str | None = None) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    uuid.UUID(body["request_id"])
    assert body["errors"], body
    assert {e["error_code"] for e in body["errors"]} >= {code}
    for error in body["errors"]:
        assert set(error) == {"error_source", "error_type", "error_code", "message"}
    if mentions:
        assert any(mentions in e["message"] for e in body["errors"]), body


# ---- auth -----------------------------------------------------------------------------------
@pytest.mark.parametrize("auth", [None, ("demo-key", "wrong"), ("nobody", "demo-secret")])
def test_v1_rejects_missing_or_wrong_credentials(sim, auth):
    resp = requests.get(f"{sim.url}/carriers", auth=auth, timeout=5)
    assert resp.status_code == 401
    assert resp.text == ""
    assert "X-Rate-Limit-Limit" not in resp.headers
    assert sim.calls("/carriers")[-1]["status"] == 401


def test_v1_switches_only_apply_to_authenticated_calls(sim):
    sim.force_status("fedex", 500, times=1)
    assert rates(sim, auth=("x", "y")).status_code == 401
    assert rates(sim).status_code == 500  # the fault was still pending


@pytest.mark.parametrize("headers", [{}, {"API-Key": "nope"}])
def test_v2_rejects_missing_or_wrong_key(sim, headers):
    resp = requests.get(f"{sim.url}/v2/carriers", headers=headers, timeout=5)
    assert_v2_error(resp, 401, "unauthorized")
    assert resp.json()["errors"][0]["error_type"] == "security"
    assert requests.get(f"{sim.url}/v2/carriers", auth=AUTH, timeout=5).status_code == 401


# ---- rate limits ----------------------------------------------------------------------------
def test_v1_rate_limit_headers_and_429(sim):
    sim.clock = FakeClock(time.monotonic())
    try:
        _rate_limit_headers_and_429(sim)
    finally:
        sim.clock = time.monotonic


def _rate_limit_headers_and_429(sim):
    sim.set_rate_limit(3, 1.0)
    remaining = []
    for path in ("/carriers", "/carriers/listservices?carrierCode=ups", "/carriers"):
        resp = requests.get(f"{sim.url}{path}", auth=AUTH, timeout=5)
        assert resp.status_code == 200
        assert resp.headers["X-Rate-Limit-Limit"] == "3"
        assert resp.headers["X-Rate-Limit-Reset"] == "1"
        remaining.append(int(resp.headers["X-Rate-Limit-Remaining"]))
    assert remaining == [2, 1, 0]
    resp = rates(sim)
    assert resp.status_code == 429
    assert resp.json() == {"message": "Too Many Requests"}
    assert resp.headers["X-Rate-Limit-Remaining"] == "0"
    assert 1 <= int(resp.headers["X-Rate-Limit-Reset"]) <= 1
    assert [c["status"] for c in sim.calls("/shipments/getrates")] == [429]
    # Another key pair has its own window.
    assert rates(sim, auth=OTHER_AUTH).status_code == 200
    sim.clock.advance(1.05)  # the next window
    resp = rates(sim)
    assert resp.status_code == 200
    assert resp.headers["X-Rate-Limit-Remaining"] == "2"


def test_v1_reset_header_counts_down_whole_seconds(sim):
    first = requests.get(f"{sim.url}/carriers", auth=AUTH, timeout=5)
    assert first.headers["X-Rate-Limit-Limit"] == "40"
    assert first.headers["X-Rate-Limit-Remaining"] == "39"
    assert 59 <= int(first.headers["X-Rate-Limit-Reset"]) <= 60
    sim.set_rate_limit(1, 30.0)
    assert requests.get(f"{sim.url}/carriers", auth=AUTH, timeout=5).status_code == 200
    resp = requests.get(f"{sim.url}/carriers", auth=AUTH, timeout=5)
    assert resp.status_code == 429
    assert 29 <= int(resp.headers["X-Rate-Limit-Reset"]) <= 30


def test_v2_rate_limit_429_with_retry_after(sim):
    sim.set_rate_limit(1, 30.0, v2_requests_per_window=2)
    assert estimate(sim).status_code == 200
    assert requests.get(f"{sim.url}/v2/carriers", headers=V2, timeout=5).status_code == 200
    resp = estimate(sim)
    assert_v2_error(resp, 429, "rate_limit_exceeded")
    assert 1 <= int(resp.headers["Retry-After"]) <= 30
    assert sim.calls("/v2/rates/estimate")[-1]["status"] == 429
    # V1 has its own window and limit.
    assert rates(sim).status_code == 200


# ---- carriers -------------------------------------------------------------------------------
def test_v1_carriers_bare_array(sim):
    resp = requests.get(f"{sim.url}/carriers", auth=AUTH, timeout=5)
    assert resp.status_code == 200
    carriers = resp.json()
    assert [c["code"] for c in carriers] == ["stamps_com", "ups", "fedex"]
    assert carriers[2] == {"name": "FedEx", "code": "fedex", "accountNumber": "297929999",
                           "requiresFundedAccount": False, "balance": 0, "nickname": "SS",
                           "shippingProviderId": 12348, "primary": True}
    assert "nickname" not in carriers[0] and "nickname" not in carriers[1]
    assert carriers[0]["name"] == "Stamps.com" and carriers[1]["name"] == "UPS"


@pytest.mark.parametrize("kind", ["listservices", "listpackages"])
def test_v1_list_services_and_packages(sim, kind):
    resp = requests.get(f"{sim.url}/carriers/{kind}", params={"carrierCode": "fedex"}, auth=AUTH,
                        timeout=5)
    assert resp.status_code == 200
    rows = resp.json()
    assert rows and isinstance(rows, list)
    for row in rows:
        assert set(row) == {"carrierCode", "code", "name", "domestic", "international"}
        assert row["carrierCode"] == "fedex"
    if kind == "listservices":
        assert {"code": "fedex_ground", "name": "FedEx Ground®"}.items() <= rows[0].items()
    unknown = requests.get(f"{sim.url}/carriers/{kind}", params={"carrierCode": "dhl"},
                           auth=AUTH, timeout=5)
    assert_aspnet_500(unknown, "dhl")
    missing = requests.get(f"{sim.url}/carriers/{kind}", auth=AUTH, timeout=5)
    assert missing.status_code == 400
    assert "carrierCode" in missing.json()["ModelState"]


def test_v2_carriers_shape(sim):
    resp = requests.get(f"{sim.url}/v2/carriers", headers=V2, timeout=5)
    assert resp.status_code == 200
    carriers = resp.json()["carriers"]
    assert {c["carrier_code"]: c["carrier_id"] for c in carriers} == IDS
    fedex = carriers[2]
    assert fedex["friendly_name"] == "FedEx" and fedex["nickname"] == "SS"
    assert fedex["account_number"] == "297929999"
    assert {"service_code": "fedex_ground", "name": "FedEx Ground®", "domestic": True,
            "international": False}.items() <= fedex["services"][0].items()


# ---- V1 getrates: validation and errors -----------------------------------------------------
@pytest.mark.parametrize("field", ["carrierCode", "fromPostalCode", "toCountry",
                                   "toPostalCode", "weight"])
def test_v1_required_fields(sim, field):
    resp = rates(sim, **{field: None})
    assert resp.status_code == 400
    body = resp.json()
    assert body["Message"] == "The request is invalid."
    assert list(body["ModelState"]) == [field]
    assert body["ModelState"][field] == [f"The {field} field is required."]


@pytest.mark.parametrize(("overrides", "field"), [
    ({"carrierCode": 7}, "carrierCode"),
    ({"toPostalCode": 20500}, "toPostalCode"),
    ({"toCountry": "USA"}, "toCountry"),
    ({"weight": {"value": "24 oz", "units": "ounces"}}, "weight.value"),
    ({"weight": {"value": True, "units": "ounces"}}, "weight.value"),
    ({"weight": {"value": 0, "units": "ounces"}}, "weight.value"),
    ({"weight": {"value": 2, "units": "kilograms"}}, "weight.units"),
    ({"weight": {"value": 2}}, "weight.units"),
    ({"weight": 5}, "weight"),
    ({"dimensions": {"length": 1, "width": 1, "height": 1, "units": "feet"}}, "dimensions.units"),
    ({"dimensions": {"length": "a", "width": 1, "height": 1, "units": "inches"}},
     "dimensions.length"),
    ({"confirmation": "carrier_pigeon"}, "confirmation"),
    ({"residential": "yes"}, "residential"),
])
def test_v1_invalid_values_are_400_model_state(sim, overrides, field):
    resp = rates(sim, **overrides)
    assert resp.status_code == 400, resp.text
    assert field in resp.json()["ModelState"]


def test_v1_binds_numbers_sent_as_strings(sim):
    """ASP.NET model binding converts "24" to 24: the same request, the same price."""
    as_numbers = costs(sim)
    as_strings = costs(sim, weight={"value": "24", "units": "ounces"},
                       dimensions={"length": "7", "width": "5", "height": "6.0",
                                   "units": "inches"})
    assert as_strings == as_numbers
    assert costs(sim, weight={"value": "48", "units": "ounces"}) != as_numbers


@pytest.mark.parametrize("carrier", ["stamps_com", "ups"])
def test_v1_direct_signature_is_fedex_only(sim, carrier):
    """The V1 spec: direct_signature is FedEx only; others answer ShipStation's 400."""
    state = {"toState": "DC"}
    resp = rates(sim, carrierCode=carrier, confirmation="direct_signature", **state)
    assert resp.status_code == 400, resp.text
    assert resp.json()["Message"] == "The request is invalid."
    assert list(resp.json()["ModelState"]) == ["confirmation"]
    assert rates(sim, carrierCode=carrier, confirmation="adult_signature").status_code == 200
    assert rates(sim, carrierCode="fedex", confirmation="direct_signature").status_code == 200


def test_v1_usps_answers_one_row_per_service_and_package_type(sim):
    """Recorded stamps_com data: without packageCode one row per service *and* package
    type, named "<service> - <package>"; a packageCode keeps that type's rows only."""
    usps = dict(carrierCode="stamps_com", confirmation="none")
    rows = rates(sim, **usps).json()
    names = [r["serviceName"] for r in rows]
    for name in ("USPS Priority Mail - Package", "USPS Priority Mail - Flat Rate Envelope",
                 "USPS Media Mail - Package"):
        assert name in names, names
    priority = [r for r in rows if r["serviceCode"] == "usps_priority_mail"]
    assert len(priority) == 5  # package and four flat-rate types
    package = rates(sim, **usps, packageCode="package").json()
    assert package and all(r["serviceName"].endswith(" - Package") for r in package)
    assert len({r["serviceCode"] for r in package}) == len(package)
    # A flat-rate envelope is cheaper than the parcel rate, and Media Mail cheaper still:
    # the cheapest row is not a price for the merchant's parcel.
    cost = {r["serviceName"]: r["shipmentCost"] + r["otherCost"] for r in rows}
    assert cost["USPS Media Mail - Package"] < cost["USPS Priority Mail - Flat Rate Envelope"] \
        < cost["USPS Priority Mail - Package"]
    heavier = rates(sim, **usps, weight={"value": 10, "units": "pounds"}).json()
    envelope = [r for r in heavier if r["serviceName"] == "USPS Priority Mail - Flat Rate Envelope"]
    assert envelope[0]["shipmentCost"] == cost["USPS Priority Mail - Flat Rate Envelope"]  # flat
    # Other carriers answer one row per service.
    fedex = rates(sim).json()
    assert len({r["serviceCode"] for r in fedex}) == len(fedex)


@pytest.mark.parametrize("data", [b"not json", b"", b"[1, 2]"])
def test_v1_body_that_is_not_a_json_object(sim, data):
    resp = requests.post(f"{sim.url}/shipments/getrates", data=data, auth=AUTH, timeout=5,
                         headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    assert resp.json()["Message"] == "The request is invalid."
    assert list(resp.json()["ModelState"]) == ["rateOptions"]


def test_v1_ups_requires_to_state(sim):
    resp = rates(sim, carrierCode="ups", toState=None)
    assert_aspnet_500(resp, "toState")
    assert rates(sim, carrierCode="ups", toState="DC").status_code == 200
    assert rates(sim, carrierCode="fedex", toState=None).status_code == 200


def test_v1_no_applicable_services(sim):
    assert_aspnet_500(rates(sim, carrierCode="dhl_express"), NO_SERVICES)
    assert_aspnet_500(rates(sim, serviceCode="fedex_nonexistent"), NO_SERVICES)
    assert_aspnet_500(rates(sim, carrierCode="ups", packageCode="fedex_pak"), NO_SERVICES)
    assert_aspnet_500(rates(sim, weight={"value": 200, "units": "pounds"}), NO_SERVICES)


def test_v1_success_is_bare_array_of_four_fields(sim):
    resp = rates(sim)
    assert resp.status_code == 200
    rows = resp.json()
    assert isinstance(rows, list) and rows
    for row in rows:
        assert set(row) == {"serviceName", "serviceCode", "shipmentCost", "otherCost"}
        for key in ("shipmentCost", "otherCost"):
            assert isinstance(row[key], int | float) and round(row[key], 2) == row[key] >= 0
    assert {"serviceName": "FedEx Ground®", "serviceCode": "fedex_ground"}.items() <= \
        rows[0].items()


def test_v1_filters_and_service_sets(sim):
    assert set(costs(sim, serviceCode="fedex_2day")) == {"fedex_2day"}
    usps = dict(carrierCode="stamps_com", dimensions=None)
    assert set(costs(sim, **usps, packageCode="flat_rate_envelope")) == {
        "usps_priority_mail", "usps_priority_mail_express"}
    light = costs(sim, **usps, weight={"value": 15.99, "units": "ounces"})
    assert "usps_first_class_mail" in light
    heavy = costs(sim, **usps, weight={"value": 16, "units": "ounces"})
    assert "usps_first_class_mail" not in heavy
    assert "fedex_home_delivery" not in costs(sim)
    assert "fedex_home_delivery" in costs(sim, residential=True)
    abroad = dict(toCountry="GB", toPostalCode="SW1A 1AA", toState=None)
    assert set(costs(sim, **abroad)) == {"fedex_international_priority"}
    assert set(costs(sim, **usps, **abroad)) == {"usps_priority_mail_international"}
    assert set(costs(sim, carrierCode="ups", **{**abroad, "toState": "LN"})) == {
        "ups_worldwide_saver"}
    assert "ups_worldwide_saver" not in costs(sim, carrierCode="ups")


# ---- V1 getrates: pricing -------------------------------------------------------------------
@pytest.mark.parametrize("carrier", ["stamps_com", "ups", "fedex"])
def test_rates_grow_with_weight_distance_and_options(sim, carrier):
    base = dict(carrierCode=carrier, dimensions=None, confirmation="none", packageCode="package")
    by_weight = [costs(sim, **base, weight={"value": w, "units": "pounds"}) for w in (2, 5, 30)]
    by_distance = [costs(sim, **base, toPostalCode=z) for z in ("78746", "60601", "10001")]
    pairs = [*zip(by_weight, by_weight[1:], strict=False),
             *zip(by_distance, by_distance[1:], strict=False)]
    for cheaper, dearer in pairs:
        assert all(cheaper[s] < dearer[s] for s in cheaper), (cheaper, dearer)
    confirmations = ("none", "delivery", "signature", "adult_signature", "direct_signature")
    levels = [costs(sim, **{**base, "confirmation": c})
              for c in confirmations[:None if carrier == "fedex" else -1]]  # FedEx-only
    for cheaper, dearer in zip(levels, levels[1:], strict=False):
        assert all(cheaper[s] < dearer[s] for s in cheaper), (cheaper, dearer)


@pytest.mark.parametrize("carrier", ["ups", "fedex"])
def test_residential_surcharge(sim, carrier):
    business = costs(sim, carrierCode=carrier)
    home = costs(sim, carrierCode=carrier, residential=True)
    assert all(home[s] > business[s] for s in business)


def test_dimensional_weight_counts(sim):
    small = costs(sim, dimensions={"length": 6, "width": 4, "height": 4, "units": "inches"})
    big = costs(sim, dimensions={"length": 24, "width": 18, "height": 18, "units": "inches"})
    big_cm = costs(sim, dimensions={"length": 60.96, "width": 45.72, "height": 45.72,
                                    "units": "centimeters"})
    assert all(big[s] > small[s] * 3 for s in small)  # 7776/139 = 56 lb billable vs 1.5 lb
    assert big_cm == big
    pounds = costs(sim, weight={"value": 1.5, "units": "pounds"}, dimensions=None)
    assert costs(sim, weight={"value": 680.388555, "units": "grams"}, dimensions=None) == pounds


def test_service_speed_and_international_premium(sim):
    ups = costs(sim, carrierCode="ups", dimensions=None)
    assert ups["ups_ground"] < ups["ups_3_day_select"] < ups["ups_2nd_day_air"] \
        < ups["ups_next_day_air"]
    fedex = costs(sim, dimensions=None)
    assert fedex["fedex_ground"] < fedex["fedex_2day"] < fedex["fedex_standard_overnight"]
    abroad = costs(sim, dimensions=None, toCountry="CA", toPostalCode="M5V 2T6", toState="ON")
    assert abroad["fedex_international_priority"] > fedex["fedex_2day"]
    usps = costs(sim, carrierCode="stamps_com", dimensions=None)
    usps_abroad = costs(sim, carrierCode="stamps_com", dimensions=None, toCountry="DE",
                        toPostalCode="10115")
    assert usps_abroad["usps_priority_mail_international"] > usps["usps_priority_mail"]


def test_rates_are_deterministic(sim, make_sim):
    first = rates(sim, carrierCode="ups", residential=True).json()
    assert rates(sim, carrierCode="ups", residential=True).json() == first
    assert rates(make_sim(), carrierCode="ups", residential=True).json() == first


# ---- V2 rates/estimate ----------------------------------------------------------------------
@pytest.mark.parametrize("overrides", [
    {}, {"address_residential_indicator": "yes", "confirmation": "adult_signature"},
    {"weight": {"value": 3.2, "unit": "kilogram"}, "dimensions": None},
    {"dimensions": {"length": 50, "width": 30, "height": 30, "unit": "centimeter"}},
    {"to_country_code": "CA", "to_postal_code": "M5V 2T6", "to_state_province": "ON"},
])
def test_v2_prices_equal_v1(sim, overrides):
    v2 = v2_body(**overrides)
    resp = estimate(sim, **overrides)
    assert resp.status_code == 200, resp.text
    got = resp.json()
    assert isinstance(got, list) and got
    weight, dims = v2["weight"], v2["dimensions"]
    if weight["unit"] == "kilogram":
        weight = {"value": weight["value"] * 1000, "unit": "gram"}
    v1_units = {"ounce": "ounces", "pound": "pounds", "gram": "grams", "inch": "inches",
                "centimeter": "centimeters"}
    for carrier, carrier_id in IDS.items():
        v1 = rates(sim, carrierCode=carrier, toCountry=v2["to_country_code"],
                   toPostalCode=v2["to_postal_code"], toState=v2["to_state_province"],
                   weight={"value": weight["value"], "units": v1_units[weight["unit"]]},
                   dimensions=dims and {**dims, "units": v1_units[dims["unit"]]},
                   confirmation=v2["confirmation"],
                   residential=v2["address_residential_indicator"] == "yes").json()
        mine = [r for r in got if r["carrier_id"] == carrier_id]
        assert [(r["service_code"], r["shipping_amount"]["amount"], r["other_amount"]["amount"])
                for r in mine] == [(r["serviceCode"], r["shipmentCost"], r["otherCost"])
                                   for r in v1]


def test_v2_rate_object_fields(sim):
    rate = next(r for r in estimate(sim).json() if r["service_code"] == "ups_2nd_day_air")
    assert rate["rate_type"] == "check"
    assert rate["carrier_id"] == "se-12347" and rate["carrier_code"] == "ups"
    assert rate["carrier_friendly_name"] == "UPS" and rate["service_type"] == "UPS 2nd Day Air®"
    assert rate["shipping_amount"]["currency"] == "usd"
    assert rate["insurance_amount"] == rate["confirmation_amount"] == {"currency": "usd",
                                                                       "amount": 0.0}
    assert rate["delivery_days"] == 2 and rate["error_messages"] == []
    assert rate["trackable"] is True and rate["package_type"] == "package"
    delivered = datetime.fromisoformat(rate["estimated_delivery_date"])
    assert delivered.date().isoformat() == "2024-05-07"  # Friday + 2 business days


@pytest.mark.parametrize("field", ["from_country_code", "from_postal_code", "to_country_code",
                                   "to_postal_code", "weight", "ship_date"])
def test_v2_required_fields(sim, field):
    assert_v2_error(estimate(sim, **{field: None}), 400, "field_value_required", field)


def test_v2_carrier_selection_rules(sim):
    body = v2_body()
    del body["carrier_ids"]
    resp = requests.post(f"{sim.url}/v2/rates/estimate", json=body, headers=V2, timeout=5)
    assert_v2_error(resp, 400, "field_value_required", "carrier_id")
    single = estimate(sim, carrier_ids=None, carrier_id="se-12348").json()
    assert single and {r["carrier_code"] for r in single} == {"fedex"}
    assert_v2_error(estimate(sim, carrier_ids=["se-999"]), 400, "invalid_field_value", "se-999")


@pytest.mark.parametrize(("overrides", "field"), [
    ({"weight": {"value": 1, "unit": "stone"}}, "weight.unit"),
    ({"weight": {"value": -1, "unit": "pound"}}, "weight.value"),
    ({"dimensions": {"length": 1, "width": 1, "height": 1, "unit": "inches"}}, "dimensions.unit"),
    ({"to_country_code": "Germany"}, "to_country_code"),
    ({"ship_date": "next tuesday"}, "ship_date"),
    ({"confirmation": "smoke_signal"}, "confirmation"),
    ({"address_residential_indicator": True}, "address_residential_indicator"),
])
def test_v2_invalid_values(sim, overrides, field):
    assert_v2_error(estimate(sim, **overrides), 400, "invalid_field_value", field)


@pytest.mark.parametrize("field", ["from_city_locality", "from_state_province",
                                   "to_city_locality", "to_state_province"])
@pytest.mark.parametrize("value", [None, ""])
def test_v2_requires_city_and_state_for_every_carrier(sim, field, value):
    """The published V2 spec requires both ends' city and state, whatever the carrier."""
    resp = estimate(sim, **{field: value}, carrier_ids=[IDS["fedex"], IDS["stamps_com"]])
    assert_v2_error(resp, 400, "field_value_required", field)
    assert {e["error_source"] for e in resp.json()["errors"]} <= {
        "carrier", "order_source", "ShipStation"}


@pytest.mark.parametrize("ship_date", ["2024-05-03", "2024-05-03T00:00:00", "05/03/2024"])
def test_v2_ship_date_is_a_date_time_with_offset(sim, ship_date):
    assert_v2_error(estimate(sim, ship_date=ship_date), 400, "invalid_field_value", "ship_date")
    assert estimate(sim, ship_date="2024-05-03T10:30:00-05:00").status_code == 200


@pytest.mark.parametrize("confirmation", ["delivery_code", "age_verification_16_plus",
                                          "direct"])
def test_v2_confirmation_outside_the_published_enum_is_400(sim, confirmation):
    assert_v2_error(estimate(sim, confirmation=confirmation), 400, "invalid_field_value",
                    "confirmation")
    for allowed in ("delivery_mailed", "verbal_confirmation"):
        assert estimate(sim, confirmation=allowed).status_code == 200


def test_v2_direct_signature_leaves_other_carriers_an_error_row(sim):
    got = estimate(sim, confirmation="direct_signature").json()
    fedex = [r for r in got if r["carrier_code"] == "fedex"]
    assert fedex and all(not r["error_messages"] for r in fedex)
    for code in ("ups", "stamps_com"):
        rows = [r for r in got if r["carrier_code"] == code]
        assert len(rows) == 1 and "direct_signature" in rows[0]["error_messages"][0]


def test_v2_rows_have_the_published_shape(sim):
    """No rate_id or requested_comparison_amount; tax_amount absent (never null); USPS
    rows per package type, named by package_type."""
    got = estimate(sim).json()
    for row in got:
        assert "rate_id" not in row and "requested_comparison_amount" not in row
        assert "tax_amount" not in row or isinstance(row["tax_amount"], dict)
        assert isinstance(row["zone"], int) and isinstance(row["package_type"], str)
    usps = {r["package_type"] for r in got if r["service_code"] == "usps_priority_mail"}
    assert {"package", "flat_rate_envelope"} <= usps


def test_v2_carrier_package_ids_are_strings(sim):
    carriers = requests.get(f"{sim.url}/v2/carriers", headers=V2, timeout=5).json()["carriers"]
    ids = [p["package_id"] for c in carriers for p in c["packages"]]
    assert ids and all(isinstance(i, str) and i.startswith("se-") for i in ids)
    assert len(set(ids)) == len(ids)


def test_v2_carrier_without_applicable_service_reports_error_messages(sim):
    got = estimate(sim, weight={"value": 100, "unit": "pound"}).json()
    usps = [r for r in got if r["carrier_code"] == "stamps_com"]
    assert len(usps) == 1 and usps[0]["error_messages"] == [NO_SERVICES]
    assert any(r["carrier_code"] == "ups" and not r["error_messages"] for r in got)


# ---- switches -------------------------------------------------------------------------------
def timed(call):
    start = time.perf_counter()
    resp = call()
    return resp, time.perf_counter() - start


def test_latency_per_carrier_and_global(sim):
    sim.set_latency(0.4, "ups")
    slow, slow_s = timed(lambda: rates(sim, carrierCode="ups"))
    fast, fast_s = timed(lambda: rates(sim, carrierCode="fedex"))
    assert slow.status_code == fast.status_code == 200
    assert slow_s >= 0.38 and fast_s < 0.25
    v2, v2_s = timed(lambda: estimate(sim))  # V2 waits for the slowest carrier involved
    assert v2.status_code == 200 and v2_s >= 0.38
    sim.clear_faults()
    sim.set_latency(0.3)
    _, any_s = timed(lambda: requests.get(f"{sim.url}/carriers", auth=AUTH, timeout=5))
    assert any_s >= 0.28


def test_force_status_times_and_default_bodies(sim):
    sim.force_status("ups", 500, times=2)
    assert_aspnet_500(rates(sim, carrierCode="ups"), "")
    assert rates(sim, carrierCode="fedex").status_code == 200  # other carriers unaffected
    assert rates(sim, carrierCode="ups").status_code == 500
    assert rates(sim, carrierCode="ups").status_code == 200
    sim.force_status(None, 503, times=1)
    resp = rates(sim, carrierCode="fedex")
    assert resp.status_code == 503 and "Service Unavailable" in resp.text
    sim.force_status("fedex", 429)
    resp = rates(sim)
    assert resp.status_code == 429 and resp.json() == {"message": "Too Many Requests"}
    assert resp.headers["X-Rate-Limit-Remaining"] == "0"
    sim.clear_faults()
    sim.force_status("fedex", 400, body="oops")
    resp = rates(sim)
    assert (resp.status_code, resp.text) == (400, "oops")
    assert [c["status"] for c in sim.calls("/shipments/getrates", carrier_code="ups")] == [
        500, 500, 200]


def test_force_malformed_and_empty(sim):
    sim.force_malformed("fedex", times=1)
    resp = rates(sim)
    assert resp.status_code == 200
    with pytest.raises(ValueError):
        resp.json()
    assert rates(sim).json()  # only once
    sim.force_empty("ups")
    resp = rates(sim, carrierCode="ups")
    assert resp.status_code == 200 and resp.json() == []
    v2 = estimate(sim).json()  # an empty carrier just contributes nothing to V2
    assert v2 and "ups" not in {r["carrier_code"] for r in v2}
    sim.clear_faults()
    assert rates(sim, carrierCode="ups").json()


def test_v2_forced_status_fails_whole_call(sim):
    sim.force_status("fedex", 500, times=1)
    assert_v2_error(estimate(sim), 500, "unspecified")
    assert estimate(sim).status_code == 200
    assert estimate(sim, carrier_ids=[IDS["ups"]]).status_code == 200
    sim.force_status("ups", 429, times=1)
    resp = estimate(sim)
    assert_v2_error(resp, 429, "rate_limit_exceeded")
    assert "Retry-After" in resp.headers
    sim.force_malformed("stamps_com", times=1)
    with pytest.raises(ValueError):
        estimate(sim).json()


def test_record_and_reset(sim):
    rates(sim, carrierCode="ups")
    estimate(sim)
    requests.get(f"{sim.url}/carriers", auth=AUTH, timeout=5)
    assert [c["path"] for c in sim.requests] == ["/shipments/getrates", "/v2/rates/estimate",
                                                 "/carriers"]
    first = sim.requests[0]
    assert set(first) >= {"method", "path", "json", "carrier_code", "status", "time"}
    assert (first["method"], first["carrier_code"], first["status"]) == ("POST", "ups", 200)
    assert first["json"]["carrierCode"] == "ups"
    assert len(sim.calls(carrier_code="ups")) == 2  # the V2 call involved ups too
    assert len(sim.calls("/carriers")) == 1
    sim.reset()
    assert sim.requests == []
