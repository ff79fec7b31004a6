"""The delivery worker: stored ship notifications applied to Cin7 sales orders, exactly once.

Notifications come in over real HTTP (the ShipStation-side poller posting to ratecalc);
the worker writes to the Cin7 simulator over its socket. Hours and days of Cin7 outage
are simulated with an injected clock (``FakeClock``) instead of sleeping; several
workers, or a worker that dies, are separate ``DeliveryWorker`` instances on the same
store. Tests where the engine matters (claims, leases, concurrency) run on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from ratecalc.shop.notices.worker import DeliveryWorker, build_update
from ratecalc.simulators.cin7 import data as cin7_data
from ratecalc.upstream.cin7.client import Cin7Client
from ratecalc.upstream.limits.budget import WindowLimiter
from tests.shop.conftest import STORE_PASSWORD, STORE_USER
from tests.support import FakeClock
from tests.support.custom_store_poller import CustomStorePoller

PATH = "/shipstation/custom-store"
ORDER = 1001  # eligible_nz "#1050": lines 2 x MCT-BLK-M, 1 x CPO-WHT; comments empty
GIFT = 1002  # eligible_us_gift "#1051": internalComments "Customer asked for gift wrap."
ETD = 1003  # eligible_etd_only "SO-1003"
SIZES = 1015  # size_range "#1053": one line, sizes TRS-BLU-9 x 1 and TRS-BLU-10 x 2
SHIP_DATE = datetime(2024, 5, 3, tzinfo=UTC)




def utcnow() -> datetime:
    return datetime.now(UTC)


def client_for(cin7, **kwargs) -> Cin7Client:
    """A Cin7 client without the 3/s client-side pacing (the simulator's limits are off)."""
    kwargs.setdefault("limiter", WindowLimiter([]))
    return Cin7Client(cin7.url, "demo-user", "demo-api-key", **kwargs)


def worker(api, cin7, clock, worker_id="worker-test", client=None, **kwargs) -> DeliveryWorker:
    return DeliveryWorker(store=api.shop.store, cin7=client or client_for(cin7),
                          dispatch_stage=api.shop.settings.dispatch_stage, clock=clock,
                          worker_id=worker_id, **kwargs)


def notify(api, **kwargs):
    response = notify_raw(api, **kwargs)
    assert response.status_code == 200, response.text
    return response


def notify_raw(api, *, order_id=ORDER, order_number="#1050", tracking="1Z999AA10123456784",
           carrier="UPS", service="UPS Ground", ship_date=SHIP_DATE, shipping_cost="7.45",
           items=None, notes=None, body=None):
    client = CustomStorePoller(api.url + PATH, STORE_USER, STORE_PASSWORD, auth="basic")
    response = client.ship_notify(
        order_number=order_number, order_id=None if order_id is None else str(order_id),
        carrier=carrier, service=service, tracking_number=tracking, ship_date=ship_date,
        shipping_cost=shipping_cost, items=items, notes_to_customer=notes, body=body)
    return response


def stored(api, **kwargs):
    return api.shop.store.list_notices(limit=10_000, **kwargs)


def markers(cin7, order_id=ORDER) -> int:
    return (cin7.orders[order_id]["internalComments"] or "").count("[ratecalc notice ")


def put_records(cin7, order_id=None) -> list[dict]:
    return [record for call in cin7.calls("PUT", "/v1/SalesOrders") if call["status"] == 200
            for record in (call["json"] or []) if order_id is None or record["id"] == order_id]


def line_ids(cin7, order_id=ORDER) -> list[int]:
    return [line["id"] for line in cin7.orders[order_id]["lineItems"]]


def drain(w: DeliveryWorker) -> int:
    total = 0
    while handled := w.run_once():
        total += handled
    return total


def gauges(api) -> dict[str, float]:
    text = api.get("/metrics", auth=False).text
    return {s.name: s.value for family in text_string_to_metric_families(text)
            for s in family.samples if s.name.startswith("ratecalc_outbox_")}


# -- what a delivery writes -----------------------------------------------------------------------

def test_delivery_writes_tracking_carrier_date_stage_and_a_comment(shop_api, cin7):
    api = shop_api()
    notify(api, order_id=GIFT, order_number="#1051", carrier="USPS",
           service="USPS Priority Mail", tracking="9400111899223100012345",
           shipping_cost="12.3", notes="Thanks for your order!")
    assert api.shop.worker.run_once() == 1
    order = cin7.orders[GIFT]
    assert order["trackingCode"] == "9400111899223100012345"
    assert order["logisticsCarrier"] == "USPS"
    assert order["dispatchedDate"] == "2024-05-03T00:00:00Z"
    assert order["stage"] == "Dispatched"
    assert all(line["qtyShipped"] == line["qty"] for line in order["lineItems"])
    existing, added = order["internalComments"].split("\n")
    assert existing == "Customer asked for gift wrap."
    for part in ("USPS", "USPS Priority Mail", "9400111899223100012345", "12.30",
                 "Thanks for your order!"):
        assert part in added
    [notice] = stored(api)
    assert notice.status == "delivered"
    assert notice.delivered_at is not None
    assert f"[ratecalc notice {notice.id}]" in added
    assert len(put_records(cin7, GIFT)) == 1


def test_tracking_code_is_cut_to_fifty_characters(shop_api, cin7):
    api = shop_api()
    tracking = "TRK" + "0123456789" * 7  # 73 characters
    notify(api, tracking=tracking)
    api.shop.worker.run_once()
    assert cin7.orders[ORDER]["trackingCode"] == tracking[:50]
    [notice] = stored(api)
    assert notice.status == "delivered", notice.last_error


def test_existing_logistics_carrier_is_kept(shop_api, cin7):
    cin7.touch(ORDER, logisticsCarrier="NZ Post")
    api = shop_api()
    notify(api, carrier="UPS")
    api.shop.worker.run_once()
    assert cin7.orders[ORDER]["logisticsCarrier"] == "NZ Post"
    [record] = put_records(cin7, ORDER)
    assert "logisticsCarrier" not in record
    assert cin7.orders[ORDER]["trackingCode"] == "1Z999AA10123456784"


def test_blank_logistics_carrier_counts_as_empty(shop_api, cin7):
    cin7.touch(ORDER, logisticsCarrier="   ")
    api = shop_api()
    notify(api, carrier="FedEx")
    api.shop.worker.run_once()
    assert cin7.orders[ORDER]["logisticsCarrier"] == "FedEx"


def test_custom_dispatch_stage(shop_api, cin7):
    api = shop_api(DISPATCH_STAGE="Ready for Courier")
    notify(api)
    api.shop.worker.run_once()
    assert cin7.orders[ORDER]["stage"] == "Ready for Courier"
    assert cin7.orders[ORDER]["dispatchedDate"] == "2024-05-03T00:00:00Z"


def test_dispatch_stage_cin7_does_not_know_fails_with_its_message(shop_api, cin7):
    api = shop_api(DISPATCH_STAGE="Shipped Out")
    notify(api)
    api.shop.worker.run_once()
    [notice] = stored(api)
    assert notice.status == "failed"
    assert "Stage 'Shipped Out' does not exist." in notice.last_error
    assert cin7.orders[ORDER]["dispatchedDate"] is None


def test_ship_date_with_an_offset_is_taken_in_utc(shop_api, cin7):
    api = shop_api()
    body = (b"<ShipNotice><OrderID>1001</OrderID><OrderNumber>#1050</OrderNumber>"
            b"<Carrier>UPS</Carrier><TrackingNumber>1ZTZ</TrackingNumber>"
            b"<ShipDate>2024-05-03T22:30:00-05:00</ShipDate></ShipNotice>")
    notify(api, body=body)
    api.shop.worker.run_once()
    assert cin7.orders[ORDER]["dispatchedDate"].startswith("2024-05-04")


def test_notices_for_several_orders_go_in_one_put(shop_api, cin7):
    api = shop_api()
    notify(api, order_id=ORDER, order_number="#1050", tracking="T-1001")
    notify(api, order_id=GIFT, order_number="#1051", tracking="T-1002")
    notify(api, order_id=ETD, order_number="SO-1003", tracking="T-1003")
    assert api.shop.worker.run_once() == 3
    [put] = cin7.calls("PUT", "/v1/SalesOrders")
    assert sorted(record["id"] for record in put["json"]) == [ORDER, GIFT, ETD]
    for order_id, tracking in ((ORDER, "T-1001"), (GIFT, "T-1002"), (ETD, "T-1003")):
        assert cin7.orders[order_id]["trackingCode"] == tracking
    assert {n.status for n in stored(api)} == {"delivered"}


def test_each_record_result_of_the_batch_is_checked(shop_api, cin7):
    cin7.fail_put_for(GIFT, "Sales order is locked by another user.")
    api = shop_api()
    notify(api, order_id=ORDER, order_number="#1050", tracking="T-1001")
    notify(api, order_id=GIFT, order_number="#1051", tracking="T-1002")
    notify(api, order_id=ETD, order_number="SO-1003", tracking="T-1003")
    api.shop.worker.run_once()
    assert len(cin7.calls("PUT", "/v1/SalesOrders")) == 1
    by_order = {n.order_id: n for n in stored(api)}
    assert by_order[ORDER].status == by_order[ETD].status == "delivered"
    assert by_order[GIFT].status == "failed"
    assert "Sales order is locked by another user." in by_order[GIFT].last_error
    assert cin7.orders[GIFT]["trackingCode"] == ""


def test_already_dispatched_order_is_not_dispatched_again(shop_api, cin7):
    before = dict(cin7.orders[1012])  # "dispatched": NZ Post, dispatched 9 days ago
    api = shop_api()
    notify(api, order_id=1012, order_number="#1040", tracking="LATE-PACKAGE")
    api.shop.worker.run_once()
    [record] = put_records(cin7, 1012)
    assert "dispatchedDate" not in record and "stage" not in record
    order = cin7.orders[1012]
    assert order["dispatchedDate"] == before["dispatchedDate"]
    assert order["logisticsCarrier"] == "NZ Post"
    assert order["trackingCode"] == "LATE-PACKAGE"
    assert markers(cin7, 1012) == 1


def test_void_order_is_refused_at_intake(shop_api, cin7):
    api = shop_api()
    response = notify_raw(api, order_id=1006, order_number="SO-1006", tracking="VOID-1")
    assert response.status_code == 400
    assert "void" in response.text
    assert stored(api) == []


def test_order_voided_after_intake_fails_with_the_reason(shop_api, cin7):
    api = shop_api()
    notify(api, order_id=ETD, order_number="SO-1003", tracking="LATE-VOID")
    cin7.orders[ETD]["isVoid"] = True
    api.shop.worker.run_once()
    [notice] = stored(api)
    assert notice.status == "failed"
    assert "void" in notice.last_error
    assert cin7.calls("PUT") == []


def test_notice_from_the_query_string_only_is_delivered(shop_api, cin7):
    api = shop_api()
    response = requests.post(
        f"{api.url}{PATH}?action=shipnotify&order_number=SO-1003&carrier=FedEx"
        "&service=Ground&tracking_number=QS-ONLY", data=b"",
        auth=(STORE_USER, STORE_PASSWORD), timeout=30)
    assert response.status_code == 200, response.text
    before = datetime.now(UTC)
    api.shop.worker.run_once()
    order = cin7.orders[ETD]
    assert order["trackingCode"] == "QS-ONLY"
    assert order["logisticsCarrier"] == "FedEx"
    dispatched = datetime.strptime(order["dispatchedDate"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs(dispatched.replace(tzinfo=UTC) - before) < timedelta(minutes=5)
    assert markers(cin7, ETD) == 1


def test_in_process_worker_delivers_without_being_driven(shop_api, cin7):
    api = shop_api(DELIVERY_WORKER="in-process")
    notify(api)
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while datetime.now(UTC) < deadline and stored(api)[0].status != "delivered":
        threading.Event().wait(0.05)
    assert stored(api)[0].status == "delivered"
    assert markers(cin7) == 1


# -- matching the Cin7 order ----------------------------------------------------------------------

def test_matched_by_order_id_even_when_the_number_is_wrong(shop_api, cin7):
    api = shop_api()
    notify(api, order_id=ORDER, order_number="SOMETHING-ELSE")
    api.shop.worker.run_once()
    assert cin7.orders[ORDER]["trackingCode"] == "1Z999AA10123456784"
    assert stored(api)[0].status == "delivered"


def test_matched_by_order_number_as_reference(shop_api, cin7):
    api = shop_api()
    notify(api, order_id=None, order_number="SO-1003")
    api.shop.worker.run_once()
    assert cin7.orders[ETD]["trackingCode"] == "1Z999AA10123456784"
    assert stored(api)[0].status == "delivered"


@pytest.mark.parametrize("number", ["#1050", "1050"])
def test_reference_starting_with_hash_matches_with_or_without_it(shop_api, cin7, number):
    api = shop_api()
    notify(api, order_id=None, order_number=number, tracking=f"T-{number}")
    api.shop.worker.run_once()
    assert stored(api)[0].status == "delivered", stored(api)[0].last_error
    assert cin7.orders[ORDER]["trackingCode"] == f"T-{number}"


def test_reference_with_an_extra_hash_still_matches(shop_api, cin7):
    api = shop_api()
    notify(api, order_id=None, order_number="#SO-1003")
    api.shop.worker.run_once()
    assert cin7.orders[ETD]["trackingCode"] == "1Z999AA10123456784"


def test_unknown_reference_is_refused_with_a_clear_message(shop_api, cin7):
    api = shop_api()
    response = notify_raw(api, order_id=None, order_number="NO-SUCH-ORDER")
    assert response.status_code == 400
    assert "no Cin7 sales order" in response.text
    assert "NO-SUCH-ORDER" in response.text
    assert stored(api) == []
    assert cin7.calls("PUT") == []


def test_unknown_order_id_and_reference_is_refused(shop_api, cin7):
    api = shop_api()
    response = notify_raw(api, order_id=987654, order_number="NOPE-1")
    assert response.status_code == 400
    assert "NOPE-1" in response.text
    assert stored(api) == []


def test_unknown_order_stored_during_an_outage_fails_once_cin7_answers(shop_api, cin7):
    api = shop_api()
    cin7.set_outage(503)
    notify(api, order_id=987654, order_number="NOPE-1")
    cin7.set_outage(None)
    api.shop.worker.run_once()
    [notice] = stored(api)
    assert notice.status == "failed"
    assert "no Cin7 sales order" in notice.last_error and "987654" in notice.last_error
    assert cin7.calls("PUT") == []


# -- split shipments --------------------------------------------------------------------------

def test_split_shipment_dispatches_once_every_line_has_shipped(shop_api, cin7, store_url):
    api = shop_api(database_url=store_url)
    w = worker(api, cin7, utcnow)  # real clock, no client-side pacing
    first_line, second_line = line_ids(cin7)
    notify(api, tracking="SPLIT-1", items=[{"LineItemID": first_line, "SKU": "MCT-BLK-M",
                                            "Name": "Tee", "Quantity": 2}])
    w.run_once()
    order = cin7.orders[ORDER]
    assert order["trackingCode"] == "SPLIT-1"
    assert markers(cin7) == 1
    assert order["dispatchedDate"] is None
    assert order["stage"] == "Fully Picked"
    notify(api, tracking="SPLIT-2", items=[{"LineItemID": second_line, "SKU": "CPO-WHT",
                                            "Name": "Pour-over", "Quantity": 1}])
    w.run_once()
    order = cin7.orders[ORDER]
    assert order["trackingCode"] == "SPLIT-2"
    assert markers(cin7) == 2
    assert order["dispatchedDate"] == "2024-05-03T00:00:00Z"
    assert order["stage"] == "Dispatched"
    assert sum("dispatchedDate" in r for r in put_records(cin7, ORDER)) == 1


def test_split_by_quantity_of_the_same_line(shop_api, cin7):
    api = shop_api()
    w = worker(api, cin7, utcnow)  # real clock, no client-side pacing
    first_line, second_line = line_ids(cin7)
    notify(api, tracking="Q-1", items=[{"LineItemID": first_line, "SKU": "MCT-BLK-M",
                                        "Name": "Tee", "Quantity": 1}])
    w.run_once()
    assert cin7.orders[ORDER]["dispatchedDate"] is None
    notify(api, tracking="Q-2", items=[
        {"LineItemID": first_line, "SKU": "MCT-BLK-M", "Name": "Tee", "Quantity": 1},
        {"LineItemID": second_line, "SKU": "CPO-WHT", "Name": "Pour-over", "Quantity": 1}])
    w.run_once()
    assert cin7.orders[ORDER]["dispatchedDate"] is not None
    assert markers(cin7) == 2


def test_split_shipment_of_a_size_range_line(shop_api, cin7):
    api = shop_api()
    w = worker(api, cin7, utcnow)  # real clock, no client-side pacing
    [line] = line_ids(cin7, SIZES)
    notify(api, order_id=SIZES, order_number="#1053", tracking="S-1",
           items=[{"LineItemID": f"{line}-1", "SKU": "TRS-BLU-9", "Name": "Shoe", "Quantity": 1}])
    w.run_once()
    assert cin7.orders[SIZES]["dispatchedDate"] is None
    notify(api, order_id=SIZES, order_number="#1053", tracking="S-2",
           items=[{"LineItemID": f"{line}-2", "SKU": "TRS-BLU-10", "Name": "Shoe",
                   "Quantity": 2}])
    w.run_once()
    assert cin7.orders[SIZES]["dispatchedDate"] is not None
    assert markers(cin7, SIZES) == 2


def test_both_halves_in_one_run_dispatch_once(shop_api, cin7):
    api = shop_api()
    first_line, second_line = line_ids(cin7)
    notify(api, tracking="B-1", items=[{"LineItemID": first_line, "SKU": "MCT-BLK-M",
                                        "Name": "Tee", "Quantity": 2}])
    notify(api, tracking="B-2", items=[{"LineItemID": second_line, "SKU": "CPO-WHT",
                                        "Name": "Pour-over", "Quantity": 1}])
    assert api.shop.worker.run_once() == 2
    [record] = put_records(cin7, ORDER)
    assert record["dispatchedDate"] and record["stage"] == "Dispatched"
    assert markers(cin7) == 2


def test_split_shipment_matched_by_reference_dispatches(shop_api, cin7, store_url):
    """Notices without OrderID (matched by reference, spelled with and without '#')
    still count as earlier shipments of the order."""
    api = shop_api(database_url=store_url)
    w = worker(api, cin7, utcnow)  # real clock, no client-side pacing
    first_line, second_line = line_ids(cin7)
    notify(api, order_id=None, order_number="#1050", tracking="R-1", items=[
        {"LineItemID": first_line, "SKU": "MCT-BLK-M", "Name": "Tee", "Quantity": 2}])
    w.run_once()
    assert cin7.orders[ORDER]["dispatchedDate"] is None
    notify(api, order_id=None, order_number="1050", tracking="R-2", items=[
        {"LineItemID": second_line, "SKU": "CPO-WHT", "Name": "Pour-over", "Quantity": 1}])
    w.run_once()
    assert markers(cin7) == 2
    assert cin7.orders[ORDER]["dispatchedDate"] is not None


# -- Cin7 down for a long time ------------------------------------------------------------------

def test_long_outage_backs_off_and_then_delivers_each_notice_once(shop_api, cin7, store_url):
    api = shop_api(database_url=store_url)
    orders = {ORDER: "#1050", GIFT: "#1051", ETD: "SO-1003"}
    for order_id, number in orders.items():
        notify(api, order_id=order_id, order_number=number, tracking=f"OUT-{order_id}")
    clock = FakeClock(datetime.now(UTC))
    base, cap = 3600.0, 12 * 3600.0  # 7 rounds wait at least 25.5 h even with full jitter
    w = worker(api, cin7, clock, backoff_base=base, backoff_cap=cap)
    cin7.set_outage(503)
    start = clock.now
    delays_by_round = []
    for round_number in range(1, 8):
        assert w.run_once() == 3
        rows = stored(api)
        assert len(rows) == 3  # nothing lost
        assert {n.status for n in rows} == {"pending"}
        assert {n.attempts for n in rows} == {round_number}
        nominal = min(cap, base * 2 ** (round_number - 1))
        delays = [(n.next_attempt_at - clock.now).total_seconds() for n in rows]
        for delay in delays:
            assert 0.5 * nominal - 1 <= delay <= nominal + 1, (round_number, delay, nominal)
        delays_by_round.append(delays)
        # Not due yet: nothing is claimed.
        clock.now = min(n.next_attempt_at for n in rows) - timedelta(seconds=1)
        assert w.run_once() == 0
        clock.now = max(n.next_attempt_at for n in rows) + timedelta(seconds=1)
    assert clock.now - start > timedelta(hours=24)
    assert any(len(set(delays)) > 1 for delays in delays_by_round), "no jitter"
    # Spacing grows: later rounds wait longer than early ones.
    assert min(delays_by_round[4]) > max(delays_by_round[0])
    assert all("503" in n.last_error for n in stored(api))
    assert cin7.calls("PUT") == []  # the read fails first: nothing half-written

    cin7.set_outage(None)
    assert w.run_once() == 3
    assert w.run_once() == 0
    assert {n.status for n in stored(api)} == {"delivered"}
    for order_id in orders:
        assert markers(cin7, order_id) == 1
        assert len(put_records(cin7, order_id)) == 1
        assert cin7.orders[order_id]["trackingCode"] == f"OUT-{order_id}"


def test_gives_up_only_after_a_week(shop_api, cin7):
    api = shop_api()
    notify(api)
    clock = FakeClock(datetime.now(UTC))
    w = worker(api, cin7, clock)
    cin7.set_outage(503)
    clock.advance(days=6, hours=23)
    w.run_once()
    assert stored(api)[0].status == "pending"
    clock.advance(days=1, hours=2)
    w.run_once()
    [notice] = stored(api)
    assert notice.status == "failed"
    assert "gave up" in notice.last_error


# -- a worker killed mid-delivery --------------------------------------------------------------

def test_worker_killed_after_claiming_is_taken_over_after_the_lease(shop_api, cin7, store_url):
    api = shop_api(database_url=store_url)
    for order_id, number in ((ORDER, "#1050"), (GIFT, "#1051")):
        notify(api, order_id=order_id, order_number=number, tracking=f"K-{order_id}")
    clock = FakeClock(datetime.now(UTC))
    store = api.shop.store
    claimed = store.claim_due("worker-A", clock(), limit=250, lease_seconds=120)
    assert len(claimed) == 2
    # Worker A dies here. B does not touch its notices while the lease holds ...
    b = worker(api, cin7, clock, "worker-B", lease_seconds=120)
    clock.advance(seconds=60)
    assert b.run_once() == 0
    assert {n.status for n in stored(api)} == {"delivering"}
    # ... and takes them over once it has run out.
    clock.advance(seconds=61)
    assert b.run_once() == 2
    rows = stored(api)
    assert {n.status for n in rows} == {"delivered"}
    assert {n.claimed_by for n in rows} == {"worker-B"}
    assert {n.attempts for n in rows} == {2}
    # A comes back from the dead: its late outcomes change nothing.
    for notice in claimed:
        assert store.mark_delivered(notice.id, "worker-A", clock()) is False
        assert store.mark_failed(notice.id, "worker-A", "late") is False
        assert store.mark_retry(notice.id, "worker-A", "late", clock()) is False
    assert {n.status for n in stored(api)} == {"delivered"}
    for order_id in (ORDER, GIFT):
        assert markers(cin7, order_id) == 1
        assert len(put_records(cin7, order_id)) == 1


def test_put_applied_but_worker_died_before_marking_adds_no_second_comment(
        shop_api, cin7, store_url):
    api = shop_api(database_url=store_url)
    notify(api, order_id=GIFT, order_number="#1051", tracking="DIED-1")
    clock = FakeClock(datetime.now(UTC))
    [notice] = api.shop.store.claim_due("worker-A", clock(), lease_seconds=120)
    # Worker A applies the notice to Cin7 exactly as the worker does, then dies.
    client = client_for(cin7)
    order = client.sales_order(GIFT)
    record = build_update(order, [notice], [], "Dispatched")
    [result] = client.put_sales_orders([record])
    assert result.success
    assert markers(cin7, GIFT) == 1
    clock.advance(seconds=121)
    b = worker(api, cin7, clock, "worker-B")
    assert b.run_once() == 1
    assert api.shop.store.get_notice(notice.id).status == "delivered"
    comments = cin7.orders[GIFT]["internalComments"]
    assert comments.count(f"[ratecalc notice {notice.id}]") == 1
    assert comments.startswith("Customer asked for gift wrap.\n")
    assert "internalComments" not in put_records(cin7, GIFT)[-1]
    assert cin7.orders[GIFT]["trackingCode"] == "DIED-1"


# -- several workers at once ---------------------------------------------------------------------

def _run_concurrently(workers: list[DeliveryWorker]) -> dict[str, int]:
    handled = {w.worker_id: 0 for w in workers}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(workers))

    def loop(w: DeliveryWorker):
        try:
            barrier.wait()
            handled[w.worker_id] = drain(w)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=loop, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return handled


def test_two_workers_deliver_every_notice_exactly_once(shop_api, cin7, store_url):
    many = cin7_data.make_orders(120, start_id=300001, seed=7)
    for order in many:
        cin7.add_order(order)
    api = shop_api(database_url=store_url)
    session = requests.Session()
    for order in many:
        body = CustomStorePoller.notice_xml(
            order_number=order["reference"], order_id=str(order["id"]), carrier="UPS",
            service="Ground", tracking_number=f"MANY-{order['id']}")
        response = session.post(f"{api.url}{PATH}?action=shipnotify", data=body,
                                auth=(STORE_USER, STORE_PASSWORD), timeout=30)
        assert response.status_code == 200
    assert len(stored(api)) == 120
    cin7.set_latency(0.005)
    workers = [DeliveryWorker(store=api.shop.store, cin7=client_for(cin7),
                              dispatch_stage="Dispatched", worker_id=f"worker-{n}",
                              batch_size=10) for n in range(2)]
    handled = _run_concurrently(workers)
    assert sum(handled.values()) == 120
    assert all(count > 0 for count in handled.values()), handled
    rows = stored(api)
    assert len(rows) == 120
    assert {n.status for n in rows} == {"delivered"}
    records = put_records(cin7)
    assert len(records) == 120
    assert sorted(r["id"] for r in records) == [o["id"] for o in many]
    for order in many:
        assert markers(cin7, order["id"]) == 1
        assert cin7.orders[order["id"]]["trackingCode"] == f"MANY-{order['id']}"


def test_two_workers_with_notices_of_the_same_order(shop_api, cin7, store_url):
    """Two workers, two notices of one order (a split shipment), Cin7 slow enough that
    both would read the order before either writes: no comment line may be lost and the
    order must end up dispatched."""
    api = shop_api(database_url=store_url)
    first_line, second_line = line_ids(cin7)
    notify(api, tracking="SAME-1", items=[{"LineItemID": first_line, "SKU": "MCT-BLK-M",
                                           "Name": "Tee", "Quantity": 2}])
    notify(api, tracking="SAME-2", items=[{"LineItemID": second_line, "SKU": "CPO-WHT",
                                           "Name": "Pour-over", "Quantity": 1}])
    cin7.set_latency(0.15)
    workers = [DeliveryWorker(store=api.shop.store, cin7=client_for(cin7),
                              dispatch_stage="Dispatched", worker_id=f"w-{n}", batch_size=1)
               for n in range(2)]
    _run_concurrently(workers)
    assert {n.status for n in stored(api)} == {"delivered"}
    assert markers(cin7) == 2
    assert cin7.orders[ORDER]["dispatchedDate"] is not None


# -- record-level failures, listing and retry ----------------------------------------------------

def test_record_failure_is_listed_and_can_be_retried(shop_api, cin7, store_url):
    api = shop_api(database_url=store_url)
    w = worker(api, cin7, utcnow)  # real clock, no client-side pacing
    cin7.fail_put_for(ORDER, "Order is being edited by another user.")
    notify(api)
    w.run_once()
    [notice] = stored(api)
    assert notice.status == "failed"
    assert "Order is being edited by another user." in notice.last_error

    listed = api.get("/v1/shipnotify?status=failed")
    assert listed.status_code == 200
    [entry] = listed.json()["notifications"]
    assert entry["id"] == notice.id
    assert entry["status"] == "failed"
    assert "Order is being edited by another user." in entry["last_error"]
    assert entry["order_id"] == ORDER and entry["tracking_number"] == "1Z999AA10123456784"
    assert api.get("/v1/shipnotify?status=pending").json()["notifications"] == []
    assert api.get("/v1/shipnotify?status=failed", auth=False).status_code == 401
    assert api.get("/v1/shipnotify?status=broken").status_code == 400

    # Retried while Cin7 still refuses: failed again, nothing doubled.
    retried = api.post(f"/v1/shipnotify/{notice.id}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "pending"
    assert api.post(f"/v1/shipnotify/{notice.id}/retry").status_code == 409
    w.run_once()
    assert api.shop.store.get_notice(notice.id).status == "failed"

    cin7.fail_put_for(ORDER, None)
    assert api.post(f"/v1/shipnotify/{notice.id}/retry").status_code == 200
    assert w.run_once() == 1
    assert api.shop.store.get_notice(notice.id).status == "delivered"
    assert api.get("/v1/shipnotify?status=failed").json()["notifications"] == []
    assert markers(cin7) == 1
    assert cin7.orders[ORDER]["trackingCode"] == "1Z999AA10123456784"


def test_retry_of_a_notice_that_has_not_failed_is_409(shop_api, cin7):
    api = shop_api()
    notify(api)
    [notice] = stored(api)
    response = api.post(f"/v1/shipnotify/{notice.id}/retry")
    assert response.status_code == 409
    assert "pending" in response.text
    api.shop.worker.run_once()
    assert api.post(f"/v1/shipnotify/{notice.id}/retry").status_code == 409
    assert api.shop.store.get_notice(notice.id).status == "delivered"


def test_retry_of_an_unknown_notice_is_404(shop_api, cin7):
    api = shop_api()
    assert api.post("/v1/shipnotify/424242/retry").status_code == 404
    assert api.post("/v1/shipnotify/424242/retry", auth=False).status_code == 401


# -- transient Cin7 answers ----------------------------------------------------------------------

class EmptyAnswers:
    """WSGI middleware: the next ``count`` ``method`` calls reach the simulator (and take
    effect there) but the client gets ``200`` with an empty body."""

    def __init__(self, app, method: str, count: int):
        self.app, self.method, self.count = app, method, count

    def __call__(self, environ, start_response):
        if self.count and environ["REQUEST_METHOD"] == self.method:
            self.count -= 1
            for _ in self.app(environ, lambda *args, **kwargs: None):
                pass
            start_response("200 OK", [("Content-Type", "application/json; charset=utf-8"),
                                      ("Content-Length", "0")])
            return [b""]
        return self.app(environ, start_response)


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_empty_200_from_cin7_is_retried_not_failed(shop_api, cin7, method):
    api = shop_api()
    notify(api)
    cin7.app.wsgi_app = EmptyAnswers(cin7.app.wsgi_app, method, 1)
    clock = FakeClock(datetime.now(UTC))
    w = worker(api, cin7, clock)
    w.run_once()
    [notice] = stored(api)
    assert notice.status == "pending"
    assert "empty" in notice.last_error
    assert notice.next_attempt_at > clock.now
    clock.now = notice.next_attempt_at + timedelta(seconds=1)
    assert w.run_once() == 1
    assert stored(api)[0].status == "delivered"
    assert markers(cin7) == 1  # a PUT that landed before its empty answer is not doubled


def test_429_with_retry_after_is_waited_out_in_the_same_run(shop_api, cin7):
    api = shop_api()
    notify(api)
    cin7.retry_after = 1
    cin7.set_rate_limits(per_second=1)
    assert api.shop.worker.run_once() == 1
    statuses = [c["status"] for c in cin7.calls(path="/v1/SalesOrders*")]
    assert 429 in statuses
    assert stored(api)[0].status == "delivered"
    assert markers(cin7) == 1


def test_persistent_429_leaves_the_notice_pending(shop_api, cin7):
    api = shop_api()
    notify(api)
    clock = FakeClock(datetime.now(UTC))
    w = worker(api, cin7, clock, client=client_for(cin7, call_deadline=1.5))
    cin7.fail_next(10, 429)
    w.run_once()
    [notice] = stored(api)
    assert notice.status == "pending"
    assert notice.attempts == 1
    assert "429" in notice.last_error
    cin7.reset_faults()
    # The client now holds off for the 429's back-off; a later pass (here a fresh client,
    # as after a restart) delivers.
    w.cin7 = client_for(cin7)
    clock.now = notice.next_attempt_at + timedelta(seconds=1)
    assert w.run_once() == 1
    assert stored(api)[0].status == "delivered"


def test_5xx_is_retried_by_the_client_then_by_the_worker(shop_api, cin7):
    api = shop_api()
    notify(api, order_id=ORDER, tracking="5XX-1")
    clock = FakeClock(datetime.now(UTC))
    w = worker(api, cin7, clock)
    cin7.fail_next(2, 500)  # two failures: the client's own retries absorb them
    assert w.run_once() == 1
    assert stored(api)[0].status == "delivered"
    notify(api, order_id=GIFT, order_number="#1051", tracking="5XX-2")
    clock.now = datetime.now(UTC)  # the second notice is due
    cin7.fail_next(3, 502)  # three: the worker backs off
    w.run_once()
    notice = next(n for n in stored(api) if n.order_id == GIFT)
    assert notice.status == "pending"
    clock.now = notice.next_attempt_at + timedelta(seconds=1)
    assert w.run_once() == 1
    assert markers(cin7, GIFT) == 1


def test_cin7_rejecting_the_credentials_is_retried_not_lost(shop_api, cin7):
    api = shop_api()
    notify(api)
    cin7.credentials = {"demo-user": "rotated-key"}
    clock = FakeClock(datetime.now(UTC))
    w = worker(api, cin7, clock)
    w.run_once()
    [notice] = stored(api)
    assert notice.status == "pending"
    assert "refused the API connection" in notice.last_error
    cin7.credentials = {"demo-user": "demo-api-key"}
    clock.now = notice.next_attempt_at + timedelta(seconds=1)
    assert w.run_once() == 1
    assert markers(cin7) == 1


# -- outbox gauges -----------------------------------------------------------------------------

def test_outbox_gauges_follow_the_store(shop_api, cin7):
    api = shop_api()
    notify(api, order_id=ORDER, tracking="G-1")
    notify(api, order_id=GIFT, order_number="#1051", tracking="G-2")
    clock = FakeClock(datetime.now(UTC))
    clock.advance(hours=1)
    w = worker(api, cin7, clock)
    cin7.set_outage(503)
    w.run_once()
    values = gauges(api)
    assert values["ratecalc_outbox_pending"] == 2
    assert 3590 <= values["ratecalc_outbox_oldest_pending_seconds"] <= 3660
    cin7.set_outage(None)
    clock.advance(hours=2)
    assert w.run_once() == 2
    values = gauges(api)
    assert values["ratecalc_outbox_pending"] == 0
    assert values["ratecalc_outbox_oldest_pending_seconds"] == 0
