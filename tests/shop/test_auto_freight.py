"""Automatic freight (``RATECALC_AUTO_FREIGHT=on``), on SQLite and PostgreSQL, over real HTTP:
ratecalc in shop mode, the Cin7 simulator and the ShipStation simulator on their sockets.

Most tests drive the worker one poll at a time (``RATECALC_FREIGHT_WORKER=off`` and
``shop.freight_worker.run_once()``) so each step is deterministic; the interval tests
run it in the background as ``serve`` does.
"""

from __future__ import annotations

import time
from decimal import Decimal

from tests.shop.autofreight_support import freight_puts, history, no_freight, put, start
from tests.support import wait_until

NZ = 1001  # eligible_nz: 2 x MCT-BLK-M (0.22) + 1 x CPO-WHT (1.35), Auckland
US = 1003  # eligible_etd_only: 1 x 7.8, Austin TX
GIFT = 1002  # eligible_us_gift: its gift-wrap line has no weight


def dry_run_quote(api, order_id):
    response = api.post(f"/v1/orders/{order_id}/freight", json={"dry_run": True})
    assert response.status_code == 200, response.text
    return response.json()["quote"]


def test_orders_without_freight_get_it_from_one_poll(shop_api, cin7):
    no_freight(cin7, NZ, US)
    api, worker = start(shop_api)
    expected = {oid: dry_run_quote(api, oid) for oid in (NZ, US)}
    report = worker.run_once()
    assert report.status == "ok" and report.written == 2, report
    for oid in (NZ, US):
        order = cin7.orders[oid]
        quote = expected[oid]
        assert Decimal(str(order["freightTotal"])) == Decimal(str(quote["freight_fee"]))
        assert order["freightDescription"] == quote["selected"]["service_name"]
        [record] = [r for r in history(api, oid) if r["action"] == "written"]
        assert record["reason"] == "no_freight" and record["source"] == "auto"
        assert record["old_fee"] == "0.00"
        assert Decimal(record["new_fee"]) == Decimal(str(quote["freight_fee"]))
        assert record["service"] == quote["selected"]["service_code"]
        assert record["carrier"] == quote["selected"]["carrier_code"]
        assert record["fingerprint"] and record["at"]
    # One PUT carried both orders: writes are batched.
    puts = cin7.calls("PUT", "/v1/SalesOrders")
    assert len(puts) == 1 and {r["id"] for r in puts[0]["json"]} == {NZ, US}
    status = api.get(f"/v1/orders/{NZ}/eligibility").json()["freight_status"]
    assert status["action"] == "written" and status["reason"] == "no_freight"
    runs = api.get("/v1/freight/runs?status=written").json()
    assert {r["order_id"] for r in runs["runs"]} == {NZ, US}
    assert runs["last_run_status"] == "ok" and runs["cursor"]


def test_a_new_order_gets_freight_within_one_interval(shop_api, cin7):
    api, worker = start(shop_api, FREIGHT_WORKER="in-process", AUTO_FREIGHT_INTERVAL_SECONDS="1")
    wait_until(lambda: api.shop.store.freight_state().last_run_at is not None, timeout=15)
    # A web shop's order arrives (its freight empty) after the worker's first poll.
    put(cin7, cin7.url, {"id": NZ, "freightTotal": 0, "freightDescription": ""})
    arrived = time.monotonic()
    wait_until(lambda: cin7.orders[NZ]["freightTotal"] > 0, timeout=15)
    # One interval (1 s), plus the time a poll takes to quote and write.
    assert time.monotonic() - arrived < 1 + 3
    assert cin7.orders[NZ]["freightDescription"]


def test_a_persons_freight_is_never_overwritten(shop_api, cin7):
    no_freight(cin7, US)  # NZ keeps the demo's 8.50 "Standard Courier", typed by a person
    api, worker = start(shop_api)
    worker.run_once()
    assert cin7.orders[NZ]["freightTotal"] == 8.5
    assert freight_puts(cin7, NZ) == []
    [record] = history(api, NZ)
    assert (record["action"], record["reason"], record["old_fee"]) == \
        ("skipped", "manual_freight", "8.50")
    # A person replaces the fee ratecalc wrote: it is theirs from then on, even when
    # the address changes afterwards.
    put(cin7, cin7.url, {"id": US, "freightTotal": 19.99})
    worker.run_once()
    put(cin7, cin7.url, {"id": US, "deliveryPostalCode": "10001", "deliveryCity": "New York",
                         "deliveryState": "NY"})
    worker.run_once()
    assert cin7.orders[US]["freightTotal"] == 19.99
    assert len(freight_puts(cin7, US)) == 2  # ratecalc's one write, and the person's own
    assert history(api, US)[0]["reason"] == "manual_freight"


def test_an_address_change_reprices_and_nothing_else_does(shop_api, cin7):
    no_freight(cin7, US)
    api, worker = start(shop_api)
    worker.run_once()
    assert len(freight_puts(cin7, US)) == 1
    first = history(api, US)[0]
    # Changes that do not change the shipment: comments, stage, a tracking code.
    put(cin7, cin7.url, {"id": US, "internalComments": "customer called"})
    put(cin7, cin7.url, {"id": US, "stage": "New"})
    put(cin7, cin7.url, {"id": US, "trackingCode": "1Z999"})
    for _ in range(2):
        worker.run_once()
    assert len(freight_puts(cin7, US)) == 1, "nothing but the shipment re-prices"
    assert history(api, US)[0]["reason"] == "unchanged"
    # The address changes: re-priced, with the new fingerprint.
    put(cin7, cin7.url, {"id": US, "deliveryPostalCode": "99501", "deliveryCity": "Anchorage",
                         "deliveryState": "AK"})
    worker.run_once()
    puts = freight_puts(cin7, US)
    assert len(puts) == 2
    latest = history(api, US)[0]
    assert (latest["action"], latest["reason"]) == ("written", "fingerprint_changed")
    assert latest["fingerprint"] != first["fingerprint"]
    assert latest["old_fee"] == first["new_fee"]
    assert Decimal(str(cin7.orders[US]["freightTotal"])) == Decimal(latest["new_fee"])


def test_reprice_off_leaves_ratecalcs_fee(shop_api, cin7):
    no_freight(cin7, US)
    api, worker = start(shop_api, AUTO_FREIGHT_REPRICE="off")
    worker.run_once()
    put(cin7, cin7.url, {"id": US, "deliveryPostalCode": "99501", "deliveryCity": "Anchorage",
                         "deliveryState": "AK"})
    worker.run_once()
    assert len(freight_puts(cin7, US)) == 1
    assert history(api, US)[0]["reason"] == "reprice_off"


def test_no_write_loops_over_five_intervals(shop_api, cin7):
    no_freight(cin7)
    # Budget enough for every demo order in the first poll (budgets: test_auto_freight_budgets).
    api, worker = start(shop_api, FREIGHT_WORKER="in-process",
                        AUTO_FREIGHT_INTERVAL_SECONDS="0.3",
                        SHIPSTATION_REQUESTS_PER_MINUTE="2000")
    runs = []

    def five_more_runs():
        state = api.shop.store.freight_state()
        if state.last_run_at and (not runs or runs[-1] != state.last_run_at):
            runs.append(state.last_run_at)
        return len(runs) >= 7

    wait_until(five_more_runs, timeout=30, interval=0.05)
    written = freight_puts(cin7)
    assert written, "the first poll writes"
    ids = [r["id"] for r in written]
    assert len(ids) == len(set(ids)), f"an order was written twice: {ids}"
    # Every order ratecalc wrote was read again (its write moved modifiedDate) and left.
    for oid in set(ids):
        assert [r["action"] for r in history(api, oid)][:2] == ["skipped", "written"]
        assert history(api, oid)[0]["reason"] == "unchanged"
