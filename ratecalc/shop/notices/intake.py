"""Ship notifications in: parse, check the order, persist, and only then acknowledge.

The notice is written to the database before ShipStation gets its 200, so a
slow or dead Cin7, or a crash, loses nothing; the delivery worker applies it
later. Before that, intake asks Cin7 which order the notice names and whether
it may touch it (:mod:`ratecalc.shop.notices.orders`): a notice for an unknown,
cancelled, void or other-branch order is a 400 ShipStation shows the merchant.
When Cin7 cannot answer, the notice is stored unresolved and the worker asks.

ShipStation repeats notifications and the XML carries no id, so the dedupe key
is the shipment's identity (:mod:`ratecalc.shop.notices.identity`): a repeat,
however it is spelled, is stored once.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import date, datetime
from decimal import Decimal

from ratecalc import bounds, metrics
from ratecalc.shop.notices.identity import carrier_code, shipment_identity
from ratecalc.shop.notices.orders import NoticeOrders
from ratecalc.shop.notices.parse import (
    TEXT_LIMITS,
    ShipNotice,
    ShipNoticeError,
    parse_ship_notice,
)
from ratecalc.shop.store.records import NewNotice, StoredNotice
from ratecalc.upstream.cin7.records import reference_spellings
from ratecalc.upstream.errors import UpstreamError
from ratecalc.upstream.transport import Deadline

log = logging.getLogger(__name__)
MAX_NOTICE_BYTES = 1024 * 1024
LOOKUP_SECONDS = 10.0  # ShipStation waits for our answer; Cin7 gets this long, then the worker asks


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


# Query parameters ShipStation sends beside the body, and the element limits they share.
_QUERY_FIELDS = {"order_number": "OrderNumber", "carrier": "Carrier", "service": "Service",
                 "tracking_number": "TrackingNumber"}


def _from_query(query: dict, name: str) -> str | None:
    try:
        return bounds.text(query.get(name), name, TEXT_LIMITS[_QUERY_FIELDS[name]])
    except bounds.OutOfBounds as exc:
        raise ShipNoticeError(str(exc)) from None


def dedupe_key(order_id: int | None, order_number: str | None, tracking: str | None,
               carrier: str | None) -> str:
    """A provisional key for a notice whose Cin7 order is not known yet; resolving the
    notice replaces it with :func:`shipment_identity`. The '?' keeps the two apart."""
    order = str(order_id) if order_id is not None else reference_spellings(order_number or "")[0]
    return "?" + "|".join((order, (tracking or "").strip(), carrier_code(carrier)))


def notice_from_request(body: bytes, query: dict) -> tuple[NewNotice, ShipNotice | None]:
    """Combine the XML body and the query string (ShipStation sends both).

    The body wins where both say something. An empty body is accepted when the
    query names the order (WooCommerce saw empty bodies); with an empty
    ``tracking_number`` too, it is ShipStation's "mark as shipped" without a
    label: WooCommerce completes the order, ratecalc dispatches the whole order
    and writes no tracking code (a notice without items covers every line).
    """
    notice = None
    if body.strip():
        notice = parse_ship_notice(body, max_bytes=MAX_NOTICE_BYTES)
    elif not _from_query(query, "order_number"):
        raise ShipNoticeError("empty body: send a ShipNotice XML document, or name the "
                              "order in order_number")
    order_id = None
    if notice and notice.order_id and notice.order_id.strip().isdigit():
        order_id = int(notice.order_id.strip())
    order_number = _clean(notice.order_number if notice else None) or _from_query(
        query, "order_number")
    carrier = _clean(notice.carrier if notice else None) or _from_query(query, "carrier")
    service = _clean(notice.service if notice else None) or _from_query(query, "service")
    tracking = _clean(notice.tracking_number if notice else None) or _from_query(
        query, "tracking_number")
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
    def __init__(self, store, clock, orders: NoticeOrders | None = None, on_stored=None):
        self.store = store
        self.clock = clock
        self.orders = orders  # None: store unresolved, the worker resolves
        self.on_stored = on_stored  # wakes the delivery worker

    def receive(self, body: bytes, query: dict) -> tuple[StoredNotice, bool]:
        """Persist a notification; (row, created). Raises ShipNoticeError (NoticeRefused
        for an order it may not touch) / StoreError."""
        try:
            new, _ = notice_from_request(body, query)
            new = self._resolved(new)
        except ShipNoticeError:
            metrics.shipnotify.labels("rejected").inc()
            raise
        row, created = self.store.add_notice(new, self.clock())
        metrics.shipnotify.labels("stored" if created else "duplicate").inc()
        if created and self.on_stored:
            self.on_stored()
        return row, created

    def _resolved(self, new: NewNotice) -> NewNotice:
        if self.orders is None:
            return new
        try:
            order = self.orders.resolve(new.order_id, new.order_number,
                                        deadline=Deadline(LOOKUP_SECONDS))
        except UpstreamError as exc:
            log.info("ship notification stored unresolved (Cin7: %s)", exc.message)
            return new
        return dataclasses.replace(
            new, resolved_order_id=int(order.id),
            dedupe_key=shipment_identity(int(order.id), new.tracking_number, new.carrier))
