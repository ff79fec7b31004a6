"""What a quote may ask of each carrier, and the places V2 needs: checked before any call.

Why here and not left to ShipStation:

* **Confirmation per carrier.** The V1 spec documents ``direct_signature`` as
  FedEx-only, and ShipStation answers 400 for any other carrier. On V2 one call
  rates every carrier, so one carrier's refusal would sink the whole quote. A
  carrier that cannot offer the confirmation is left out before the call and
  reported (``unsupported_option``); the others are still quoted.
* **City and state on V2.** ``/v2/rates/estimate`` requires both ends' city and
  state. A US place missing them is filled from the offline ZIP table
  (:mod:`ratecalc.rating.places`); otherwise the caller gets a 400 naming the
  field, before any call spends budget.
* **A state code for UPS on V1.** V1's ``toState`` is a two-letter code (its field
  table), so a region name such as "Auckland" is not sent, and UPS needs one: UPS is
  left out with an error of its own, or the quote is a 400 when UPS was all of it.
"""

from __future__ import annotations

from dataclasses import replace

from ratecalc.model import TWO_LETTER_STATE, Shipment
from ratecalc.rating.places import us_place
from ratecalc.rating.request import InvalidRequest

# confirmation -> the carrier-code prefixes that offer it (absent: every carrier).
CONFIRMATION_CARRIERS = {"direct_signature": ("fedex",)}


def confirmation_supported(carrier_code: str, confirmation: str | None) -> bool:
    allowed = CONFIRMATION_CARRIERS.get(confirmation or "none")
    return allowed is None or carrier_code.startswith(allowed)


def unsupported_error(carrier_code: str, confirmation: str) -> dict:
    offered = ", ".join(CONFIRMATION_CARRIERS.get(confirmation, ()))
    return {"carrier_code": carrier_code, "code": "unsupported_option",
            "message": f"{carrier_code} does not offer confirmation {confirmation!r} "
                       f"(ShipStation offers it for: {offered}).", "_retry_after": None}


def without_ups_lacking_a_state_code(codes: list[str],
                                     shipment: Shipment) -> tuple[list[str], list[dict]]:
    """V1: ``codes`` without UPS when the state is not a two-letter code, and an error each."""
    if shipment.to_state is None or TWO_LETTER_STATE.fullmatch(shipment.to_state):
        return codes, []  # no state at all is the caller's rule (service.py), not this one
    message = (f"{shipment.to_state[:40]!r} is not a two-letter state or province code, "
               "which UPS needs on ShipStation V1.")
    ups = [c for c in codes if c.startswith("ups")]
    if ups and len(ups) == len(codes):
        raise InvalidRequest("ship_to.state", message)
    return ([c for c in codes if not c.startswith("ups")],
            [{"carrier_code": c, "code": "unsupported_option",
              "message": f"ship_to.state: {message}", "_retry_after": None} for c in ups])


def with_places(shipment: Shipment) -> Shipment:
    """``shipment`` with both ends' city and state, as V2 requires; InvalidRequest if not."""
    to_city, to_state = _place(shipment.to_country, shipment.to_postal_code,
                               shipment.to_city, shipment.to_state, "ship_to", "")
    from_city, from_state = _place(shipment.from_country, shipment.from_postal_code,
                                   shipment.from_city, shipment.from_state, "ship_from",
                                   " or set RATECALC_SHIP_FROM_CITY and RATECALC_SHIP_FROM_STATE")
    return replace(shipment, to_city=to_city, to_state=to_state, from_city=from_city,
                   from_state=from_state)


def _place(country: str, postal_code: str, city: str | None, state: str | None,
           end: str, hint: str) -> tuple[str, str]:
    if city and state:
        return city, state
    found = us_place(postal_code) if country == "US" else None
    if found is not None:
        # Upper case, as keys.normalise writes every city and state.
        return city or found[0].upper(), state or found[1].upper()
    field = f"{end}.city" if not city else f"{end}.state"
    why = (f"US ZIP code {postal_code!r} is not in ratecalc's ZIP table" if country == "US"
           else f"ratecalc looks up places only for US ZIP codes (country {country})")
    raise InvalidRequest(field, f"{field} is required: ShipStation V2 rates need the city and "
                                f"state, and {why}. Send {end}.city and {end}.state{hint}.")
