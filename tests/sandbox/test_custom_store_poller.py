"""The ShipStation-side poller's own rule checks.

A tiny Flask app (on a real socket, via ServerThread) serves hand-written export
documents; the poller must flag each bad one through its own rules (no XSD callback
here, so only the poller's checks count) and accept the guide's official example.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask, Response, request

from ratecalc.simulators.server import ServerThread
from tests.support.custom_store_poller import CustomStorePoller, PollResult

STATUS_FIELDS = {"awaiting_payment": "unpaid", "awaiting_shipment": "paid",
                 "shipped": "shipped", "cancelled": "cancelled"}
START = datetime(2012, 1, 23, 17, 28, tzinfo=UTC)
END = datetime(2012, 1, 23, 17, 33, tzinfo=UTC)

# The Custom Store guide's example document, verbatim (shipstation-api.md section 5.3).
OFFICIAL_EXAMPLE = b"""<?xml version="1.0" encoding="utf-8"?>
<Orders pages="1">
  <Order>
    <OrderID><![CDATA[123456]]></OrderID>
    <OrderNumber><![CDATA[ABC123]]></OrderNumber>
    <OrderDate>10/18/2019 21:56 PM</OrderDate>
    <OrderStatus><![CDATA[paid]]></OrderStatus>
    <LastModified>12/8/2011 12:56 PM</LastModified>
    <ShippingMethod><![CDATA[USPSPriorityMail]]></ShippingMethod>
    <PaymentMethod><![CDATA[Credit Card]]></PaymentMethod>
    <CurrencyCode>EUR</CurrencyCode>
    <OrderTotal>123.45</OrderTotal>
    <TaxAmount>0.00</TaxAmount>
    <ShippingAmount>4.50</ShippingAmount>
    <CustomerNotes><![CDATA[Please make sure it gets here by Dec. 22nd!]]></CustomerNotes>
    <InternalNotes><![CDATA[Ship by December 18th via Priority Mail.]]></InternalNotes>
    <Gift>false</Gift>
    <GiftMessage></GiftMessage>
    <CustomField1></CustomField1>
    <CustomField2></CustomField2>
    <CustomField3></CustomField3>
    <Customer>
      <CustomerCode><![CDATA[customer@mystore.com]]></CustomerCode>
      <BillTo>
        <Name><![CDATA[The President]]></Name>
        <Company><![CDATA[US Govt]]></Company>
        <Phone><![CDATA[512-555-5555]]></Phone>
        <Email><![CDATA[customer@mystore.com]]></Email>
      </BillTo>
      <ShipTo>
        <Name><![CDATA[The President]]></Name>
        <Company><![CDATA[US Govt]]></Company>
        <Address1><![CDATA[1600 Pennsylvania Ave]]></Address1>
        <Address2></Address2>
        <City><![CDATA[Washington]]></City>
        <State><![CDATA[DC]]></State>
        <PostalCode><![CDATA[20500]]></PostalCode>
        <Country><![CDATA[US]]></Country>
        <Phone><![CDATA[512-555-5555]]></Phone>
      </ShipTo>
    </Customer>
    <Items>
      <Item>
        <SKU><![CDATA[FD88821]]></SKU>
        <Name><![CDATA[My Product Name]]></Name>
        <ImageUrl><![CDATA[http://www.mystore.com/products/12345.jpg]]></ImageUrl>
        <Weight>8</Weight>
        <WeightUnits>Ounces</WeightUnits>
        <Quantity>2</Quantity>
        <UnitPrice>13.99</UnitPrice>
        <UPC><![CDATA[UPC_VALUE]]></UPC>
        <Location><![CDATA[A1-B2]]></Location>
        <Options>
          <Option><Name><![CDATA[Size]]></Name><Value><![CDATA[Large]]></Value><Weight>10</Weight></Option>
          <Option><Name><![CDATA[Color]]></Name><Value><![CDATA[Green]]></Value><Weight>5</Weight></Option>
        </Options>
      </Item>
      <Item>
        <SKU></SKU>
        <Name><![CDATA[$10 OFF]]></Name>
        <Quantity>1</Quantity>
        <UnitPrice>-10.00</UnitPrice>
        <Adjustment>true</Adjustment>
      </Item>
    </Items>
  </Order>
</Orders>
"""

# The same order with the two-decimal weight a careful store would send: valid everywhere.
GOOD = OFFICIAL_EXAMPLE.replace(b"<Weight>8</Weight>", b"<Weight>8.00</Weight>")


class Store:
    """Serves ``pages[page]`` for action=export; records what the poller asked for."""

    def __init__(self):
        self.pages: dict[int, bytes] = {1: GOOD}
        self.requests: list[dict] = []
        self.app = Flask("fake-custom-store")

        @self.app.route("/store", methods=["GET", "POST"])
        def store():
            self.requests.append({"args": request.args.to_dict(),
                                  "query": request.query_string.decode(),
                                  "auth": request.authorization})
            page = int(request.args.get("page", "1"))
            return Response(self.pages.get(page, b'<Orders pages="1"/>'),
                            content_type="text/xml; charset=utf-8")


@pytest.fixture(scope="module")
def server():
    store = Store()
    with ServerThread(store.app) as running:
        store.url = running.url + "/store"
        yield store


@pytest.fixture
def store(server):
    server.pages = {1: GOOD}
    server.requests.clear()
    return server


def poll(store, document: bytes | None = None, **kwargs) -> PollResult:
    if document is not None:
        store.pages = {1: document}
    poller = CustomStorePoller(store.url, "user", "pass word", status_fields=STATUS_FIELDS,
                               **kwargs)
    return poller.export(START, END)


def test_a_good_document_passes(store):
    result = poll(store)
    assert result.problems == []
    assert result.pages == 1
    assert [o["OrderNumber"] for o in result.orders] == ["ABC123"]
    assert result.orders[0]["shipstation_status"] == "awaiting_shipment"
    adjustment = result.orders[0]["items"][1]
    assert (adjustment["Adjustment"], adjustment["UnitPrice"]) == ("true", "-10.00")




# ------------------------------------------------------------------ helpers
FIRST_ITEM_END = b"</Options>\n      </Item>"


def edit(old: bytes, new: bytes = b"", document: bytes = GOOD) -> bytes:
    """``document`` with the first ``old`` replaced (``old`` must be in it)."""
    assert old in document, old
    return document.replace(old, new, 1)


def problems_of(store, document: bytes, **kwargs) -> list[str]:
    result = poll(store, document, **kwargs)
    assert result.statuses == [200]
    return result.problems


def assert_flagged(problems: list[str], *needles: str) -> None:
    assert problems, "the poller accepted a bad document"
    assert all(p.startswith("page 1") for p in problems), problems
    for needle in needles:
        assert any(needle in p for p in problems), (needle, problems)


# ------------------------------------------------------------------ required elements
MISSING = {
    "OrderNumber": (b"<OrderNumber><![CDATA[ABC123]]></OrderNumber>", "OrderNumber is required"),
    "OrderNumber-blank": (b"<![CDATA[ABC123]]></OrderNumber>", "OrderNumber is required",
                          b"<![CDATA[  ]]></OrderNumber>"),
    "OrderDate": (b"<OrderDate>10/18/2019 21:56 PM</OrderDate>", "OrderDate ''"),
    "Customer/CustomerCode": (b"<CustomerCode><![CDATA[customer@mystore.com]]></CustomerCode>",
                              "Customer/CustomerCode is required"),
    "BillTo/Name": (b"<Name><![CDATA[The President]]></Name>", "Customer/BillTo/Name is required"),
    "ShipTo/Address1": (b"<Address1><![CDATA[1600 Pennsylvania Ave]]></Address1>",
                        "Customer/ShipTo/Address1 is required"),
    "ShipTo/Country": (b"<Country><![CDATA[US]]></Country>", "Customer/ShipTo/Country is required"),
    "Items": (GOOD[GOOD.index(b"<Items>"):GOOD.index(b"</Items>") + len(b"</Items>")],
              "Items is required"),
    "Item/SKU": (b"<SKU><![CDATA[FD88821]]></SKU>", "Item/SKU is required"),
    "Item/SKU-empty": (b"<SKU><![CDATA[FD88821]]></SKU>", "Item/SKU is required", b"<SKU></SKU>"),
    "Item/Name": (b"<Name><![CDATA[My Product Name]]></Name>", "Item/Name is required"),
    "Item/UnitPrice": (b"<UnitPrice>13.99</UnitPrice>", "Item/UnitPrice is required"),
    "Item/Quantity": (b"<Quantity>2</Quantity>", "Item/Quantity ''"),
    "OrderTotal": (b"<OrderTotal>123.45</OrderTotal>", "OrderTotal is required"),
}


@pytest.mark.parametrize("case", MISSING.values(), ids=list(MISSING))
def test_missing_required_element_is_flagged(store, case):
    old, needle, *new = case
    assert_flagged(problems_of(store, edit(old, *new)), needle)


# ------------------------------------------------------------------ values
@pytest.mark.parametrize(("old", "new", "needle"), [
    (b"<![CDATA[ABC123]]></OrderNumber>", b"O" * 51 + b"</OrderNumber>",
     "OrderNumber longer than 50"),
    (b"<![CDATA[customer@mystore.com]]></CustomerCode>", b"c" * 51 + b"</CustomerCode>",
     "Customer/CustomerCode longer than 50"),
    (b"<![CDATA[Please make sure it gets here by Dec. 22nd!]]>", b"n" * 1001,
     "CustomerNotes longer than 1000"),
    (b"<![CDATA[1600 Pennsylvania Ave]]>", b"a" * 201, "Customer/ShipTo/Address1 longer than 200"),
    (b"<![CDATA[FD88821]]>", b"s" * 51, "Item/SKU longer than 50"),
    (b"<![CDATA[My Product Name]]>", b"m" * 201, "Item/Name longer than 200"),
], ids=["OrderNumber", "CustomerCode", "CustomerNotes", "Address1", "SKU", "ItemName"])
def test_too_long_field_is_flagged(store, old, new, needle):
    assert_flagged(problems_of(store, edit(old, new)), needle)


def test_a_field_at_its_limit_passes(store):
    document = edit(b"<![CDATA[ABC123]]></OrderNumber>", b"O" * 50 + b"</OrderNumber>")
    assert problems_of(store, document) == []


@pytest.mark.parametrize(("old", "new", "needle"), [
    (b"<OrderTotal>123.45</OrderTotal>", b"<OrderTotal>123.456</OrderTotal>", "OrderTotal"),
    (b"<ShippingAmount>4.50</ShippingAmount>", b"<ShippingAmount>4.505</ShippingAmount>",
     "ShippingAmount"),
    (b"<UnitPrice>13.99</UnitPrice>", b"<UnitPrice>13.999</UnitPrice>", "Item/UnitPrice"),
    (b"<Weight>8.00</Weight>", b"<Weight>8.125</Weight>", "Item/Weight"),
    (b"<TaxAmount>0.00</TaxAmount>", b"<TaxAmount>1,000.00</TaxAmount>", "TaxAmount"),
], ids=["OrderTotal", "ShippingAmount", "UnitPrice", "Weight", "thousands-separator"])
def test_number_with_more_than_two_decimals_is_flagged(store, old, new, needle):
    assert_flagged(problems_of(store, edit(old, new)), needle, "is not a 2-decimal number")


@pytest.mark.parametrize("value", [b"2019-10-18 21:56", b"10/18/2019", b"18.10.2019 21:56",
                                   b"yesterday", b"10/18/19 21:56", b""])
def test_bad_order_date_is_flagged(store, value):
    document = edit(b"<OrderDate>10/18/2019 21:56 PM</OrderDate>",
                    b"<OrderDate>" + value + b"</OrderDate>")
    assert_flagged(problems_of(store, document), "OrderDate", "is not MM/dd/yyyy HH:mm")


def test_bad_last_modified_is_flagged(store):
    document = edit(b"<LastModified>12/8/2011 12:56 PM</LastModified>",
                    b"<LastModified>2011-12-08T12:56:00Z</LastModified>")
    assert_flagged(problems_of(store, document), "LastModified")


@pytest.mark.parametrize("country", [b"us", b"Us", b"USA", b"U5", b"United States"])
def test_country_must_be_upper_case_alpha_2(store, country):
    document = edit(b"<Country><![CDATA[US]]></Country>", b"<Country>" + country + b"</Country>")
    assert_flagged(problems_of(store, document), "is not ISO alpha-2")


@pytest.mark.parametrize("status", [b"Paid", b"refunded", b"paid "])
def test_unmapped_status_is_flagged(store, status):
    document = edit(b"<![CDATA[paid]]></OrderStatus>", status + b"</OrderStatus>")
    assert_flagged(problems_of(store, document), "is not mapped in ShipStation")


def test_every_mapped_status_passes(store):
    for typed, status in (("unpaid", "awaiting_payment"), ("paid", "awaiting_shipment"),
                          ("shipped", "shipped"), ("cancelled", "cancelled")):
        document = edit(b"<![CDATA[paid]]></OrderStatus>", typed.encode() + b"</OrderStatus>")
        result = poll(store, document)
        assert result.problems == [] and result.orders[0]["shipstation_status"] == status


@pytest.mark.parametrize("price", [b"10.00", b"0.00", b"0"])
def test_adjustment_needs_a_negative_price(store, price):
    document = edit(b"<UnitPrice>-10.00</UnitPrice>", b"<UnitPrice>" + price + b"</UnitPrice>")
    assert_flagged(problems_of(store, document), "an Adjustment needs a negative UnitPrice")


def test_adjustment_of_minus_zero_is_flagged(store):
    document = edit(b"<UnitPrice>-10.00</UnitPrice>", b"<UnitPrice>-0.00</UnitPrice>")
    assert_flagged(problems_of(store, document), "an Adjustment needs a negative UnitPrice")


@pytest.mark.parametrize("quantity", [b"0", b"100000", b"-1", b"1.5", b"two", b""])
def test_quantity_must_be_1_to_99999(store, quantity):
    document = edit(b"<Quantity>2</Quantity>", b"<Quantity>" + quantity + b"</Quantity>")
    assert_flagged(problems_of(store, document), "Item/Quantity", "is not 1..99999")


def test_quantity_limits_pass(store):
    for quantity in (b"1", b"99999"):
        document = edit(b"<Quantity>2</Quantity>", b"<Quantity>" + quantity + b"</Quantity>")
        assert problems_of(store, document) == []


# ------------------------------------------------------------------ documents
@pytest.mark.parametrize("document", [
    b'<?xml version="1.0"?><Orders pages="1"><Order></Orders>',
    b"",
    b"<!doctype html><html><body>Fatal error</body></html>",
    GOOD.replace(b"<![CDATA[The President]]>", b"Smith & Sons", 1),
    GOOD + b"<Orders/>",
], ids=["unclosed", "empty", "html", "bare-ampersand", "two-roots"])
def test_not_well_formed_xml_is_flagged(store, document):
    result = poll(store, document)
    assert_flagged(result.problems, "not well-formed XML")
    assert result.orders == [] and len(store.requests) == 1


@pytest.mark.parametrize(("document", "needle"), [
    (b'<?xml version="1.0"?><Order pages="1"/>', "root is Order, not Orders"),
    (b'<?xml version="1.0"?><orders pages="1"/>', "root is orders, not Orders"),
    (b'<?xml version="1.0"?><Orders/>', "no numeric pages attribute"),
    (b'<?xml version="1.0"?><Orders pages="many"/>', "no numeric pages attribute"),
])
def test_wrong_root_is_flagged(store, document, needle):
    result = poll(store, document)
    assert_flagged(result.problems, needle)
    assert result.orders == []


class Recorder:
    """A store that answers whatever a test sets and records the whole request."""

    def __init__(self):
        self.status = 200
        self.body = GOOD
        self.content_type = "text/xml; charset=utf-8"
        self.requests: list[dict] = []
        self.app = Flask("recording-custom-store")

        @self.app.route("/store", methods=["GET", "POST"])
        def store():
            self.requests.append({
                "method": request.method, "args": request.args.to_dict(),
                "query": request.query_string.decode(),
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "auth": request.authorization, "body": request.get_data()})
            return Response(self.body, status=self.status, content_type=self.content_type)


@pytest.fixture(scope="module")
def recorder_server():
    from tests.conftest import QuickServerThread

    recorder = Recorder()
    with QuickServerThread(recorder.app) as running:
        recorder.url = running.url + "/store"
        yield recorder


@pytest.fixture
def recorder(recorder_server):
    recorder_server.status = 200
    recorder_server.body = GOOD
    recorder_server.content_type = "text/xml; charset=utf-8"
    recorder_server.requests.clear()
    return recorder_server


def make_poller(store, auth: str = "both") -> CustomStorePoller:
    return CustomStorePoller(store.url, "user", "pass word&=%", status_fields=STATUS_FIELDS,
                             auth=auth)


def test_http_error_page_is_flagged(recorder):
    recorder.status = 500
    recorder.body = b"<html><body><h1>500 Internal Server Error</h1></body></html>"
    recorder.content_type = "text/html"
    result = make_poller(recorder).export(START, END)
    assert result.statuses == [500]
    assert_flagged(result.problems, "HTTP 500", "Internal Server Error")
    assert result.documents == [] and result.orders == []
    assert len(recorder.requests) == 1  # no further pages after an error


# ------------------------------------------------------------------ acceptance
def test_the_official_example_passes(store):
    # Verbatim from the guide, with its whole-number weights ("8", Option "10"/"5").
    assert b"<Weight>8</Weight>" in OFFICIAL_EXAMPLE
    result = poll(store, OFFICIAL_EXAMPLE)
    assert result.problems == []
    assert result.pages == 1
    [order] = result.orders
    assert (order["OrderID"], order["OrderNumber"], order["OrderStatus"]) == (
        "123456", "ABC123", "paid")
    assert order["items"][0]["Weight"] == "8" and order["items"][0]["WeightUnits"] == "Ounces"
    assert order["items"][0]["Options"] == [("Size", "Large"), ("Color", "Green")]


def test_the_official_example_is_the_guide_verbatim():
    from pathlib import Path

    guide = Path("/work/shared/reference/shipstation-api.md")
    if not guide.exists():
        pytest.skip("the ShipStation reference notes are not on this machine")
    section = guide.read_text(encoding="utf-8").split("### 5.3", 1)[1]
    example = section.split("```xml\n", 1)[1].split("```", 1)[0]
    assert example.encode() == OFFICIAL_EXAMPLE


@pytest.mark.parametrize("sku", [b"<SKU></SKU>", b"<SKU/>", b""], ids=["empty", "self-closed",
                                                                        "absent"])
def test_adjustment_may_have_no_sku(store, sku):
    document = edit(b"<SKU></SKU>", sku)
    assert document.count(b"<Adjustment>true</Adjustment>") == 1
    result = poll(store, document)
    assert result.problems == []
    assert result.orders[0]["items"][1]["Adjustment"] == "true"


def test_whole_numbers_and_one_decimal_pass(store):
    document = edit(b"<OrderTotal>123.45</OrderTotal>", b"<OrderTotal>123</OrderTotal>")
    document = edit(b"<UnitPrice>13.99</UnitPrice>", b"<UnitPrice>13.9</UnitPrice>", document)
    assert problems_of(store, document) == []


# ------------------------------------------------------------------ paging
def page_document(pages: int, number: str) -> bytes:
    return edit(b"<![CDATA[ABC123]]>", number.encode()).replace(
        b'<Orders pages="1">', f'<Orders pages="{pages}">'.encode())


def test_paging_asks_every_page_and_stops(store):
    store.pages = {n: page_document(3, f"P{n}") for n in (1, 2, 3)}
    store.pages[4] = page_document(3, "P4")  # never asked for
    result = poll(store)
    assert result.problems == []
    assert result.pages == 3 and result.statuses == [200, 200, 200]
    assert [r["args"]["page"] for r in store.requests] == ["1", "2", "3"]
    assert [o["OrderNumber"] for o in result.orders] == ["P1", "P2", "P3"]
    assert len(result.documents) == 3
    for asked in store.requests:  # the same window on every page
        assert asked["args"]["start_date"] == "01/23/2012 17:28"
        assert asked["args"]["end_date"] == "01/23/2012 17:33"


def test_paging_stops_when_pages_is_zero(store):
    store.pages = {1: b'<?xml version="1.0"?><Orders pages="0"/>'}
    result = poll(store)
    assert result.problems == [] and result.orders == []
    assert [r["args"]["page"] for r in store.requests] == ["1"]


# ------------------------------------------------------------------ request shape
@pytest.mark.parametrize("auth", ["basic", "query", "headers", "both"])
def test_credentials_per_auth_mode(recorder, auth):
    result = make_poller(recorder, auth).export(START, END)
    assert result.problems == []
    [asked] = recorder.requests
    basic = asked["auth"]
    if auth in ("basic", "both"):
        assert (basic.type, basic.username, basic.password) == ("basic", "user", "pass word&=%")
    else:
        assert basic is None
    if auth in ("query", "both"):
        assert asked["args"]["SS-UserName"] == "user"
        assert asked["args"]["SS-Password"] == "pass word&=%"
    else:
        assert "SS-UserName" not in asked["args"] and "SS-Password" not in asked["args"]
    if auth == "headers":
        assert asked["headers"]["ss-username"] == "user"
        assert asked["headers"]["ss-password"] == "pass word&=%"
    else:
        assert "ss-username" not in asked["headers"] and "ss-password" not in asked["headers"]


def test_export_request_carries_url_encoded_utc_dates(recorder):
    make_poller(recorder, "basic").export(START, END)
    [asked] = recorder.requests
    assert asked["method"] == "GET"
    assert asked["args"] == {"action": "export", "start_date": "01/23/2012 17:28",
                             "end_date": "01/23/2012 17:33", "page": "1"}
    # On the wire: "/" and ":" escaped, "+" for the space (requests may upper-case escapes).
    assert asked["query"].lower() == ("action=export&start_date=01%2f23%2f2012+17%3a28"
                                      "&end_date=01%2f23%2f2012+17%3a33&page=1")


def test_ship_notify_posts_the_query_and_a_ship_notice(recorder):
    from defusedxml.ElementTree import fromstring

    from ratecalc.shop.notices.parse import parse_ship_notice

    recorder.body = b""
    recorder.content_type = "text/plain"
    response = make_poller(recorder).ship_notify(
        order_number="#1051 & co", order_id="123456", carrier="USPS",
        tracking_number="9400 1000", service="Priority Mail",
        ship_date=datetime(2019, 10, 19, 12, 56, tzinfo=UTC), shipping_cost="4.95",
        notes_to_customer="Thanks & <enjoy> ]]>",
        items=[{"SKU": "FD88821", "Name": "My Product Name", "Quantity": 2,
                "LineItemID": "25590"}])
    assert response.status_code == 200
    [asked] = recorder.requests
    assert asked["method"] == "POST"
    assert asked["args"] == {"action": "shipnotify", "order_number": "#1051 & co",
                             "carrier": "USPS", "service": "Priority Mail",
                             "tracking_number": "9400 1000", "SS-UserName": "user",
                             "SS-Password": "pass word&=%"}
    assert asked["auth"].username == "user"
    assert asked["headers"]["content-type"].startswith("application/xml")
    root = fromstring(asked["body"])
    assert root.tag == "ShipNotice"
    assert {child: root.findtext(child) for child in (
        "OrderNumber", "OrderID", "Carrier", "Service", "TrackingNumber", "ShipDate",
        "ShippingCost", "NotesToCustomer")} == {
        "OrderNumber": "#1051 & co", "OrderID": "123456", "Carrier": "USPS",
        "Service": "Priority Mail", "TrackingNumber": "9400 1000", "ShipDate": "10/19/2019",
        "ShippingCost": "4.95", "NotesToCustomer": "Thanks & <enjoy> ]]>"}
    [item] = root.findall("Items/Item")
    assert {child.tag: child.text for child in item} == {
        "SKU": "FD88821", "Name": "My Product Name", "Quantity": "2", "LineItemID": "25590"}
    notice = parse_ship_notice(asked["body"])  # and ratecalc's own parser takes it
    assert notice.order_number == "#1051 & co" and notice.tracking_number == "9400 1000"


def test_ship_notify_sends_a_given_body_verbatim(recorder):
    body = b'<?xml version="1.0" encoding="utf-8"?>\n<ShipNotice><OrderNumber>X</OrderNumber>'
    make_poller(recorder, "basic").ship_notify(order_number="X", order_id=None, carrier="UPS",
                                               tracking_number="1Z", body=body)
    [asked] = recorder.requests
    assert asked["body"] == body
    assert asked["args"]["action"] == "shipnotify" and asked["args"]["service"] == ""
