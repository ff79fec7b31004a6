"""Exact weight and dimension conversions.

Every unit converts to grams (or centimetres) by a terminating decimal factor,
so conversions in ``Decimal`` are exact: 1 pound and 16 ounces are the same
453.59237 g, and nothing is rounded that could change a carrier's price.
"""

from __future__ import annotations

from decimal import Decimal

GRAMS_PER = {
    "grams": Decimal("1"),
    "kilograms": Decimal("1000"),
    "ounces": Decimal("28.349523125"),
    "pounds": Decimal("453.59237"),
}
CENTIMETRES_PER = {
    "centimeters": Decimal("1"),
    "inches": Decimal("2.54"),
}
WEIGHT_UNITS = tuple(GRAMS_PER)
DIMENSION_UNITS = tuple(CENTIMETRES_PER)


def _plain(value: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent notation."""
    value = value.normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral() else value


def to_grams(value: Decimal, units: str) -> Decimal:
    return _plain(Decimal(value) * GRAMS_PER[units])


def from_grams(grams: Decimal, units: str) -> Decimal:
    return _plain(Decimal(grams) / GRAMS_PER[units])


def to_centimetres(value: Decimal, units: str) -> Decimal:
    return _plain(Decimal(value) * CENTIMETRES_PER[units])
