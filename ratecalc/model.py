"""Value types shared by the rating service and the upstream clients.

They sit on the ground floor so that ``upstream/`` (which maps them to and from
ShipStation's wire formats) and ``rating/`` (which caches and prices them) both
use them without importing each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

# What ShipStation V1's toState takes: "Two-character state/province abbreviation".
TWO_LETTER_STATE = re.compile(r"[A-Za-z]{2}")


@dataclass(frozen=True)
class Shipment:
    """A normalised rate request: everything sent upstream, and nothing else.

    Built only by :func:`ratecalc.rating.keys.normalise`, so two requests that
    ShipStation would price the same become equal ``Shipment`` values.
    """

    from_postal_code: str
    from_country: str
    from_city: str | None
    from_state: str | None
    to_country: str
    to_postal_code: str
    to_state: str | None
    to_city: str | None
    residential: bool
    weight_grams: Decimal
    dimensions_cm: tuple[Decimal, Decimal, Decimal] | None
    package_code: str | None
    confirmation: str | None
    service_code: str | None


@dataclass(frozen=True)
class Carrier:
    code: str
    name: str
    nickname: str | None = None
    carrier_id: str | None = None  # V2 only


@dataclass(frozen=True)
class Rate:
    """One service's price as the upstream gave it (before markup)."""

    carrier_code: str
    service_code: str
    service_name: str
    shipment_cost: Decimal
    other_cost: Decimal
    delivery_days: int | None = None
    estimated_delivery_date: str | None = None

    @property
    def carrier_cost(self) -> Decimal:
        return self.shipment_cost + self.other_cost


@dataclass(frozen=True)
class CarrierRates:
    """What one carrier answered for one shipment: the unit that is cached."""

    carrier_code: str
    rates: tuple[Rate, ...]
    quoted_at: datetime
    currency: str | None = None  # V2 names it; V1 rates carry none (account currency)
