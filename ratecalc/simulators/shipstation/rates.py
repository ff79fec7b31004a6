"""Prices of the ShipStation simulator: carrier catalog and pricing (wire shapes: ``wire.py``).

Pure functions: no Flask and nothing from ``ratecalc`` outside ``ratecalc.simulators``. The V1 and
V2 request bodies both become a ``Shipment``, so both APIs price a shipment identically.
Prices are invented but deterministic and plausible:

    billable_lb = max(actual weight, L*W*H/139 in inches)
    zone        = 2..8 from the gap between the first 3 digits of the postal codes
                  (domestic); 9 for CA/MX, 11 for any other international lane
    transport   = (base + per_lb * billable_lb) * (1 + 0.15 * (zone - 1)) * service multiplier
    shipmentCost = transport + residential surcharge + confirmation surcharge
    otherCost    = shipmentCost * fuel surcharge %          (all rounded to cents)

USPS (stamps_com) has no residential surcharge and no fuel surcharge (otherCost 0).

USPS also answers **one row per service and package type** (recorded V1 data: "USPS Priority
Mail - Package", "USPS Priority Mail - Flat Rate Envelope", "USPS Media Mail - Package"), so a
client that takes the cheapest row quotes a flat-rate envelope or Media Mail for a parcel.
Flat-rate packages cost their fixed price whatever the weight and zone; letters and flats
are a fraction of the parcel price. The other carriers answer one row per service (the
"package" type) unless a ``packageCode`` asks for another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

NO_SERVICES = "No applicable services were available for the configured shipment"
CENT = Decimal("0.01")
DIM_DIVISOR = Decimal(139)

# V1 and V2 unit names both map here.
POUNDS_PER_UNIT = {
    "pounds": Decimal(1), "pound": Decimal(1),
    "ounces": Decimal(1) / 16, "ounce": Decimal(1) / 16,
    "grams": 1 / Decimal("453.59237"), "gram": 1 / Decimal("453.59237"),
    "kilogram": 1000 / Decimal("453.59237"),
}
INCHES_PER_UNIT = {
    "inches": Decimal(1), "inch": Decimal(1),
    "centimeters": 1 / Decimal("2.54"), "centimeter": 1 / Decimal("2.54"),
}
V1_WEIGHT_UNITS = ("pounds", "ounces", "grams")
V1_DIMENSION_UNITS = ("inches", "centimeters")
V2_WEIGHT_UNITS = ("pound", "ounce", "gram", "kilogram")
V2_DIMENSION_UNITS = ("inch", "centimeter")

# delivery < signature < adult_signature < direct_signature (V2-only values priced alike);
# the keys are the V2 spec's delivery_confirmation enum.
CONFIRMATION_SURCHARGE = {
    "none": Decimal("0.00"),
    "delivery": Decimal("0.95"),
    "delivery_mailed": Decimal("1.25"),
    "signature": Decimal("3.10"),
    "verbal_confirmation": Decimal("3.10"),
    "adult_signature": Decimal("6.45"),
    "direct_signature": Decimal("6.95"),
}
V1_CONFIRMATIONS = ("none", "delivery", "signature", "adult_signature", "direct_signature")
V2_CONFIRMATIONS = tuple(CONFIRMATION_SURCHARGE)  # the V2 spec's delivery_confirmation enum
# The V1 spec: "direct_signature is FedEx only" (V2 answers such a carrier an error row).
CONFIRMATION_CARRIERS = {"direct_signature": ("fedex",)}


def confirmation_supported(carrier_code: str, confirmation: str | None) -> bool:
    allowed = CONFIRMATION_CARRIERS.get(confirmation or "none")
    return allowed is None or carrier_code in allowed


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    speed: str  # key of _DAYS
    multiplier: Decimal
    domestic: bool
    international: bool
    packages: tuple[str, ...]
    max_weight_lb: Decimal | None = None  # on actual weight
    residential_only: bool = False
    flat_rates: tuple[tuple[str, Decimal], ...] = ()  # package code -> fixed price


@dataclass(frozen=True)
class Package:
    code: str
    name: str
    domestic: bool = True
    international: bool = True


@dataclass(frozen=True)
class Tariff:
    base: Decimal
    per_lb: Decimal
    residential: Decimal
    fuel_pct: Decimal
    max_weight_lb: Decimal


@dataclass(frozen=True)
class CarrierCatalog:
    tariff: Tariff
    services: tuple[Service, ...]
    packages: tuple[Package, ...]


@dataclass(frozen=True)
class Shipment:
    """A normalised rate request (V1 and V2 both become this)."""

    from_country: str
    from_postal: str
    to_country: str
    to_postal: str
    weight_lb: Decimal
    dims_in: tuple[Decimal, Decimal, Decimal] | None = None
    residential: bool = False
    confirmation: str = "none"


@dataclass(frozen=True)
class Quote:
    service: Service
    package: Package
    shipment_cost: Decimal
    other_cost: Decimal
    delivery_days: int
    zone: int


def _svc(code, name, speed, mult, dom, intl, packages, flat=(), **kw) -> Service:
    flat_rates = tuple((code_, Decimal(price)) for code_, price in flat)
    return Service(code, name, speed, Decimal(mult), dom, intl, tuple(packages),
                   flat_rates=flat_rates, **kw)


_USPS_BOXES = ("package", "flat_rate_envelope", "small_flat_rate_box", "medium_flat_rate_box",
               "large_flat_rate_box")
_UPS_AIR = ("package", "ups_letter", "ups_pak", "ups_express_box")
_FEDEX_AIR = ("package", "fedex_envelope", "fedex_pak", "fedex_small_box")

CATALOG: dict[str, CarrierCatalog] = {
    "stamps_com": CarrierCatalog(
        Tariff(Decimal("7.20"), Decimal("0.95"), Decimal("0.00"), Decimal("0"), Decimal(70)),
        (
            _svc("usps_first_class_mail", "USPS First Class Mail", "first_class", "0.55",
                 True, False, ("package", "letter", "large_envelope_or_flat"),
                 max_weight_lb=Decimal("15.99") / 16),
            _svc("usps_media_mail", "USPS Media Mail", "media", "0.45", True, False,
                 ("package",)),
            _svc("usps_priority_mail", "USPS Priority Mail", "priority", "1.00", True, False,
                 _USPS_BOXES, flat=(("flat_rate_envelope", "9.85"),
                                    ("small_flat_rate_box", "10.40"),
                                    ("medium_flat_rate_box", "18.40"),
                                    ("large_flat_rate_box", "24.75"))),
            _svc("usps_priority_mail_express", "USPS Priority Mail Express", "express", "3.20",
                 True, False, ("package", "flat_rate_envelope"),
                 flat=(("flat_rate_envelope", "31.40"),)),
            _svc("usps_priority_mail_international", "USPS Priority Mail Intl", "intl_slow",
                 "2.00", False, True, ("package", "flat_rate_envelope", "medium_flat_rate_box"),
                 flat=(("flat_rate_envelope", "32.00"), ("medium_flat_rate_box", "88.00"))),
        ),
        (
            Package("package", "Package"),
            Package("letter", "Letter"),
            Package("large_envelope_or_flat", "Large Envelope or Flat"),
            Package("flat_rate_envelope", "Flat Rate Envelope"),
            Package("small_flat_rate_box", "Small Flat Rate Box"),
            Package("medium_flat_rate_box", "Medium Flat Rate Box"),
            Package("large_flat_rate_box", "Large Flat Rate Box"),
        ),
    ),
    "ups": CarrierCatalog(
        Tariff(Decimal("9.10"), Decimal("1.05"), Decimal("5.15"), Decimal("0.04"), Decimal(150)),
        (
            _svc("ups_ground", "UPS® Ground", "ground", "1.00", True, False, ("package",)),
            _svc("ups_3_day_select", "UPS 3 Day Select®", "3day", "1.70", True, False,
                 ("package",)),
            _svc("ups_2nd_day_air", "UPS 2nd Day Air®", "2day", "2.30", True, False, _UPS_AIR),
            _svc("ups_next_day_air", "UPS Next Day Air®", "overnight", "3.60", True, False,
                 _UPS_AIR),
            _svc("ups_worldwide_saver", "UPS Worldwide Saver®", "intl_fast", "3.00", False, True,
                 _UPS_AIR),
        ),
        (
            Package("package", "Package"),
            Package("ups_letter", "UPS Letter"),
            Package("ups_pak", "UPS Pak"),
            Package("ups_express_box", "UPS Express® Box"),
        ),
    ),
    "fedex": CarrierCatalog(
        Tariff(Decimal("9.00"), Decimal("1.08"), Decimal("4.95"), Decimal("0.035"), Decimal(150)),
        (
            _svc("fedex_ground", "FedEx Ground®", "ground", "1.00", True, False, ("package",)),
            _svc("fedex_home_delivery", "FedEx Home Delivery®", "ground", "0.97", True, False,
                 ("package",), residential_only=True),
            _svc("fedex_2day", "FedEx 2Day®", "2day", "2.20", True, False, _FEDEX_AIR),
            _svc("fedex_standard_overnight", "FedEx Standard Overnight®", "overnight", "3.50",
                 True, False, _FEDEX_AIR),
            _svc("fedex_international_priority", "FedEx International Priority®", "intl_fast",
                 "3.10", False, True, _FEDEX_AIR),
        ),
        (
            Package("package", "Package"),
            Package("fedex_envelope", "FedEx® Envelope"),
            Package("fedex_pak", "FedEx® Pak"),
            Package("fedex_small_box", "FedEx® Small Box"),
        ),
    ),
}

_GROUND_DAYS = {2: 1, 3: 2, 4: 3, 5: 3, 6: 4, 7: 4, 8: 5}
_DAYS = {
    "ground": lambda z: _GROUND_DAYS.get(z, 5),
    "first_class": lambda z: min(5, 1 + z // 2),
    "priority": lambda z: 1 + z // 3,
    "media": lambda z: 2 + z // 2,
    "express": lambda z: 1 if z <= 5 else 2,
    "3day": lambda z: 3,
    "2day": lambda z: 2,
    "overnight": lambda z: 1,
    "intl_fast": lambda z: 2 if z <= 9 else 3,
    "intl_slow": lambda z: 6 if z <= 9 else 8,
}


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def to_pounds(value, unit: str) -> Decimal:
    return Decimal(str(value)) * POUNDS_PER_UNIT[unit]


def to_inches(dims, unit: str) -> tuple[Decimal, Decimal, Decimal]:
    factor = INCHES_PER_UNIT[unit]
    length, width, height = (Decimal(str(v)) * factor for v in dims)
    return length, width, height


def _prefix(postal: str) -> int:
    """First 3 digits of a postal code; a stable checksum when there are none."""
    digits = "".join(c for c in postal if c.isdigit())
    if len(digits) >= 3 and postal.strip()[:1].isdigit():
        return int(digits[:3])
    return sum(ord(c) for c in postal.upper()) % 1000


def zone_for(s: Shipment) -> int:
    if s.from_country != s.to_country:
        return 9 if {"CA", "MX"} & {s.from_country, s.to_country} else 11
    gap = abs(_prefix(s.from_postal) - _prefix(s.to_postal))
    return min(8, 2 + gap // 150)


def billable_pounds(s: Shipment) -> Decimal:
    if not s.dims_in:
        return s.weight_lb
    length, width, height = s.dims_in
    return max(s.weight_lb, length * width * height / DIM_DIVISOR)


def _applies(svc: Service, s: Shipment, intl: bool, tariff: Tariff) -> bool:
    if not (svc.international if intl else svc.domestic):
        return False
    if svc.residential_only and not s.residential:
        return False
    limit = svc.max_weight_lb if svc.max_weight_lb is not None else tariff.max_weight_lb
    return s.weight_lb <= limit


# Letters and flats cost a fraction of the parcel price (First Class only).
_ENVELOPE_FACTOR = {"letter": Decimal("0.40"), "large_envelope_or_flat": Decimal("0.70")}
MULTI_ROW_CARRIERS = ("stamps_com",)  # one row per service and package type


def _row_packages(carrier_code: str, svc: Service, package_code: str | None) -> tuple[str, ...]:
    """The package types a service answers rows for."""
    if package_code:
        return (package_code,) if package_code in svc.packages else ()
    if carrier_code in MULTI_ROW_CARRIERS:
        return svc.packages
    return ("package",) if "package" in svc.packages else svc.packages[:1]


def quote(carrier_code: str, s: Shipment, service_code: str | None = None,
          package_code: str | None = None) -> list[Quote]:
    """Rates for every applicable service (and package type) of the carrier (maybe none)."""
    catalog = CATALOG.get(carrier_code)
    if catalog is None:
        return []
    tariff = catalog.tariff
    zone = zone_for(s)
    intl = s.from_country != s.to_country
    zone_factor = 1 + Decimal("0.15") * (zone - 1)
    linehaul = (tariff.base + tariff.per_lb * billable_pounds(s)) * zone_factor
    extras = CONFIRMATION_SURCHARGE[s.confirmation]
    if s.residential:
        extras += tariff.residential
    packages = {p.code: p for p in catalog.packages}
    quotes = []
    for svc in catalog.services:
        if service_code and svc.code != service_code:
            continue
        if not _applies(svc, s, intl, tariff):
            continue
        flat = dict(svc.flat_rates)
        for code in _row_packages(carrier_code, svc, package_code):
            if code in flat:
                transport = flat[code]
            else:
                transport = linehaul * svc.multiplier * _ENVELOPE_FACTOR.get(code, Decimal(1))
            cost = cents(transport + extras)
            other = cents(cost * tariff.fuel_pct)
            quotes.append(Quote(svc, packages[code], cost, other, _DAYS[svc.speed](zone), zone))
    return quotes


def add_business_days(start: date, days: int) -> date:
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def services_for(carrier_code: str) -> tuple[Service, ...]:
    catalog = CATALOG.get(carrier_code)
    return catalog.services if catalog else ()


def packages_for(carrier_code: str) -> tuple[Package, ...]:
    catalog = CATALOG.get(carrier_code)
    return catalog.packages if catalog else ()
