"""``POST /v1/orders/<cin7_id>/freight``: quote a Cin7 order and write the freight fee onto it.

Real HTTP all the way: ratecalc on a socket, the Cin7 simulator and the ShipStation
simulator on theirs. Order 1001 (``eligible_nz``) has 2 x MCT-BLK-M (option weight
0.22) and 1 x CPO-WHT (1.35): 1.79 in the account's weight unit.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from tests.conftest import TOKEN

ORDER = 1001
ORDER_WEIGHT = Decimal("1.79")  # 2 x 0.22 + 1 x 1.35
GRAMS_PER = {"kilograms": Decimal(1000), "grams": Decimal(1),
             "pounds": Decimal("453.59237"), "ounces": Decimal("28.349523125")}






def puts(cin7):
    return cin7.calls("PUT", "/v1/SalesOrders")


def getrates(shipstation):
    return [c for c in shipstation.calls() if c["path"].lower().endswith("/getrates")]


def freight(api, order_id=ORDER, **kwargs):
    return api.post(f"/v1/orders/{order_id}/freight", **kwargs)


def test_dry_run_quotes_without_writing(shop_api, cin7, shipstation):
    api = shop_api()
    before = dict(cin7.orders[ORDER])
    response = freight(api, json={"dry_run": True})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["order_id"] == ORDER
    assert body["reference"] == "#1050"
    assert body["dry_run"] is True
    assert body["written"] is None
    assert body["quote"]["freight_fee"] > 0
    assert body["quote"]["selected"]["service_name"]
    assert getrates(shipstation), "the quote must go through ShipStation"
    assert puts(cin7) == []
    assert cin7.orders[ORDER]["freightTotal"] == before["freightTotal"]
    assert cin7.orders[ORDER]["freightDescription"] == before["freightDescription"]


def test_real_write_sets_freight_total_and_description(shop_api, cin7):
    api = shop_api()
    response = freight(api, json={})
    assert response.status_code == 200, response.text
    body = response.json()
    quote = body["quote"]
    assert body["dry_run"] is False
    fee = Decimal(str(quote["freight_fee"]))
    name = quote["selected"]["service_name"]
    assert Decimal(str(body["written"]["freightTotal"])) == fee
    assert body["written"]["freightDescription"] == name
    [put] = puts(cin7)
    assert put["status"] == 200
    assert put["json"] == [{"id": ORDER, "freightTotal": pytest.approx(float(fee)),
                            "freightDescription": name}]
    order = cin7.orders[ORDER]
    assert Decimal(str(order["freightTotal"])) == fee
    assert order["freightDescription"] == name


def test_no_body_means_a_real_write(shop_api, cin7):
    api = shop_api()
    response = freight(api)
    assert response.status_code == 200, response.text
    assert response.json()["written"] is not None
    assert len(puts(cin7)) == 1


def test_markup_is_applied(shop_api, cin7):
    api = shop_api(MARKUP_PERCENT="12.5")
    body = freight(api, json={"dry_run": True}).json()
    quote = body["quote"]
    assert quote["markup_percent"] == 12.5
    carrier_cost = Decimal(str(quote["selected"]["carrier_cost"]))
    expected = (carrier_cost * Decimal("1.125")).quantize(Decimal("0.01"), "ROUND_HALF_UP")
    assert Decimal(str(quote["freight_fee"])) == expected
    assert expected > carrier_cost
    for line in quote["quotes"]:
        assert Decimal(str(line["freight_fee"])) == (
            Decimal(str(line["carrier_cost"])) * Decimal("1.125")).quantize(
            Decimal("0.01"), "ROUND_HALF_UP")


def test_marked_up_fee_is_what_lands_on_the_order(shop_api, cin7):
    api = shop_api(MARKUP_PERCENT="12.5")
    response = freight(api, json={})
    assert response.status_code == 200, response.text
    fee = Decimal(str(response.json()["quote"]["freight_fee"]))
    assert fee > Decimal(str(response.json()["quote"]["selected"]["carrier_cost"]))
    assert Decimal(str(cin7.orders[ORDER]["freightTotal"])) == fee


@pytest.mark.parametrize("units", ["kilograms", "grams", "pounds", "ounces"])
def test_weight_is_sum_of_quantity_times_unit_weight(shop_api, shipstation, units):
    api = shop_api(CIN7_WEIGHT_UNITS=units)
    response = freight(api, json={"dry_run": True})
    assert response.status_code == 200, response.text
    calls = getrates(shipstation)
    assert calls
    for call in calls:
        weight = call["json"]["weight"]
        grams = Decimal(str(weight["value"])) * GRAMS_PER[weight["units"].lower()]
        assert grams == pytest.approx(ORDER_WEIGHT * GRAMS_PER[units], rel=Decimal("0.001"))


def test_option_weight_zero_falls_back_to_product_weight(shop_api, cin7, shipstation):
    # MCT-NAT-M has optionWeight 0: the product's 0.25 kg counts, x 3.
    cin7.touch(1001, lineItems=[{"code": "MCT-NAT-M", "qty": 3.0, "qtyShipped": 3.0,
                                 "unitPrice": 59.0}])
    api = shop_api()
    assert freight(api, json={"dry_run": True}).status_code == 200
    weight = getrates(shipstation)[0]["json"]["weight"]
    grams = Decimal(str(weight["value"])) * GRAMS_PER[weight["units"].lower()]
    assert grams == pytest.approx(Decimal(750), rel=Decimal("0.001"))


def test_package_dimensions_are_passed_through(shop_api, shipstation):
    api = shop_api()
    response = freight(api, json={"dry_run": True, "package": {
        "dimensions": {"length": 30, "width": 20, "height": 10, "units": "centimeters"}}})
    assert response.status_code == 200, response.text
    dims = getrates(shipstation)[0]["json"]["dimensions"]
    assert dims is not None


def test_missing_weights_is_422_listing_the_lines(shop_api, cin7):
    # Order 1019 has MCT-NAT-M (product weight) and GIFT-50 (no weight anywhere).
    api = shop_api()
    response = freight(api, order_id=1019, json={})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "missing_weights"
    gift = next(line for line in cin7.orders[1019]["lineItems"] if line["code"] == "GIFT-50")
    assert "GIFT-50" in error["message"]
    assert error["details"]["lines"] == [{"line_id": gift["id"], "code": "GIFT-50"}]
    assert "MCT-NAT-M" not in response.text
    assert puts(cin7) == []


def test_missing_weights_lists_every_weightless_line(shop_api, cin7):
    # Order 1002: TBR-CHA-SOFT-4 (weighted) and a GIFT-WRAP line with no product.
    cin7.touch(1002, lineItems=cin7.orders[1002]["lineItems"] + [
        {"code": "GIFT-50", "qty": 1.0, "qtyShipped": 1.0, "unitPrice": 50.0}])
    api = shop_api()
    response = freight(api, order_id=1002, json={"dry_run": True})
    assert response.status_code == 422, response.text
    text = response.text
    assert "GIFT-WRAP" in text and "GIFT-50" in text
    assert "TBR-CHA-SOFT-4" not in text


def test_unknown_order_is_404(shop_api, cin7):
    api = shop_api()
    response = freight(api, order_id=987654, json={"dry_run": True})
    assert response.status_code == 404, response.text
    assert puts(cin7) == []


def test_unknown_body_field_is_400(shop_api, cin7, shipstation):
    api = shop_api()
    response = freight(api, json={"dry_run": True, "weight": 5})
    assert response.status_code == 400, response.text
    assert "weight" in response.text
    assert getrates(shipstation) == []
    assert puts(cin7) == []


def test_dry_run_must_be_boolean(shop_api, cin7):
    api = shop_api()
    response = freight(api, json={"dry_run": "yes"})
    assert response.status_code == 400, response.text
    assert puts(cin7) == []


def test_needs_the_bearer_token(shop_api, cin7):
    api = shop_api()
    assert freight(api, json={}, auth=False).status_code == 401
    assert freight(api, json={}, headers={"Authorization": "Bearer wrong-token-0123456789"}
                   ).status_code == 401
    assert puts(cin7) == []


def test_carriers_and_service_code_are_passed_through(shop_api, cin7, shipstation):
    # Order 1003 ships to Austin, USA: UPS Ground applies.
    api = shop_api()
    response = freight(api, order_id=1003,
                       json={"dry_run": True, "carriers": ["ups"], "service_code": "ups_ground"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["quote"]["selected"]["carrier_code"] == "ups"
    assert body["quote"]["selected"]["service_code"] == "ups_ground"
    assert {q["carrier_code"] for q in body["quote"]["quotes"]} == {"ups"}
    calls = getrates(shipstation)
    assert calls and all(c["carrier_code"] == "ups" for c in calls)
    assert calls[0]["json"].get("serviceCode") == "ups_ground"
    assert puts(cin7) == []


def test_record_rejected_by_cin7_is_reported(shop_api, cin7):
    cin7.fail_put_for(ORDER, "The sales order is locked by another user.")
    api = shop_api()
    response = freight(api, json={})
    assert response.status_code == 502, response.text
    assert "locked by another user" in response.text
    assert cin7.orders[ORDER]["freightTotal"] == 8.5


def test_cin7_down_is_a_gateway_error_not_a_write(shop_api, cin7):
    api = shop_api()
    cin7.set_outage(503)
    response = freight(api, json={})
    assert response.status_code in (502, 503, 504), response.text
    cin7.set_outage(None)
    assert puts(cin7) == []


def test_chunked_dry_run_is_still_a_dry_run(shop_api, cin7):
    api = shop_api()

    def body():
        yield b'{"dry_run": '
        yield b"true}"

    response = freight(api, data=body(), headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["dry_run"] is True
    assert puts(cin7) == []


# -- the freight body is held to the rate request's rules -----------------------------
@pytest.mark.parametrize("body, field", [
    ({"package": "x"}, "package"),
    ({"package": {"dimensions": {"length": 1, "width": 1, "height": 1, "units": "inches"},
                  "colour": "red"}}, "package.colour"),
    ({"package": {"package_code": "  "}}, "package.package_code"),
    ({"residential": "yes"}, "residential"),
    ({"carriers": ["fed ex"]}, "carriers.0"),
])
def test_freight_body_rules(shop_api, cin7, shipstation, body, field):
    api = shop_api()
    r = api.post("/v1/orders/1001/freight", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["details"]["field"] == field
    assert cin7.calls("PUT") == []


def test_duplicate_keys_are_refused_before_any_write(shop_api, cin7, shipstation):
    api = shop_api()
    r = api.post("/v1/orders/1001/freight", data=b'{"dry_run": true, "dry_run": false}',
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert "dry_run" in r.json()["error"]["message"]
    assert cin7.calls("PUT") == []


@pytest.mark.parametrize("path", ["/v1/orders/\u0661\u0660\u0660\u0661/eligibility",
                                  "/v1/orders/99999999999/eligibility",
                                  "/v1/orders/0/freight",
                                  "/v1/shipnotify/9223372036854775808/retry"])
def test_ids_in_paths_are_ascii_digits_within_an_int(shop_api, cin7, path):
    api = shop_api()
    method = api.get if path.endswith("eligibility") else api.post
    assert method(path).status_code == 404


def test_no_redirect_reflects_the_host_header(shop_api, cin7):
    api = shop_api()
    for path in ("/v1/orders/1001%2f/freight", "/v1/orders/1001//freight", "/healthz/"):
        r = requests.post(api.url + path, headers={"Host": "evil.example",
                                                   "Authorization": f"Bearer {TOKEN}"},
                          allow_redirects=False, timeout=10)
        assert r.status_code not in (301, 302, 307, 308), (path, r.headers)
        assert "evil.example" not in r.headers.get("Location", "")
