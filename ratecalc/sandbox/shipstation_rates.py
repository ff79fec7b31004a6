"""Rate requests for the ShipStation simulator: carrier catalog, pricing, V1/V2 validation.

Pure functions: no Flask and nothing from ``ratecalc`` outside ``ratecalc.sandbox``. The V1 and
V2 request bodies both become a ``Shipment``, so both APIs price a shipment identically.
Prices are invented but deterministic and plausible:

    billable_lb = max(actual weight, L*W*H/139 in inches)
    zone        = 2..8 from the gap between the first 3 digits of the postal codes
                  (domestic); 9 for CA/MX, 11 for any other international lane
    transport   = (base + per_lb * billable_lb) * (1 + 0.15 * (zone - 1)) * service multiplier
    shipmentCost = transport + residential surcharge + confirmation surcharge
    otherCost    = shipmentCost * fuel surcharge %          (all rounded to cents)

USPS (stamps_com) has no residential surcharge and no fuel surcharge (otherCost 0).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
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

# delivery < signature < adult_signature < direct_signature (V2-only values priced alike).
CONFIRMATION_SURCHARGE = {
    "none": Decimal("0.00"),
    "delivery": Decimal("0.95"),
    "delivery_code": Decimal("0.95"),
    "delivery_mailed": Decimal("1.25"),
    "signature": Decimal("3.10"),
    "verbal_confirmation": Decimal("3.10"),
    "adult_signature": Decimal("6.45"),
    "age_verification_16_plus": Decimal("6.45"),
    "direct_signature": Decimal("6.95"),
}
V1_CONFIRMATIONS = ("none", "delivery", "signature", "adult_signature", "direct_signature")
V2_CONFIRMATIONS = tuple(CONFIRMATION_SURCHARGE)


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
    shipment_cost: Decimal
    other_cost: Decimal
    delivery_days: int
    zone: int


def _svc(code, name, speed, mult, dom, intl, packages, **kw) -> Service:
    return Service(code, name, speed, Decimal(mult), dom, intl, tuple(packages), **kw)


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
            _svc("usps_priority_mail", "USPS Priority Mail", "priority", "1.00", True, False,
                 _USPS_BOXES),
            _svc("usps_priority_mail_express", "USPS Priority Mail Express", "express", "3.20",
                 True, False, ("package", "flat_rate_envelope")),
            _svc("usps_priority_mail_international", "USPS Priority Mail Intl", "intl_slow",
                 "2.00", False, True, ("package", "flat_rate_envelope", "medium_flat_rate_box")),
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


def quote(carrier_code: str, s: Shipment, service_code: str | None = None,
          package_code: str | None = None) -> list[Quote]:
    """Rates for every applicable service of the carrier (possibly none)."""
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
    quotes = []
    for svc in catalog.services:
        if service_code and svc.code != service_code:
            continue
        if package_code and package_code not in svc.packages:
            continue
        if not _applies(svc, s, intl, tariff):
            continue
        cost = cents(linehaul * svc.multiplier + extras)
        other = cents(cost * tariff.fuel_pct)
        quotes.append(Quote(svc, cost, other, _DAYS[svc.speed](zone), zone))
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


# ---- rate requests (validation) and rate replies (wire shapes) ---------------------------
_V1_STRINGS = {"carrierCode": True, "serviceCode": False, "packageCode": False,
               "fromPostalCode": True, "toState": False, "toCountry": True, "toPostalCode": True,
               "toCity": False}
_V2_STRINGS = {"from_country_code": True, "from_postal_code": True, "from_city_locality": False,
               "from_state_province": False, "to_country_code": True, "to_postal_code": True,
               "to_city_locality": False, "to_state_province": False}


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_strings(body: dict, spec: dict, missing, wrong) -> None:
    for name, required in spec.items():
        value = body.get(name)
        if value is None or value == "":
            if required:
                missing(name)
        elif not isinstance(value, str):
            wrong(name, "a string")


def _check_measure(obj, path: str, unit_key: str, units, fields, missing, wrong) -> None:
    if not isinstance(obj, dict):
        wrong(path, "an object")
        return
    if obj.get(unit_key) is None:
        missing(f"{path}.{unit_key}")
    elif obj[unit_key] not in units:
        wrong(f"{path}.{unit_key}", "one of " + ", ".join(units))
    for name in fields:
        value = obj.get(name)
        if value is None:
            missing(f"{path}.{name}")
        elif not _is_number(value):
            wrong(f"{path}.{name}", "a number")
        elif value < 0 or (name == "value" and value == 0):
            wrong(f"{path}.{name}", "greater than 0" if name == "value" else "0 or more")


def v1_errors(body: dict) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}

    def missing(field):
        errors.setdefault(field, []).append(f"The {field} field is required.")

    def wrong(field, expected):
        errors.setdefault(field, []).append(
            f"Error converting value {json.dumps(_dig(body, field))} for '{field}': "
            f"expected {expected}.")

    _check_strings(body, _V1_STRINGS, missing, wrong)
    country = body.get("toCountry")
    if isinstance(country, str) and country and not (len(country) == 2 and country.isalpha()):
        wrong("toCountry", "a two-character ISO country code")
    if body.get("weight") is None:
        missing("weight")
    else:
        _check_measure(body["weight"], "weight", "units", V1_WEIGHT_UNITS, ("value",),
                       missing, wrong)
    if body.get("dimensions") is not None:
        _check_measure(body["dimensions"], "dimensions", "units", V1_DIMENSION_UNITS,
                       ("length", "width", "height"), missing, wrong)
    if body.get("confirmation") not in (None, *V1_CONFIRMATIONS):
        wrong("confirmation", "one of " + ", ".join(V1_CONFIRMATIONS))
    if body.get("residential") not in (None, True, False):
        wrong("residential", "a boolean")
    return errors


def v2_errors(body: dict, ids: list[str]) -> list[tuple[str, str, str]]:
    errors: list[tuple[str, str, str]] = []

    def missing(field):
        errors.append(("validation", "field_value_required", f"{field} is required."))

    def wrong(field, expected):
        errors.append(("validation", "invalid_field_value",
                       f"{field} has an invalid value {json.dumps(_dig(body, field))}: "
                       f"expected {expected}."))

    _check_strings(body, _V2_STRINGS, missing, wrong)
    for field in ("from_country_code", "to_country_code"):
        value = body.get(field)
        if isinstance(value, str) and value and not (len(value) == 2 and value.isalpha()):
            wrong(field, "a two-letter ISO country code")
    if body.get("weight") is None:
        missing("weight")
    else:
        _check_measure(body["weight"], "weight", "unit", V2_WEIGHT_UNITS, ("value",),
                       missing, wrong)
    if body.get("dimensions") is not None:
        _check_measure(body["dimensions"], "dimensions", "unit", V2_DIMENSION_UNITS,
                       ("length", "width", "height"), missing, wrong)
    if body.get("confirmation") not in (None, *V2_CONFIRMATIONS):
        wrong("confirmation", "one of " + ", ".join(V2_CONFIRMATIONS))
    if body.get("address_residential_indicator") not in (None, "unknown", "yes", "no"):
        wrong("address_residential_indicator", "one of unknown, yes, no")
    if body.get("ship_date") is None:
        missing("ship_date")
    elif parse_date(body["ship_date"]) is None:
        wrong("ship_date", "an ISO 8601 date")
    if not ids:
        if body.get("carrier_ids") is not None or body.get("carrier_id") is not None:
            wrong("carrier_ids", "a non-empty list of carrier ids")
        else:
            missing("carrier_id")
    return errors


def _dig(body: dict, dotted: str):
    value = body
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def parse_date(value) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).date()
    except ValueError:
        return None


def v2_carrier_ids(body: dict) -> list[str]:
    ids = body.get("carrier_ids")
    ids = list(ids) if isinstance(ids, list) else []
    if body.get("carrier_id") is not None:
        ids.insert(0, body["carrier_id"])
    if not all(isinstance(i, str) and i for i in ids):
        return []
    return list(dict.fromkeys(ids))


def _dims(obj, key: str):
    if not obj:
        return None
    return to_inches((obj["length"], obj["width"], obj["height"]), obj[key])


def v1_shipment(body: dict) -> Shipment:
    weight = body["weight"]
    return Shipment(
        from_country="US", from_postal=body["fromPostalCode"],
        to_country=body["toCountry"].upper(), to_postal=body["toPostalCode"],
        weight_lb=to_pounds(weight["value"], weight["units"]),
        dims_in=_dims(body.get("dimensions"), "units"), residential=bool(body.get("residential")),
        confirmation=body.get("confirmation") or "none")


def v2_shipment(body: dict) -> Shipment:
    weight = body["weight"]
    return Shipment(
        from_country=body["from_country_code"].upper(), from_postal=body["from_postal_code"],
        to_country=body["to_country_code"].upper(), to_postal=body["to_postal_code"],
        weight_lb=to_pounds(weight["value"], weight["unit"]),
        dims_in=_dims(body.get("dimensions"), "unit"),
        residential=body.get("address_residential_indicator") == "yes",
        confirmation=body.get("confirmation") or "none")


def _money(amount) -> dict:
    return {"currency": "usd", "amount": float(amount)}


def v2_rate(carrier_id: str, account: dict, q: Quote | None, ship_date: date) -> dict:
    days = q.delivery_days if q else None
    return {
        "rate_id": None, "rate_type": "check", "carrier_id": carrier_id,
        "shipping_amount": _money(q.shipment_cost if q else 0),
        "insurance_amount": _money(0), "confirmation_amount": _money(0),
        "other_amount": _money(q.other_cost if q else 0),
        "requested_comparison_amount": None, "tax_amount": None,
        "zone": q.zone if q and q.zone <= 8 else None,
        "package_type": "package" if q else None, "delivery_days": days,
        "guaranteed_service": bool(q and q.service.speed in ("overnight", "2day", "3day")),
        "estimated_delivery_date": (f"{add_business_days(ship_date, days)}T23:00:00Z"
                                    if q else None),
        "carrier_delivery_days": str(days) if q else None,
        "ship_date": f"{ship_date}T00:00:00Z", "negotiated_rate": False,
        "service_type": q.service.name if q else None,
        "service_code": q.service.code if q else None,
        "trackable": bool(q), "validation_status": "valid" if q else "invalid",
        "carrier_code": account["code"],
        "carrier_nickname": account.get("nickname", account["name"]),
        "carrier_friendly_name": account["name"], "warning_messages": [],
        "error_messages": [] if q else [NO_SERVICES],
    }


def v1_rate_rows(quotes: list[Quote]) -> list[dict]:
    return [{"serviceName": q.service.name, "serviceCode": q.service.code,
             "shipmentCost": float(q.shipment_cost), "otherCost": float(q.other_cost)}
            for q in quotes]


def v1_catalog_rows(carrier_code: str, kind: str) -> list[dict]:
    """``/carriers/listservices`` (kind "services") or ``/carriers/listpackages`` rows."""
    items = services_for(carrier_code) if kind == "services" else packages_for(carrier_code)
    return [{"carrierCode": carrier_code, "code": i.code, "name": i.name,
             "domestic": i.domestic, "international": i.international} for i in items]


def v2_carrier(carrier_id: str, account: dict) -> dict:
    """A V1 carrier account in the V2 (ShipEngine) carrier shape."""
    code = account["code"]
    return {
        "carrier_id": carrier_id, "carrier_code": code,
        "account_number": account["accountNumber"],
        "requires_funded_amount": account["requiresFundedAccount"],
        "balance": account["balance"], "nickname": account.get("nickname", account["name"]),
        "friendly_name": account["name"], "primary": account["primary"],
        "has_multi_package_supporting_services": False, "supports_label_messages": True,
        "services": [{"carrier_id": carrier_id, "carrier_code": code, "service_code": s.code,
                      "name": s.name, "domestic": s.domestic, "international": s.international,
                      "is_multi_package_supported": False} for s in services_for(code)],
        "packages": [{"package_id": None, "package_code": p.code, "name": p.name,
                      "description": p.name} for p in packages_for(code)],
        "options": [],
    }
