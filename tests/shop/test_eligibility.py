from datetime import UTC, datetime, timedelta, timezone

import pytest

from ratecalc.shop.export.eligibility import RULES, ImportRules, Reason, reasons
from ratecalc.upstream.cin7.dates import parse_cin7_datetime

from .factories import NOW, line_item, sales_order

RULES_DEFAULT = ImportRules()


def failed(order: dict, rules: ImportRules = RULES_DEFAULT, now: datetime = NOW) -> dict:
    return {reason.rule: reason.message for reason in reasons(order, rules, now)}


def test_realistic_order_is_eligible():
    assert reasons(sales_order(), RULES_DEFAULT, NOW) == []


# ---------------------------------------------------------------- approved


@pytest.mark.parametrize("overrides", [
    {},
    {"isApproved": None, "status": "APPROVED"},  # flag missing: Cin7 defaults to approved
    {"status": "Approved"},
])
def test_approved_passes(overrides):
    order = sales_order(**overrides)
    if overrides.get("isApproved", True) is None:
        del order["isApproved"]
    assert "approved" not in failed(order)


@pytest.mark.parametrize("overrides, message", [
    ({"isApproved": False, "status": "DRAFT"}, "draft"),
    ({"isApproved": True, "status": "draft"}, "draft"),
    ({"isApproved": False, "status": None}, "draft"),
    ({"isVoid": True, "status": "VOID"}, "void"),
    ({"isVoid": False, "status": "Void"}, "void"),
    ({"isVoid": True, "status": "APPROVED"}, "void"),
])
def test_approved_fails_for_drafts_and_voids(overrides, message):
    assert message in failed(sales_order(**overrides))["approved"]


def test_draft_and_void_in_one_reason():
    found = failed(sales_order(isApproved=False, isVoid=True))
    assert found["approved"] == "order is a draft (not approved); order is void"


# ---------------------------------------------------------------- stage


@pytest.mark.parametrize("stage", ["Fully Picked", "fully picked", " FULLY  PICKED "])
def test_stage_passes_case_insensitively(stage):
    assert "stage" not in failed(sales_order(stage=stage))


def test_stage_fails_with_message():
    assert failed(sales_order(stage="Processing"))["stage"] == \
        "stage is 'Processing'; must be one of: Fully Picked"


def test_stage_missing():
    assert failed(sales_order(stage=None))["stage"] == \
        "stage is not set; must be one of: Fully Picked"


def test_stage_list_is_configurable():
    rules = ImportRules(stages=("Fully Picked", "Ready To Ship"))
    assert "stage" not in failed(sales_order(stage="ready to ship"), rules)
    assert failed(sales_order(stage="New"), rules)["stage"] == \
        "stage is 'New'; must be one of: Fully Picked, Ready To Ship"


# ---------------------------------------------------------------- age


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("created, etd", [
    (NOW - timedelta(days=10), None),
    (NOW - timedelta(days=60), None),  # boundary: exactly 60 days is within
    (NOW - timedelta(days=200), NOW - timedelta(days=5)),  # ETD alone suffices
    (None, NOW + timedelta(days=7)),  # a future ETD is not old
])
def test_age_passes(created, etd):
    order = sales_order(createdDate=iso(created) if created else None,
                        estimatedDeliveryDate=iso(etd) if etd else None)
    assert "age" not in failed(order)


def test_age_fails_when_both_dates_are_old():
    order = sales_order(createdDate="2024-01-01T00:00:00Z",
                        estimatedDeliveryDate="2024-01-05T00:00:00Z")
    assert failed(order)["age"] == \
        "created date 2024-01-01 and ETD 2024-01-05 are more than 60 days old"


def test_age_fails_without_dates():
    order = sales_order(createdDate=None, estimatedDeliveryDate="not a date")
    assert failed(order)["age"] == "order has neither a created date nor an ETD"


def test_age_is_configurable_and_naive_now_is_utc():
    order = sales_order(createdDate=iso(NOW - timedelta(days=10)), estimatedDeliveryDate=None)
    assert failed(order, ImportRules(max_age_days=5))["age"].endswith("more than 5 days old")
    assert "age" not in failed(order, now=NOW.replace(tzinfo=None))


# ---------------------------------------------------------------- country


@pytest.mark.parametrize("country", ["New Zealand", "NZ", "usa"])
def test_country_passes(country):
    assert "country" not in failed(sales_order(deliveryCountry=country))


@pytest.mark.parametrize("country, message", [
    (None, "delivery country is empty"),
    ("", "delivery country is empty"),
    ("   ", "delivery country is empty"),
    ("Narnia", "delivery country 'Narnia' is not a recognised country"),
])
def test_country_fails(country, message):
    assert failed(sales_order(deliveryCountry=country))["country"] == message


# ---------------------------------------------------------------- dispatch_qty


def test_dispatch_qty_passes_and_ignores_zero_qty_lines():
    lines = [line_item(), line_item(id=8141, code="NOTE", qty=0, qtyShipped=0)]
    assert "dispatch_qty" not in failed(sales_order(lines=lines))


def test_dispatch_qty_fails_naming_the_lines():
    lines = [
        line_item(),
        line_item(id=8141, code="SKU-BLUE-L", qtyShipped=0),
        line_item(id=8142, code=None, name="Gift wrap", qtyShipped=None),
    ]
    assert failed(sales_order(lines=lines))["dispatch_qty"] == (
        "no dispatch quantity on SKU-BLUE-L (line 8141), Gift wrap (line 8142)")


def test_dispatch_qty_fails_without_lines():
    assert failed(sales_order(lines=[]))["dispatch_qty"] == "order has no lines with a quantity"


# ---------------------------------------------------------------- branch


def test_branch_passes_when_unrestricted_or_listed():
    assert "branch" not in failed(sales_order(branchId=99))
    assert "branch" not in failed(sales_order(branchId=3), ImportRules(branch_ids=(3, 4)))


@pytest.mark.parametrize("branch", [5, None, "x"])
def test_branch_fails(branch):
    message = failed(sales_order(branchId=branch), ImportRules(branch_ids=(3, 4)))["branch"]
    assert message == f"branch {branch} is not one of: 3, 4"


# ---------------------------------------------------------------- freight


@pytest.mark.parametrize(("total", "description", "held"), [
    (0, "", True), (None, None, True), (0, "USPS Priority Mail", False),  # free, written
    (8.5, "Standard Courier", False), (8.5, "", False),
])
def test_freight_rule_holds_orders_without_freight(total, description, held):
    order = sales_order(freightTotal=total, freightDescription=description)
    assert ("freight" in failed(order, ImportRules(requires_freight=True))) is held
    assert "freight" not in failed(order, ImportRules())  # off by default


# ---------------------------------------------------------------- all together


def test_all_reasons_listed_in_order():
    order = sales_order(
        isApproved=False, status="DRAFT", stage="New",
        createdDate="2023-01-01T00:00:00Z", estimatedDeliveryDate=None,
        deliveryCountry="", branchId=9, freightTotal=0, freightDescription="",
        lines=[line_item(qtyShipped=0)],
    )
    found = reasons(order, ImportRules(branch_ids=(3,), requires_freight=True), NOW)
    assert [reason.rule for reason in found] == list(RULES)
    assert all(isinstance(reason, Reason) and reason.message for reason in found)


# ---------------------------------------------------------------- cin7 dates


@pytest.mark.parametrize("text, expected", [
    ("2024-01-31T00:00:00Z", datetime(2024, 1, 31, tzinfo=UTC)),
    ("2024-01-31T00:00:00", datetime(2024, 1, 31, tzinfo=UTC)),
    ("2024-01-31T10:20:30.1234567Z", datetime(2024, 1, 31, 10, 20, 30, 123456, tzinfo=UTC)),
    ("2024-03-27T01:28:41.9202868+13:00", datetime(2024, 3, 26, 12, 28, 41, 920286, tzinfo=UTC)),
    ("2024-01-31", datetime(2024, 1, 31, tzinfo=UTC)),
    (" 2024-01-31 05:06:07z ", datetime(2024, 1, 31, 5, 6, 7, tzinfo=UTC)),
    (datetime(2024, 1, 31, 5, tzinfo=timezone(timedelta(hours=2))),
     datetime(2024, 1, 31, 3, tzinfo=UTC)),
])
def test_parse_cin7_datetime(text, expected):
    parsed = parse_cin7_datetime(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize("text", [None, "", "   ", "yesterday", "31/01/2024", 12345,
                                  "0001-01-01T00:00:00"])
def test_parse_cin7_datetime_rejects(text):
    assert parse_cin7_datetime(text) is None
