"""Value rules of the Custom Store export: text, lengths, numbers, dates and URLs.

Every string goes through :func:`clean_text` (characters XML 1.0 forbids removed,
outer whitespace stripped) and is cut to :data:`MAX_LENGTHS`; money and weights
are two-place decimals rounded half-up; dates are ``MM/dd/yyyy HH:mm`` in UTC.
:func:`add` and :func:`add_raw` write such values as child elements.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from urllib.parse import quote, urlsplit, urlunsplit

from lxml import etree

# Stricter of the Custom Store field table and the XSD, per element path.
MAX_LENGTHS: dict[str, int] = {
    "Order/OrderID": 50,
    "Order/OrderNumber": 50,
    "Order/OrderStatus": 50,
    "Order/ShippingMethod": 100,  # table says 1000 (or 100), XSD String100
    "Order/PaymentMethod": 50,
    "Order/CurrencyCode": 3,
    "Order/CustomerNotes": 1000,
    "Order/InternalNotes": 1000,
    "Order/GiftMessage": 1000,
    "Order/CustomField1": 100,
    "Order/CustomField2": 100,
    "Order/CustomField3": 100,
    "Order/RequestedWarehouse": 100,
    "Order/Source": 50,
    "Customer/CustomerCode": 50,  # table 1..50, XSD String100
    "BillTo/Name": 100,
    "BillTo/Company": 100,
    "BillTo/Phone": 50,
    "BillTo/Email": 100,  # table 0..100, XSD unrestricted
    "BillTo/Address1": 200,
    "BillTo/Address2": 200,
    "BillTo/City": 100,
    "BillTo/State": 100,
    "BillTo/PostalCode": 50,
    "BillTo/Country": 2,
    "ShipTo/Name": 100,
    "ShipTo/Company": 100,
    "ShipTo/Address1": 200,
    "ShipTo/Address2": 200,
    "ShipTo/City": 100,
    "ShipTo/State": 100,
    "ShipTo/PostalCode": 50,
    "ShipTo/Country": 2,
    "ShipTo/Phone": 50,
    "Item/LineItemID": 50,
    "Item/SKU": 50,  # table 1..50, XSD String100
    "Item/Name": 200,
    "Item/ImageUrl": 500,  # never cut: a longer URL is left out
    "Item/UPC": 12,
    "Item/Location": 100,
    "Option/Name": 100,
    "Option/Value": 100,
}

_ILLEGAL_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CENT = Decimal("0.01")
_BAD_PERCENT = re.compile("%(?![0-9A-Fa-f]{2})")
_HOST = re.compile(r"[A-Za-z0-9.-]+")


def clean_text(value) -> str:
    """Text safe for XML 1.0: illegal characters removed, outer whitespace stripped."""
    if value is None or isinstance(value, dict | list | tuple | set):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _ILLEGAL_XML.sub("", str(value)).strip()


def cut(path: str, value) -> str:
    return clean_text(value)[: MAX_LENGTHS[path]]


def to_decimal(value) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def format_decimal(value) -> str | None:
    """Exactly two places, half-up; None for a missing or non-numeric value."""
    number = to_decimal(value)
    if number is None:
        return None
    try:
        rounded = number.quantize(_CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:  # too many digits for the context
        return None
    if rounded == 0:
        rounded = Decimal("0.00")  # no "-0.00"
    return f"{rounded:f}"


def format_datetime(value: datetime) -> str:
    """``MM/dd/yyyy HH:mm`` in UTC."""
    value = value.astimezone(UTC)
    return f"{value.month:02d}/{value.day:02d}/{value.year:04d} {value.hour:02d}:{value.minute:02d}"


def joined(*parts) -> str:
    return " ".join(p for p in (clean_text(part) for part in parts) if p)


def first(*values) -> str:
    for value in values:
        text = clean_text(value)
        if text:
            return text
    return ""


def _quote_component(text: str, safe: str) -> str:
    text = _BAD_PERCENT.sub("%25", text)  # a "%" that is not an escape
    return quote(text, safe=safe + "%")


def image_url(value) -> str | None:
    """An absolute http(s) URL that is a valid xs:anyURI, re-escaped; None otherwise."""
    text = clean_text(value)
    if not text:
        return None
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port
        if parts.scheme.lower() not in ("http", "https") or not host:
            return None
        host = host.encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        return None
    if not _HOST.fullmatch(host):
        return None
    netloc = host if port is None else f"{host}:{port}"
    url = urlunsplit((parts.scheme.lower(), netloc,
                      _quote_component(parts.path, "/:@!$&'()*+,;=-._~"),
                      _quote_component(parts.query, "/?:@!$&'()*+,;=-._~"),
                      _quote_component(parts.fragment, "/?:@!$&'()*+,;=-._~")))
    return url if len(url) <= MAX_LENGTHS["Item/ImageUrl"] else None


# ---------------------------------------------------------------- elements


def add(parent: etree._Element, tag: str, value, *, path: str | None = None,
        required: bool = False) -> etree._Element | None:
    text = cut(path or f"{parent.tag}/{tag}", value)
    if not text and not required:
        return None
    element = etree.SubElement(parent, tag)
    element.text = text
    return element


def add_raw(parent: etree._Element, tag: str, text: str | None,
            required_default: str | None = None) -> None:
    """An element whose text is already formatted (numbers, dates, booleans)."""
    if text is None:
        text = required_default
    if text is None:
        return
    etree.SubElement(parent, tag).text = text
