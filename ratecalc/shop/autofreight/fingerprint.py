"""The shipping fingerprint: a hash of everything about an order that changes its freight.

The delivery address, the branch (it ships from there) and each line's product or
option and quantity -- and nothing else, so that ratecalc's own write (which moves
``modifiedDate`` and the totals) or an edited comment never looks like a change.
Lines are sorted, so Cin7 answering them in another order changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal, InvalidOperation

from ratecalc.upstream.cin7.records import SalesOrder

ADDRESS_FIELDS = ("deliveryCompany", "deliveryAddress1", "deliveryAddress2", "deliveryCity",
                  "deliveryState", "deliveryPostalCode", "deliveryCountry")


def _text(value) -> str:
    return " ".join(str(value).split()).casefold() if value is not None else ""


def _quantity(value) -> str:
    try:
        number = Decimal(str(value)) if value is not None else Decimal(0)
    except InvalidOperation:
        return "?"
    return format(number.normalize(), "f") if number.is_finite() else "?"


def shipping_fingerprint(order: dict | SalesOrder) -> str:
    order = SalesOrder.of(order)
    lines = sorted(
        (str(line.product_id or ""), str(line.product_option_id or ""), _quantity(line.qty))
        for line in order.line_items)
    material = {
        "address": [_text(order.get(name)) for name in ADDRESS_FIELDS],
        "branch": str(order.branch_id or ""),
        "lines": lines,
    }
    text = json.dumps(material, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
