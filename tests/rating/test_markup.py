"""Freight-fee arithmetic: carrier_cost × (1 + markup/100), Decimal, half-up to cents."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ratecalc.rating.markup import cents, freight_fee

D = Decimal


@pytest.mark.parametrize(("cost", "percent", "fee"), [
    ("8.58", "0", "8.58"),
    ("8.58", "10", "9.44"),        # 9.438
    ("8.58", "12.5", "9.65"),      # 9.6525: one rounding step, not 9.66 from double rounding
    ("10.00", "12.5", "11.25"),
    ("0.00", "12.5", "0.00"),
    ("0.00", "0", "0.00"),
    ("1", "0", "1.00"),
    ("100", "100", "200.00"),
    ("19.99", "33.333", "26.65"),  # 26.6530667
])
def test_known_fees(cost, percent, fee):
    result = freight_fee(D(cost), D(percent))
    assert result == D(fee)
    assert result.as_tuple().exponent == -2


def test_zero_markup_returns_the_cost_in_cents():
    assert freight_fee(D("17.61"), D("0")) == D("17.61")
    assert freight_fee(D("17.605"), D("0")) == D("17.61")


@pytest.mark.parametrize(("cost", "percent", "fee"), [
    ("0.03", "50", "0.05"),      # 0.045 exactly: half-up gives .05 (banker's would give .04)
    ("0.01", "50", "0.02"),      # 0.015
    ("2.01", "50", "3.02"),      # 3.015
    ("1.10", "50", "1.65"),
    ("8.70", "12.5", "9.79"),    # 9.7875
    ("1.005", "0", "1.01"),      # a float would see 1.00499999... and round down
    ("2.675", "0", "2.68"),      # likewise (float 2.675 is 2.67499999...)
])
def test_half_up_at_exactly_half_a_cent(cost, percent, fee):
    assert freight_fee(D(cost), D(percent)) == D(fee)


def test_just_below_half_a_cent_rounds_down():
    assert freight_fee(D("0.0449999"), D("0")) == D("0.04")


@pytest.mark.parametrize(("cost", "percent", "fee"), [
    ("123456789.99", "12.5", "138888888.74"),     # 138888888.73875
    ("99999999999.99", "10", "109999999999.99"),  # 109999999999.989
    ("1000000", "1000", "11000000.00"),
])
def test_large_fees_are_exact(cost, percent, fee):
    assert freight_fee(D(cost), D(percent)) == D(fee)


def test_accepts_strings_and_ints_as_decimals():
    assert freight_fee("8.58", 10) == D("9.44")


def test_cents_rounds_half_up():
    assert cents(D("0.125")) == D("0.13")
    assert cents(D("0.135")) == D("0.14")
    assert cents(D("-0.125")) == D("-0.13")  # half away from zero


def _oracle(cost: Decimal, percent: Decimal) -> Decimal:
    """Independent computation in exact fractions, rounded half-up to cents."""
    exact = Fraction(cost) * (100 + Fraction(percent)) / 100
    return Decimal(int(exact * 100 + Fraction(1, 2))) / 100  # floor(x + 1/2) for x >= 0


costs = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False,
                    allow_infinity=False)
fine_costs = st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False,
                         allow_infinity=False)
percents = st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False,
                       allow_infinity=False)


@given(fine_costs, percents)
def test_never_negative_and_never_below_cost(cost, percent):
    fee = freight_fee(cost, percent)
    assert fee >= 0
    assert fee >= cents(cost)


@given(fine_costs, fine_costs, percents)
def test_monotonic_in_cost(a, b, percent):
    low, high = sorted((a, b))
    assert freight_fee(low, percent) <= freight_fee(high, percent)


@given(fine_costs, percents, percents)
def test_monotonic_in_percent(cost, p, q):
    low, high = sorted((p, q))
    assert freight_fee(cost, low) <= freight_fee(cost, high)


@given(costs, percents)
def test_exact_cents(cost, percent):
    fee = freight_fee(cost, percent)
    assert fee.as_tuple().exponent == -2
    assert fee == _oracle(cost, percent)


@given(fine_costs, percents)
def test_matches_exact_fraction_arithmetic(cost, percent):
    assert freight_fee(cost, percent) == _oracle(cost, percent)
