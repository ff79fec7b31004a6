"""Auto-freight's budgets: at most half of ShipStation's minute (waiting, never failing, while
order-screen quotes keep answering) and at most its Cin7 calls a day."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from ratecalc.settings import Settings
from ratecalc.shop.autofreight.budgets import ShipStationShare
from ratecalc.shop.autofreight.worker import shipstation_share
from tests.conftest import DC_REQUEST
from tests.shop.autofreight_support import freight_puts, no_freight, start
from tests.support import wait_until

PRICEABLE = (1001, 1003, 1004, 1005, 1009, 1010)


@pytest.mark.parametrize(("env", "share"), [
    ({}, 20),  # V1: 40 a minute, half of it
    ({"RATECALC_SHIPSTATION_API": "v2", "RATECALC_SHIPSTATION_V2_API_KEY": "k"}, 100),
    ({"RATECALC_WORKERS": "4"}, 5),  # no Redis: this process's share (10), half of it
    ({"RATECALC_WORKERS": "4", "RATECALC_REDIS_URL": "redis://127.0.0.1:6379/7"}, 20),
])
def test_auto_freight_takes_half_of_the_shipstation_minute(env, share):
    assert shipstation_share(Settings.from_env(env)) == share


def test_shipstation_budget_waits_and_quotes_keep_answering(shop_api, cin7, shipstation):
    no_freight(cin7)
    api, worker = start(shop_api, CARRIERS="fedex", SHIPSTATION_REQUESTS_PER_MINUTE="2000")
    window = 2.0
    worker.poll.share = ShipStationShare(2, window_seconds=window, stop=worker.stop_event)
    done = {}
    thread = threading.Thread(target=lambda: done.setdefault("report", worker.run_once()))
    thread.start()
    try:
        # While auto-freight waits for its share, an order-screen quote answers at once.
        wait_until(lambda: len(shipstation.calls()) >= 2, timeout=10)
        response = api.post("/v1/rates", json=DC_REQUEST)
        assert response.status_code == 200, response.text
        thread.join(60)
    finally:
        worker.stop_event.set()
        thread.join(10)
    report = done["report"]
    assert report.status == "ok" and report.failed == 0, report  # it waited, it did not fail
    assert {r["id"] for r in freight_puts(cin7)} >= set(PRICEABLE)
    mine = sorted(c["time"] for c in shipstation.calls()
                  if c["path"].endswith("/getrates") and (c["json"] or {}).get("toPostalCode")
                  != DC_REQUEST["ship_to"]["postal_code"])
    assert len(mine) >= len(PRICEABLE)
    for i, moment in enumerate(mine):
        inside = [t for t in mine[i:] if t < moment + window]
        assert len(inside) <= 2, f"{len(inside)} auto-freight calls within {window} s"
    assert mine[-1] - mine[0] >= window * (len(mine) // 2 - 1) - 0.5
    # The fees priced so far went out while later quotes waited for the share.
    writes = [c["time"] for c in cin7.calls("PUT", "/v1/SalesOrders")]
    assert len(writes) > 1 and writes[0] < mine[-1]


def test_cin7_calls_per_day_are_capped(shop_api, cin7, store_url):
    no_freight(cin7)
    api, worker = start(shop_api, AUTO_FREIGHT_MAX_CIN7_CALLS_PER_DAY="3",
                        SHIPSTATION_REQUESTS_PER_MINUTE="2000")
    before = len(cin7.calls())
    report = worker.run_once()
    assert report.status == "cin7_budget"
    assert len(cin7.calls()) - before == 3  # page 1, the empty page 2, the products
    assert freight_puts(cin7) == []
    state = api.shop.store.freight_state()
    assert state.cin7_calls == 3 and state.cursor_at is None  # the cursor waits
    # The same day, a restarted worker knows the count: no call at all.
    assert worker.run_once().status == "cin7_budget"
    assert len(cin7.calls()) - before == 3
    # The next UTC day the count starts again.
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    worker.poll.day_budget.clock = lambda: tomorrow
    worker.poll.day_budget.limit = 100
    assert worker.run_once().status == "ok"
    assert api.shop.store.freight_state().cin7_calls <= 5
    assert freight_puts(cin7)
