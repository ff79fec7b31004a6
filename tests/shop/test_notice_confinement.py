"""Ship notices confined to the orders they belong to, applied once however spelled.

A notice touches only a Cin7 order that exists, is in an exported branch and is
neither cancelled nor void; intake refuses the others with a 400 ShipStation
shows the merchant. Claims go by the resolved Cin7 id, so a notice naming the
order by OrderID and one naming it by OrderNumber are never delivered at once.
A notice Cin7 refuses (a 4xx) fails alone. Real HTTP throughout: the poller
posts to ratecalc, the worker talks to the Cin7 simulator over its socket.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from tests.shop.test_delivery import (
    ETD,
    ORDER,
    markers,
    notify,
    notify_raw,
    put_records,
    stored,
    worker,
)
from tests.support import FakeClock

CANCELLED = 1013  # stage Cancelled
OTHER_BRANCH = 1011  # branchId 3; the tests export branches 1 and 2


def rejected_count(api) -> float:
    text = api.get("/metrics", auth=False).text
    return next(s.value for family in text_string_to_metric_families(text)
                for s in family.samples if s.name == "ratecalc_shipnotify_total"
                and s.labels == {"outcome": "rejected"})


# -- which orders a notice may touch --------------------------------------------------------

def test_a_notice_for_a_cancelled_order_is_refused_and_counted(shop_api, cin7):
    api = shop_api()
    before = rejected_count(api)
    response = notify_raw(api, order_id=CANCELLED, order_number="#1062", tracking="C-1")
    assert response.status_code == 400
    assert response.text.count("\n") == 1 and "cancelled" in response.text
    assert stored(api) == []
    assert rejected_count(api) == before + 1
    assert cin7.orders[CANCELLED]["stage"] == "Cancelled"
    assert put_records(cin7) == []


def test_a_notice_for_another_branch_is_refused(shop_api, cin7):
    api = shop_api()
    response = notify_raw(api, order_id=OTHER_BRANCH, order_number="x", tracking="B-1")
    assert response.status_code == 400
    assert "branch 3" in response.text
    assert stored(api) == []


def test_every_branch_is_allowed_when_none_is_configured(shop_api, cin7):
    api = shop_api(CIN7_BRANCH_IDS="")
    assert notify_raw(api, order_id=OTHER_BRANCH, tracking="B-2").status_code == 200


def test_an_order_cancelled_while_cin7_was_down_is_not_revived(shop_api, cin7):
    api = shop_api()
    cin7.set_outage(503)
    notify(api, order_id=ETD, order_number="SO-1003", tracking="OUTAGE-1")
    [notice] = stored(api)
    assert notice.resolved_order_id is None  # intake could not ask Cin7
    cin7.set_outage(None)
    cin7.orders[ETD]["stage"] = "Cancelled"
    api.shop.worker.run_once()
    [notice] = stored(api)
    assert notice.status == "failed" and "cancelled" in notice.last_error
    assert cin7.orders[ETD]["stage"] == "Cancelled"
    assert put_records(cin7) == []


def test_a_notice_stored_during_an_outage_is_resolved_then_delivered(shop_api, cin7):
    api = shop_api()
    clock = FakeClock(datetime.now(UTC))
    w = worker(api, cin7, clock)
    cin7.set_outage(503)
    notify(api, order_id=None, order_number="1050", tracking="LATER-1")
    w.run_once()
    assert stored(api)[0].status == "pending"
    cin7.set_outage(None)
    clock.advance(hours=2)  # past the backoff
    assert w.run_once() == 1
    [notice] = stored(api)
    assert (notice.status, notice.resolved_order_id) == ("delivered", ORDER)
    assert cin7.orders[ORDER]["trackingCode"] == "LATER-1"


# -- one worker per resolved order ------------------------------------------------------------

def test_notices_by_id_and_by_number_are_never_claimed_at_once(shop_api, cin7):
    api = shop_api()
    notify(api, order_id=ORDER, order_number="#1050", tracking="BY-ID")
    notify(api, order_id=None, order_number="1050", tracking="BY-NUMBER")
    assert {n.resolved_order_id for n in stored(api)} == {ORDER}
    now = datetime.now(UTC)
    first = api.shop.store.claim_due("w1", now, limit=1)
    assert [n.tracking_number for n in first] == ["BY-ID"]
    assert api.shop.store.claim_due("w2", now) == []  # the order is busy


def test_two_workers_on_both_spellings_keep_every_comment_line(shop_api, cin7, store_url):
    api = shop_api(database_url=store_url)
    cin7.set_latency(0.05)  # widen the read-modify-write window
    for run in range(3):
        notify(api, order_id=ORDER, order_number="#1050", tracking=f"ID-{run}")
        notify(api, order_id=None, order_number="#1050", tracking=f"NUM-{run}")
        workers = [worker(api, cin7, lambda: datetime.now(UTC), worker_id=f"w{n}",
                          batch_size=1) for n in range(2)]
        threads = [threading.Thread(target=lambda w=w: [w.run_once() for _ in range(4)])
                   for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert markers(cin7) == 2 * (run + 1), cin7.orders[ORDER]["internalComments"]
        comments = cin7.orders[ORDER]["internalComments"]
        assert f"ID-{run}" in comments and f"NUM-{run}" in comments


# -- one bad notice fails alone ---------------------------------------------------------------

def test_a_notice_cin7_refuses_fails_alone(shop_api, cin7):
    api = shop_api()
    notify(api, order_id=ORDER, tracking="GOOD-1")
    notify(api, order_id=ETD, order_number="SO-1003", tracking="BAD-1")
    cin7.refuse_requests_for(ETD, 414, "Request-URI Too Long")
    api.shop.worker.run_once()
    by_tracking = {n.tracking_number: n for n in stored(api)}
    assert by_tracking["GOOD-1"].status == "delivered"
    assert by_tracking["BAD-1"].status == "failed"
    assert "Request-URI Too Long" in by_tracking["BAD-1"].last_error
    assert cin7.orders[ORDER]["trackingCode"] == "GOOD-1"


def test_a_put_cin7_refuses_for_one_record_fails_only_that_notice(shop_api, cin7):
    api = shop_api()
    notify(api, order_id=ORDER, tracking="GOOD-2")
    notify(api, order_id=ETD, order_number="SO-1003", tracking="BAD-2")
    cin7.refuse_requests_for(ETD, 400, "The request is invalid.", methods=("PUT",))
    w = worker(api, cin7, lambda: datetime.now(UTC))
    w.run_once()
    by_tracking = {n.tracking_number: n for n in stored(api)}
    assert by_tracking["GOOD-2"].status == "delivered"
    assert by_tracking["BAD-2"].status == "failed"
    assert "The request is invalid." in by_tracking["BAD-2"].last_error


def test_a_lookup_cin7_refuses_at_intake_is_a_400(shop_api, cin7):
    api = shop_api()
    cin7.refuse_requests_for(ETD, 414, "Request-URI Too Long")
    response = notify_raw(api, order_id=ETD, order_number="SO-1003", tracking="T")
    assert response.status_code == 400
    assert "Request-URI Too Long" in response.text


# -- the shipment's identity ------------------------------------------------------------------

def test_duplicates_stored_during_an_outage_are_delivered_once(shop_api, cin7):
    api = shop_api()
    clock = FakeClock(datetime.now(UTC))
    w = worker(api, cin7, clock)
    cin7.set_outage(503)
    notify(api, order_id=None, order_number="#1050", tracking="1Z-SAME", carrier="UPS")
    notify(api, order_id=ORDER, order_number="1050", tracking="1Z-SAME", carrier="UPS Ground")
    assert len(stored(api)) == 2  # not yet known to be one shipment
    cin7.set_outage(None)
    clock.advance(hours=2)
    w.run_once()
    [notice] = stored(api)
    assert notice.status == "delivered"
    assert markers(cin7) == 1


def test_a_tracking_number_longer_than_cin7_takes_is_cut_and_kept_whole(shop_api, cin7):
    api = shop_api()
    tracking = "T" + "0123456789" * 8  # 81 characters
    notify(api, tracking=tracking)
    api.shop.worker.run_once()
    order = cin7.orders[ORDER]
    assert order["trackingCode"] == tracking[:50]
    assert tracking in order["internalComments"]
