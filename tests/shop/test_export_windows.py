"""The export behaves like every Custom Store: re-modified orders go out again, pages are
slices of one stored list (whichever process answers), overlapping windows reuse reads,
Cin7 calls are counted and capped, line discounts reach UnitPrice, dates are read loosely.

Real HTTP both ways: ratecalc in shop mode (two instances sharing one database where a
test needs two processes' worth of state), the Cin7 simulator, the XSD on every page.
"""

from __future__ import annotations

import gc
import math
import tracemalloc
from datetime import timedelta
from decimal import Decimal

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ratecalc.shop.export.building import WindowBuilder
from ratecalc.simulators.cin7 import data as cin7_data
from tests.shop.test_custom_store_export import (
    IMPORTABLE,
    SCENARIO_ID,
    add_order,
    demo_window,
    elements,
    export_ok,
    exported_ids,
    iso,
    item_elements,
    minute,
    poller,
    raw_export,
    sales_order_calls,
    utcnow,
)
from tests.support.custom_store_poller import PollResult


def test_edited_orders_are_exported_again_with_their_current_data(shop_api, cin7):
    base = minute(utcnow() - timedelta(minutes=150))  # no demo order modified in that minute
    add_order(cin7, 7501, base + timedelta(seconds=1))
    add_order(cin7, 7502, base + timedelta(seconds=2))
    add_order(cin7, 7503, base + timedelta(seconds=3), stage="New")  # fails the rules
    api = shop_api()
    first = export_ok(api, base, base)
    assert sorted(exported_ids(first)) == [7501, 7502]

    # A merchant fixes an address in Cin7 after the first export (modifiedDate moves to
    # now), and cancels an exported order: both reach ShipStation on the next poll.
    cin7.touch(7501, deliveryAddress1="99 Corrected Road")
    cin7.touch(7502, stage="Cancelled")
    cin7.touch(7503, deliveryAddress1="2 Never Exported St")  # still fails: never sent
    later = export_ok(api, base + timedelta(minutes=1), minute(utcnow()))
    found = {k: v for k, v in elements(later.documents).items() if k >= 7500}
    assert sorted(found) == [7501, 7502]
    assert found[7501].findtext("Customer/ShipTo/Address1") == "99 Corrected Road"
    assert found[7501].findtext("OrderStatus") == "Fully Picked"
    assert found[7502].findtext("OrderStatus") == "Cancelled"  # no longer passes the rules

    # A page ShipStation failed to import is sent again when it asks again.
    again = export_ok(api, base + timedelta(minutes=1), minute(utcnow()))
    assert sorted(i for i in exported_ids(again) if i >= 7500) == [7501, 7502]


def test_pages_come_from_one_stored_list_whichever_instance_answers(shop_api, cin7,
                                                                   store_url):
    now = utcnow()
    for order in cin7_data.make_orders(60, now=now, seed=21):
        cin7.add_order(order)
    expected = {o["id"] for o in cin7.orders.values() if o["id"] > 100000} | IMPORTABLE
    start, end = minute(now - timedelta(days=31)), minute(now + timedelta(minutes=1))
    instances = [shop_api(store_url, EXPORT_PAGE_SIZE="9") for _ in range(3)]
    pages = math.ceil(len(expected) / 9)
    client = poller(instances[0])
    result = PollResult()
    first = client.export_page(start, end, 1)
    assert client.check_document(first.content, result, 1) == pages
    reads = len(sales_order_calls(cin7))
    # Orders change between the pages; each page still comes from the stored list.
    for order_id in sorted(expected)[:5]:
        cin7.touch(order_id, internalComments="edited between pages")
    for page in range(2, pages + 1):
        other = poller(instances[page % 3])
        response = other.export_page(start, end, page)
        assert response.status_code == 200
        assert other.check_document(response.content, result, page) == pages
    assert result.problems == []
    ids = exported_ids(result)
    assert len(ids) == len(set(ids)) and set(ids) == expected
    assert len(sales_order_calls(cin7)) == reads  # no instance read Cin7's orders again


def test_an_overlapping_window_reads_only_what_changed_since(shop_api, cin7):
    now = utcnow()
    base = minute(now - timedelta(hours=2))
    for n in range(30):
        add_order(cin7, 7600 + n, base + timedelta(minutes=2 * n))
    api = shop_api()
    first_end = minute(now - timedelta(minutes=30))
    first = export_ok(api, base, first_end)
    assert {i for i in exported_ids(first) if i >= 7600} == set(range(7600, 7630))
    # Since then: one order edited (moves to now), one added, one cancelled.
    cin7.touch(7605, deliveryCity="Edited City")
    cin7.touch(7610, stage="Cancelled")
    add_order(cin7, 7700, minute(now) - timedelta(minutes=1))
    calls_before = len(sales_order_calls(cin7))

    start = base + timedelta(minutes=20)
    second = export_ok(api, start, minute(utcnow()))
    wheres = {c["query"]["where"] for c in sales_order_calls(cin7)[calls_before:]}
    cutoff = first_end + timedelta(minutes=1)  # the first window's end: its list covers it
    assert wheres == {f"modifiedDate >= '{iso(cutoff)}'"}
    # The same set a full read of the window gives: every order now modified in it that
    # passes the rules, and the cancelled one (exported before, status changed).
    expected = {o["id"] for o in cin7.orders.values() if o["id"] >= 7600
                and iso(start) <= o["modifiedDate"] and o["stage"] == "Fully Picked"}
    assert 7605 in expected and 7700 in expected
    assert {i for i in exported_ids(second) if i >= 7600} == expected | {7610}
    found = elements(second.documents)
    assert found[7605].findtext("Customer/ShipTo/City") == "Edited City"
    assert found[7610].findtext("OrderStatus") == "Cancelled"


def test_window_list_memory_is_bounded(shop_api, cin7):
    """While a window is built only (id, modifiedDate, status) per order stays in memory
    (bodies go to the store page by page), and after the page nothing stays."""
    now = utcnow()
    orders = 400
    for order in cin7_data.make_orders(orders, now=now, seed=5):
        cin7.add_order(order)
    api = shop_api()
    export_ok(api, *demo_window())  # warm up: connections, caches, lazy imports
    start, end = minute(now - timedelta(days=31)), minute(now + timedelta(minutes=2))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        builder = WindowBuilder(api.shop.export, start, end, now)
        listed = builder.build()
        gc.collect()
        during = tracemalloc.take_snapshot()  # the builder still holds its list
    finally:
        tracemalloc.stop()
    assert len(listed) >= orders
    mine = [tracemalloc.Filter(True, "*ratecalc/shop/*")]
    held = sum(stat.size_diff for stat in during.filter_traces(mine).compare_to(
        before.filter_traces(mine), "filename"))
    assert 0 < held < 1024 * len(listed) / 2, f"{held / len(listed):.0f} bytes an order"
    del builder, listed

    # A page keeps nothing of the window in the process: it is in the store.
    response = poller(api).export_page(start, end, 1)
    assert response.status_code == 200
    assert len(elements([response.content])) == 100


def metric(api, name: str) -> float:
    text = api.get("/metrics", auth=False).text
    return sum(sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples if sample.name == name)


def test_cin7_calls_per_export_are_a_metric(shop_api, cin7):
    api = shop_api(EXPORT_PAGE_SIZE="4")
    count, total = (metric(api, "ratecalc_export_cin7_calls_count"),
                    metric(api, "ratecalc_export_cin7_calls_sum"))
    result = export_ok(api, *demo_window())
    assert result.pages > 1
    assert metric(api, "ratecalc_export_cin7_calls_count") - count == result.pages
    assert metric(api, "ratecalc_export_cin7_calls_sum") - total == len(cin7.calls())


def test_the_export_never_takes_more_than_its_share_of_cin7s_day(shop_api, cin7):
    # 0.0006 of 5,000 calls: 3 a day for the export (2 SalesOrders pages + 1 Products).
    api = shop_api(EXPORT_MAX_CIN7_SHARE="0.0006", WORKERS="1")
    assert set(exported_ids(export_ok(api, *demo_window()))) == IMPORTABLE
    start, end = demo_window()
    response = poller(api).export_page(start - timedelta(minutes=7), end, 1)
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert "RATECALC_EXPORT_MAX_CIN7_SHARE" in response.text
    assert len(cin7.calls()) == 3
    # The rest of the day is for ship notices and freight: they still reach Cin7.
    assert api.shop.cin7.sales_order(SCENARIO_ID["eligible_nz"]) is not None


def test_line_discounts_are_taken_off_unit_prices(shop_api, cin7):
    oid = SCENARIO_ID["discount"]
    order = cin7.orders[oid]
    order["lineItems"][1]["discount"] = 1.0  # MCT-BLK-L qty 1 ... make it qty 3
    order["lineItems"][1]["qty"] = order["lineItems"][1]["qtyShipped"] = 3.0
    api = shop_api()
    found = elements(export_ok(api, *demo_window()).documents)[oid]
    items = item_elements(found)
    prices = [(i.findtext("SKU"), i.findtext("Quantity"), i.findtext("UnitPrice"))
              for i in items]
    # CPO-SAGE 89.00 less 5.00 over 1 unit; MCT-BLK-L 59.00 less 1.00 over 3 units
    # (0.333... -> 58.67 half-up); then the order discount as an adjustment.
    assert prices == [("CPO-SAGE", "1", "84.00"), ("MCT-BLK-L", "3", "58.67"),
                      ("", "1", "-10.00")]
    paid = sum(Decimal(q) * Decimal(p) for _, q, p in prices)
    lines = sum(Decimal(str(ln["qty"])) * Decimal(str(ln["unitPrice"]))
                - Decimal(str(ln["discount"])) for ln in order["lineItems"])
    assert abs(paid - (lines - Decimal("10"))) <= Decimal("0.01")


@pytest.mark.parametrize("start_text, end_text", [
    ("{s:%m%d%Y}+{s:%H%M}", "{e:%m%d%Y}+{e:%H%M}"),  # WooCommerce's compact form
    ("{s:%m%d%Y%H%M}", "{e:%m%d%Y%H%M}"),
    ("{s:%Y-%m-%dT%H:%M}Z", "{e:%Y-%m-%dT%H:%M}Z"),  # ISO 8601
    ("{s:%Y-%m-%dT%H:%M:%S}%2B00:00", "{e:%Y-%m-%dT%H:%M}:59%2B00:00"),
])
def test_export_dates_in_iso_and_compact_forms(shop_api, cin7, start_text, end_text):
    base = minute(utcnow() - timedelta(days=3))
    add_order(cin7, 7801, base + timedelta(seconds=30))
    add_order(cin7, 7802, base + timedelta(minutes=2))  # after the window
    add_order(cin7, 7800, base - timedelta(seconds=1))  # before it
    api = shop_api()
    query = (f"action=export&start_date={start_text.format(s=base)}"
             f"&end_date={end_text.format(e=base)}&page=1")
    response = raw_export(api, query)
    assert response.status_code == 200, response.text
    assert sorted(elements([response.content])) == [7801]
