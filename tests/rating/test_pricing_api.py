"""Pricing rules through the real app and the ShipStation simulator, both over HTTP:
order_value, the pricing block of every line, selection, the cache, GET /v1/pricing."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest

from tests.conftest import DC_REQUEST
from tests.rating.conftest import crafted_rates, rate_calls

D = Decimal

RULES = """\
[defaults]
markup_percent = "12.5"
handling_fee = "2.00"
round_up_to = "0.50"
minimum_fee = "5.00"
maximum_fee = "80.00"
free_over = "150.00"
free_services = ["svc_free"]
exclude_services = ["svc_excluded"]

[[rule]]
name = "fedex-express"
carrier = "fedex"
service = "svc_express"
markup_percent = "20"
handling_fee = "5.00"

[[rule]]
name = "canada"
country = ["CA"]
handling_fee = "0"
"""

# (service_code, shipment_cost, other_cost) -> carrier_cost
ROWS = [("svc_plain", 8.25, 0.33),        # 8.58
        ("svc_express", 8.58, 0),         # 8.58, rule fedex-express
        ("svc_cheap", 2.00, 0.10),        # 2.10 -> minimum
        ("svc_dear", 75.00, 0),           # 75.00 -> maximum
        ("svc_free", 20.00, 0),           # 20.00; free over 150
        ("svc_excluded", 1.00, 0)]        # never quoted


def body(**changes) -> dict:
    request = copy.deepcopy(DC_REQUEST)
    request["carriers"] = ["fedex"]
    request.update(changes)
    return request


def decimal_json(response) -> dict:
    return json.loads(response.text, parse_float=Decimal)


@pytest.fixture
def rules_file(tmp_path):
    path = tmp_path / "pricing.toml"
    path.write_text(RULES)
    return path


@pytest.fixture
def priced_api(rating_api, shipstation, backend, rules_file):
    shipstation.force_status("fedex", 200, body=crafted_rates(backend, "fedex", ROWS))
    return rating_api(PRICING_FILE=str(rules_file), MARKUP_PERCENT="10")


def lines(response) -> dict:
    assert response.status_code == 200, response.text
    return {q["service_code"]: q for q in decimal_json(response)["quotes"]}


def test_every_line_is_priced_by_the_rules_in_exact_cents(priced_api):
    r = priced_api.post("/v1/rates", json=body())
    got = lines(r)
    assert set(got) == {"svc_plain", "svc_express", "svc_cheap", "svc_dear", "svc_free"}
    fees = {code: q["freight_fee"] for code, q in got.items()}
    assert fees == {
        "svc_plain": D("12.00"),    # 8.58 × 1.125 = 9.6525 + 2 = 11.6525 -> 12.00
        "svc_express": D("15.50"),  # 8.58 × 1.20 = 10.296 + 5 = 15.296 -> 15.50
        "svc_cheap": D("5.00"),     # 2.3625 + 2 = 4.3625 -> 4.50 -> minimum 5.00
        "svc_dear": D("80.00"),     # 84.375 + 2 = 86.375 -> 86.50 -> maximum 80.00
        "svc_free": D("24.50"),     # 22.50 + 2 = 24.50; no order_value: not free
    }
    assert got["svc_plain"]["pricing"] == {
        "rule": None, "markup_percent": "12.5", "handling_fee": "2.00", "rounded_up": True,
        "clamped": None, "free": False}
    assert got["svc_express"]["pricing"] == {
        "rule": "fedex-express", "markup_percent": "20", "handling_fee": "5.00",
        "rounded_up": True, "clamped": None, "free": False}
    assert got["svc_cheap"]["pricing"]["clamped"] == "minimum"
    assert got["svc_dear"]["pricing"]["clamped"] == "maximum"
    assert got["svc_free"]["pricing"]["rounded_up"] is False  # 24.50 is a multiple already
    whole = decimal_json(r)
    assert whole["markup_percent"] == D("12.5")   # the file's [defaults] replaces the setting
    assert whole["selected"]["service_code"] == "svc_cheap"


def test_a_free_service_wins_the_selection(priced_api):
    r = priced_api.post("/v1/rates", json=body(order_value={"amount": "150.00",
                                                            "currency": "USD"}))
    got = lines(r)
    assert got["svc_free"]["freight_fee"] == D("0.00")
    assert got["svc_free"]["pricing"]["free"] is True
    assert got["svc_plain"]["pricing"]["free"] is False   # not in free_services
    whole = decimal_json(r)
    assert whole["selected"]["service_code"] == "svc_free"
    assert whole["freight_fee"] == D("0.00")


def test_order_value_below_free_over_is_not_free(priced_api):
    got = lines(priced_api.post("/v1/rates", json=body(order_value={"amount": 149.99,
                                                                    "currency": "usd"})))
    assert got["svc_free"]["freight_fee"] == D("24.50")


def test_rules_match_the_destination_country(priced_api):
    canada = body(ship_to={"country": "CA", "postal_code": "M5V 2T6", "state": "ON",
                           "city": "Toronto"})
    got = lines(priced_api.post("/v1/rates", json=canada))
    assert got["svc_plain"]["pricing"]["rule"] == "canada"
    assert got["svc_plain"]["freight_fee"] == D("10.00")   # 9.6525 + 0 -> 10.00
    assert got["svc_express"]["pricing"]["rule"] == "fedex-express"  # the first match wins


def test_cached_rates_are_priced_at_answer_time(priced_api, shipstation, backend):
    first = priced_api.post("/v1/rates", json=body())
    calls = len(rate_calls(shipstation, backend))
    second = priced_api.post("/v1/rates", json=body(order_value={"amount": "500",
                                                                 "currency": "USD"}))
    assert second.headers["X-Cache"] == "HIT"
    assert len(rate_calls(shipstation, backend)) == calls
    assert lines(first)["svc_free"]["freight_fee"] == D("24.50")
    assert lines(second)["svc_free"]["freight_fee"] == D("0.00")


def test_currency_mismatch_is_a_400_naming_the_field(priced_api, shipstation, backend):
    calls = len(rate_calls(shipstation, backend))
    r = priced_api.post("/v1/rates", json=body(order_value={"amount": "10", "currency": "EUR"}))
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["details"]["field"] == "order_value.currency"
    assert "USD" in error["message"] and "EUR" in error["message"]
    assert len(rate_calls(shipstation, backend)) == calls  # refused before any call


@pytest.mark.parametrize(("order_value", "field"), [
    ({"amount": "-1", "currency": "USD"}, "order_value.amount"),
    ({"amount": "1000000.01", "currency": "USD"}, "order_value.amount"),
    ({"amount": "1.00001", "currency": "USD"}, "order_value.amount"),
    ({"amount": "1e9", "currency": "USD"}, "order_value.amount"),
    ({"amount": True, "currency": "USD"}, "order_value.amount"),
    ({"amount": "10", "currency": "XXY"}, "order_value.currency"),
    ({"amount": "10"}, "order_value.currency"),
    ({"currency": "USD"}, "order_value.amount"),
    ({"amount": "10", "currency": "USD", "tax": 1}, "order_value.tax"),
])
def test_order_value_is_bounded(api, order_value, field):
    r = api.post("/v1/rates", json=body(order_value=order_value))
    assert r.status_code == 400, r.text
    assert r.json()["error"]["details"]["field"] == field


def test_excluding_every_service_is_no_rates(rating_api, shipstation, backend, tmp_path):
    path = tmp_path / "pricing.toml"
    path.write_text('[defaults]\nexclude_services = ["svc_a", "svc_b"]\n')
    shipstation.force_status("fedex", 200, body=crafted_rates(backend, "fedex", [
        ("svc_a", 5, 0), ("svc_b", 6, 0)]))
    r = rating_api(PRICING_FILE=str(path)).post("/v1/rates", json=body())
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "no_rates"


def test_without_a_file_fees_are_todays_markup(rating_api, shipstation, backend):
    shipstation.force_status("fedex", 200, body=crafted_rates(backend, "fedex", [
        ("svc_a", 8.25, 0.33), ("svc_b", 0.02, 0.01)]))
    api = rating_api(MARKUP_PERCENT="12.5")
    r = api.post("/v1/rates", json=body(order_value={"amount": "999", "currency": "USD"}))
    got = lines(r)
    assert {k: q["freight_fee"] for k, q in got.items()} == {"svc_a": D("9.65"),
                                                             "svc_b": D("0.03")}
    assert '"freight_fee":9.65' in r.text.replace(" ", "")
    assert got["svc_a"]["pricing"] == {"rule": None, "markup_percent": "12.5",
                                       "handling_fee": "0.00", "rounded_up": False,
                                       "clamped": None, "free": False}


def test_get_pricing_returns_the_active_rules(priced_api, rules_file):
    r = priced_api.get("/v1/pricing")
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["file"] == str(rules_file)
    assert got["defaults"] == {
        "markup_percent": "12.5", "handling_fee": "2.00", "round_up_to": "0.50",
        "minimum_fee": "5.00", "maximum_fee": "80.00", "free_over": "150.00",
        "free_services": ["svc_free"], "exclude_services": ["svc_excluded"]}
    first, second = got["rules"]
    assert (first["name"], first["carrier"], first["service"], first["country"]) == (
        "fedex-express", "fedex", "svc_express", None)
    assert first["overrides"] == {"markup_percent": "20", "handling_fee": "5.00"}
    assert first["terms"]["markup_percent"] == "20"
    assert first["terms"]["round_up_to"] == "0.50"     # inherited from [defaults]
    assert (second["name"], second["country"], second["overrides"]) == (
        "canada", ["CA"], {"handling_fee": "0"})


def test_get_pricing_without_a_file_shows_the_markup(rating_api):
    got = rating_api(MARKUP_PERCENT="7.5").get("/v1/pricing").json()
    assert got["file"] is None and got["rules"] == []
    assert got["defaults"]["markup_percent"] == "7.5"
    assert got["defaults"]["handling_fee"] is None


def test_get_pricing_needs_the_token(api):
    assert api.get("/v1/pricing", auth=False).status_code == 401
    assert api.get("/v1/pricing", headers={"Authorization": "Bearer nope"},
                   auth=False).status_code == 401


def test_openapi_documents_pricing(api):
    doc = api.get("/openapi.json", auth=False).json()
    schemas = doc["components"]["schemas"]
    assert "pricing" in schemas["QuoteLine"]["properties"]
    assert set(schemas["LinePricing"]["properties"]) == {
        "rule", "markup_percent", "handling_fee", "rounded_up", "clamped", "free"}
    assert "order_value" in schemas["RatesRequest"]["properties"]
    assert doc["paths"]["/v1/pricing"]["get"]["security"] == [{"bearer": []}]
