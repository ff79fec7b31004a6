"""Rate requests and replies of the ShipStation simulator on the wire: V1/V2 validation,
request bodies -> ``Shipment``, and the JSON rows each API answers.

Held to the published specs (tests/specs/): V2 requires origin and destination city and
state, a ``ship_date`` date-time and the ``delivery_confirmation`` enum, and its rows carry
no ``rate_id``/``requested_comparison_amount``/``tax_amount: null``. V1 binds numbers sent
as JSON strings (``"value": "24"``) as ASP.NET's model binding does.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime

from .rates import (
    MULTI_ROW_CARRIERS,
    NO_SERVICES,
    V1_CONFIRMATIONS,
    V1_DIMENSION_UNITS,
    V1_WEIGHT_UNITS,
    V2_CONFIRMATIONS,
    V2_DIMENSION_UNITS,
    V2_WEIGHT_UNITS,
    Quote,
    Shipment,
    add_business_days,
    packages_for,
    services_for,
    to_inches,
    to_pounds,
)

# ---- rate requests (validation) and rate replies (wire shapes) ---------------------------
_V1_STRINGS = {"carrierCode": True, "serviceCode": False, "packageCode": False,
               "fromPostalCode": True, "toState": False, "toCountry": True, "toPostalCode": True,
               "toCity": False}
_V2_STRINGS = {"from_country_code": True, "from_postal_code": True, "from_city_locality": True,
               "from_state_province": True, "to_country_code": True, "to_postal_code": True,
               "to_city_locality": True, "to_state_province": True}
# V2 date_time: RFC 3339 with a time and an offset (the spec's pattern).
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[-+]\d{2}:\d{2})$")
_NUMERIC_TEXT = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")


def _is_number(value, strings: bool = False) -> bool:
    """A finite JSON number; with ``strings`` also a decimal in a JSON string (V1 binds it)."""
    if strings and isinstance(value, str):
        return bool(_NUMERIC_TEXT.match(value))
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


number = float  # a value _is_number accepted, as a number

def _check_strings(body: dict, spec: dict, missing, wrong) -> None:
    for name, required in spec.items():
        value = body.get(name)
        if value is None or value == "":
            if required:
                missing(name)
        elif not isinstance(value, str):
            wrong(name, "a string")


def _check_measure(obj, path: str, unit_key: str, units, fields, missing, wrong,
                   strings: bool = False) -> None:
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
        elif not _is_number(value, strings):
            wrong(f"{path}.{name}", "a number")
        elif number(value) < 0 or (name == "value" and number(value) == 0):
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
    state = body.get("toState")
    # The V1 field table: "Two-character state/province abbreviation".
    if isinstance(state, str) and state and not (len(state) == 2 and state.isascii()
                                                 and state.isalpha()):
        wrong("toState", "a two-character state/province abbreviation")
    if body.get("weight") is None:
        missing("weight")
    else:
        _check_measure(body["weight"], "weight", "units", V1_WEIGHT_UNITS, ("value",),
                       missing, wrong, strings=True)
    if body.get("dimensions") is not None:
        _check_measure(body["dimensions"], "dimensions", "units", V1_DIMENSION_UNITS,
                       ("length", "width", "height"), missing, wrong, strings=True)
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
    elif not (isinstance(body["ship_date"], str) and _DATE_TIME.match(body["ship_date"])
              and parse_date(body["ship_date"])):
        wrong("ship_date", "an ISO 8601 date-time such as 2024-05-01T00:00:00Z")
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
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
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


def v2_rate(carrier_id: str, account: dict, q: Quote | None, ship_date: date,
            error: str = NO_SERVICES) -> dict:
    """A ``rate-estimate`` row. ``q`` None: the carrier's error row (``error_messages``),
    named after its first service since service_code and service_type are required."""
    services = services_for(account["code"])
    service = q.service if q else (services[0] if services else None)
    row = {
        "rate_type": "check", "carrier_id": carrier_id,
        "shipping_amount": _money(q.shipment_cost if q else 0),
        "insurance_amount": _money(0), "confirmation_amount": _money(0),
        "other_amount": _money(q.other_cost if q else 0),
        "zone": q.zone if q else 0,
        "package_type": q.package.code if q else "package",
    }
    if q:
        row["delivery_days"] = q.delivery_days
    row["guaranteed_service"] = bool(q and q.service.speed in ("overnight", "2day", "3day"))
    if q:
        row["estimated_delivery_date"] = (f"{add_business_days(ship_date, q.delivery_days)}"
                                          "T23:00:00Z")
        row["carrier_delivery_days"] = str(q.delivery_days)
    row.update({
        "ship_date": f"{ship_date}T00:00:00Z", "negotiated_rate": False,
        "service_type": service.name if service else "Unknown",
        "service_code": service.code if service else "unknown",
        "trackable": bool(q), "validation_status": "valid" if q else "invalid",
        "carrier_code": account["code"],
        "carrier_nickname": account.get("nickname", account["name"]),
        "carrier_friendly_name": account["name"], "warning_messages": [],
        "error_messages": [] if q else [error],
    })
    return row


def v1_rate_rows(carrier_code: str, quotes: list[Quote]) -> list[dict]:
    """getrates rows; USPS names each row "<service> - <package type>" (recorded data)."""
    def name(q: Quote) -> str:
        if carrier_code in MULTI_ROW_CARRIERS:
            return f"{q.service.name} - {q.package.name}"
        return q.service.name

    return [{"serviceName": name(q), "serviceCode": q.service.code,
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
        "packages": [{"package_id": f"se-{account['shippingProviderId']}{i:03d}",
                      "package_code": p.code, "name": p.name, "description": p.name}
                     for i, p in enumerate(packages_for(code))],
        "options": [],
    }
