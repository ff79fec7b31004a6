"""Exact weight and dimension conversions (Decimal; nothing rounded)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ratecalc.units import (
    DIMENSION_UNITS,
    WEIGHT_UNITS,
    from_grams,
    to_centimetres,
    to_grams,
)

D = Decimal


def test_one_pound_is_sixteen_ounces_exactly():
    assert to_grams(D(1), "pounds") == to_grams(D(16), "ounces") == D("453.59237")


def test_one_kilogram_is_a_thousand_grams():
    assert to_grams(D(1), "kilograms") == to_grams(D(1000), "grams") == D(1000)


@pytest.mark.parametrize(("value", "units", "grams"), [
    ("24", "ounces", "680.388555"),
    ("1.5", "pounds", "680.388555"),
    ("0.5", "kilograms", "500"),
    ("500", "grams", "500"),
    ("1", "ounces", "28.349523125"),
])
def test_to_grams(value, units, grams):
    assert to_grams(D(value), units) == D(grams)


def test_inches_to_centimetres():
    assert to_centimetres(D(1), "inches") == D("2.54")
    assert to_centimetres(D(7), "inches") == D("17.78")
    assert to_centimetres(D("12.5"), "centimeters") == D("12.5")


def test_results_are_plain_decimals_without_exponent_or_trailing_zeros():
    assert str(to_grams(D(1), "kilograms")) == "1000"
    assert str(to_grams(D("10.0"), "grams")) == "10"
    assert str(to_centimetres(D("5.00"), "inches")) == "12.7"
    assert "E" not in str(to_grams(D("1000000"), "kilograms"))


def test_from_grams_inverts_to_grams():
    assert from_grams(D("453.59237"), "pounds") == D(1)
    assert from_grams(D("680.388555"), "ounces") == D(24)
    assert from_grams(D(2500), "kilograms") == D("2.5")


def test_unknown_units_are_rejected():
    with pytest.raises(KeyError):
        to_grams(D(1), "stone")
    with pytest.raises(KeyError):
        to_centimetres(D(1), "feet")


def test_unit_lists_match_the_api():
    assert set(WEIGHT_UNITS) == {"pounds", "ounces", "grams", "kilograms"}
    assert set(DIMENSION_UNITS) == {"inches", "centimeters"}


amounts = st.decimals(min_value=D("0.001"), max_value=D(100000), places=3, allow_nan=False,
                      allow_infinity=False)


@given(amounts)
def test_pounds_and_ounces_agree_exactly(pounds):
    assert to_grams(pounds, "pounds") == to_grams(pounds * 16, "ounces")


@given(amounts)
def test_kilograms_and_grams_agree_exactly(kilograms):
    assert to_grams(kilograms, "kilograms") == to_grams(kilograms * 1000, "grams")


@given(amounts, st.sampled_from(WEIGHT_UNITS))
def test_weight_round_trip_is_exact(value, units):
    assert from_grams(to_grams(value, units), units) == value


@given(amounts)
def test_inches_and_centimetres_agree_exactly(inches):
    assert to_centimetres(inches, "inches") == to_centimetres(inches * D("2.54"), "centimeters")
