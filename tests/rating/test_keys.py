"""Cache-key normalisation: same shipment -> same key; any price-changing field -> new key."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ratecalc.rating import keys
from ratecalc.rating.keys import account_fingerprint, cache_key, postal_code
from ratecalc.rating.schemas import load_rate_request

D = Decimal
BASE = {
    "ship_to": {"country": "US", "postal_code": "20500", "state": "DC", "city": "Washington",
                "residential": False},
    "ship_from": {"postal_code": "78703"},
    "package": {"weight": {"value": D(24), "units": "ounces"},
                "dimensions": {"length": D(7), "width": D(5), "height": D(6),
                               "units": "inches"},
                "package_code": "package"},
    "service_code": "fedex_ground",
    "confirmation": "delivery",
}


def request(**changes) -> dict:
    """BASE with dotted-path changes, e.g. ``request(**{"ship_to.city": "X"})``."""
    body = copy.deepcopy(BASE)
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = body
        for part in parents:
            node = node.setdefault(part, {})
        if value is DELETE:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return body


DELETE = object()


def normalise(body: dict, **defaults):
    """The Shipment of a JSON body, loaded the way the API loads it."""
    return keys.normalise(load_rate_request(body), **defaults)


def key(body: dict, carrier: str = "fedex", account: str = "acct", **defaults) -> str:
    defaults.setdefault("default_from_postal_code", "78703")
    return cache_key(normalise(body, **defaults), carrier, account)


# -- equal keys for equal shipments ------------------------------------------------
@pytest.mark.parametrize("country", ["us", "Us", "uS", "US"])
def test_country_is_case_insensitive(country):
    assert key(request(**{"ship_to.country": country})) == key(BASE)


@pytest.mark.parametrize("zip_code", ["20500-0003", "20500 0003", "205000003", " 20500 "])
def test_us_zip_plus_four_is_zip5(zip_code):
    assert key(request(**{"ship_to.postal_code": zip_code})) == key(BASE)


def test_different_zip5_is_a_different_key():
    assert key(request(**{"ship_to.postal_code": "20501"})) != key(BASE)


@pytest.mark.parametrize(("raw", "normal"), [
    ("20500-0003", "20500"), ("20500", "20500"), ("2050", "2050"), ("ABCDE", "ABCDE"),
])
def test_us_postal_code(raw, normal):
    assert postal_code("US", raw) == normal


@pytest.mark.parametrize("code", ["k1a 0b1", "K1A0B1", " K1A  0B1 ", "k1a0b1"])
def test_canadian_postcodes_upper_case_without_space(code):
    assert postal_code("CA", code) == "K1A0B1"
    ca = request(**{"ship_to.country": "CA", "ship_to.postal_code": code,
                    "ship_to.state": "ON"})
    expected = request(**{"ship_to.country": "CA", "ship_to.postal_code": "K1A 0B1",
                          "ship_to.state": "ON"})
    assert key(ca) == key(expected)


def test_other_countries_fold_spaces_but_keep_them():
    assert postal_code("GB", " sw1a   1aa ") == "SW1A 1AA"
    assert postal_code("GB", "SW1A1AA") != postal_code("GB", "SW1A 1AA")


def test_origin_zip_plus_four_is_zip5():
    assert key(request(**{"ship_from.postal_code": "78703-1234"})) == key(BASE)


def test_origin_defaults_to_settings():
    without = request(**{"ship_from": DELETE})
    assert key(without, default_from_postal_code="78703") == key(BASE)
    assert key(without, default_from_postal_code="10001") != key(BASE)


def test_one_pound_and_sixteen_ounces_share_a_key():
    one_lb = request(**{"package.weight": {"value": D(1), "units": "pounds"}})
    sixteen_oz = request(**{"package.weight": {"value": D(16), "units": "ounces"}})
    assert key(one_lb) == key(sixteen_oz)
    assert normalise(one_lb, default_from_postal_code="1").weight_grams == D("453.59237")


def test_one_kilogram_and_a_thousand_grams_share_a_key():
    kg = request(**{"package.weight": {"value": D(1), "units": "kilograms"}})
    grams = request(**{"package.weight": {"value": D("1000.000"), "units": "grams"}})
    assert key(kg) == key(grams)


def test_weights_that_differ_slightly_do_not_share_a_key():
    """No rounding that could change a rate: 16 oz and 16.001 oz are different."""
    a = request(**{"package.weight": {"value": D(16), "units": "ounces"}})
    b = request(**{"package.weight": {"value": D("16.001"), "units": "ounces"}})
    assert key(a) != key(b)


def test_inches_and_centimetres_share_a_key():
    cm = request(**{"package.dimensions": {"length": D("17.78"), "width": D("12.7"),
                                           "height": D("15.24"), "units": "centimeters"}})
    assert key(cm) == key(BASE)


def test_city_and_state_case_and_spaces_do_not_matter():
    assert key(request(**{"ship_to.city": "  washington ", "ship_to.state": "dc"})) == key(BASE)
    assert key(request(**{"ship_to.city": "New  York"})) == \
        key(request(**{"ship_to.city": "new york"}))


def test_codes_are_case_insensitive():
    assert key(request(service_code="FedEx_Ground", confirmation="delivery",
                       **{"package.package_code": "PACKAGE"})) == key(BASE)


def test_confirmation_none_is_the_same_as_absent():
    assert key(request(confirmation="none")) == key(request(confirmation=DELETE))


def test_residential_absent_is_business():
    assert key(request(**{"ship_to.residential": DELETE})) == key(BASE)


# -- every field that changes the price changes the key ----------------------------
PRICE_CHANGES = {
    "residential": {"ship_to.residential": True},
    "confirmation": {"confirmation": "signature"},
    "confirmation_absent": {"confirmation": DELETE},
    "city": {"ship_to.city": "Georgetown"},
    "city_absent": {"ship_to.city": DELETE},
    "state": {"ship_to.state": "MD"},
    "state_absent": {"ship_to.state": DELETE},
    "to_postal_code": {"ship_to.postal_code": "10001"},
    "to_country": {"ship_to.country": "CA"},
    "service": {"service_code": "fedex_2day"},
    "service_absent": {"service_code": DELETE},
    "package_code": {"package.package_code": "fedex_pak"},
    "weight": {"package.weight": {"value": D(25), "units": "ounces"}},
    "dimensions": {"package.dimensions": {"length": D(8), "width": D(5), "height": D(6),
                                          "units": "inches"}},
    "dimensions_order": {"package.dimensions": {"length": D(5), "width": D(7), "height": D(6),
                                                "units": "inches"}},
    "dimensions_absent": {"package.dimensions": DELETE},
    "origin_postal_code": {"ship_from.postal_code": "10001"},
    "origin_country": {"ship_from.country": "CA"},
    "origin_city": {"ship_from.city": "Dallas"},
    "origin_state": {"ship_from.state": "OK"},
}


@pytest.mark.parametrize("change", PRICE_CHANGES.values(), ids=PRICE_CHANGES.keys())
def test_price_changing_field_changes_the_key(change):
    assert key(request(**change)) != key(BASE)


def test_no_package_code_is_the_merchants_package():
    """No package_code rates ShipStation's "package" (the merchant's own parcel): the
    same request upstream, so the same entry."""
    assert key(request(**{"package.package_code": DELETE})) == key(BASE)
    assert normalise(request(**{"package.package_code": DELETE}),
                     default_from_postal_code="1").package_code == "package"


def test_account_changes_the_key():
    assert key(BASE, account="acct-a") != key(BASE, account="acct-b")


def test_carrier_changes_the_key():
    assert key(BASE, carrier="fedex") != key(BASE, carrier="ups")


def test_separator_inside_a_value_cannot_collide():
    a = request(**{"ship_to.city": "A|B", "ship_to.state": "C"})
    b = request(**{"ship_to.city": "A", "ship_to.state": "B|C"})
    c = request(**{"ship_to.state": "A|B", "ship_to.city": "C"})
    d = request(**{"ship_to.state": "A", "ship_to.city": "B|C"})
    assert len({key(a), key(b), key(c), key(d)}) == 4


def test_default_origin_city_and_state_are_in_the_key():
    without = request(**{"ship_from": DELETE})
    assert key(without, default_from_state="TX") != key(without, default_from_state="OK")


def test_account_fingerprint_hides_the_key():
    fp = account_fingerprint("v1", "https://ssapi.shipstation.com", "my-secret-api-key")
    assert "my-secret-api-key" not in fp
    assert len(fp) == 16
    assert fp != account_fingerprint("v1", "https://ssapi.shipstation.com", "other-key")
    assert fp == account_fingerprint("v1", "https://ssapi.shipstation.com", "my-secret-api-key")


def test_normalised_shipment_is_what_is_sent():
    s = normalise(request(**{"ship_to.country": "us", "ship_to.postal_code": "20500-0003",
                             "ship_to.city": " washington "}),
                  default_from_postal_code="78703")
    assert (s.to_country, s.to_postal_code, s.to_city, s.to_state) == \
        ("US", "20500", "WASHINGTON", "DC")
    assert s.weight_grams == D("680.388555")
    assert s.dimensions_cm == (D("17.78"), D("12.7"), D("15.24"))
    assert (s.service_code, s.package_code, s.confirmation) == \
        ("fedex_ground", "package", "delivery")


# -- properties ------------------------------------------------------------------------
@st.composite
def shipments(draw):
    weight_oz = draw(st.integers(min_value=1, max_value=2000))
    return {
        "zip": draw(st.from_regex(r"\A[0-9]{5}\Z")),
        "state": draw(st.sampled_from(["DC", "TX", "NY", None])),
        "city": draw(st.sampled_from(["Washington", "Austin", "New York", None])),
        "residential": draw(st.booleans()),
        "weight_oz": weight_oz,
        "dims": draw(st.one_of(st.none(), st.tuples(*[st.integers(1, 60)] * 3))),
        "service": draw(st.sampled_from(["fedex_ground", "fedex_2day", None])),
        "confirmation": draw(st.sampled_from(["delivery", "signature", None])),
    }


def build(s: dict, spelling: int) -> dict:
    """The same shipment written one of several equivalent ways."""
    to = {"country": "US" if spelling % 2 else "us",
          "postal_code": s["zip"] if spelling < 2 else s["zip"] + "-1234",
          "residential": s["residential"]}
    if s["state"]:
        to["state"] = s["state"] if spelling % 2 else s["state"].lower()
    if s["city"]:
        to["city"] = s["city"] if spelling % 2 else f"  {s['city'].upper()} "
    if spelling % 2:
        weight = {"value": D(s["weight_oz"]), "units": "ounces"}
    else:
        weight = {"value": D(s["weight_oz"]) / 16, "units": "pounds"}
    package = {"weight": weight}
    if s["dims"]:
        if spelling < 2:
            package["dimensions"] = dict(zip(("length", "width", "height"),
                                             map(D, s["dims"]), strict=True), units="inches")
        else:
            package["dimensions"] = dict(zip(("length", "width", "height"),
                                             (D(v) * D("2.54") for v in s["dims"]),
                                             strict=True), units="centimeters")
    body = {"ship_to": to, "package": package}
    if s["service"]:
        body["service_code"] = s["service"] if spelling % 2 else s["service"].upper()
    if s["confirmation"]:
        body["confirmation"] = s["confirmation"]
    elif spelling == 3:
        body["confirmation"] = "none"
    return body


@given(shipments(), st.integers(0, 3), st.integers(0, 3))
def test_equivalent_spellings_share_a_key(s, i, j):
    assert key(build(s, i)) == key(build(s, j))


@given(shipments(), shipments(), st.integers(0, 3), st.integers(0, 3))
def test_keys_are_equal_exactly_when_shipments_are(a, b, i, j):
    assert (key(build(a, i)) == key(build(b, j))) == (a == b)
