"""End to end: ShipStation's side (the sandbox poller) -> ratecalc -> the Cin7 simulator.

All over real HTTP, on SQLite and on PostgreSQL. The poller imports the orders, checks
every page against the protocol's rules and the XSD, then posts ship notices; the
delivery worker applies them to Cin7, and the next export sends the shipped status.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ratecalc.simulators.cin7 import data as cin7_data
from tests.shop.conftest import STORE_PASSWORD, STORE_USER
from tests.support.custom_store_poller import CustomStorePoller, PollResult
from tests.support.xsd import validate

ENDPOINT = "/shipstation/custom-store"
STATUS_FIELDS = {"awaiting_payment": "New", "awaiting_shipment": "Fully Picked",
                 "shipped": "Dispatched", "cancelled": "Cancelled"}
IMPORTABLE = {s["id"] for s in cin7_data.SCENARIOS.values() if s["importable"]}
SCENARIO_ID = {name: s["id"] for name, s in cin7_data.SCENARIOS.items()}
REQUIRED = ("OrderID", "OrderNumber", "OrderDate", "OrderStatus", "LastModified", "OrderTotal",
            "Customer/CustomerCode", "Customer/BillTo/Name", "Customer/ShipTo/Name",
            "Customer/ShipTo/Address1", "Customer/ShipTo/City", "Customer/ShipTo/PostalCode",
            "Customer/ShipTo/Country")
MARKER = "[ratecalc notice "




def export_ok(poller: CustomStorePoller, start: datetime, end: datetime) -> PollResult:
    result = poller.export(start, end)
    assert result.problems == [], result.problems
    assert set(result.statuses) == {200}
    for document in result.documents:
        assert validate(document) == []
    return result


def drain(api) -> None:
    for _ in range(20):
        if api.shop.worker.run_once() == 0:
            break
    store = api.shop.store
    assert store.list_notices(status="pending") == []
    assert store.list_notices(status="delivering") == []
    assert [(n.id, n.last_error) for n in store.list_notices(status="failed")] == []


def comment_lines(order: dict) -> list[str]:
    return [line for line in (order.get("internalComments") or "").splitlines() if MARKER in line]


def test_poller_imports_ships_and_reimports_shipped(shop_api, cin7, store_url):
    api = shop_api(database_url=store_url)
    poller = CustomStorePoller(api.url + ENDPOINT, STORE_USER, STORE_PASSWORD,
                               status_fields=STATUS_FIELDS, auth="both", schema_check=validate)
    carrier_set = SCENARIO_ID["eligible_etd_only"]
    cin7.touch(carrier_set, logisticsCarrier="FedEx Freight")  # Cin7 already has a carrier
    now = datetime.now(UTC)
    start, end = now - timedelta(days=2), now + timedelta(minutes=1)

    # -- import ----------------------------------------------------------------------
    imported = export_ok(poller, start, end)
    by_id = {int(o["OrderID"]): o for o in imported.orders}
    assert len(imported.orders) == len(by_id)
    assert set(by_id) == IMPORTABLE
    for order in imported.orders:
        assert all(order[field] for field in REQUIRED), order
        assert order["shipstation_status"] == "awaiting_shipment"
        assert order["items"]
        for item in order["items"]:
            if item["Adjustment"] != "true":
                assert item["LineItemID"] and item["SKU"] and item["Name"] and item["UnitPrice"]
                assert int(item["Quantity"]) >= 1
    assert cin7.calls("PUT", "/v1/SalesOrders") == []

    # -- ship ------------------------------------------------------------------------
    split = SCENARIO_ID["eligible_nz"]
    duplicate = SCENARIO_ID["discount"]
    ship_date = datetime(now.year, now.month, now.day, tzinfo=UTC)
    tracking = {oid: f"1Z{oid}X" for oid in IMPORTABLE}
    comments_before = {oid: cin7.orders[oid]["internalComments"] or "" for oid in IMPORTABLE}

    def notify(oid: int, number: str, items=None):
        response = poller.ship_notify(
            order_number=by_id[oid]["OrderNumber"], order_id=str(oid), carrier="UPS",
            service="UPS Ground", tracking_number=number, ship_date=ship_date,
            shipping_cost="7.25", items=items, notes_to_customer="Thanks & enjoy")
        assert response.status_code == 200, response.text
        return response

    for oid in sorted(IMPORTABLE - {split}):
        notify(oid, tracking[oid])
    again = notify(duplicate, tracking[duplicate])  # ShipStation repeats itself
    assert "already received" in again.text
    assert len(api.shop.store.notices_for_order(duplicate, None)) == 1

    # A split shipment: the first notice covers one line only.
    first_line, second_line = (item for item in by_id[split]["items"])
    notify(split, "1ZSPLIT1", items=[{"LineItemID": first_line["LineItemID"],
                                      "SKU": first_line["SKU"],
                                      "Quantity": first_line["Quantity"]}])
    drain(api)
    partly = cin7.orders[split]
    assert partly["trackingCode"] == "1ZSPLIT1"
    assert partly["dispatchedDate"] is None
    assert partly["stage"] == "Fully Picked"
    assert len(comment_lines(partly)) == 1

    notify(split, "1ZSPLIT2", items=[{"LineItemID": second_line["LineItemID"],
                                      "SKU": second_line["SKU"],
                                      "Quantity": second_line["Quantity"]}])
    notify(duplicate, tracking[duplicate])  # once more, after it was delivered
    drain(api)

    expected_dispatch = ship_date.strftime("%Y-%m-%dT%H:%M:%SZ")
    for oid in IMPORTABLE:
        order = cin7.orders[oid]
        assert order["stage"] == "Dispatched", oid
        assert order["dispatchedDate"] == expected_dispatch, oid
        assert order["trackingCode"] == ("1ZSPLIT2" if oid == split else tracking[oid])
        assert order["logisticsCarrier"] == ("FedEx Freight" if oid == carrier_set else "UPS")
        lines = comment_lines(order)
        assert len(lines) == (2 if oid == split else 1), (oid, order["internalComments"])
        assert len(set(lines)) == len(lines)
        for line in lines:
            assert "UPS" in line and "7.25" in line and "Thanks & enjoy" in line
        numbers = ["1ZSPLIT1", "1ZSPLIT2"] if oid == split else [tracking[oid]]
        assert [n for n in numbers if any(n in line for line in lines)] == numbers
        # The comment was appended, not replacing what the order said before.
        assert order["internalComments"].startswith(comments_before[oid])
    assert all(line["qtyShipped"] == line["qty"] for line in cin7.orders[split]["lineItems"])
    assert len(api.shop.store.notices_for_order(duplicate, None)) == 1

    # -- ShipStation's next poll: the shipped orders come back as shipped ---------------
    later = datetime.now(UTC) + timedelta(minutes=2)
    puts = cin7.calls("PUT", "/v1/SalesOrders")
    assert puts and all(isinstance(c["json"], list) and len(c["json"]) <= 250 for c in puts)
    reimported = export_ok(poller, start, later)
    statuses = {int(o["OrderID"]): (o["OrderStatus"], o["shipstation_status"])
                for o in reimported.orders}
    assert statuses == {oid: ("Dispatched", "shipped") for oid in IMPORTABLE}
    # ... and only once.
    assert export_ok(poller, start, later + timedelta(minutes=1)).orders == []
    # Exporting wrote nothing: the only writes are the deliveries.
    assert len(cin7.calls("PUT", "/v1/SalesOrders")) == len(puts)
