"""Freight-fee arithmetic: Decimal throughout, rounded half-up to cents.

:func:`marked_up` is step 1 of the pricing rules (``ratecalc/rating/pricing.py``);
:func:`freight_fee` is the whole of it when no rule adds anything.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


def cents(amount: Decimal) -> Decimal:
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def marked_up(carrier_cost: Decimal, markup_percent: Decimal) -> Decimal:
    """``carrier_cost × (1 + markup_percent / 100)``, exact (not rounded)."""
    return Decimal(carrier_cost) * (HUNDRED + Decimal(markup_percent)) / HUNDRED


def freight_fee(carrier_cost: Decimal, markup_percent: Decimal) -> Decimal:
    """``carrier_cost × (1 + markup_percent / 100)``, rounded half-up to cents.

    The product is computed exactly before the single rounding step, so a
    12.5 % markup on 8.58 gives 9.6525 -> 9.65, never a double-rounded value.
    """
    return cents(marked_up(carrier_cost, markup_percent))
