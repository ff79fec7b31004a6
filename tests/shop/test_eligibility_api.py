"""``GET /v1/orders/<cin7_id>/eligibility``: why an order is (not) exported to ShipStation.

Checked over real HTTP against every seeded demo scenario of the Cin7 simulator
(``CIN7_BRANCH_IDS=1,2`` as in the shop fixtures): every failed rule is listed, not
only the first, with the rule names of the issue.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ratecalc.simulators.cin7.data import SCENARIOS
from tests.shop.conftest import STORE_PASSWORD, STORE_USER
from tests.support.custom_store_poller import CustomStorePoller

RULE_NAMES = {"approved", "stage", "age", "country", "dispatch_qty", "branch"}

# scenario -> (failed rules in order, exported status)
EXPECTED = {
    "eligible_nz": ([], "Fully Picked"),
    "eligible_us_gift": ([], "Fully Picked"),
    "eligible_etd_only": ([], "Fully Picked"),
    "too_old": (["age"], "Fully Picked"),
    "draft": (["approved"], "Fully Picked"),
    "void": (["approved"], "Cancelled"),
    "stage_new": (["stage", "dispatch_qty"], "New"),
    "no_delivery_country": (["country"], "Fully Picked"),
    "line_not_dispatched": (["dispatch_qty"], "Fully Picked"),
    "nothing_dispatched": (["dispatch_qty"], "Fully Picked"),
    "other_branch": (["branch"], "Fully Picked"),
    "dispatched": (["stage"], "Dispatched"),
    "cancelled": (["stage", "dispatch_qty"], "Cancelled"),
    # Stages in no status of RATECALC_STATUS_MAP are also reported (never exported).
    "custom_stage": (["stage", "status"], None),
    "size_range": ([], "Fully Picked"),
    "discount": ([], "Fully Picked"),
    "special_chars": ([], "Fully Picked"),
    "partially_picked": (["stage", "status"], None),
    "weight_fallbacks": ([], "Fully Picked"),
}




def eligibility(api, order_id, **kwargs):
    return api.get(f"/v1/orders/{order_id}/eligibility", **kwargs)


def test_every_scenario_is_in_the_table():
    assert set(EXPECTED) == set(SCENARIOS), "a demo scenario is missing from EXPECTED"
    for name, (rules, _) in EXPECTED.items():
        assert (not rules) == SCENARIOS[name]["importable"], name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_demo_scenario(shop_api, cin7, name):
    api = shop_api()
    order_id = SCENARIOS[name]["id"]
    response = eligibility(api, order_id)
    assert response.status_code == 200, response.text
    body = response.json()
    rules, status = EXPECTED[name]
    assert body["order_id"] == order_id
    assert body["reference"] == cin7.orders[order_id]["reference"]
    assert [reason["rule"] for reason in body["reasons"]] == rules
    assert body["eligible"] is (not rules)
    assert body["status"] == status
    assert body["exported_at"] is None
    for reason in body["reasons"]:
        assert reason["message"]
        assert reason["rule"] in RULE_NAMES | {"status"}
    assert cin7.calls("PUT") == []  # diagnostics never write to Cin7


@pytest.mark.parametrize("name,rule,expected", [
    ("stage_new", "stage", "stage is 'New'; must be one of: Fully Picked"),
    ("too_old", "age", "60 days"),
    ("draft", "approved", "draft"),
    ("void", "approved", "void"),
    ("no_delivery_country", "country", "country"),
    ("other_branch", "branch", "branch 3 is not one of: 1, 2"),
    ("line_not_dispatched", "dispatch_qty", "CPO-SAGE"),
    ("nothing_dispatched", "dispatch_qty", "MCT-BLK-L"),
    ("custom_stage", "status", "Ready for Courier"),
])
def test_reason_message_says_what_is_wrong(shop_api, cin7, name, rule, expected):
    api = shop_api()
    order_id = SCENARIOS[name]["id"]
    body = eligibility(api, order_id).json()
    message = {reason["rule"]: reason["message"] for reason in body["reasons"]}[rule]
    assert expected in message
    if rule == "dispatch_qty":  # names the lines without a dispatch quantity, only them
        for line in cin7.orders[order_id]["lineItems"]:
            assert (str(line["id"]) in message) is (not line["qtyShipped"])
            assert (line["code"] in message) is (not line["qtyShipped"])


def test_order_failing_every_rule_lists_all_six(shop_api, cin7):
    order = cin7.orders[1001]
    for line in order["lineItems"]:
        line["qtyShipped"] = 0.0
    old = datetime.now(UTC) - timedelta(days=200)
    cin7.touch(1001, isApproved=False, stage="New", createdDate=old,
               estimatedDeliveryDate=old, deliveryCountry="", branchId=3)
    api = shop_api()
    body = eligibility(api, 1001).json()
    assert body["eligible"] is False
    assert [r["rule"] for r in body["reasons"]] == [
        "approved", "stage", "age", "country", "dispatch_qty", "branch"]
    dispatch = next(r["message"] for r in body["reasons"] if r["rule"] == "dispatch_qty")
    assert "MCT-BLK-M" in dispatch and "CPO-WHT" in dispatch


def test_configured_rules_are_used(shop_api, cin7):
    # Processing allowed, branches unrestricted, 365 days of age.
    api = shop_api(IMPORT_STAGES="Fully Picked,Processing", CIN7_BRANCH_IDS="",
                   IMPORT_MAX_AGE_DAYS="365")
    assert eligibility(api, 1011).json()["eligible"] is True  # branch 3
    assert eligibility(api, 1004).json()["eligible"] is True  # 120 days old
    cin7.touch(1001, stage="processing")
    body = eligibility(api, 1001).json()
    # Eligible by the rules, but "processing" maps to no ShipStation status.
    assert [r["rule"] for r in body["reasons"]] == ["status"]


def test_exported_at_is_set_after_an_export(shop_api, cin7):
    api = shop_api()
    assert eligibility(api, 1001).json()["exported_at"] is None
    poller = CustomStorePoller(api.url + "/shipstation/custom-store", STORE_USER,
                               STORE_PASSWORD)
    now = datetime.now(UTC)
    result = poller.export(now - timedelta(days=30), now + timedelta(minutes=1))
    assert result.problems == []
    assert "#1050" in {o["OrderNumber"] for o in result.orders}
    body = eligibility(api, 1001).json()
    assert body["exported_at"] is not None
    exported = datetime.strptime(body["exported_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(exported - now) < timedelta(minutes=2)
    # An order that was not exported still says so.
    assert eligibility(api, 1009).json()["exported_at"] is None


def test_unknown_order_is_404(shop_api, cin7):
    api = shop_api()
    response = eligibility(api, 987654)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "order_not_found"


def test_needs_the_bearer_token(shop_api, cin7):
    api = shop_api()
    assert eligibility(api, 1001, auth=False).status_code == 401
    wrong = {"Authorization": "Bearer not-the-right-token-123456"}
    assert eligibility(api, 1001, headers=wrong).status_code == 401
    assert cin7.calls("GET", "/v1/SalesOrders/1001") == []


def test_cin7_down_is_a_gateway_error(shop_api, cin7):
    api = shop_api()
    cin7.set_outage(503)
    response = eligibility(api, 1001)
    assert response.status_code in (502, 503, 504)
    assert "Traceback" not in response.text
