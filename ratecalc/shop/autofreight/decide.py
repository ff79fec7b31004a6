"""Which orders auto-freight prices, and why the others are left alone. Pure: no I/O.

An order is priced when it is live (not void, cancelled or dispatched), in one of
``RATECALC_AUTO_FREIGHT_STAGES`` (none listed: any stage), from an exported branch,
has a delivery country and postal code, a weight on every line, is not heavier
than ``RATECALC_MAX_PACKAGE_WEIGHT``, and either

* has no freight (empty or 0) that ratecalc did not write -- ``no_freight``; or
* carries the freight ratecalc last wrote, and its shipping fingerprint has changed
  since -- ``fingerprint_changed`` (only with ``RATECALC_AUTO_FREIGHT_REPRICE=on``).

Any other non-zero freight is a person's: ``manual_freight``, never overwritten.
The freight check comes before the address and weight checks, so an order that
already has its freight is never reported as, say, missing weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from ratecalc.shop.autofreight.fingerprint import shipping_fingerprint
from ratecalc.shop.export.countries import to_iso2
from ratecalc.shop.export.eligibility import check_branch
from ratecalc.shop.freight import line_weights
from ratecalc.shop.store.records import FreightAudit
from ratecalc.units import to_grams
from ratecalc.upstream.cin7.records import SalesOrder

PRICE = "price"
SKIP = "skip"

#: Every reason an audit record or ``ratecalc_auto_freight_orders_total`` can carry.
PRICE_REASONS = ("no_freight", "fingerprint_changed")
SKIP_REASONS = ("unchanged", "manual_freight", "reprice_off", "void", "cancelled",
                "dispatched", "stage", "branch", "no_address", "no_lines", "missing_weights",
                "too_heavy")
FAIL_REASONS = ("quote_failed", "invalid_request", "cin7_rejected", "cin7_error")
MANUAL_REASONS = ("manual_write",)
REASONS = PRICE_REASONS + SKIP_REASONS + FAIL_REASONS + MANUAL_REASONS


@dataclass(frozen=True)
class Rules:
    """What the settings say about which orders to price."""

    weight_units: str = "kilograms"
    stages: tuple[str, ...] = ()  # empty: any stage
    reprice: bool = True
    packaging_weight: Decimal = Decimal(0)  # in weight_units
    max_weight_grams: Decimal = Decimal("68038.7")  # 150 lb
    branch_ids: tuple[int, ...] = ()
    cancelled_stages: tuple[str, ...] = ("Cancelled",)
    dispatched_stages: tuple[str, ...] = ("Dispatched",)


@dataclass(frozen=True)
class Decision:
    action: str  # PRICE | SKIP
    reason: str
    fingerprint: str
    current_fee: Decimal | None  # the order's freight now (None: empty)
    weight: Decimal | None = None  # Σ quantity × unit weight + packaging, in weight_units
    detail: str | None = None
    extra: dict = field(default_factory=dict)


def fee_of(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        fee = Decimal(str(value))
    except InvalidOperation:
        return None
    return fee.quantize(Decimal("0.01")) if fee.is_finite() else None


def _folded(values) -> set[str]:
    return {" ".join(str(v).split()).casefold() for v in values if v}


def _lifecycle(order: SalesOrder, rules: Rules) -> str | None:
    stage = " ".join(str(order.stage or "").split()).casefold()
    if order.is_void:
        return "void"
    if stage and stage in _folded(rules.cancelled_stages):
        return "cancelled"
    if order.dispatched_date or (stage and stage in _folded(rules.dispatched_stages)):
        return "dispatched"
    if rules.stages and stage not in _folded(rules.stages):
        return "stage"
    if check_branch(order, rules.branch_ids):
        return "branch"
    return None


def _ownership(current: Decimal | None, fingerprint: str, last_written: FreightAudit | None,
               rules: Rules) -> tuple[str, str] | None:
    """(action, reason) from whose freight the order carries; None: price as new."""
    ours = last_written is not None and fee_of(last_written.new_fee) == (current or Decimal(0))
    if ours:
        if last_written.fingerprint == fingerprint:
            return SKIP, "unchanged"
        return (PRICE, "fingerprint_changed") if rules.reprice else (SKIP, "reprice_off")
    if current:
        return SKIP, "manual_freight"
    return None


def _shipment(order: SalesOrder, products: dict[int, dict],
              rules: Rules) -> tuple[str | None, Decimal | None, str | None]:
    """(skip reason or None, weight, detail)."""
    if not to_iso2(order.delivery_country) or not str(order.delivery_postal_code or "").strip():
        return "no_address", None, "the order has no delivery country or postal code"
    weights = line_weights(order, products)
    if not weights:
        return "no_lines", None, "the order has no lines with a quantity to ship"
    missing = [w for w in weights if w.unit_weight is None]
    if missing:
        return "missing_weights", None, "no weight in Cin7 for " + ", ".join(
            f"{w.code or '?'} (line {w.line_id})" for w in missing[:10])
    total = sum((w.quantity * w.unit_weight for w in weights), Decimal(0))
    total += rules.packaging_weight
    if to_grams(total, rules.weight_units) > rules.max_weight_grams:
        return "too_heavy", total, (f"{total} {rules.weight_units} is over "
                                    "RATECALC_MAX_PACKAGE_WEIGHT")
    return None, total, None


def decide(order: dict | SalesOrder, products: dict[int, dict],
           last_written: FreightAudit | None, rules: Rules) -> Decision:
    """Price the order, or skip it and say why. ``last_written``: ratecalc's newest
    write of this order's freight (None: it never wrote one)."""
    order = SalesOrder.of(order)
    fingerprint = shipping_fingerprint(order)
    current = fee_of(order.freight_total)
    lifecycle = _lifecycle(order, rules)
    if lifecycle:
        return Decision(SKIP, lifecycle, fingerprint, current)
    owned = _ownership(current, fingerprint, last_written, rules)
    if owned is not None and owned[0] == SKIP:
        return Decision(SKIP, owned[1], fingerprint, current)
    reason = owned[1] if owned else "no_freight"
    problem, weight, detail = _shipment(order, products, rules)
    if problem:
        return Decision(SKIP, problem, fingerprint, current, weight, detail)
    return Decision(PRICE, reason, fingerprint, current, weight)


def needs_products(order: dict | SalesOrder, last_written: FreightAudit | None,
                   rules: Rules) -> bool:
    """Whether deciding needs the order's products (their weights): only if it may be priced."""
    order = SalesOrder.of(order)
    if _lifecycle(order, rules):
        return False
    owned = _ownership(fee_of(order.freight_total), shipping_fingerprint(order), last_written,
                       rules)
    return owned is None or owned[0] == PRICE
