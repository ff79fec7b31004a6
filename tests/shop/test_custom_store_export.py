"""The Custom Store export (``GET ?action=export``), over real HTTP both ways.

ShipStation's side is the sandbox poller (or plain ``requests`` where a test needs a
hand-made URL), ratecalc runs in shop mode, and Cin7 is the simulator. Every export
document fetched here is checked against ShipStation's XSD
(:func:`tests.support.xsd.validate`, which adds the two elements the current guide
documents, CurrencyCode and UPC, as optional to the published schema).
"""

from __future__ import annotations

import base64
import http.client
import math
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import requests
from lxml import etree

from ratecalc.simulators.cin7 import data as cin7_data
from ratecalc.simulators.cin7.app import Cin7Simulator
from tests.shop.conftest import STORE_PASSWORD, STORE_USER
from tests.support import FakeClock
from tests.support.custom_store_poller import CustomStorePoller, PollResult, encode_date
from tests.support.xsd import validate

ENDPOINT = "/shipstation/custom-store"
STATUS_FIELDS = {"awaiting_payment": "New", "awaiting_shipment": "Fully Picked",
                 "shipped": "Dispatched", "cancelled": "Cancelled"}
IMPORTABLE = {s["id"] for s in cin7_data.SCENARIOS.values() if s["importable"]}
SCENARIO_ID = {name: s["id"] for name, s in cin7_data.SCENARIOS.items()}




# ------------------------------------------------------------------ helpers
def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ss_format(cin7_date: str) -> str:
    """A Cin7 ISO date as the export must show it: MM/dd/yyyy HH:mm (UTC)."""
    moment = datetime.strptime(cin7_date, "%Y-%m-%dT%H:%M:%SZ")
    return moment.strftime("%m/%d/%Y %H:%M")


def poller(api, *, auth: str = "basic", status_fields=None) -> CustomStorePoller:
    return CustomStorePoller(api.url + ENDPOINT, STORE_USER, STORE_PASSWORD,
                             status_fields=status_fields or STATUS_FIELDS, auth=auth,
                             schema_check=validate, timeout=30)


def export_ok(api, start: datetime, end: datetime, **kwargs) -> PollResult:
    """Every page of a window, each checked by the poller's rules and the XSD."""
    result = poller(api, **kwargs).export(start, end)
    assert result.problems == [], result.problems
    assert result.statuses and set(result.statuses) == {200}
    assert len(result.documents) == max(1, result.pages)
    return result


def exported_ids(result: PollResult) -> list[int]:
    return [int(order["OrderID"]) for order in result.orders]


class RawResponse:
    def __init__(self, response: http.client.HTTPResponse):
        self.status_code = response.status
        self.headers = requests.structures.CaseInsensitiveDict(response.getheaders())
        self.content = response.read()
        self.text = self.content.decode("utf-8", "replace")


def raw_export(api, query: str) -> RawResponse:
    """GET the endpoint with the query string byte for byte as given: ShipStation's
    lower-case ``%2f`` (requests/urllib3 would upper-case the escapes)."""
    parts = urlsplit(api.url)
    token = base64.b64encode(f"{STORE_USER}:{STORE_PASSWORD}".encode()).decode()
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("GET", f"{ENDPOINT}?{query}",
                           headers={"Authorization": f"Basic {token}"})
        return RawResponse(connection.getresponse())
    finally:
        connection.close()


def elements(documents) -> dict[int, etree._Element]:
    """OrderID -> <Order> element across documents (each parsed strictly by lxml)."""
    found = {}
    for document in documents:
        root = etree.fromstring(document)
        for order in root.findall("Order"):
            found[int(order.findtext("OrderID"))] = order
    return found


def add_order(cin7: Cin7Simulator, oid: int, modified: datetime, **changes) -> dict:
    """An order that meets every import rule (make_orders), modified at ``modified``."""
    order = cin7_data.make_orders(1, seed=oid, start_id=oid)[0]
    order["modifiedDate"] = iso(modified)
    order.update(changes)
    return cin7.add_order(order)


def demo_window() -> tuple[datetime, datetime]:
    now = utcnow()
    return now - timedelta(days=2), now + timedelta(minutes=1)


def assert_plain_error(response, status: int, *needles: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    body = response.text
    assert len(body) < 300
    assert "Traceback" not in body and 'File "' not in body and "<?xml" not in body
    for needle in needles:
        assert needle in body


def sales_order_calls(cin7: Cin7Simulator) -> list[dict]:
    return cin7.calls("GET", "/v1/SalesOrders")


def product_ids_requested(cin7: Cin7Simulator) -> list[int]:
    ids = []
    for call in cin7.calls("GET", "/v1/Products"):
        match = re.fullmatch(r"id IN \(([\d,]+)\)", call["query"].get("where", ""))
        assert match, call["query"]
        ids.extend(int(i) for i in match.group(1).split(","))
    return ids


# ------------------------------------------------------------------ dates and windows
def test_shipstation_url_encoded_dates_are_understood(shop_api, cin7):
    add_order(cin7, 7001, datetime(2012, 1, 23, 17, 28, 30, tzinfo=UTC),
              estimatedDeliveryDate=iso(utcnow() + timedelta(days=1)))
    add_order(cin7, 7002, datetime(2012, 1, 23, 17, 34, 0, tzinfo=UTC),
              estimatedDeliveryDate=iso(utcnow() + timedelta(days=1)))
    api = shop_api()
    # Literally the guide's example: lower-case %2f, '+' for the space.
    response = raw_export(api, "action=export&start_date=01%2f23%2f2012+17%3a28"
                               "&end_date=01%2f23%2f2012+17%3a33&page=1")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert validate(response.content) == []
    assert list(elements([response.content])) == [7001]
    assert encode_date(datetime(2012, 1, 23, 17, 28)) == "01%2f23%2f2012+17%3a28"


@pytest.mark.parametrize(("start", "end", "included"), [
    ("01/23/2012 17:28:00", "01/23/2012 17:28:59", True),      # optional seconds
    ("01/23/2012 05:28 PM", "01/23/2012 05:28 PM", True),      # 12-hour clock
    ("01/23/2012 5:28PM", "01/23/2012 5:28pm", True),
    ("01/23/2012 05:28 AM", "01/23/2012 05:28 AM", False),     # AM is 05:28 UTC
    ("1/23/2012 17:29", "1/23/2012 17:40", False),
])
def test_optional_seconds_and_am_pm(shop_api, cin7, start, end, included):
    add_order(cin7, 7003, datetime(2012, 1, 23, 17, 28, 30, tzinfo=UTC),
              estimatedDeliveryDate=iso(utcnow() + timedelta(days=1)))
    api = shop_api()
    response = requests.get(api.url + ENDPOINT, params={
        "action": "export", "start_date": start, "end_date": end, "page": "1"},
        auth=(STORE_USER, STORE_PASSWORD), timeout=30)
    assert response.status_code == 200, response.text
    assert validate(response.content) == []
    assert (7003 in elements([response.content])) is included


BAD_DATES = [
    ({"end_date": "01/23/2012 17:33"}, "start_date"),
    ({"start_date": "01/23/2012 17:28"}, "end_date"),
    ({"start_date": "", "end_date": "01/23/2012 17:33"}, "start_date"),
    ({"start_date": "2012-13-23T17:28Z", "end_date": "01/23/2012 17:33"}, "start_date"),
    ({"start_date": "23012012 1728", "end_date": "01/23/2012 17:33"}, "start_date"),
    ({"start_date": "01/23/2012 17:28", "end_date": "01/23/2012"}, "end_date"),
    ({"start_date": "13/45/2012 17:28", "end_date": "01/23/2012 17:33"}, "start_date"),
    ({"start_date": "01/23/2012 17:28", "end_date": "01/23/2012 25:00"}, "end_date"),
    ({"start_date": "01/23/2012 17:28", "end_date": "02/30/2012 10:00"}, "end_date"),
    ({"start_date": "01/23/2012 17:28", "end_date": "01/23/2012 13:28 PM"}, "end_date"),
    ({"start_date": "01/23/2012 17:28", "end_date": "garbage"}, "end_date"),
]


def test_missing_or_invalid_dates_are_400_naming_the_parameter(shop_api, cin7):
    api = shop_api()
    for params, name in BAD_DATES:
        response = requests.get(api.url + ENDPOINT, params={"action": "export", **params},
                                auth=(STORE_USER, STORE_PASSWORD), timeout=30)
        assert_plain_error(response, 400, name)
    assert sales_order_calls(cin7) == []


def test_end_before_start_is_400(shop_api, cin7):
    api = shop_api()
    response = raw_export(api, "action=export&start_date=01%2f23%2f2012+17%3a28"
                               "&end_date=01%2f22%2f2012+17%3a28")
    assert_plain_error(response, 400, "end_date")


def test_window_edges_end_minute_included_start_inclusive(shop_api, cin7):
    base = minute(utcnow() - timedelta(days=5))  # well away from the demo orders
    start, end = base.replace(hour=10, minute=0), base.replace(hour=10, minute=30)
    cases = {
        7101: start - timedelta(seconds=1),            # before the start: out
        7102: start,                                   # start edge: in
        7103: end,                                     # 10:30:00: in
        7104: end + timedelta(seconds=59),             # 10:30:59, inside the end minute: in
        7105: end + timedelta(minutes=1),              # 10:31:00: out
    }
    for oid, modified in cases.items():
        add_order(cin7, oid, modified)
    api = shop_api()
    result = export_ok(api, start, end)
    assert sorted(exported_ids(result)) == [7102, 7103, 7104]
    [call] = sales_order_calls(cin7)[:1]
    assert call["query"]["where"] == (
        f"modifiedDate >= '{iso(start)}' AND modifiedDate < '{iso(end + timedelta(minutes=1))}'")


def test_bad_page_number_is_400(shop_api, cin7):
    api = shop_api()
    for page in ("0", "-1", "x", "1.5"):
        response = raw_export(api, "action=export&start_date=01%2f23%2f2012+17%3a28"
                                   f"&end_date=01%2f23%2f2012+17%3a33&page={page}")
        assert_plain_error(response, 400, "page")


# ------------------------------------------------------------------ import rules
def test_demo_data_exports_exactly_the_importable_scenarios(shop_api, cin7):
    api = shop_api()  # the shop conftest sets RATECALC_CIN7_BRANCH_IDS=1,2
    result = export_ok(api, *demo_window())
    ids = exported_ids(result)
    assert len(ids) == len(set(ids))
    assert set(ids) == IMPORTABLE
    assert {o["OrderStatus"] for o in result.orders} == {"Fully Picked"}
    assert {o["shipstation_status"] for o in result.orders} == {"awaiting_shipment"}


def rule_window(cin7, variants: dict[int, dict]) -> tuple[datetime, datetime]:
    """Add one order per variant, all modified inside one quiet minute; returns the window."""
    base = minute(utcnow() - timedelta(days=3))
    for n, (oid, changes) in enumerate(variants.items()):
        add_order(cin7, oid, base + timedelta(seconds=n), **changes)
    return base, base


def test_rule_approved(shop_api, cin7):
    window = rule_window(cin7, {
        7201: {"isApproved": True},
        7202: {"isApproved": False},           # draft
        7203: {"isVoid": True},                # void
    })
    assert cin7.orders[7202]["status"] == "DRAFT" and cin7.orders[7203]["status"] == "VOID"
    result = export_ok(shop_api(), *window)
    assert exported_ids(result) == [7201]


def test_rule_stage(shop_api, cin7):
    window = rule_window(cin7, {
        7211: {"stage": "Fully Picked"},
        7212: {"stage": "fully picked"},       # Cin7 stages compare case-insensitively
        7213: {"stage": "Processing"},
        7214: {"stage": "New"},
        7215: {"stage": "Dispatched"},         # never exported before: not new to import
        7216: {"stage": "Partially Picked"},
    })
    result = export_ok(shop_api(), *window)
    assert sorted(exported_ids(result)) == [7211, 7212]
    assert {o["OrderStatus"] for o in result.orders} == {"Fully Picked"}


def test_rule_stage_configured_import_stages(shop_api, cin7):
    window = rule_window(cin7, {
        7221: {"stage": "Fully Picked"},
        7222: {"stage": "New"},
    })
    result = export_ok(shop_api(IMPORT_STAGES="New"), *window)
    assert exported_ids(result) == [7222]
    assert result.orders[0]["OrderStatus"] == "New"
    assert result.orders[0]["shipstation_status"] == "awaiting_payment"


def test_rule_age_created_or_etd(shop_api, cin7):
    now = utcnow()
    days = timedelta(days=1)
    window = rule_window(cin7, {
        7231: {"createdDate": iso(now - 59 * days), "estimatedDeliveryDate": None},
        7232: {"createdDate": iso(now - 90 * days), "estimatedDeliveryDate": iso(now - 10 * days)},
        7233: {"createdDate": iso(now - 90 * days), "estimatedDeliveryDate": iso(now + 3 * days)},
        7234: {"createdDate": iso(now - 61 * days), "estimatedDeliveryDate": None},
        7235: {"createdDate": iso(now - 90 * days), "estimatedDeliveryDate": iso(now - 61 * days)},
    })
    result = export_ok(shop_api(), *window)
    assert sorted(exported_ids(result)) == [7231, 7232, 7233]
    # The ETD-only order still shows its real (old) order date.
    order = elements(result.documents)[7232]
    assert order.findtext("OrderDate") == ss_format(cin7.orders[7232]["createdDate"])


def test_rule_age_configured_max_age(shop_api, cin7):
    now = utcnow()
    window = rule_window(cin7, {
        7241: {"createdDate": iso(now - timedelta(days=9)), "estimatedDeliveryDate": None},
        7242: {"createdDate": iso(now - timedelta(days=11)), "estimatedDeliveryDate": None},
    })
    result = export_ok(shop_api(IMPORT_MAX_AGE_DAYS="10"), *window)
    assert exported_ids(result) == [7241]


def test_rule_country(shop_api, cin7):
    window = rule_window(cin7, {
        7251: {"deliveryCountry": "New Zealand"},
        7252: {"deliveryCountry": "NZ"},
        7253: {"deliveryCountry": ""},
        7254: {"deliveryCountry": None},
        7255: {"deliveryCountry": "   "},
    })
    result = export_ok(shop_api(), *window)
    assert sorted(exported_ids(result)) == [7251, 7252]
    assert {o["Customer/ShipTo/Country"] for o in result.orders} == {"NZ"}


def test_rule_dispatch_qty(shop_api, cin7):
    shipped = {"code": "MCT-BLK-M", "qty": 2.0, "qtyShipped": 2.0}
    window = rule_window(cin7, {
        7261: {"lineItems": [dict(shipped), {"code": "CPO-WHT", "qty": 1.0, "qtyShipped": 1.0}]},
        # A line with nothing ordered needs no dispatch quantity.
        7262: {"lineItems": [dict(shipped), {"code": "CPO-WHT", "qty": 0.0, "qtyShipped": 0.0}]},
        7263: {"lineItems": [dict(shipped), {"code": "CPO-WHT", "qty": 1.0, "qtyShipped": 0.0}]},
        7264: {"lineItems": [{"code": "CPO-WHT", "qty": 1.0, "qtyShipped": 0.0}]},
        # Partly dispatched lines pass; the item quantity is the dispatch quantity.
        7265: {"lineItems": [{"code": "CPO-WHT", "qty": 3.0, "qtyShipped": 2.0}]},
    })
    result = export_ok(shop_api(), *window)
    assert sorted(exported_ids(result)) == [7261, 7262, 7265]
    items = {o["OrderID"]: [(i["SKU"], i["Quantity"]) for i in o["items"]]
             for o in result.orders}
    assert items == {"7261": [("MCT-BLK-M", "2"), ("CPO-WHT", "1")],
                     "7262": [("MCT-BLK-M", "2")], "7265": [("CPO-WHT", "2")]}


def test_rule_branch(shop_api, cin7):
    window = rule_window(cin7, {
        7271: {"branchId": 1},
        7272: {"branchId": 2},
        7273: {"branchId": 3},
    })
    result = export_ok(shop_api(), *window)  # RATECALC_CIN7_BRANCH_IDS=1,2
    assert sorted(exported_ids(result)) == [7271, 7272]


def test_rule_branch_empty_setting_means_every_branch(shop_api, cin7):
    window = rule_window(cin7, {7281: {"branchId": 1}, 7282: {"branchId": 3}})
    result = export_ok(shop_api(CIN7_BRANCH_IDS=""), *window)
    assert sorted(exported_ids(result)) == [7281, 7282]


# ------------------------------------------------------------------ statuses
def test_status_changes_are_re_exported(shop_api, cin7):
    base = minute(utcnow() - timedelta(days=4))
    add_order(cin7, 7301, base + timedelta(seconds=5))
    add_order(cin7, 7302, base + timedelta(seconds=6))
    api = shop_api()

    first = export_ok(api, base, base)
    assert sorted(exported_ids(first)) == [7301, 7302]
    assert {o["OrderStatus"] for o in first.orders} == {"Fully Picked"}

    # ShipStation polls again with an overlapping window: like every Custom Store, every
    # order modified in it that passes the rules goes out again, exported before or not.
    again = export_ok(api, base - timedelta(minutes=5), base + timedelta(minutes=1))
    assert sorted(exported_ids(again)) == [7301, 7302]

    clock = FakeClock(base + timedelta(minutes=10, seconds=7))
    cin7.set_clock(clock)
    cin7.touch(7301, stage="Dispatched", dispatchedDate=iso(clock.now))
    cin7.touch(7302, isVoid=True)
    assert cin7.orders[7302]["status"] == "VOID"

    changed = export_ok(api, base + timedelta(minutes=5), base + timedelta(minutes=10))
    statuses = {int(o["OrderID"]): (o["OrderStatus"], o["shipstation_status"])
                for o in changed.orders}
    assert statuses == {7301: ("Dispatched", "shipped"), 7302: ("Cancelled", "cancelled")}
    order = elements(changed.documents)[7301]
    assert order.findtext("LastModified") == ss_format(iso(clock.now))

    # Neither passes the rules any more and ShipStation has their new status: the next
    # window with the same orders sends nothing.
    after = export_ok(api, base, base + timedelta(minutes=11))
    assert exported_ids(after) == []


def test_unmapped_stage_is_never_emitted(shop_api, cin7):
    base = minute(utcnow() - timedelta(days=4))
    add_order(cin7, 7311, base + timedelta(seconds=1))
    add_order(cin7, 7312, base + timedelta(seconds=2), stage="Ready for Courier")
    # The custom stage passes the import rules but maps to no ShipStation status.
    api = shop_api(IMPORT_STAGES="Fully Picked,Ready for Courier")
    first = export_ok(api, base, base)
    assert exported_ids(first) == [7311]

    clock = FakeClock(base + timedelta(minutes=3))
    cin7.set_clock(clock)
    cin7.touch(7311, stage="Ready for Courier")  # exported before, now unmapped
    later = export_ok(api, base + timedelta(minutes=1), base + timedelta(minutes=4))
    assert exported_ids(later) == []
    assert api.shop.store.exported([7311])[7311].status == "Fully Picked"

    clock.now = base + timedelta(minutes=6)
    cin7.touch(7311, stage="Dispatched")
    cin7.touch(7312, stage="Ready for courier")
    last = export_ok(api, base + timedelta(minutes=5), base + timedelta(minutes=7))
    assert [(int(o["OrderID"]), o["OrderStatus"]) for o in last.orders] == [(7311, "Dispatched")]


def test_demo_custom_stage_never_emitted_with_default_map(shop_api, cin7):
    api = shop_api(IMPORT_STAGES="Fully Picked,Ready for Courier")
    result = export_ok(api, *demo_window())
    assert SCENARIO_ID["custom_stage"] not in exported_ids(result)
    assert set(exported_ids(result)) == IMPORTABLE


def test_custom_status_map_spelling_is_exported_exactly(shop_api, cin7):
    status_map = ("awaiting_payment=New;awaiting_shipment=Fully Picked,Ready For Courier;"
                  "shipped=Dispatched,Sent;cancelled=Cancelled")
    fields = {"awaiting_payment": "New", "awaiting_shipment": "Fully Picked,Ready For Courier",
              "shipped": "Dispatched,Sent", "cancelled": "Cancelled"}
    base = minute(utcnow() - timedelta(days=4))
    add_order(cin7, 7321, base + timedelta(seconds=1), stage="FULLY PICKED")
    add_order(cin7, 7322, base + timedelta(seconds=2), stage="ready for courier")
    api = shop_api(STATUS_MAP=status_map, IMPORT_STAGES="Fully Picked,Ready for Courier")

    result = export_ok(api, *demo_window(), status_fields=fields)
    statuses = {int(o["OrderID"]): o["OrderStatus"] for o in result.orders}
    # The demo's "Ready for Courier" order and the two above, as typed into ShipStation.
    assert statuses[SCENARIO_ID["custom_stage"]] == "Ready For Courier"
    assert set(statuses) == IMPORTABLE | {SCENARIO_ID["custom_stage"]}
    mine = export_ok(api, base, base, status_fields=fields)
    assert {int(o["OrderID"]): o["OrderStatus"] for o in mine.orders} == {
        7321: "Fully Picked", 7322: "Ready For Courier"}

    clock = FakeClock(base + timedelta(minutes=2))
    cin7.set_clock(clock)
    cin7.touch(7322, stage="SENT")
    moved = export_ok(api, base + timedelta(minutes=1), base + timedelta(minutes=2),
                      status_fields=fields)
    assert [(o["OrderStatus"], o["shipstation_status"]) for o in moved.orders] == [
        ("Sent", "shipped")]


# ------------------------------------------------------------------ paging
def test_paging_hundreds_of_orders(shop_api, cin7):
    now = utcnow()
    for order in cin7_data.make_orders(300, now=now, seed=7):
        cin7.add_order(order)
    start, end = minute(now - timedelta(days=31)), minute(now + timedelta(minutes=1))
    in_window = [o for o in cin7.orders.values()
                 if iso(start) <= o["modifiedDate"] < iso(end + timedelta(minutes=1))]
    expected = {o["id"] for o in cin7.orders.values() if o["id"] > 100000} | IMPORTABLE
    page_size = 7
    pages = math.ceil(len(expected) / page_size)
    api = shop_api(EXPORT_PAGE_SIZE=str(page_size))
    client = poller(api)
    result = PollResult()

    first = client.export_page(start, end, 1)
    assert first.status_code == 200
    assert client.check_document(first.content, result, 1) == pages
    reads = len(sales_order_calls(cin7))
    # Cin7 paged with rows=250, modifiedDate ASC, until an empty page.
    assert [c["query"]["page"] for c in sales_order_calls(cin7)] == [
        str(n) for n in range(1, len(in_window) // 250 + 3)]
    for call in sales_order_calls(cin7):
        assert call["query"]["rows"] == "250"
        assert call["query"]["order"] == "modifiedDate ASC"
        assert call["query"]["where"].startswith(f"modifiedDate >= '{iso(start)}' AND ")

    # Between page 1 and page 2, one order on page 1 and one on a later page change:
    # read again from Cin7, they would move to the end (twice / vanished).
    on_page_1 = int(result.orders[0]["OrderID"])
    later = sorted(expected - {int(o["OrderID"]) for o in result.orders})[0]
    cin7.touch(on_page_1, internalComments="edited")
    cin7.touch(later, internalComments="edited")

    for page in range(2, pages + 1):
        response = client.export_page(start, end, page)
        assert response.status_code == 200
        assert client.check_document(response.content, result, page) == pages
        result.documents.append(response.content)
    assert len(sales_order_calls(cin7)) == reads  # pages 2..P from the kept window
    assert result.problems == []
    assert validate(first.content) == []

    ids = exported_ids(result)
    assert len(ids) == len(expected)
    assert sorted(ids) == sorted(expected)  # every order exactly once
    counts = [len(etree.fromstring(d).findall("Order")) for d in [first.content]
              + result.documents]
    assert counts == [page_size] * (pages - 1) + [len(expected) - page_size * (pages - 1)]

    past = client.export_page(start, end, pages + 1)
    assert past.status_code == 200
    assert validate(past.content) == []
    root = etree.fromstring(past.content)
    assert root.tag == "Orders" and root.get("pages") == str(pages) and len(root) == 0
    assert len(sales_order_calls(cin7)) == reads


# ------------------------------------------------------------------ field mapping
def money(value) -> str:
    return f"{float(value):.2f}"


def item_elements(order: etree._Element) -> list[etree._Element]:
    return order.findall("Items/Item")


def options_of(item: etree._Element) -> list[tuple[str, str]]:
    return [(o.findtext("Name"), o.findtext("Value")) for o in item.findall("Options/Option")]


@pytest.fixture
def demo_export(shop_api, cin7):
    api = shop_api(CUSTOM_FIELDS="customerOrderNo,giftMessage,projectName")
    result = export_ok(api, *demo_window())
    return elements(result.documents)


def test_every_order_field_is_mapped(demo_export, cin7):
    oid = SCENARIO_ID["eligible_us_gift"]
    order, source = demo_export[oid], cin7.orders[oid]
    expected = {
        "OrderID": str(oid),
        "OrderNumber": "#1051",
        "OrderDate": ss_format(source["createdDate"]),
        "OrderStatus": "Fully Picked",
        "LastModified": ss_format(source["modifiedDate"]),
        "ShippingMethod": "Standard Courier",
        "PaymentMethod": "Prepaid",
        "CurrencyCode": "USD",
        "OrderTotal": money(source["total"]),
        "TaxAmount": "0.00",  # tax-exclusive at 0 %
        "ShippingAmount": "8.50",
        "CustomerNotes": "Please leave with the concierge.",
        "InternalNotes": "Customer asked for gift wrap.",
        "CustomField2": "Happy birthday, Sam!",   # from customFields
        "CustomField3": "Shopify",
        "Customer/CustomerCode": source["email"],
        "Customer/BillTo/Name": "Sam Rivera",
        "Customer/BillTo/Phone": "+1 415 555 0199",  # phone empty -> mobile
        "Customer/BillTo/Email": source["email"],
        "Customer/ShipTo/Name": "Sam Rivera",
        "Customer/ShipTo/Address1": "500 Market St",
        "Customer/ShipTo/Address2": "Apt 12",
        "Customer/ShipTo/City": "San Francisco",
        "Customer/ShipTo/State": "CA",
        "Customer/ShipTo/PostalCode": "94105",
        "Customer/ShipTo/Country": "US",               # from "United States"
        "Customer/ShipTo/Phone": "+1 415 555 0199",
    }
    assert {path: order.findtext(path) for path in expected} == expected
    assert order.find("CustomField1") is None  # customerOrderNo is empty on this order

    toothbrush, wrap = item_elements(order)
    line = source["lineItems"][0]
    assert {tag: toothbrush.findtext(tag) for tag in (
        "LineItemID", "SKU", "Name", "ImageUrl", "Weight", "WeightUnits", "Quantity",
        "UnitPrice")} == {
        "LineItemID": str(line["id"]), "SKU": "TBR-CHA-SOFT-4", "Name": "Bamboo Toothbrush",
        "ImageUrl": "https://images.example.com/cin7/tbr-charcoal.jpg",
        "Weight": "90.00", "WeightUnits": "Grams", "Quantity": "1", "UnitPrice": "19.00"}
    assert options_of(toothbrush) == [("Colour", "Charcoal"), ("Bristle", "Soft"),
                                      ("Pack", "4-pack")]
    # A line that is no catalogue product: no weight, no image, but still an item.
    assert wrap.findtext("SKU") == "GIFT-WRAP" and wrap.findtext("Name") == "Gift wrapping"
    assert wrap.findtext("UnitPrice") == "5.00" and wrap.findtext("Quantity") == "1"
    assert wrap.find("Weight") is None and wrap.find("ImageUrl") is None




# ------------------------------------------------------------------ gift
def gift_of(order: etree._Element) -> tuple[str | None, str | None]:
    return order.findtext("Gift"), order.findtext("GiftMessage")


def test_gift_message_marks_the_order_as_a_gift(demo_export, cin7):
    oid = SCENARIO_ID["eligible_us_gift"]
    assert cin7.orders[oid]["customFields"]["giftMessage"] == "Happy birthday, Sam!"
    # RATECALC_GIFT_MESSAGE_FIELD is not set: it defaults to giftMessage.
    assert gift_of(demo_export[oid]) == ("true", "Happy birthday, Sam!")
    # The demo orders without a message are not gifts.
    for other in IMPORTABLE - {oid}:
        assert demo_export[other].findtext("Gift") in ("false", None), other
        assert demo_export[other].find("GiftMessage") is None, other


def test_gift_message_field_pointing_nowhere_means_no_gifts(shop_api, cin7):
    result = export_ok(shop_api(GIFT_MESSAGE_FIELD="noSuchField"), *demo_window())
    found = elements(result.documents)
    assert set(found) == IMPORTABLE
    for oid, order in found.items():
        assert order.findtext("Gift") in ("false", None), oid
        assert order.find("GiftMessage") is None, oid


def test_only_a_non_blank_message_makes_a_gift(shop_api, cin7):
    window = rule_window(cin7, {
        7401: {"customFields": {"giftMessage": "Enjoy!"}},
        7402: {"customFields": {"giftMessage": "   "}},        # blank
        7403: {"customFields": {"giftMessage": None}},
        7404: {"customFields": {}},                            # no message at all
        7405: {"customFields": {"isGift": True}},              # flag alone: no message
    })
    result = export_ok(shop_api(), *window)
    found = elements(result.documents)
    assert gift_of(found[7401]) == ("true", "Enjoy!")
    for oid in (7402, 7403, 7404, 7405):
        assert found[oid].findtext("Gift") in ("false", None), oid
        assert found[oid].find("GiftMessage") is None, oid


# ------------------------------------------------------------------ items
def test_size_range_line_becomes_one_item_per_size(demo_export, cin7):
    oid = SCENARIO_ID["size_range"]
    line = cin7.orders[oid]["lineItems"][0]
    assert "sizes" not in line  # the published line model: sizeCodes only
    sizes = {code: {"qty": float(qty), "name": name}
             for qty, name, code, _ in (e.split("|") for e in line["sizeCodes"].split(";"))}
    items = item_elements(demo_export[oid])
    assert [(i.findtext("LineItemID"), i.findtext("SKU"), i.findtext("Quantity"))
            for i in items] == [(f"{line['id']}-1", "TRS-BLU-9", "1"),
                                (f"{line['id']}-2", "TRS-BLU-10", "2")]
    for item in items:
        size = sizes[item.findtext("SKU")]
        assert item.findtext("Quantity") == str(int(size["qty"]))
        assert item.findtext("Name") == "Trail Running Shoe"
        assert item.findtext("UnitPrice") == "180.00"
        assert options_of(item) == [("Colour", "Blue"), ("Size", size["name"])]
    # Each size's own option weight (kilograms -> grams).
    assert [i.findtext("Weight") for i in items] == ["780.00", "820.00"]


def size_line(sizes: dict[str, float]) -> dict:
    packed = ";".join(f"{qty:g}|{code.rsplit('-', 1)[1]}|{code}|" for code, qty in sizes.items())
    total = float(sum(sizes.values()))
    return {"productId": 103, "productOptionId": 0, "code": "TRS", "name": "Trail Running Shoe",
            "option1": "Blue", "qty": total, "unitPrice": 180.0, "qtyShipped": total,
            "sizeCodes": packed}


def test_sizes_with_no_quantity_are_left_out(shop_api, cin7):
    window = rule_window(cin7, {7411: {"lineItems": [
        size_line({"TRS-BLU-9": 0, "TRS-BLU-10": 3, "TRS-BLU-11": 1})]}})
    result = export_ok(shop_api(), *window)
    line_id = cin7.orders[7411]["lineItems"][0]["id"]
    items = item_elements(elements(result.documents)[7411])
    assert [(i.findtext("LineItemID"), i.findtext("SKU"), i.findtext("Quantity"))
            for i in items] == [(f"{line_id}-1", "TRS-BLU-10", "3"),
                                (f"{line_id}-2", "TRS-BLU-11", "1")]
    assert [options_of(i)[-1] for i in items] == [("Size", "10"), ("Size", "11")]


def test_order_discount_becomes_an_adjustment_item(demo_export, cin7):
    oid = SCENARIO_ID["discount"]
    source = cin7.orders[oid]
    items = item_elements(demo_export[oid])
    adjustments = [i for i in items if i.findtext("Adjustment") == "true"]
    assert len(adjustments) == 1 and items[-1] is adjustments[0]
    adjustment = adjustments[0]
    assert adjustment.findtext("Quantity") == "1"
    assert adjustment.findtext("UnitPrice") == money(-source["discountTotal"]) == "-10.00"
    assert adjustment.findtext("Name") == "SPRING10 10% off"
    assert (adjustment.findtext("SKU") or "") == ""
    assert adjustment.find("Weight") is None
    # Product lines are no adjustments; orders without a discount have none.
    assert all(i.find("Adjustment") is None for i in items[:-1])
    for other in IMPORTABLE - {oid}:
        assert all(i.find("Adjustment") is None for i in item_elements(demo_export[other]))


WEIGHT_CASES = {
    # unit: (WeightUnits, [MCT-BLK-M 0.22, TBR-NAT-MED-1 0.025, ESP-X1-SS 7.8])
    "kilograms": ("Grams", ["220.00", "25.00", "7800.00"]),
    "grams": ("Grams", ["0.22", "0.03", "7.80"]),
    "pounds": ("Pounds", ["0.22", "0.03", "7.80"]),
    "ounces": ("Ounces", ["0.22", "0.03", "7.80"]),
}


@pytest.mark.parametrize("unit", list(WEIGHT_CASES))
def test_weight_units(shop_api, cin7, unit):
    window = rule_window(cin7, {7421: {"lineItems": [
        {"code": code, "qty": 1.0, "qtyShipped": 1.0}
        for code in ("MCT-BLK-M", "TBR-NAT-MED-1", "ESP-X1-SS")]}})
    result = export_ok(shop_api(CIN7_WEIGHT_UNITS=unit), *window)
    items = item_elements(elements(result.documents)[7421])
    units, weights = WEIGHT_CASES[unit]
    assert [i.findtext("Weight") for i in items] == weights
    assert {i.findtext("WeightUnits") for i in items} == {units}
    assert all(re.fullmatch(r"\d+\.\d\d", w) for w in weights)


def test_weight_fallbacks(demo_export, cin7):
    natural, gift_card = item_elements(demo_export[SCENARIO_ID["weight_fallbacks"]])
    # Option weight 0 -> the product's 0.25 kg.
    assert natural.findtext("SKU") == "MCT-NAT-M"
    assert (natural.findtext("Weight"), natural.findtext("WeightUnits")) == ("250.00", "Grams")
    # No weight anywhere: no Weight and no WeightUnits.
    assert gift_card.findtext("SKU") == "GIFT-50"
    assert gift_card.find("Weight") is None and gift_card.find("WeightUnits") is None


# ------------------------------------------------------------------ hostile text
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_clean(value: str) -> str:
    return XML_ILLEGAL.sub("", value).strip()


def test_special_characters_demo_order_round_trips(demo_export, cin7):
    oid = SCENARIO_ID["special_chars"]
    order, source = demo_export[oid], cin7.orders[oid]
    expected = {
        "Customer/ShipTo/Name": "Zoë 🌿 O'Brien",
        "Customer/ShipTo/Company": "Smith & Sons <Wholesale>",
        "Customer/ShipTo/Address1": "Unit 5 ]]> Rear",
        "Customer/ShipTo/Address2": 'Level 2 & "Loft"',
        "Customer/BillTo/Name": "Zoë 🌿 O'Brien",
        "CustomerNotes": source["deliveryInstructions"],
        "InternalNotes": source["internalComments"],
    }
    assert {path: order.findtext(path) for path in expected} == expected


HOSTILE = 'a ]]> & <b> "q" \'s\' 😀\x01\x1b[0m\x00\x7f\uffff'


def test_hostile_text_is_escaped_and_round_trips(shop_api, cin7):
    notes = "Line 1\nLine 2\tcol ]]><![CDATA[ &amp; <script>x</script> 📦\x01\x1b\x08 \r\nend"
    changes = {
        "reference": "#<1&2>]]>\x1b",
        "deliveryFirstName": "Zoë\x01 🌿", "deliveryLastName": "O'Brien\x1b",
        "deliveryCompany": HOSTILE, "deliveryAddress1": "1 <Main> & \x0bSt ]]>",
        "deliveryAddress2": HOSTILE, "deliveryCity": "Wellington\x1b",
        "deliveryInstructions": notes, "internalComments": HOSTILE,
        "freightDescription": HOSTILE, "paymentTerms": "Pre\x01paid & <ok>",
        "email": "o'brien+\x01tag@example.com",
        "lineItems": [{"code": "SKU-&<>\"'\x01", "name": HOSTILE, "option1": HOSTILE,
                       "qty": 1.0, "qtyShipped": 1.0, "unitPrice": 5.0}],
    }
    window = rule_window(cin7, {7431: changes})
    result = export_ok(shop_api(), *window)  # the poller's rules and the XSD
    [document] = result.documents
    assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]", document)
    assert b"<![CDATA[" not in document  # text is escaped, never wrapped
    order = elements([document])[7431]
    expected = {
        "OrderNumber": xml_clean(changes["reference"]),
        "Customer/ShipTo/Name": "Zoë 🌿 O'Brien",
        "Customer/ShipTo/Company": xml_clean(HOSTILE),
        "Customer/ShipTo/Address1": "1 <Main> & St ]]>",
        "Customer/ShipTo/Address2": xml_clean(HOSTILE),
        "Customer/ShipTo/City": "Wellington",
        "CustomerNotes": xml_clean(notes),
        "InternalNotes": xml_clean(HOSTILE),
        "ShippingMethod": xml_clean(HOSTILE),
        "PaymentMethod": "Prepaid & <ok>",
        "Customer/CustomerCode": "o'brien+tag@example.com",
        "Customer/BillTo/Email": "o'brien+tag@example.com",
    }
    assert {path: order.findtext(path) for path in expected} == expected
    assert "\r\n" in order.findtext("CustomerNotes") and "😀" in order.findtext("InternalNotes")
    [item] = item_elements(order)
    assert item.findtext("SKU") == "SKU-&<>\"'"
    assert item.findtext("Name") == xml_clean(HOSTILE)
    assert options_of(item) == [("Option 1", xml_clean(HOSTILE))]


# ------------------------------------------------------------------ length limits
def test_over_long_text_is_cut_to_the_protocol_limits(shop_api, cin7):
    long = {
        "reference": "R" * 80, "email": "e" * 120 + "@example.com",
        "deliveryFirstName": "F" * 80, "deliveryLastName": "L" * 80,
        "billingFirstName": "G" * 80, "billingLastName": "H" * 80,
        "deliveryCompany": "C" * 150, "deliveryAddress1": "A" * 300,
        "deliveryAddress2": "B" * 300, "deliveryCity": "Y" * 150,
        "deliveryPostalCode": "9" * 80, "phone": "5" * 80,
        "deliveryInstructions": "N" * 1500, "internalComments": "I" * 1500,
        "freightDescription": "S" * 150, "paymentTerms": "P" * 80,
        "lineItems": [{"code": "K" * 80, "name": "M" * 300, "option1": "O" * 150,
                       "qty": 1.0, "qtyShipped": 1.0, "unitPrice": 5.0}],
    }
    window = rule_window(cin7, {7441: long})
    result = export_ok(shop_api(), *window)
    order = elements(result.documents)[7441]
    expected = {
        "OrderNumber": "R" * 50,
        "Customer/CustomerCode": long["email"][:50],
        "Customer/BillTo/Email": long["email"][:100],
        "Customer/BillTo/Name": ("G" * 80 + " " + "H" * 80)[:100],
        "Customer/ShipTo/Name": ("F" * 80 + " " + "L" * 80)[:100],
        "Customer/ShipTo/Company": "C" * 100,
        "Customer/ShipTo/Address1": "A" * 200,
        "Customer/ShipTo/Address2": "B" * 200,
        "Customer/ShipTo/City": "Y" * 100,
        "Customer/ShipTo/PostalCode": "9" * 50,
        "Customer/ShipTo/Phone": "5" * 50,
        "CustomerNotes": "N" * 1000,
        "InternalNotes": "I" * 1000,
        "ShippingMethod": "S" * 100,
        "PaymentMethod": "P" * 50,
        "Items/Item/SKU": "K" * 50,
        "Items/Item/Name": "M" * 200,
        "Items/Item/Options/Option/Value": "O" * 100,
    }
    assert {path: order.findtext(path) for path in expected} == expected


# ------------------------------------------------------------------ customer
def test_customer_code_fallbacks(shop_api, cin7):
    window = rule_window(cin7, {
        7451: {"email": "buyer@example.com", "memberEmail": "member@example.com"},
        7452: {"email": "", "memberEmail": "member@example.com", "memberId": 4452},
        7453: {"email": "   ", "memberEmail": None, "memberId": 4453},
        7454: {"email": None, "memberEmail": "", "memberId": 0, "reference": "REF-7454"},
        7455: {"email": None, "memberEmail": None, "memberId": 0},
    })
    # The simulator fills a blank reference; clear it behind Cin7's back (same modifiedDate).
    cin7.touch(7455, reference=None, modifiedDate=cin7.orders[7455]["modifiedDate"])
    result = export_ok(shop_api(), *window)
    found = elements(result.documents)
    codes = {oid: order.findtext("Customer/CustomerCode") for oid, order in found.items()}
    assert codes == {7451: "buyer@example.com", 7452: "member@example.com", 7453: "4453",
                     7454: "REF-7454", 7455: "7455"}
    assert found[7452].findtext("Customer/BillTo/Email") == "member@example.com"
    assert found[7455].findtext("OrderNumber") == "7455"


@pytest.mark.parametrize(("country", "state", "expected"), [
    ("United States", "California", "CA"),
    ("USA", "new york", "NY"),
    ("US", "District of Columbia", "DC"),
    ("United States", "TX", "TX"),
    ("Canada", "Ontario", "ON"),
    ("CA", "British Columbia", "BC"),
    ("New Zealand", "Auckland", "Auckland"),       # only US/CA states become codes
    ("Australia", "New South Wales", "New South Wales"),
])
def test_us_and_canadian_state_names_become_codes(shop_api, cin7, country, state, expected):
    address = {"deliveryCountry": country, "deliveryState": state,
               "billingCountry": country, "billingState": state}
    window = rule_window(cin7, {7461: address})
    result = export_ok(shop_api(), *window)
    order = elements(result.documents)[7461]
    assert order.findtext("Customer/ShipTo/State") == expected
    assert order.findtext("Customer/BillTo/State") == expected


# ------------------------------------------------------------------ Cin7 traffic
def test_products_are_fetched_once_per_product(shop_api, cin7):
    api = shop_api()
    result = export_ok(api, *demo_window())
    lines = [line for oid in exported_ids(result) for line in cin7.orders[oid]["lineItems"]
             if line["productId"]]
    asked = product_ids_requested(cin7)
    assert len(cin7.calls("GET", "/v1/Products")) == 1
    assert sorted(asked) == sorted({line["productId"] for line in lines})  # each once
    assert len(asked) < len(lines)

    # Another window a moment later: products already read are not asked for again.
    line = {"qty": 1.0, "qtyShipped": 1.0}
    window = rule_window(cin7, {
        7471: {"lineItems": [{"code": "MCT-BLK-M", **line}, {"code": "CPO-WHT", **line}]},
        7472: {"lineItems": [{"code": "MCT-BLK-M", **line}, {"code": "MUG-OLD", **line}]},
    })
    second = export_ok(api, *window)
    assert sorted(exported_ids(second)) == [7471, 7472]
    assert product_ids_requested(cin7) == asked + [107]  # only the new product
    found = elements(second.documents)
    assert item_elements(found[7471])[0].findtext("Weight") == "220.00"  # from the cache
    assert item_elements(found[7472])[1].findtext("Weight") == "400.00"


def test_exporting_never_writes_to_cin7(shop_api, cin7):
    import copy

    before = copy.deepcopy(cin7.orders)
    api = shop_api(EXPORT_PAGE_SIZE="3")
    result = export_ok(api, *demo_window())
    assert result.pages > 1 and set(exported_ids(result)) == IMPORTABLE
    export_ok(api, *demo_window())  # ShipStation polls the same window again
    assert cin7.calls("PUT") == []
    assert {call["method"] for call in cin7.calls()} == {"GET"}
    assert cin7.orders == before


# ------------------------------------------------------------------ Cin7 failures
def test_cin7_outage_is_a_plain_text_error(shop_api, cin7):
    api = shop_api()
    cin7.set_outage(503)
    start, end = demo_window()
    response = poller(api).export_page(start, end, 1)
    assert response.status_code in (502, 503)
    assert_plain_error(response, response.status_code, "Cin7")
    assert len(sales_order_calls(cin7)) >= 1

    # Nothing was marked exported: once Cin7 is back, the same window has everything.
    cin7.set_outage(None)
    result = export_ok(api, start, end)
    assert set(exported_ids(result)) == IMPORTABLE


def test_wrong_cin7_credentials_are_a_502_naming_the_settings(shop_api, cin7):
    key = "wrong-cin7-key-5f3a9c"
    api = shop_api(CIN7_API_KEY=key)
    response = poller(api).export_page(*demo_window(), 1)
    assert_plain_error(response, 502, "RATECALC_CIN7_USERNAME", "RATECALC_CIN7_API_KEY")
    assert key not in response.text and "wrong" not in response.text
    assert [c["status"] for c in cin7.calls()] == [401]  # refused: not retried


def test_transient_cin7_errors_are_retried(shop_api, cin7):
    api = shop_api()
    cin7.fail_next(2, 500)
    result = export_ok(api, *demo_window())
    assert set(exported_ids(result)) == IMPORTABLE
    assert [c["status"] for c in sales_order_calls(cin7)][:3] == [500, 500, 200]


def test_cin7_429s_are_backed_off(shop_api, cin7):
    now = utcnow()
    for order in cin7_data.make_orders(260, now=now, seed=11):
        cin7.add_order(order)
    expected = {o["id"] for o in cin7.orders.values() if o["id"] > 100000} | IMPORTABLE
    cin7.set_rate_limits(per_second=2, per_minute=None, per_day=None)
    api = shop_api(EXPORT_PAGE_SIZE="50")
    result = export_ok(api, minute(now - timedelta(days=31)), minute(now + timedelta(minutes=1)))
    assert result.pages == math.ceil(len(expected) / 50)
    ids = exported_ids(result)
    assert len(ids) == len(set(ids)) and set(ids) == expected
    statuses = [c["status"] for c in cin7.calls()]
    assert 429 in statuses
    # Every Cin7 page was read in the end (250 rows: pages 1, 2 and the empty page 3).
    assert sorted({c["query"]["page"] for c in sales_order_calls(cin7)
                   if c["status"] == 200}) == ["1", "2", "3"]


@pytest.mark.parametrize("query, name", [
    ("start_date=01%2f01%2f2024+00%3a00&end_date=12%2f31%2f9999+23%3a59", "end_date"),
    ("start_date=01%2f01%2f0001+00%3a00&end_date=01%2f02%2f2024+00%3a00", "start_date"),
    ("start_date=01%2f01%2f2024+00%3a00&end_date=01%2f02%2f2024+00%3a00&page=%D9%A1", "page"),
    ("start_date=01%2f01%2f2024+00%3a00&end_date=01%2f02%2f2024+00%3a00&page=99999999999",
     "page"),
])
def test_out_of_range_window_or_page_is_400_before_cin7_is_asked(shop_api, cin7, query, name):
    api = shop_api()
    response = raw_export(api, "action=export&" + query)
    assert_plain_error(response, 400, name)
    assert sales_order_calls(cin7) == []
