"""CarrierRates and UpstreamError to and from JSON, for shared (Redis) state.

Money stays exact: Decimal values travel as strings.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

from ratecalc.model import CarrierRates, Rate
from ratecalc.upstream.errors import UpstreamError


def dumps(outcome: CarrierRates | UpstreamError) -> str:
    if isinstance(outcome, UpstreamError):
        return json.dumps({"error": {"code": outcome.code, "message": outcome.message,
                                     "retry_after": outcome.retry_after}})
    return json.dumps({
        "carrier_code": outcome.carrier_code,
        "quoted_at": outcome.quoted_at.isoformat(),
        "currency": outcome.currency,
        "rates": [{
            "service_code": r.service_code, "service_name": r.service_name,
            "shipment_cost": str(r.shipment_cost), "other_cost": str(r.other_cost),
            "delivery_days": r.delivery_days,
            "estimated_delivery_date": r.estimated_delivery_date,
        } for r in outcome.rates],
    }, separators=(",", ":"))


def loads(text: str | bytes) -> CarrierRates | UpstreamError:
    data = json.loads(text)
    if "error" in data:
        error = data["error"]
        return UpstreamError(error["code"], error["message"], retry_after=error["retry_after"])
    code = data["carrier_code"]
    return CarrierRates(
        carrier_code=code,
        rates=tuple(Rate(carrier_code=code, service_code=r["service_code"],
                         service_name=r["service_name"],
                         shipment_cost=Decimal(r["shipment_cost"]),
                         other_cost=Decimal(r["other_cost"]),
                         delivery_days=r.get("delivery_days"),
                         estimated_delivery_date=r.get("estimated_delivery_date"))
                    for r in data["rates"]),
        quoted_at=datetime.fromisoformat(data["quoted_at"]),
        currency=data.get("currency"),
    )
