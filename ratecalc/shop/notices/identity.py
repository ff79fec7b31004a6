"""A shipment's identity: which Cin7 order, which tracking number, which carrier.

ShipStation repeats notifications and its XML carries no id, and the same
shipment arrives spelled differently ("UPS Ground" in the XML, "UPS" or "ups"
in the query). The identity is the resolved Cin7 order id, the tracking number
exactly as given (carriers' tracking numbers are case-sensitive), and the
carrier normalised to a ShipStation-style code.
"""

from __future__ import annotations

import re

# Word stems of carrier names, mapped to ShipStation's carrier codes. A name
# not listed becomes its own slug ("Canada Post" -> "canada_post").
_CARRIER_STEMS = (
    ("ups", "ups"), ("fedex", "fedex"), ("federal express", "fedex"),
    ("usps", "stamps_com"), ("stamps", "stamps_com"), ("endicia", "stamps_com"),
    ("dhl", "dhl_express"), ("ontrac", "ontrac"), ("canada post", "canada_post"),
    ("purolator", "purolator_ca"), ("royal mail", "royal_mail"),
    ("australia post", "australia_post"), ("auspost", "australia_post"),
)


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def carrier_code(carrier: str | None) -> str:
    """'UPS Ground', 'UPS' and 'ups' -> 'ups'; '' for no carrier."""
    words = _words(carrier or "")
    compact = words.replace(" ", "")
    for stem, code in _CARRIER_STEMS:
        if words == stem or words.startswith(stem + " ") or compact == code.replace("_", ""):
            return code
    return words.replace(" ", "_")


def shipment_identity(order_id: int, tracking: str | None, carrier: str | None) -> str:
    """The dedupe key of a notice whose Cin7 order is known."""
    return f"{int(order_id)}|{(tracking or '').strip()}|{carrier_code(carrier)}"
