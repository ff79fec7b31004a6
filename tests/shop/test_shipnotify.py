"""``POST /shipstation/custom-store?action=shipnotify``: authenticate, parse safely, persist first.

Everything crosses real sockets: the ShipStation-side poller posts to ratecalc, which
reads and writes the Cin7 simulator. The delivery worker is off (``DELIVERY_WORKER=off``);
tests that need delivery call ``run_once()``. Tests where the database engine matters
run on SQLite and PostgreSQL (``store_url``).
"""

from __future__ import annotations

import base64
import sqlite3
import threading
from datetime import UTC, datetime

import psycopg
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.shop.conftest import STORE_PASSWORD, STORE_USER
from tests.support.custom_store_poller import CustomStorePoller

PATH = "/shipstation/custom-store"
ORDER = 1001  # eligible_nz, reference "#1050"




def poller(api, auth="basic", username=STORE_USER, password=STORE_PASSWORD):
    return CustomStorePoller(api.url + PATH, username, password, auth=auth, timeout=30)


def notify(api, *, order_id=ORDER, order_number="#1050", tracking="1Z999AA10123456784",
           carrier="UPS", service="UPS Ground", auth="basic", **kwargs):
    return poller(api, auth).ship_notify(
        order_number=order_number, order_id=None if order_id is None else str(order_id),
        carrier=carrier, service=service, tracking_number=tracking,
        ship_date=kwargs.pop("ship_date", datetime(2024, 5, 3, tzinfo=UTC)),
        shipping_cost=kwargs.pop("shipping_cost", "7.45"), **kwargs)


def post_raw(api, body: bytes, query: str = "action=shipnotify&order_number=1050"
             "&carrier=UPS&service=Ground&tracking_number=1Z1", **kwargs):
    return requests.post(f"{api.url}{PATH}?{query}", data=body,
                         auth=(STORE_USER, STORE_PASSWORD),
                         headers={"Content-Type": "application/xml"}, timeout=30, **kwargs)


def notices(api, **kwargs):
    return api.shop.store.list_notices(**kwargs)


def comment_markers(cin7, order_id=ORDER) -> int:
    return (cin7.orders[order_id]["internalComments"] or "").count("[ratecalc notice ")


def put_records(cin7, order_id=ORDER) -> list[dict]:
    return [record for call in cin7.calls("PUT", "/v1/SalesOrders")
            for record in (call["json"] or []) if record.get("id") == order_id]


def shipnotify_counts(api) -> dict[str, float]:
    text = api.get("/metrics", auth=False).text
    counts = {}
    for family in text_string_to_metric_families(text):
        if family.name == "ratecalc_shipnotify":
            for sample in family.samples:
                if sample.name == "ratecalc_shipnotify_total":
                    counts[sample.labels["outcome"]] = sample.value
    return counts


# -- authentication -------------------------------------------------------------------------

@pytest.mark.parametrize("auth", ["basic", "query", "headers", "both"])
def test_each_credential_form_is_accepted(shop_api, cin7, auth):
    api = shop_api()
    response = notify(api, auth=auth)
    assert response.status_code == 200, response.text
    [stored] = notices(api)
    assert stored.order_id == ORDER
    assert stored.tracking_number == "1Z999AA10123456784"
    assert stored.status == "pending"


@pytest.mark.parametrize("auth", ["basic", "query", "headers"])
@pytest.mark.parametrize("username,password", [
    (STORE_USER, "wrong-password"),
    ("someone-else", STORE_PASSWORD),
    ("", ""),
])
def test_wrong_credentials_are_401_and_nothing_is_stored(shop_api, cin7, auth, username,
                                                         password):
    api = shop_api()
    response = poller(api, auth, username, password).ship_notify(
        order_number="#1050", order_id=str(ORDER), carrier="UPS", tracking_number="1Z1")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="ratecalc"'
    assert "Traceback" not in response.text
    assert notices(api) == []


def test_no_credentials_at_all_is_401(shop_api, cin7):
    api = shop_api()
    body = CustomStorePoller.notice_xml(order_number="#1050", order_id=str(ORDER),
                                        carrier="UPS", service="", tracking_number="1Z1")
    response = requests.post(f"{api.url}{PATH}?action=shipnotify", data=body, timeout=30)
    assert response.status_code == 401
    assert notices(api) == []


def test_password_in_the_query_with_basic_for_another_user_is_not_a_bypass(shop_api, cin7):
    api = shop_api()
    body = CustomStorePoller.notice_xml(order_number="#1050", order_id=str(ORDER),
                                        carrier="UPS", service="", tracking_number="1Z1")
    token = base64.b64encode(b"intruder:guess").decode()
    response = requests.post(
        f"{api.url}{PATH}?action=shipnotify&SS-UserName={STORE_USER}&SS-Password=nope",
        data=body, headers={"Authorization": f"Basic {token}"}, timeout=30)
    assert response.status_code == 401
    assert notices(api) == []


def test_get_is_not_a_shipnotify(shop_api, cin7):
    api = shop_api()
    response = requests.get(f"{api.url}{PATH}?action=shipnotify",
                            auth=(STORE_USER, STORE_PASSWORD), timeout=30)
    assert response.status_code == 405
    assert notices(api) == []


# -- bad XML and attacks ------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<ShipNotice><OrderID>1001</OrderID><OrderNumber>#1050</OrderNumber>
<TrackingNumber>&lol9;</TrackingNumber><Carrier>UPS</Carrier></ShipNotice>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE ShipNotice [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ShipNotice><OrderID>1001</OrderID><OrderNumber>#1050</OrderNumber>
<TrackingNumber>&xxe;</TrackingNumber><Carrier>UPS</Carrier></ShipNotice>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE ShipNotice SYSTEM "http://127.0.0.1:9/evil.dtd">
<ShipNotice><OrderID>1001</OrderID><TrackingNumber>1Z1</TrackingNumber></ShipNotice>"""

PLAIN_DOCTYPE = b"""<?xml version="1.0"?>
<!DOCTYPE ShipNotice []>
<ShipNotice><OrderID>1001</OrderID><OrderNumber>#1050</OrderNumber>
<TrackingNumber>1Z1</TrackingNumber><Carrier>UPS</Carrier></ShipNotice>"""


@pytest.mark.parametrize("body", [
    pytest.param(b"this is not xml at all", id="garbage"),
    pytest.param(b"<ShipNotice><OrderID>1001</OrderID>", id="truncated"),
    pytest.param(b'{"OrderID": 1001}', id="json"),
    pytest.param(b"<Order><OrderID>1001</OrderID><TrackingNumber>1Z1</TrackingNumber></Order>",
                 id="wrong-root"),
    pytest.param(PLAIN_DOCTYPE, id="doctype"),
    pytest.param(BILLION_LAUGHS, id="billion-laughs"),
    pytest.param(XXE, id="xxe"),
    pytest.param(EXTERNAL_DTD, id="external-dtd"),
    pytest.param(b"<ShipNotice><OrderID>1001</OrderID><ShipDate>31/31/2024</ShipDate>"
                 b"</ShipNotice>", id="bad-date"),
    pytest.param(b"<ShipNotice><OrderID>1001</OrderID><ShippingCost>NaN</ShippingCost>"
                 b"</ShipNotice>", id="nan-cost"),
])
def test_bad_or_hostile_xml_is_400_and_nothing_is_stored(shop_api, cin7, body):
    api = shop_api()
    response = post_raw(api, body)
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "root:" not in response.text  # nothing of /etc/passwd comes back
    assert "Traceback" not in response.text
    assert len(response.text) < 300
    assert notices(api) == []
    assert cin7.calls("PUT") == []


def test_body_over_one_mebibyte_gets_a_real_413(shop_api, cin7):
    api = shop_api()
    head = b"<ShipNotice><OrderID>1001</OrderID><TrackingNumber>1Z1</TrackingNumber><!-- "
    tail = b" --></ShipNotice>"
    body = head + b"x" * (1024 * 1024 + 1 - len(head) - len(tail)) + tail
    assert len(body) == 1024 * 1024 + 1
    response = post_raw(api, body)  # a reset would raise ConnectionError here
    assert response.status_code == 413, response.text
    assert notices(api) == []


def test_chunked_body_over_one_mebibyte_is_refused(shop_api, cin7):
    api = shop_api()

    def chunks():
        yield b"<ShipNotice><OrderID>1001</OrderID><TrackingNumber>1Z1</TrackingNumber><!-- "
        for _ in range(20):
            yield b"x" * 65536
        yield b" --></ShipNotice>"

    response = post_raw(api, chunks())  # no Content-Length: Transfer-Encoding chunked
    assert response.status_code in (400, 413), response.text
    assert notices(api) == []


def test_body_of_exactly_one_mebibyte_is_accepted(shop_api, cin7):
    api = shop_api()
    head = (b"<ShipNotice><OrderID>1001</OrderID><TrackingNumber>1Z1</TrackingNumber>"
            b"<Carrier>UPS</Carrier><!-- ")
    tail = b" --></ShipNotice>"
    body = head + b"x" * (1024 * 1024 - len(head) - len(tail)) + tail
    response = post_raw(api, body)
    assert response.status_code == 200, response.text
    assert len(notices(api)) == 1


def test_empty_body_without_an_order_in_the_query_is_400(shop_api, cin7):
    api = shop_api()
    for query in ("action=shipnotify", "action=shipnotify&tracking_number=1Z1&carrier=UPS",
                  "action=shipnotify&order_number=&tracking_number="):
        response = post_raw(api, b"", query)
        assert response.status_code == 400, (query, response.text)
    assert notices(api) == []


def test_empty_body_and_empty_tracking_number_marks_the_order_shipped(shop_api, cin7):
    """ShipStation's "mark as shipped" without a label: WooCommerce completes the order;
    ratecalc dispatches the whole order and writes no tracking code."""
    api = shop_api()
    order_id = 1009  # line_not_dispatched: one line has qtyShipped 0, the order ships whole
    cin7.orders[order_id]["trackingCode"] = ""
    response = post_raw(api, b"", "action=shipnotify&order_number=SO-1009&carrier="
                                  "&service=&tracking_number=")
    assert response.status_code == 200, response.text
    [stored] = notices(api)
    assert stored.resolved_order_id == order_id and stored.tracking_number is None
    assert api.shop.worker.run_once() == 1
    order = cin7.orders[order_id]
    assert order["stage"] == "Dispatched" and order["dispatchedDate"]
    assert order["trackingCode"] == ""  # no tracking code written
    assert "Marked as shipped in ShipStation" in order["internalComments"]
    [put] = cin7.calls("PUT", "/v1/SalesOrders")
    assert "trackingCode" not in put["json"][0]
    assert api.shop.store.get_notice(stored.id).status == "delivered"
    # Sent again (ShipStation repeats itself): stored once, applied once.
    again = post_raw(api, b"", "action=shipnotify&order_number=SO-1009&tracking_number=")
    assert again.status_code == 200 and "already received" in again.text


def test_empty_body_with_order_and_tracking_in_the_query_is_stored(shop_api, cin7):
    api = shop_api()
    response = post_raw(api, b"", "action=shipnotify&order_number=%231050&carrier=USPS"
                                  "&service=Priority&tracking_number=9400111")
    assert response.status_code == 200, response.text
    [stored] = notices(api)
    assert stored.order_id is None
    assert stored.order_number == "#1050"
    assert (stored.carrier, stored.service, stored.tracking_number) == \
        ("USPS", "Priority", "9400111")


def test_notice_without_any_order_key_is_400(shop_api, cin7):
    api = shop_api()
    body = b"<ShipNotice><TrackingNumber>1Z1</TrackingNumber><Carrier>UPS</Carrier></ShipNotice>"
    response = post_raw(api, body, "action=shipnotify")
    assert response.status_code == 400
    assert notices(api) == []


def test_body_values_win_over_the_query(shop_api, cin7):
    api = shop_api()
    body = CustomStorePoller.notice_xml(order_number="#1050", order_id=str(ORDER),
                                        carrier="FedEx", service="FedEx Ground",
                                        tracking_number="FX-BODY")
    response = post_raw(api, body, "action=shipnotify&order_number=999&carrier=UPS"
                                   "&service=x&tracking_number=QUERY")
    assert response.status_code == 200, response.text
    [stored] = notices(api)
    assert (stored.order_id, stored.carrier, stored.tracking_number) == \
        (ORDER, "FedEx", "FX-BODY")


# -- persist first ----------------------------------------------------------------------------

def test_stored_before_the_200_even_with_cin7_down(shop_api, cin7, store_url):
    api = shop_api(database_url=store_url)
    cin7.set_outage(503)
    response = notify(api)
    assert response.status_code == 200, response.text
    # The 200 is back: the row must already be there (the worker is off).
    [stored] = notices(api)
    assert stored.status == "pending"
    assert stored.order_id == ORDER
    assert stored.payload["shipping_cost"] == "7.45"
    assert cin7.calls("PUT") == []
    # The delivery, attempted during the outage, keeps it: the worker could not
    # even learn which order it names, so it waits with a backoff.
    api.shop.worker.run_once()
    waiting = api.shop.store.get_notice(stored.id)
    assert (waiting.status, waiting.attempts, waiting.resolved_order_id) == ("pending", 1, None)
    assert waiting.last_error
    assert put_records(cin7) == []


def _block_inserts(store_url: str) -> None:
    """Make every insert into shop_notices fail, as a full disk or a broken DB would."""
    if store_url.startswith("sqlite:///"):
        with sqlite3.connect(store_url[len("sqlite:///"):]) as conn:
            conn.execute("CREATE TRIGGER block_notices BEFORE INSERT ON shop_notices "
                         "BEGIN SELECT RAISE(ABORT, 'simulated: database or disk is full'); END")
        return
    with psycopg.connect(store_url, autocommit=True) as conn:
        conn.execute("CREATE FUNCTION block_notices() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$ BEGIN RAISE EXCEPTION 'simulated: could not extend file'; END $$")
        conn.execute("CREATE TRIGGER block_notices BEFORE INSERT ON shop_notices "
                     "FOR EACH ROW EXECUTE FUNCTION block_notices()")


def _unblock_inserts(store_url: str) -> None:
    if store_url.startswith("sqlite:///"):
        with sqlite3.connect(store_url[len("sqlite:///"):]) as conn:
            conn.execute("DROP TRIGGER block_notices")
        return
    with psycopg.connect(store_url, autocommit=True) as conn:
        conn.execute("DROP TRIGGER block_notices ON shop_notices")


def test_database_that_cannot_write_answers_non_2xx(shop_api, cin7, store_url):
    api = shop_api(database_url=store_url)
    _block_inserts(store_url)
    response = notify(api)
    assert response.status_code >= 500, response.text  # ShipStation sends it again later
    assert "Traceback" not in response.text
    assert "password" not in response.text.lower()
    _unblock_inserts(store_url)
    assert notices(api) == []
    # ShipStation's retry then lands.
    response = notify(api)
    assert response.status_code == 200, response.text
    assert len(notices(api)) == 1


# -- duplicates --------------------------------------------------------------------------------

def test_same_notice_twice_is_stored_and_applied_once(shop_api, cin7, store_url):
    api = shop_api(database_url=store_url)
    first = notify(api)
    second = notify(api)
    assert first.status_code == second.status_code == 200
    assert "stored" in first.text and "already received" in second.text
    [stored] = notices(api)
    assert stored.status == "pending"
    assert api.shop.worker.run_once() == 1
    # A repeat after delivery is still the same notification.
    assert notify(api).status_code == 200
    assert len(notices(api)) == 1
    assert api.shop.worker.run_once() == 0
    assert comment_markers(cin7) == 1
    assert len(put_records(cin7)) == 1


def test_one_shipment_spelled_three_ways_is_stored_once(shop_api, cin7):
    """The identity is the resolved order, the tracking number and the carrier's code."""
    api = shop_api()
    assert notify(api, order_id=None, order_number="#1050", tracking="1Z-ABC",
                  carrier="ups").status_code == 200
    assert notify(api, order_id=None, order_number="1050", tracking="1Z-ABC",
                  carrier="UPS").status_code == 200
    assert notify(api, order_id=ORDER, order_number="#1050", tracking="1Z-ABC",
                  carrier="UPS Ground").status_code == 200
    [stored] = notices(api)
    assert stored.resolved_order_id == ORDER


def test_tracking_numbers_differing_in_case_are_two_shipments(shop_api, cin7):
    """Carriers' tracking numbers are case-sensitive: 1z-abc is not 1Z-ABC."""
    api = shop_api()
    notify(api, tracking="1z-abc")
    notify(api, tracking="1Z-ABC")
    assert len(notices(api)) == 2


def test_another_tracking_number_is_another_notification(shop_api, cin7):
    api = shop_api()
    notify(api, tracking="1Z-FIRST")
    notify(api, tracking="1Z-SECOND")
    assert len(notices(api)) == 2


def test_ten_concurrent_duplicates_store_one_row_applied_once(shop_api, cin7, store_url):
    api = shop_api(database_url=store_url)
    barrier = threading.Barrier(10)
    statuses: list[int] = []

    def post():
        client = poller(api)
        body = client.notice_xml(order_number="#1050", order_id=str(ORDER), carrier="UPS",
                                 service="UPS Ground", tracking_number="1ZCONCURRENT")
        barrier.wait()
        statuses.append(client.ship_notify(order_number="#1050", order_id=str(ORDER),
                                           carrier="UPS", tracking_number="1ZCONCURRENT",
                                           body=body).status_code)

    threads = [threading.Thread(target=post) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200] * 10
    assert len(notices(api)) == 1
    while api.shop.worker.run_once():
        pass
    [stored] = notices(api)
    assert stored.status == "delivered"
    assert comment_markers(cin7) == 1
    assert len(put_records(cin7)) == 1


# -- metrics -----------------------------------------------------------------------------------

def test_shipnotify_counter_moves_per_outcome(shop_api, cin7):
    api = shop_api()
    before = shipnotify_counts(api)
    for outcome in ("stored", "duplicate", "rejected", "delivered", "failed"):
        assert outcome in before  # the series exist from the start
    notify(api, tracking="M-1")
    notify(api, tracking="M-1")
    notify(api, tracking="M-2", order_id=None, order_number="NO-SUCH-ORDER")
    post_raw(api, b"<nonsense")
    api.shop.worker.run_once()
    after = shipnotify_counts(api)
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    assert delta["stored"] == 1
    assert delta["duplicate"] == 1
    assert delta["rejected"] == 2  # the unknown order and the nonsense
    assert delta["delivered"] == 1
    assert delta["failed"] == 0


# -- every number and text field bounded at the door ------------------------------------
def _notice_xml(**elements) -> bytes:
    fields = {"OrderID": str(ORDER), "OrderNumber": "#1050", "Carrier": "UPS",
              "Service": "UPS Ground", "TrackingNumber": "1Z999AA10123456784",
              "ShippingCost": "7.45", **elements}
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items() if k != "Items")
    items = fields.get("Items", "<Item><SKU>A</SKU><Quantity>1</Quantity></Item>")
    return f"<ShipNotice>{inner}<Items>{items}</Items></ShipNotice>".encode()


HOSTILE_NOTICES = [
    ({"Items": "<Item><SKU>A</SKU><Quantity>1e1999999</Quantity></Item>"}, "Quantity"),
    ({"Items": "<Item><SKU>A</SKU><Quantity>1000001</Quantity></Item>"}, "Quantity"),
    ({"ShippingCost": "1e99999999"}, "ShippingCost"),
    ({"ShippingCost": "1000000.01"}, "ShippingCost"),
    ({"ShippingCost": "1.23456"}, "ShippingCost"),
    ({"TrackingNumber": "1Z" * 1500}, "TrackingNumber"),
    ({"TrackingNumber": "1Z\x01X"}, "well-formed"),  # XML 1.0 has no control characters
    ({"Carrier": "U" * 101}, "Carrier"),
    ({"OrderNumber": "#" + "9" * 60}, "OrderNumber"),
    ({"OrderID": "9223372036854775808"}, "OrderID"),
    ({"OrderID": "2147483648"}, "OrderID"),
    ({"OrderID": "0"}, "OrderID"),
    ({"OrderID": "\u00b2"}, "OrderID"),
    ({"OrderID": "\u0661\u0660\u0660\u0661"}, "OrderID"),
    ({"LabelCreateDate": "9999-12-31T23:59:59-14:00"}, "LabelCreateDate"),
    ({"InternalNotes": "x" * 2001}, "InternalNotes"),
]


@pytest.mark.parametrize("elements, field", HOSTILE_NOTICES,
                         ids=[field + str(i) for i, (_, field) in enumerate(HOSTILE_NOTICES)])
def test_unbounded_values_are_a_quick_400_naming_the_element(shop_api, cin7, elements, field):
    api = shop_api()
    r = post_raw(api, _notice_xml(**elements))
    assert r.status_code == 400, r.text
    assert field in r.text
    assert r.elapsed.total_seconds() < 2
    assert notices(api) == []


def test_a_nul_in_the_query_tracking_number_is_400(shop_api, cin7):
    api = shop_api()
    r = post_raw(api, b"", query="action=shipnotify&order_number=1050&carrier=UPS"
                 "&tracking_number=1Z%00X")
    assert r.status_code == 400, r.text
    assert "tracking_number" in r.text
    assert notices(api) == []


def test_notes_keep_their_lines_and_tabs(shop_api, cin7):
    api = shop_api()
    r = post_raw(api, _notice_xml(NotesToCustomer="Left at door\n\tBehind the gate"))
    assert r.status_code == 200, r.text
    [row] = notices(api)
    assert row.payload["notes_to_customer"] == "Left at door\n\tBehind the gate"


@pytest.mark.parametrize("header", [b"Basic \xe9", b"Basic \xc3\xa9\xff", b"Basic ====", b"Basic"])
def test_malformed_basic_credentials_are_401(shop_api, cin7, header):
    api = shop_api()
    r = requests.get(f"{api.url}{PATH}?action=export&start_date=01/01/2024%2000:00"
                     "&end_date=01/02/2024%2000:00", headers={"Authorization": header},
                     timeout=30)
    assert r.status_code == 401, r.text
