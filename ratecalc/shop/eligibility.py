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

from ratecalc.shop.cin7_dates import parse_cin7_datetime
from ratecalc.shop.countries import to_iso2

RULES = ("approved", "stage", "age", "country", "dispatch_qty", "branch")


@dataclass(frozen=True)
class ImportRules:
    stages: tuple[str, ...] = ("Fully Picked",)  # matched case-insensitively
    max_age_days: int = 60
    branch_ids: tuple[int, ...] = ()  # empty = every branch


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


def _truthy(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _text(value) -> str:
    return "" if value is None else " ".join(str(value).split())


def _check_approved(order: dict) -> str | None:
    status = _text(order.get("status")).upper()
    problems = []
    # isApproved defaults to true in Cin7; a missing flag is not a draft.
    if status == "DRAFT" or ("isApproved" in order and order["isApproved"] is not None
                             and not _truthy(order["isApproved"])):
        problems.append("order is a draft (not approved)")
    if status == "VOID" or _truthy(order.get("isVoid")):
        problems.append("order is void")
    return "; ".join(problems) or None


def _check_stage(order: dict, rules: ImportRules) -> str | None:
    stage = _text(order.get("stage"))
    allowed = {_text(s).casefold() for s in rules.stages}
    if stage and stage.casefold() in allowed:
        return None
    shown = f"'{stage}'" if stage else "not set"
    return f"stage is {shown}; must be one of: {', '.join(rules.stages)}"


def _check_age(order: dict, rules: ImportRules, now: datetime) -> str | None:
    cutoff = now - timedelta(days=rules.max_age_days)
    created = parse_cin7_datetime(order.get("createdDate"))
    etd = parse_cin7_datetime(order.get("estimatedDeliveryDate"))
    if (created and created >= cutoff) or (etd and etd >= cutoff):
        return None
    if not created and not etd:
        return "order has neither a created date nor an ETD"
    dates = (("created date", created), ("ETD", etd))
    seen = [f"{label} {value:%Y-%m-%d}" for label, value in dates if value]
    verb = "is" if len(seen) == 1 else "are"
    return f"{' and '.join(seen)} {verb} more than {rules.max_age_days} days old"


def _check_country(order: dict) -> str | None:
    country = _text(order.get("deliveryCountry"))
    if not country:
        return "delivery country is empty"
    if to_iso2(country) is None:
        return f"delivery country '{country[:60]}' is not a recognised country"
    return None


def _line_label(line: dict) -> str:
    what = _text(line.get("code")) or _text(line.get("name")) or "?"
    return f"{what} (line {line.get('id')})"


def _check_dispatch_qty(order: dict) -> str | None:
    lines = [line for line in order.get("lineItems") or () if isinstance(line, dict)]
    ordered = [line for line in lines if _quantity(line.get("qty")) > 0]
    if not ordered:
        return "order has no lines with a quantity"
    missing = [line for line in ordered if _quantity(line.get("qtyShipped")) <= 0]
    if not missing:
        return None
    return "no dispatch quantity on " + ", ".join(_line_label(line) for line in missing)


def _check_branch(order: dict, rules: ImportRules) -> str | None:
    if not rules.branch_ids:
        return None
    branch = order.get("branchId")
    try:
        if branch is not None and int(branch) in rules.branch_ids:
            return None
    except (TypeError, ValueError):
        pass
    allowed = ", ".join(str(b) for b in rules.branch_ids)
    return f"branch {branch} is not one of: {allowed}"


def reasons(order: dict, rules: ImportRules, now: datetime) -> list[Reason]:
    """Every rule the order fails, in the order of :data:`RULES`; empty = eligible."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    checks = (
        ("approved", _check_approved(order)),
        ("stage", _check_stage(order, rules)),
        ("age", _check_age(order, rules, now)),
        ("country", _check_country(order)),
        ("dispatch_qty", _check_dispatch_qty(order)),
        ("branch", _check_branch(order, rules)),
    )
    return [Reason(rule, message) for rule, message in checks if message]
