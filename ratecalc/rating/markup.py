"""Freight-fee arithmetic: Decimal throughout, rounded half-up to cents."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


def cents(amount: Decimal) -> Decimal:
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def freight_fee(carrier_cost: Decimal, markup_percent: Decimal) -> Decimal:
    """``carrier_cost × (1 + markup_percent / 100)``, rounded half-up to cents.

    The product is computed exactly before the single rounding step, so a
    12.5 % markup on 8.58 gives 9.6525 -> 9.65, never a double-rounded value.
    """
    exact = Decimal(carrier_cost) * (HUNDRED + Decimal(markup_percent)) / HUNDRED
    return cents(exact)
