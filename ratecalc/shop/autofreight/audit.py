"""Audit records of freight decisions: building them, not repeating them, showing them.

Every decision is stored (order, reference, written / skipped / failed, reason, old
and new fee, carrier, service, pricing rule, fingerprint, time). A poll overlaps the
last one, and an order is seen again after every change to it; a decision that is
the same as the order's newest record is not stored again, so the history reads as
what happened, not as how often ratecalc looked.
"""

from __future__ import annotations

from decimal import Decimal

from ratecalc.shop.autofreight.decide import fee_of
from ratecalc.shop.autofreight.fingerprint import shipping_fingerprint
from ratecalc.shop.freight import FreightError
from ratecalc.shop.store.records import FreightAudit, NewFreightAudit
from ratecalc.upstream.errors import UpstreamError


def money(value: Decimal | None) -> str | None:
    return None if value is None else format(Decimal(value).quantize(Decimal("0.01")), "f")


def same_decision(new: NewFreightAudit, old: FreightAudit | None) -> bool:
    if old is None:
        return False
    keys = ("action", "reason", "source", "old_fee", "new_fee", "fingerprint")
    return all(getattr(new, k) == getattr(old, k) for k in keys)


def from_quote(order_id: int, reference, *, action: str, reason: str, old_fee, selected,
               fingerprint: str | None, source: str = "auto",
               message: str | None = None) -> NewFreightAudit:
    """A record of a priced order; ``selected``: the quote's selected PricedRate (or None)."""
    rate = selected.rate if selected is not None else None
    pricing = selected.pricing if selected is not None else None
    return NewFreightAudit(
        order_id=int(order_id), reference=reference, action=action, reason=reason,
        source=source, old_fee=money(old_fee),
        new_fee=money(selected.freight_fee) if selected is not None else None,
        carrier=rate.carrier_code if rate else None,
        service=rate.service_code if rate else None,
        pricing_rule=pricing.rule if pricing else None, fingerprint=fingerprint,
        message=message)


def record_json(record: FreightAudit) -> dict:
    return {
        "id": record.id, "order_id": record.order_id, "reference": record.reference,
        "action": record.action, "reason": record.reason, "source": record.source,
        "old_fee": record.old_fee, "new_fee": record.new_fee, "carrier": record.carrier,
        "service": record.service, "pricing_rule": record.pricing_rule,
        "fingerprint": record.fingerprint, "message": record.message,
        "at": record.created_at.strftime("%Y-%m-%dT%H:%M:%SZ") if record.created_at else None,
    }


def status_json(record: FreightAudit | None) -> dict | None:
    """``freight_status`` in ``GET /v1/orders/<id>/eligibility``: the newest decision."""
    if record is None:
        return None
    return {k: v for k, v in record_json(record).items()
            if k in ("action", "reason", "source", "old_fee", "new_fee", "service", "at")}


def write_by_hand(freight, store, clock, order, selected) -> dict:
    """A person's freight write (the API's POST /v1/orders/<id>/freight, the quote
    page's confirm button): written to Cin7 and recorded in the audit like the
    worker's own, as ``source: manual``, failed or not."""
    def record(action: str, message: str | None) -> None:
        store.add_freight_audit(from_quote(
            order.id, order.reference, action=action, reason="manual_write",
            old_fee=fee_of(order.freight_total), selected=selected,
            fingerprint=shipping_fingerprint(order), source="manual", message=message),
            clock())

    try:
        written = freight.write(order, selected.freight_fee, selected.rate.service_name)
    except (FreightError, UpstreamError) as exc:
        record("failed", exc.message)
        raise
    record("written", None)
    return written
