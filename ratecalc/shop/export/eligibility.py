"""Cin7 Omni's rules for sending a sales order to ShipStation, one reason per failed rule.

From Cin7's and ShipStation's help articles: the order is approved (not a
draft), its stage is Fully Picked, its created date or ETD is within the last
60 days, it has a delivery country, its items have a dispatch quantity, and it
comes from a branch chosen in "Get Orders From". The stages, the age and the
branches are configurable here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from ratecalc.shop.export.countries import to_iso2
from ratecalc.upstream.cin7.records import LineItem, SalesOrder

RULES = ("approved", "stage", "age", "country", "dispatch_qty", "branch", "freight")


@dataclass(frozen=True)
class ImportRules:
    stages: tuple[str, ...] = ("Fully Picked",)  # matched case-insensitively
    max_age_days: int = 60
    branch_ids: tuple[int, ...] = ()  # empty = every branch
    requires_freight: bool = False  # RATECALC_EXPORT_REQUIRES_FREIGHT


@dataclass(frozen=True)
class Reason:
    rule: str
    message: str


def _quantity(value) -> Decimal:
    if value is None or isinstance(value, bool):
        return Decimal(0)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return Decimal(0)
    return number if number.is_finite() else Decimal(0)


def _text(value) -> str:
    return "" if value is None else " ".join(str(value).split())


def _check_approved(order: SalesOrder) -> str | None:
    problems = []
    if order.is_draft:
        problems.append("order is a draft (not approved)")
    if order.is_void:
        problems.append("order is void")
    return "; ".join(problems) or None


def _check_stage(order: SalesOrder, rules: ImportRules) -> str | None:
    stage = _text(order.stage)
    allowed = {_text(s).casefold() for s in rules.stages}
    if stage and stage.casefold() in allowed:
        return None
    shown = f"'{stage}'" if stage else "not set"
    return f"stage is {shown}; must be one of: {', '.join(rules.stages)}"


def _check_age(order: SalesOrder, rules: ImportRules, now: datetime) -> str | None:
    cutoff = now - timedelta(days=rules.max_age_days)
    created = order.created_at
    etd = order.estimated_delivery_at
    if (created and created >= cutoff) or (etd and etd >= cutoff):
        return None
    if not created and not etd:
        return "order has neither a created date nor an ETD"
    dates = (("created date", created), ("ETD", etd))
    seen = [f"{label} {value:%Y-%m-%d}" for label, value in dates if value]
    verb = "is" if len(seen) == 1 else "are"
    return f"{' and '.join(seen)} {verb} more than {rules.max_age_days} days old"


def _check_country(order: SalesOrder) -> str | None:
    country = _text(order.delivery_country)
    if not country:
        return "delivery country is empty"
    if to_iso2(country) is None:
        return f"delivery country '{country[:60]}' is not a recognised country"
    return None


def _line_label(line: LineItem) -> str:
    what = _text(line.code) or _text(line.name) or "?"
    return f"{what} (line {line.id})"


def _check_dispatch_qty(order: SalesOrder) -> str | None:
    ordered = [line for line in order.line_items if _quantity(line.qty) > 0]
    if not ordered:
        return "order has no lines with a quantity"
    missing = [line for line in ordered if _quantity(line.qty_shipped) <= 0]
    if not missing:
        return None
    return "no dispatch quantity on " + ", ".join(_line_label(line) for line in missing)


def check_branch(order: SalesOrder, branch_ids: tuple[int, ...]) -> str | None:
    """Why the order's branch is not exported (None: it is, or every branch is)."""
    if not branch_ids:
        return None
    branch = order.branch_id
    try:
        if branch is not None and int(branch) in branch_ids:
            return None
    except (TypeError, ValueError):
        pass
    allowed = ", ".join(str(b) for b in branch_ids)
    return f"branch {branch} is not one of: {allowed}"


def _check_freight(order: SalesOrder, rules: ImportRules) -> str | None:
    """With RATECALC_EXPORT_REQUIRES_FREIGHT=on, ShipStation gets orders with their freight.
    A free shipment (a fee of 0.00 with its service written) has its freight."""
    if not rules.requires_freight:
        return None
    if _quantity(order.freight_total) > 0 or _text(order.freight_description):
        return None
    return "order has no freight yet (RATECALC_EXPORT_REQUIRES_FREIGHT=on)"


def reasons(order: dict | SalesOrder, rules: ImportRules, now: datetime) -> list[Reason]:
    """Every rule the order fails, in the order of :data:`RULES`; empty = eligible."""
    order = SalesOrder.of(order)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    checks = (
        ("approved", _check_approved(order)),
        ("stage", _check_stage(order, rules)),
        ("age", _check_age(order, rules, now)),
        ("country", _check_country(order)),
        ("dispatch_qty", _check_dispatch_qty(order)),
        ("branch", check_branch(order, rules.branch_ids)),
        ("freight", _check_freight(order, rules)),
    )
    return [Reason(rule, message) for rule, message in checks if message]
