"""Safe parsing of the ``<ShipNotice>`` body ShipStation posts on ``action=shipnotify``.

The body is untrusted. It is parsed with defusedxml with DTDs, entity
declarations and external references forbidden, after a size check, so a
billion-laughs or XXE body fails fast with :class:`ShipNoticeError`. The
encoding comes from the XML prolog / BOM (UTF-8 and UTF-16 both work).

Every :class:`ShipNoticeError` message is a short one-liner that is safe to
return to the caller; it never echoes the body or a parser internals dump.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

DEFAULT_MAX_BYTES = 1_000_000
ROOT = "ShipNotice"

# M/d/yyyy, optional H:mm[:ss[.fff]], optional AM/PM (ShipStation's loose XSD pattern).
_US_DATE = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4})"
    r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*([AaPp][Mm])?)?"
)


# A prolog that says UTF-16 on a body that is plainly 8-bit (no BOM, no NUL bytes).
_MISLABELLED_UTF16 = re.compile(
    rb"""\A(\xef\xbb\xbf)?(<\?xml[^>]*?encoding\s*=\s*["'])utf-16(["'])""", re.IGNORECASE)


class ShipNoticeError(ValueError):
    """The body is not an acceptable ShipNotice; the message is client-safe."""


@dataclass(frozen=True)
class NoticeItem:
    line_item_id: str | None
    sku: str | None
    name: str | None
    quantity: int | None


@dataclass(frozen=True)
class ShipNotice:
    order_id: str | None
    order_number: str | None
    carrier: str | None
    service: str | None
    tracking_number: str | None
    ship_date: date | None
    shipping_cost: Decimal | None
    notes_to_customer: str | None
    internal_notes: str | None
    customer_notes: str | None
    label_create_date: datetime | None  # aware, UTC
    items: tuple[NoticeItem, ...]
    customer_code: str | None = None
    notify_customer: bool | None = None


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(element, name: str):
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _text(element, name: str) -> str | None:
    child = _child(element, name)
    if child is None:
        return None
    text = "".join(child.itertext()).strip()
    return text or None


def _datetime(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    match = _US_DATE.fullmatch(value)
    try:
        if match:
            month, day, year, hour, minute, second, meridiem = match.groups()
            hour_number = int(hour or 0)
            if meridiem and hour_number <= 12:
                hour_number %= 12
                if meridiem.lower() == "pm":
                    hour_number += 12
            return datetime(int(year), int(month), int(day), hour_number, int(minute or 0),
                            int(second or 0), tzinfo=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ShipNoticeError(f"{field} is not a valid date") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _decimal(value: str | None, field: str) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ShipNoticeError(f"{field} is not a number") from None
    if not number.is_finite():
        raise ShipNoticeError(f"{field} is not a number")
    return number


def _quantity(value: str | None) -> int | None:
    number = _decimal(value, "Quantity")
    if number is None:
        return None
    if number < 0 or number != number.to_integral_value():
        raise ShipNoticeError("Quantity must be a whole number")
    return int(number)


def _bool(value: str | None) -> bool | None:
    if value is None:
        return None
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ShipNoticeError("NotifyCustomer must be true or false")


def _parse_xml(body, max_bytes: int):
    if isinstance(body, bytearray | memoryview):
        body = bytes(body)
    if not isinstance(body, bytes):
        raise ShipNoticeError("body must be bytes")
    if len(body) > max_bytes:
        raise ShipNoticeError(f"body is larger than {max_bytes} bytes")
    if not body.strip(b" \t\r\n\x00"):
        raise ShipNoticeError("body is empty")
    if b"\x00" not in body:
        # Some senders declare utf-16 on a UTF-8 body; expat would reject it outright.
        body = _MISLABELLED_UTF16.sub(rb"\1\2utf-8\3", body, count=1)
    try:
        return fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise ShipNoticeError("DTDs, entities and external references are not allowed") from None
    except (ParseError, SyntaxError, LookupError, UnicodeError, ValueError):
        raise ShipNoticeError("body is not well-formed XML") from None


def parse_ship_notice(body: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> ShipNotice:
    """Parse a ShipNotice body; ShipNoticeError on anything unsafe or malformed."""
    root = _parse_xml(body, max_bytes)
    if _local(root.tag) != ROOT:
        raise ShipNoticeError(f"root element must be {ROOT}")
    items = []
    items_element = _child(root, "Items")
    if items_element is not None:
        for item in items_element:
            if _local(item.tag) != "Item":
                continue
            items.append(NoticeItem(
                line_item_id=_text(item, "LineItemID"),
                sku=_text(item, "SKU"),
                name=_text(item, "Name"),
                quantity=_quantity(_text(item, "Quantity")),
            ))
    ship_date = _datetime(_text(root, "ShipDate"), "ShipDate")
    return ShipNotice(
        order_id=_text(root, "OrderID"),
        order_number=_text(root, "OrderNumber"),
        carrier=_text(root, "Carrier"),
        service=_text(root, "Service"),
        tracking_number=_text(root, "TrackingNumber"),
        ship_date=ship_date.date() if ship_date else None,
        shipping_cost=_decimal(_text(root, "ShippingCost"), "ShippingCost"),
        notes_to_customer=_text(root, "NotesToCustomer"),
        internal_notes=_text(root, "InternalNotes"),
        customer_notes=_text(root, "CustomerNotes"),
        label_create_date=_datetime(_text(root, "LabelCreateDate"), "LabelCreateDate"),
        items=tuple(items),
        customer_code=_text(root, "CustomerCode"),
        notify_customer=_bool(_text(root, "NotifyCustomer")),
    )
