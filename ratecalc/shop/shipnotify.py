"""Ship notifications in: parse, persist, and only then acknowledge.

The notice is written to the database before ShipStation gets its 200, so a
slow or dead Cin7, or a crash, loses nothing; the delivery worker applies it
later. ShipStation repeats notifications and the XML carries no id, so the
dedupe key is order + tracking number + carrier: a repeat is stored once.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from decimal import Decimal

from ratecalc import metrics
from ratecalc.shop.ship_notice import ShipNotice, ShipNoticeError, parse_ship_notice
from ratecalc.shop.store import NewNotice, StoredNotice

MAX_NOTICE_BYTES = 1024 * 1024


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def dedupe_key(order_id: int | None, order_number: str | None, tracking: str | None,
               carrier: str | None) -> str:
    order = str(order_id) if order_id is not None else "#" + (order_number or "").lstrip("#")
    return "|".join((order, (tracking or "").strip().upper(), (carrier or "").strip().upper()))


def notice_from_request(body: bytes, query: dict) -> tuple[NewNotice, ShipNotice | None]:
    """Combine the XML body and the query string (ShipStation sends both).

    The body wins where both say something; an empty body is accepted when the
    query names the order and tracking number (WooCommerce saw empty bodies).
    """
    notice = None
    if body.strip():
        notice = parse_ship_notice(body, max_bytes=MAX_NOTICE_BYTES)
    elif not (query.get("order_number") and query.get("tracking_number")):
        raise ShipNoticeError("empty body: send a ShipNotice XML document")
    order_id = None
    if notice and notice.order_id and notice.order_id.strip().isdigit():
        order_id = int(notice.order_id.strip())
    order_number = _clean(notice.order_number if notice else None) or _clean(
        query.get("order_number"))
    carrier = _clean(notice.carrier if notice else None) or _clean(query.get("carrier"))
    service = _clean(notice.service if notice else None) or _clean(query.get("service"))
    tracking = _clean(notice.tracking_number if notice else None) or _clean(
        query.get("tracking_number"))
    if order_id is None and not order_number:
        raise ShipNoticeError("no OrderID or OrderNumber: cannot tell which order shipped")
    payload = _plain(dataclasses.asdict(notice)) if notice else {"items": []}
    payload.update({"carrier": carrier, "service": service, "tracking_number": tracking})
    return NewNotice(
        dedupe_key=dedupe_key(order_id, order_number, tracking, carrier),
        order_id=order_id, order_number=order_number, carrier=carrier, service=service,
        tracking_number=tracking, payload=json.loads(json.dumps(payload)),
        raw_xml=body.decode("utf-8", "replace"),
    ), notice


class NoticeIntake:
    def __init__(self, store, clock, on_stored=None):
        self.store = store
        self.clock = clock
        self.on_stored = on_stored  # wakes the delivery worker

    def receive(self, body: bytes, query: dict) -> tuple[StoredNotice, bool]:
        """Persist a notification; (row, created). Raises ShipNoticeError / StoreError."""
        try:
            new, _ = notice_from_request(body, query)
        except ShipNoticeError:
            metrics.shipnotify.labels("rejected").inc()
            raise
        row, created = self.store.add_notice(new, self.clock())
        metrics.shipnotify.labels("stored" if created else "duplicate").inc()
        if created and self.on_stored:
            self.on_stored()
        return row, created
