"""What the alert loop asks of the shop: orders waiting for ShipStation, orders held.

Both read the orders now in an import stage (``RATECALC_IMPORT_STAGES``), modified
within ``RATECALC_IMPORT_MAX_AGE_DAYS``, in one Cin7 scan, and judge them with
the export's own rules (:mod:`ratecalc.shop.export.eligibility`):

* *waiting*: eligible, mapped to a ShipStation status and never exported -- the
  export would send them, so a silent ShipStation is a problem (``export_silent``);
* *held*: in an import stage, not void, but failing a rule (no country, no dispatch quantity,
  a draft, another branch ...), unchanged in Cin7 for longer than the threshold
  (``orders_held``); the order's last modification is the best clock Cin7 gives of
  how long it has been held.

Plain dictionaries out: the alerts package knows nothing of the shop.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ratecalc.shop.export.eligibility import reasons
from ratecalc.upstream.cin7.records import ORDER_BY_MODIFIED, SalesOrder, date_literal, quote

MAX_ORDERS = 5000  # one scan reads at most this many orders


def import_stage_orders(shop, now: datetime) -> list[SalesOrder]:
    stages = ",".join(quote(stage) for stage in shop.rules.stages)
    since = now - timedelta(days=shop.rules.max_age_days)
    where = f"stage IN ({stages}) AND modifiedDate >= {date_literal(since)}"
    found: list[SalesOrder] = []
    for page in shop.cin7.iter_sales_orders(where=where, order=ORDER_BY_MODIFIED):
        found.extend(SalesOrder(raw) for raw in page)
        if len(found) >= MAX_ORDERS:
            break
    return found[:MAX_ORDERS]


def _label(order: SalesOrder) -> dict:
    return {"order_id": int(order.id), "reference": order.reference}


def waiting_orders(shop, now: datetime) -> list[dict]:
    """Eligible orders in an import stage that were never exported."""
    orders = [o for o in import_stage_orders(shop, now) if not reasons(o, shop.rules, now)
              and shop.status_map.order_status(o.stage, voided=o.is_void) is not None]
    exported = shop.store.exported(int(o.id) for o in orders) if orders else {}
    return [_label(o) for o in orders if int(o.id) not in exported]


def held_orders(shop, now: datetime, older_than: timedelta) -> list[dict]:
    """Orders in an import stage held out by a rule, unchanged for ``older_than``."""
    held = []
    for order in import_stage_orders(shop, now):
        since = order.modified_at or order.created_at
        if order.is_void or since is None or now - since < older_than:
            continue
        failed = [r for r in reasons(order, shop.rules, now) if r.rule != "stage"]
        if failed:
            held.append({**_label(order), "since": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "reasons": [r.message for r in failed]})
    return held
