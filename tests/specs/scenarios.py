"""Rate requests that exercise every field ratecalc sends ShipStation (both APIs)."""

from __future__ import annotations

import copy

from tests.conftest import DC_REQUEST


def _with(**changes) -> dict:
    body = copy.deepcopy(DC_REQUEST)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = {**body[key], **value}
        else:
            body[key] = value
    return body


# V1 wants a two-character toState (the doc table), V2 a state: Canada has both.
ABROAD = {"country": "CA", "postal_code": "M5V 2T6", "city": "Toronto", "state": "ON"}

SCENARIOS = {
    "default": _with(),
    "no_city_or_state": _with(ship_to={"country": "US", "postal_code": "10001"},
                              carriers=["fedex", "stamps_com"]),
    "residential": _with(ship_to={"residential": True}),
    "delivery": _with(confirmation="delivery", carriers=["fedex", "ups"]),
    "signature": _with(confirmation="signature", carriers=["fedex", "stamps_com"]),
    "adult_signature": _with(confirmation="adult_signature", carriers=["ups"]),
    "direct_signature": _with(confirmation="direct_signature"),
    "flat_rate_envelope": _with(package={"weight": {"value": 8, "units": "ounces"},
                                         "package_code": "flat_rate_envelope"},
                                carriers=["stamps_com"]),
    "service": _with(service_code="fedex_2day", carriers=["fedex"]),
    "kilograms_centimetres": _with(package={
        "weight": {"value": "1.25", "units": "kilograms"},
        "dimensions": {"length": 30, "width": 20, "height": 10, "units": "centimeters"}}),
    "no_dimensions_pounds": _with(package={"weight": {"value": 3, "units": "pounds"}}),
    "abroad": _with(ship_to=ABROAD, carriers=["fedex", "stamps_com"]),
    "other_origin": _with(ship_from={"postal_code": "10001"}, carriers=["ups", "fedex"]),
}
