"""POST /v1/rates: one test per validation rule, over real HTTP.

Each asserts the 4xx status, the error code, and that the message and details
name the offending field. Validation happens before any upstream call, so the
simulator must not be called for a rejected request.
"""

from __future__ import annotations

import copy
import json
import uuid

import pytest

from tests.conftest import DC_REQUEST
from tests.rating.conftest import RATE_PATHS

DELETE = object()


def body_with(**changes) -> dict:
    """DC_REQUEST with dotted-path changes (``DELETE`` removes the field)."""
    body = copy.deepcopy(DC_REQUEST)
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = body
        for part in parents:
            node = node[part]
        if value is DELETE:
            del node[leaf]
        else:
            node[leaf] = value
    return body


def assert_invalid(response, field: str, *, status: int = 400, code: str = "invalid_request",
                   shipstation=None):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert field in error["message"], error
    assert error["details"].get("field") == field, error
    if shipstation is not None:
        assert [c for c in shipstation.calls() if c["path"] in RATE_PATHS.values()] == []
    return error


# -- required fields -------------------------------------------------------------
MISSING = ["ship_to", "ship_to.country", "ship_to.postal_code", "package", "package.weight",
           "package.weight.value", "package.weight.units", "package.dimensions.length",
           "package.dimensions.width", "package.dimensions.height",
           "package.dimensions.units"]


@pytest.mark.parametrize("field", MISSING)
def test_required_field_missing(api, shipstation, field):
    r = api.post("/v1/rates", json=body_with(**{field: DELETE}))
    error = assert_invalid(r, field, shipstation=shipstation)
    assert "required" in error["message"].lower()


@pytest.mark.parametrize("field", ["ship_to.country", "ship_to.postal_code",
                                   "package.weight.value"])
def test_required_field_null(api, field):
    assert_invalid(api.post("/v1/rates", json=body_with(**{field: None})), field)


# -- wrong types -------------------------------------------------------------------
WRONG_TYPES = [
    ("ship_to", "20500"),
    ("ship_to", ["US", "20500"]),
    ("ship_to.country", 840),
    ("ship_to.postal_code", 20500),
    ("ship_to.state", 11),
    ("ship_to.city", ["Washington"]),
    ("ship_to.residential", "maybe"),
    ("ship_to.residential", 2),
    ("ship_from", "78703"),
    ("ship_from.postal_code", 78703),
    ("package", "box"),
    ("package.weight", 24),
    ("package.weight.value", "heavy"),
    ("package.weight.value", True),
    ("package.weight.value", [24]),
    ("package.weight.value", "NaN"),
    ("package.weight.value", "Infinity"),
    ("package.weight.units", 1),
    ("package.dimensions", "7x5x6"),
    ("package.dimensions.length", "long"),
    ("package.package_code", 5),
    ("carriers", "fedex"),
    ("carriers", {"fedex": True}),
    ("service_code", 12),
    ("confirmation", True),
]


@pytest.mark.parametrize(("field", "value"), WRONG_TYPES,
                         ids=[f"{f}={json.dumps(v)}" for f, v in WRONG_TYPES])
def test_wrong_type(api, shipstation, field, value):
    assert_invalid(api.post("/v1/rates", json=body_with(**{field: value})), field,
                   shipstation=shipstation)


def test_carrier_code_of_wrong_type(api):
    r = api.post("/v1/rates", json=body_with(carriers=["fedex", 7]))
    assert_invalid(r, "carriers.1")


# -- unknown fields at every level ---------------------------------------------------
UNKNOWN = ["", "ship_to", "ship_from", "package", "package.weight", "package.dimensions"]


@pytest.mark.parametrize("where", UNKNOWN, ids=[w or "top" for w in UNKNOWN])
def test_unknown_field(api, shipstation, where):
    body = copy.deepcopy(DC_REQUEST)
    node = body
    for part in filter(None, where.split(".")):
        node = node[part]
    node["colour"] = "blue"
    field = f"{where}.colour" if where else "colour"
    error = assert_invalid(api.post("/v1/rates", json=body), field, shipstation=shipstation)
    assert "unknown" in error["message"].lower()


def test_all_errors_are_in_the_details(api):
    body = body_with(**{"ship_to.country": "XX", "package.weight.units": "stone"})
    error = api.post("/v1/rates", json=body).json()["error"]
    assert "country" in error["details"]["errors"]["ship_to"]
    assert "units" in error["details"]["errors"]["package"]["weight"]


# -- values -------------------------------------------------------------------------
@pytest.mark.parametrize("country", ["XX", "ZZ", "USA", "U", "", "1A"])
def test_bad_destination_country(api, country):
    assert_invalid(api.post("/v1/rates", json=body_with(**{"ship_to.country": country})),
                   "ship_to.country")


def test_bad_origin_country(api):
    assert_invalid(api.post("/v1/rates", json=body_with(**{"ship_from.country": "QQ"})),
                   "ship_from.country")


@pytest.mark.parametrize("value", [0, -1, "-0.5", "0.000"])
def test_weight_must_be_positive(api, shipstation, value):
    assert_invalid(api.post("/v1/rates", json=body_with(**{"package.weight.value": value})),
                   "package.weight.value", shipstation=shipstation)


def test_weight_has_an_upper_bound(api):
    assert_invalid(api.post("/v1/rates", json=body_with(**{"package.weight.value": 10**7})),
                   "package.weight.value")


@pytest.mark.parametrize("value", ["1e3", "1e1999999", 1e-322, 5e-324, "2.1234567", 2.1234567,
                                   "9" * 5000, "Infinity"])
def test_weight_is_a_bounded_plain_number(api, shipstation, value):
    """An exponent, a digit count or more than six decimals is a 400 at once, and the
    float 1e-322 never reaches ShipStation as a weight."""
    error = assert_invalid(api.post("/v1/rates",
                                    json=body_with(**{"package.weight.value": value})),
                           "package.weight.value", shipstation=shipstation)
    assert len(error["message"]) < 300


@pytest.mark.parametrize("value, units", [("0.01", "ounces"), (0.4, "grams"),
                                          ("0.000001", "kilograms"), (0.001, "pounds")])
def test_weight_that_rounds_to_no_grams_is_refused(api, shipstation, value, units):
    error = assert_invalid(api.post("/v1/rates", json=body_with(**{
        "package.weight.value": value, "package.weight.units": units})),
        "package.weight.value", shipstation=shipstation)
    assert "0 g" in error["message"]


@pytest.mark.parametrize("value, units", [("0.5", "grams"), (0.02, "ounces"),
                                          ("2.123456", "pounds")])
def test_small_and_precise_weights_are_rated(api, value, units):
    response = api.post("/v1/rates", json=body_with(**{
        "package.weight.value": value, "package.weight.units": units}))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("side", ["length", "width", "height"])
@pytest.mark.parametrize("value", ["1e2", 1e-300, "1.0000001"])
def test_dimensions_are_bounded_plain_numbers(api, side, value):
    field = f"package.dimensions.{side}"
    assert_invalid(api.post("/v1/rates", json=body_with(**{field: value})), field)


@pytest.mark.parametrize("side", ["length", "width", "height"])
@pytest.mark.parametrize("value", [0, -3])
def test_dimensions_must_be_positive(api, side, value):
    field = f"package.dimensions.{side}"
    assert_invalid(api.post("/v1/rates", json=body_with(**{field: value})), field)


@pytest.mark.parametrize("units", ["stone", "lbs", "oz", "POUNDS", ""])
def test_bad_weight_units(api, units):
    assert_invalid(api.post("/v1/rates", json=body_with(**{"package.weight.units": units})),
                   "package.weight.units")


@pytest.mark.parametrize("units", ["feet", "in", "mm"])
def test_bad_dimension_units(api, units):
    field = "package.dimensions.units"
    assert_invalid(api.post("/v1/rates", json=body_with(**{field: units})), field)


@pytest.mark.parametrize("confirmation", ["registered", "Signature!", ""])
def test_bad_confirmation(api, confirmation):
    assert_invalid(api.post("/v1/rates", json=body_with(confirmation=confirmation)),
                   "confirmation")


@pytest.mark.parametrize("confirmation", ["none", "delivery", "signature", "adult_signature",
                                          "direct_signature"])
def test_every_documented_confirmation_is_accepted(api, confirmation):
    r = api.post("/v1/rates", json=body_with(confirmation=confirmation, carriers=["fedex"]))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(("carriers", "field"), [
    (["fed ex"], "carriers.0"),
    (["fedex", "ups;drop"], "carriers.1"),
    ([""], "carriers.0"),
    (["x" * 51], "carriers.0"),
    ([], "carriers"),
    ([f"c{i}" for i in range(21)], "carriers"),
])
def test_bad_carrier_codes(api, carriers, field):
    assert_invalid(api.post("/v1/rates", json=body_with(carriers=carriers)), field)


@pytest.mark.parametrize(("field", "value"), [
    ("service_code", ""), ("package.package_code", ""), ("ship_to.postal_code", ""),
    ("ship_to.postal_code", "1" * 21), ("ship_to.state", ""), ("ship_to.city", "x" * 101),
])
def test_string_lengths(api, field, value):
    assert_invalid(api.post("/v1/rates", json=body_with(**{field: value})), field)


@pytest.mark.parametrize("value", ["\t", "   ", " \n "])
def test_blank_postal_code_is_a_400_not_an_upstream_error(api, shipstation, value):
    """Found by the schemathesis fuzz: a whitespace-only destination postal code passed
    the length check, went to ShipStation empty, and came back as a 502."""
    body = body_with(**{"ship_to.postal_code": value})
    assert_invalid(api.post("/v1/rates", json=body), "ship_to.postal_code",
                   shipstation=shipstation)


# -- UPS needs a state (ShipStation's rule) ---------------------------------------------
def _stateless(backend: str, **changes) -> dict:
    """A body without a usable state. V2 fills a known US ZIP's state from the ZIP table
    (and then UPS has one), so on V2 the ZIP is one the table does not know."""
    body = body_with(**changes)
    if backend == "v2":
        body["ship_to"]["postal_code"] = "99999"
    return body


def test_ups_without_state_is_a_400_naming_ship_to_state(api, shipstation, backend):
    body = _stateless(backend, **{"ship_to.state": DELETE}, carriers=["fedex", "ups"])
    error = assert_invalid(api.post("/v1/rates", json=body), "ship_to.state",
                           shipstation=shipstation)
    assert ("UPS" if backend == "v1" else "V2") in error["message"]


def test_ups_from_the_account_without_state_is_a_400(api, shipstation, backend):
    """No ``carriers``: the account's carriers include UPS, so the state is required."""
    body = _stateless(backend, **{"ship_to.state": DELETE})
    assert_invalid(api.post("/v1/rates", json=body), "ship_to.state", shipstation=shipstation)


def test_ups_with_null_state_is_a_400(api, backend):
    body = _stateless(backend, **{"ship_to.state": None}, carriers=["UPS"])
    assert_invalid(api.post("/v1/rates", json=body), "ship_to.state")


def test_ups_on_v1_needs_a_two_letter_state(api, shipstation, backend):
    """V1's toState is a two-letter code; a region name is not sent, so UPS (which needs
    one) is a 400 naming the field before any call. V2 takes the name as it is."""
    body = body_with(**{"ship_to.country": "NZ", "ship_to.postal_code": "1010",
                        "ship_to.state": "Auckland", "ship_to.city": "Auckland"},
                     carriers=["ups"])
    response = api.post("/v1/rates", json=body)
    if backend == "v1":
        error = assert_invalid(response, "ship_to.state", shipstation=shipstation)
        assert "two-letter" in error["message"]
    else:
        assert response.status_code == 200, response.text


def test_region_names_are_left_out_of_v1_but_other_carriers_rate(api, shipstation, backend):
    body = body_with(**{"ship_to.country": "NZ", "ship_to.postal_code": "1010",
                        "ship_to.state": "Auckland", "ship_to.city": "Auckland"},
                     carriers=["fedex", "ups"])
    response = api.post("/v1/rates", json=body)
    assert response.status_code == 200, response.text
    sent = [c["json"] for c in shipstation.calls() if c["path"] == RATE_PATHS[backend]]
    assert sent
    if backend == "v1":
        assert all("toState" not in body for body in sent)
        assert {b["carrierCode"] for b in sent} == {"fedex"}  # no call spent on UPS
        errors = response.json()["errors"]
        assert [(e["carrier_code"], e["code"]) for e in errors] == [("ups", "unsupported_option")]
        assert "ship_to.state" in errors[0]["message"]
    else:
        assert {q["carrier_code"] for q in response.json()["quotes"]} >= {"fedex", "ups"}


def test_no_state_is_fine_without_ups(api):
    body = body_with(**{"ship_to.state": DELETE}, carriers=["fedex"])
    assert api.post("/v1/rates", json=body).status_code == 200


# -- the body itself ----------------------------------------------------------------
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          None])
def test_non_json_body_is_415(api, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    r = api.post("/v1/rates", data=json.dumps(DC_REQUEST).encode(), headers=headers)
    assert r.status_code == 415, r.text
    assert r.json()["error"]["code"] == "unsupported_media_type"
    assert "JSON" in r.json()["error"]["message"]


def test_json_with_charset_is_accepted(api):
    r = api.post("/v1/rates", data=json.dumps(body_with(carriers=["fedex"])).encode(),
                 headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("raw", [b"{", b"{'ship_to': 1}", b"", b"\xff\xfe{}", b"[1,]"])
def test_invalid_json_is_400(api, raw):
    r = api.post("/v1/rates", data=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_json"
    assert "JSON" in error["message"]


@pytest.mark.parametrize("value", [[DC_REQUEST], "ship", 5, None])
def test_body_must_be_an_object(api, value):
    r = api.post("/v1/rates", data=json.dumps(value),
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_request"
    assert "object" in r.json()["error"]["message"]


def _padded(size: int) -> bytes:
    body = body_with()
    body["pad"] = "x" * size
    return json.dumps(body).encode()


def test_body_over_64_kib_is_a_real_413(api, shipstation):
    r = api.post("/v1/rates", data=_padded(70 * 1024),
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    error = r.json()["error"]
    assert error["code"] == "payload_too_large"
    assert "64 KiB" in error["message"]
    assert shipstation.calls() == []


def test_body_over_the_app_limit_is_a_real_413(api):
    r = api.post("/v1/rates", data=_padded(3 * 1024 * 1024),
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "payload_too_large"


def test_chunked_body_over_64_kib_is_a_413(api):
    data = _padded(70 * 1024)
    chunks = (data[i:i + 8192] for i in range(0, len(data), 8192))
    r = api.post("/v1/rates", data=chunks, headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "payload_too_large"


def test_body_just_under_64_kib_is_read(api):
    """Padding under the limit is read in full; the error is the unknown field, not 413."""
    data = _padded(60 * 1024)
    assert len(data) < 64 * 1024
    r = api.post("/v1/rates", data=data, headers={"Content-Type": "application/json"})
    assert_invalid(r, "pad")


def test_connection_stays_usable_after_a_413(api):
    r = api.post("/v1/rates", data=_padded(100 * 1024),
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    ok = api.post("/v1/rates", json=body_with(carriers=["fedex"]))
    assert ok.status_code == 200, ok.text


def test_get_is_405(api):
    r = api.get("/v1/rates")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"
    assert "POST" in r.headers["Allow"]


def test_residential_takes_json_booleans_only(api):
    for value in ("yes", 1, "true"):
        body = {**DC_REQUEST, "ship_to": {**DC_REQUEST["ship_to"], "residential": value}}
        r = api.post("/v1/rates", json=body)
        assert r.status_code == 400, value
        assert r.json()["error"]["details"]["field"] == "ship_to.residential"


# -- text that is only white space ------------------------------------------------
# Normalisation would turn it into nothing; ShipStation would answer a 502 that spent
# call budget. Every text field refuses it, before any upstream call.
BLANK_TEXT = ["ship_to.country", "ship_to.postal_code", "ship_to.state", "ship_to.city",
              "ship_from.postal_code", "ship_from.country", "ship_from.state",
              "ship_from.city", "package.package_code", "service_code", "confirmation"]


@pytest.mark.parametrize("blank", ["   ", "\t", " \n "])
@pytest.mark.parametrize("field", BLANK_TEXT)
def test_blank_text_is_refused_before_any_call(api, shipstation, field, blank):
    r = api.post("/v1/rates", json=body_with(**{field: blank}))
    error = assert_invalid(r, field, shipstation=shipstation)
    assert "blank" in error["message"].lower()


def test_blank_carrier_code_is_refused(api, shipstation):
    r = api.post("/v1/rates", json=body_with(carriers=["fedex", "  "]))
    assert_invalid(r, "carriers.1", shipstation=shipstation)


def test_text_is_trimmed_not_refused(api, shipstation):
    r = api.post("/v1/rates", json=body_with(**{"ship_to.postal_code": " 20500 ",
                                                "ship_to.city": " Washington "}))
    assert r.status_code == 200, r.text


# -- JSON the parser must refuse, not crash on ----------------------------------------
def test_deeply_nested_json_is_a_400_not_a_500(api, shipstation):
    r = api.post("/v1/rates", data=b"[" * 1000 + b"]" * 1000,
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_json"
    assert "32" in r.json()["error"]["message"]


def test_nesting_within_the_limit_is_only_a_shape_error(api, shipstation):
    r = api.post("/v1/rates", data=b"[" * 30 + b"]" * 30,
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_request"


def test_duplicate_keys_are_a_400_naming_the_key(api, shipstation):
    body = json.dumps(DC_REQUEST)[:-1] + ', "carriers": ["fedex"], "carriers": ["ups"]}'
    r = api.post("/v1/rates", data=body.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["details"]["field"] == "carriers"
    assert [c for c in shipstation.calls() if c["path"] in RATE_PATHS.values()] == []


def test_the_request_bytes_cache_is_bounded_by_bytes_not_count(api, shipstation):
    from ratecalc.rating import api as rating_api

    body = json.dumps(DC_REQUEST)
    padded = [(body[:-1] + " " * (60 * 1024 + n) + "}").encode() for n in range(160)]
    for data in padded:  # about 9.4 MiB of distinct, valid bodies, each sent twice
        for _ in range(2):  # (a body is kept from its second sighting)
            r = api.post("/v1/rates", data=data, headers={"Content-Type": "application/json"})
            assert r.status_code == 200, r.text
    assert rating_api._requests.currsize <= rating_api.REQUEST_CACHE_BYTES
    assert len(rating_api._requests) < len(padded)
    assert padded[-1] in rating_api._requests  # the newest are kept


def test_a_body_seen_once_is_not_kept_a_repeated_one_is(api, shipstation):
    from ratecalc.rating import api as rating_api

    fresh = uuid.uuid4().int % 50_000  # bodies this process has never seen
    once = json.dumps({**DC_REQUEST, "carriers": ["fedex"]}).encode() + b" " * fresh
    twice = json.dumps({**DC_REQUEST, "carriers": ["ups"]}).encode() + b" " * (fresh + 1)
    for data in (once, twice, twice):
        r = api.post("/v1/rates", data=data, headers={"Content-Type": "application/json"})
        assert r.status_code == 200, r.text
    assert once not in rating_api._requests
    assert twice in rating_api._requests
