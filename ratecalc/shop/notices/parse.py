"""Safe parsing of the ``<ShipNotice>`` body ShipStation posts on ``action=shipnotify``.

The body is untrusted. It is parsed with defusedxml with DTDs, entity
declarations and external references forbidden, after a size check, so a
billion-laughs or XXE body fails fast with :class:`ShipNoticeError`. The
encoding comes from the XML prolog / BOM (UTF-8 and UTF-16 both work).

Every :class:`ShipNoticeError` message is a short one-liner that is safe to
return to the caller; it never echoes the body or a parser internals dump.

Dates are ShipStation's ``MM/dd/yyyy HH:mm``, ISO 8601, or any other common
textual form python-dateutil reads (an offset is converted, none means UTC).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from dateutil import parser as dateutil_parser
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from ratecalc import bounds
from ratecalc.shop.shipstation_dates import US_DATE, hour_of_day

DEFAULT_MAX_BYTES = 1_000_000
_NO_DEFAULT = datetime(1, 1, 1)  # a date with no year reads as year 1: refused
ROOT = "ShipNotice"


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
    match = US_DATE.fullmatch(value)
    try:
        if match:
            written = int(match["hour"] or 0)
            # An hour AM/PM cannot qualify is read as written ("21:56 PM" in ShipStation's docs).
            hour = hour_of_day(written, match["meridiem"])
            return datetime(int(match["year"]), int(match["month"]), int(match["day"]),
                            written if hour is None else hour,
                            int(match["minute"] or 0), int(match["second"] or 0), tzinfo=UTC)
        if len(value) > 60 or not value.isascii():
            raise ValueError(value)
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            # Any other common form ("Tue, 21 May 2024 10:00:00 GMT", "May 21 2024 10:00"),
            # read the way the peers' date parsers read them; no default date is filled in.
            parsed = dateutil_parser.parse(value, default=_NO_DEFAULT)
            if parsed.year == 1:
                raise ValueError(value) from None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError, dateutil_parser.ParserError):
        # OverflowError: 9999-12-31T23:59-14:00 in UTC
        raise ShipNoticeError(f"{field} is not a valid date") from None


def _bounded(parse, *args, **kwargs):
    try:
        return parse(*args, **kwargs)
    except bounds.OutOfBounds as exc:
        raise ShipNoticeError(str(exc)) from None


def _money(value: str | None, field: str) -> Decimal | None:
    return _bounded(bounds.decimal, value, field)


def _quantity(value: str | None) -> int | None:
    return _bounded(bounds.integer, value, "Quantity")


def _order_id(value: str | None) -> str | None:
    number = _bounded(bounds.record_id, value, "OrderID")
    return None if number is None else str(number)


# Longest accepted text per element; notes may have several lines.
TEXT_LIMITS = {"OrderNumber": 50, "Carrier": 100, "Service": 100, "TrackingNumber": 100,
               "CustomerCode": 100, "LineItemID": 50, "SKU": 100}
NOTE_LIMIT = 2000
NAME_LIMIT = 200  # an item's name is informational: cut, not refused


def _field(element, name: str) -> str | None:
    return _bounded(bounds.text, _text(element, name), name, TEXT_LIMITS[name])


def _note(element, name: str) -> str | None:
    return _bounded(bounds.text, _text(element, name), name, NOTE_LIMIT, lines=True)


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
                line_item_id=_field(item, "LineItemID"),
                sku=_field(item, "SKU"),
                name=_bounded(bounds.text, _text(item, "Name"), "Name", NAME_LIMIT,
                              lines=True, cut=True),
                quantity=_quantity(_text(item, "Quantity")),
            ))
    ship_date = _datetime(_text(root, "ShipDate"), "ShipDate")
    return ShipNotice(
        order_id=_order_id(_text(root, "OrderID")),
        order_number=_field(root, "OrderNumber"),
        carrier=_field(root, "Carrier"),
        service=_field(root, "Service"),
        tracking_number=_field(root, "TrackingNumber"),
        ship_date=ship_date.date() if ship_date else None,
        shipping_cost=_money(_text(root, "ShippingCost"), "ShippingCost"),
        notes_to_customer=_note(root, "NotesToCustomer"),
        internal_notes=_note(root, "InternalNotes"),
        customer_notes=_note(root, "CustomerNotes"),
        label_create_date=_datetime(_text(root, "LabelCreateDate"), "LabelCreateDate"),
        items=tuple(items),
        customer_code=_field(root, "CustomerCode"),
        notify_customer=_bool(_text(root, "NotifyCustomer")),
    )
