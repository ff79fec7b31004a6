"""Machine codes as a sales person or an ops engineer would say them."""

from __future__ import annotations

CARRIER_ERRORS = {
    "no_rates": "This carrier offers no service for this shipment.",
    "upstream_error": "ShipStation returned an error for this carrier.",
    "upstream_auth": "ShipStation refused ratecalc's stored API credentials.",
    "upstream_timeout": "ShipStation did not answer in time.",
    "rate_limited": "ratecalc has used its ShipStation calls for this minute; try again shortly.",
    "upstream_unavailable": "ShipStation is failing, so ratecalc is pausing calls to it for a "
                            "little while (circuit open).",
    "busy": "ratecalc is busy with other quotes; try again in a moment.",
    "invalid_request": "Some of the details are not valid.",
}

FREIGHT_ERRORS = {
    "order_not_found": "There is no Cin7 sales order with that id.",
    "missing_weights": "Some lines of the order have no weight in Cin7, so it cannot be "
                       "quoted.",
    "no_lines": "The order has no lines with a quantity to ship.",
    "no_country": "The order's delivery country is missing or not recognised.",
    "no_postal_code": "The order has no delivery postal code.",
    "cin7_rejected": "Cin7 did not save the freight.",
}

BREAKER_STATES = {
    "closed": "working (closed)",
    "open": "failing: calls paused (open)",
    "half_open": "testing with one call (half open)",
}


def carrier_error(code: str) -> str:
    return CARRIER_ERRORS.get(code, "The carrier could not be quoted.")


def freight_error(code: str, message: str) -> str:
    plain = FREIGHT_ERRORS.get(code)
    return f"{plain} ({message})" if plain and plain.rstrip(".") not in message else message


def breaker_state(state: str) -> str:
    return BREAKER_STATES.get(state, state)


def age(seconds: float | None) -> str:
    """``3 min``, ``2 h 5 min``, ``4 d``: how long ago, in words."""
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} d"
