"""ratecalc.bounds: numbers matched before they are converted, text cleaned at intake."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from ratecalc import bounds


@pytest.mark.parametrize("text, expected", [("0", 0), ("42", 42), (" 7 ", 7), ("+3", 3),
                                            ("1000000", 1_000_000), ("2.0", 2), (None, None)])
def test_integer_accepts_plain_whole_numbers(text, expected):
    assert bounds.integer(text, "Quantity") == expected


@pytest.mark.parametrize("text", ["1e3", "1e1999999", "-1", "1.5", "1000001", "", "x",
                                  "\u0661", "\u00b2", "1_000", "99999999999"])
def test_integer_refuses_the_rest_naming_the_field(text):
    with pytest.raises(bounds.OutOfBounds, match="^Quantity "):
        bounds.integer(text, "Quantity")


def test_huge_exponents_are_refused_at_once():
    started = time.perf_counter()
    for text in ("1e1999999", "9" * 100_000, "1" + "0" * 5000 + ".5"):
        with pytest.raises(bounds.OutOfBounds):
            bounds.decimal(text, "ShippingCost")
        with pytest.raises(bounds.OutOfBounds):
            bounds.integer(text, "Quantity")
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("text, expected", [("7.45", Decimal("7.45")), ("0", Decimal(0)),
                                            (".5", Decimal("0.5")), ("1000000", Decimal(10**6)),
                                            ("1.2340", Decimal("1.2340"))])
def test_money_is_a_plain_decimal_with_four_places_at_most(text, expected):
    assert bounds.decimal(text, "ShippingCost") == expected


@pytest.mark.parametrize("text", ["1.23456", "1000000.01", "-1", "1e2", "NaN", "Infinity", "$1"])
def test_money_out_of_bounds(text):
    with pytest.raises(bounds.OutOfBounds, match="^ShippingCost "):
        bounds.decimal(text, "ShippingCost")


def test_record_ids_are_sql_server_ints():
    assert bounds.record_id("2147483647", "OrderID") == 2**31 - 1
    for text in ("0", "2147483648", "9223372036854775808"):
        with pytest.raises(bounds.OutOfBounds, match="OrderID"):
            bounds.record_id(text, "OrderID")


def test_text_is_trimmed_bounded_and_free_of_controls():
    assert bounds.text("  UPS  ", "Carrier", 100) == "UPS"
    assert bounds.text("   ", "Carrier", 100) is None
    assert bounds.text("a\tb\nc", "Carrier", 100) == "a b c"
    assert bounds.text("a\tb\nc", "Notes", 100, lines=True) == "a\tb\nc"
    assert bounds.text("x" * 10, "Name", 4, cut=True) == "xxxx"
    for value, kwargs in (("a\x00b", {}), ("a\x07b", {"lines": True}), ("x" * 101, {})):
        with pytest.raises(bounds.OutOfBounds, match="^Carrier "):
            bounds.text(value, "Carrier", 100, **kwargs)
