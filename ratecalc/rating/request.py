"""What a caller asks to have rated: typed values between the HTTP layer and the service.

``RatesRequestSchema`` (``schemas.py``) loads a ``POST /v1/rates`` body into a
:class:`RateRequest`; shop freight and ``ratecalc quote`` build one directly.
The rating service takes nothing else, so it never sees an HTTP dict. Values are
as the caller gave them (trimmed); :func:`ratecalc.rating.keys.normalise` turns a
request and the configured origin into the :class:`~ratecalc.model.Shipment`
that is sent upstream and cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from ratecalc.units import to_grams


@dataclass(frozen=True)
class Destination:
    country: str
    postal_code: str
    state: str | None = None
    city: str | None = None
    residential: bool = False


@dataclass(frozen=True)
class Origin:
    """Where the parcel leaves from; a missing part falls back to RATECALC_SHIP_FROM_*."""

    postal_code: str | None = None
    country: str | None = None
    state: str | None = None
    city: str | None = None


@dataclass(frozen=True)
class Weight:
    value: Decimal
    units: str  # one of ratecalc.units.WEIGHT_UNITS


@dataclass(frozen=True)
class Dimensions:
    length: Decimal
    width: Decimal
    height: Decimal
    units: str  # one of ratecalc.units.DIMENSION_UNITS


@dataclass(frozen=True)
class Parcel:
    weight: Weight
    dimensions: Dimensions | None = None
    package_code: str | None = None

    def __post_init__(self):
        # Every way in (API, CLI, shop freight, the quote page) builds a Parcel, so the
        # rule lives here: a weight under half a gram is 0 g to a carrier, and
        # ShipStation would price a parcel that weighs nothing.
        grams = to_grams(self.weight.value, self.weight.units)
        if grams.quantize(Decimal(1), rounding=ROUND_HALF_UP) == 0:
            raise InvalidRequest("package.weight.value",
                                 f"{self.weight.value} {self.weight.units} is less than half a "
                                 "gram: carriers would rate it as 0 g.")


@dataclass(frozen=True)
class OrderValue:
    """What the order is worth; the pricing rules' ``free_over`` compares ``amount``."""

    amount: Decimal
    currency: str  # ISO 4217, upper-case; must be RATECALC_CURRENCY


@dataclass(frozen=True)
class RateRequest:
    ship_to: Destination
    package: Parcel
    ship_from: Origin = Origin()
    carriers: tuple[str, ...] | None = None  # None: the configured or account carriers
    service_code: str | None = None
    confirmation: str | None = None
    order_value: OrderValue | None = None  # None: free_over never applies


class InvalidRequest(ValueError):
    """A request that cannot be rated as given; ``field`` is its dotted path."""

    def __init__(self, field: str, message: str, errors: dict | None = None):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message
        self.errors = errors or {}
