"""Turn a rate request into a normalised :class:`Shipment` and cache keys.

The cache key covers every field sent to ShipStation and nothing else, so a
business-address rate is never served for a residential one (the classic bug
of this kind of service), while trivially different spellings of the same
shipment share an entry:

* country upper-case; US postal codes cut to ZIP5, Canadian ones upper-cased
  without the space, others upper-cased with runs of spaces folded;
* state and city upper-cased (carriers' own address standard) and trimmed;
* weight converted exactly to grams, dimensions to centimetres;
* service, package and confirmation codes lower-case; ``none`` confirmation
  and an absent one are the same request; no package code is ``package``, the
  merchant's own parcel (USPS otherwise answers flat-rate envelopes too);
* the configured origin city and state go with the configured origin postal
  code only: a request from another postal code names its own (or V2 looks
  them up), so a quote never mixes two places.

Because the upstream request is built from the normalised ``Shipment``, "same
key" really means "same request".
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal

from ratecalc.model import Shipment
from ratecalc.rating.request import RateRequest
from ratecalc.units import to_centimetres, to_grams

_SPACES = re.compile(r"\s+")
DEFAULT_PACKAGE = "package"  # ShipStation's code for the merchant's own parcel


def postal_code(country: str, code: str) -> str:
    code = _SPACES.sub(" ", code.strip()).upper()
    if country == "US":
        digits = re.match(r"(\d{5})(?:[\s-]?\d{4})?$", code)
        return digits.group(1) if digits else code
    if country == "CA":
        return code.replace(" ", "")
    return code


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    value = _SPACES.sub(" ", value.strip()).upper()
    return value or None


def _code(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    return value or None


def normalise(request: RateRequest, *, default_from_postal_code: str | None,
              default_from_country: str = "US", default_from_city: str | None = None,
              default_from_state: str | None = None) -> Shipment:
    """A :class:`RateRequest` and the configured origin -> the ``Shipment`` sent upstream."""
    to, origin, package = request.ship_to, request.ship_from, request.package
    from_country = (origin.country or default_from_country).upper()
    from_postal = origin.postal_code or default_from_postal_code or ""
    own_origin = origin.postal_code is None or (
        from_country == default_from_country.upper() and default_from_postal_code is not None
        and postal_code(from_country, origin.postal_code)
        == postal_code(from_country, default_from_postal_code))
    if not own_origin:
        default_from_city = default_from_state = None
    to_country = to.country.upper()
    dims = package.dimensions
    dimensions = None
    if dims:
        dimensions = tuple(to_centimetres(Decimal(side), dims.units)
                           for side in (dims.length, dims.width, dims.height))
    confirmation = _code(request.confirmation)
    return Shipment(
        from_postal_code=postal_code(from_country, from_postal),
        from_country=from_country,
        from_city=_text(origin.city or default_from_city),
        from_state=_text(origin.state or default_from_state),
        to_country=to_country,
        to_postal_code=postal_code(to_country, to.postal_code),
        to_state=_text(to.state),
        to_city=_text(to.city),
        residential=bool(to.residential),
        weight_grams=to_grams(Decimal(package.weight.value), package.weight.units),
        dimensions_cm=dimensions,
        package_code=_code(package.package_code) or DEFAULT_PACKAGE,
        confirmation=None if confirmation == "none" else confirmation,
        service_code=_code(request.service_code),
    )


def account_fingerprint(*parts: str | None) -> str:
    """A short, non-reversible tag of the upstream account (never the key itself)."""
    digest = hashlib.sha256("\x1f".join(p or "" for p in parts).encode()).hexdigest()
    return digest[:16]


def cache_key(shipment: Shipment, carrier_code: str, account: str) -> str:
    """One carrier's rates for one shipment on one account."""
    dims = "x".join(str(d) for d in shipment.dimensions_cm) if shipment.dimensions_cm else ""
    parts = (
        account, carrier_code,
        shipment.from_country, shipment.from_postal_code,
        shipment.from_city or "", shipment.from_state or "",
        shipment.to_country, shipment.to_postal_code,
        shipment.to_state or "", shipment.to_city or "",
        "R" if shipment.residential else "B",
        str(shipment.weight_grams), dims,
        shipment.package_code or "", shipment.confirmation or "",
        shipment.service_code or "",
    )
    # "|" cannot be confused with content: it is escaped inside every part.
    return "q1|" + "|".join(p.replace("\\", "\\\\").replace("|", "\\|") for p in parts)
