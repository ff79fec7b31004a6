"""The Custom Store export. Every document built here is validated against the XSD.

Validation uses :func:`tests.support.xsd.validate`, i.e. the shipped schema with
``Order/CurrencyCode`` and ``Item/UPC`` added as optional elements (the copy in
the package predates them); ``test_pristine_schema_lacks_currency_and_upc``
shows why the extended copy is needed.
"""

import logging
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from ratecalc.shop.export.document import (
    MAX_LENGTHS,
    build_orders_document,
    clean_text,
    export_problem,
)
from ratecalc.shop.export.items import XML_WEIGHT_UNITS
from ratecalc.shop.export.options import ExportOptions
from ratecalc.units import WEIGHT_UNITS
from tests.support import xsd

from .factories import (
    jeans_product,
    line_item,
    product,
    product_option,
    products_by_id,
    sales_order,
    size_line,
)

SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
STATUS = "Fully Picked"
DEFAULT_PRODUCTS = products_by_id(product(), jeans_product())
ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def build(orders, *, products=None, options=None, pages=1) -> bytes:
    document = build_orders_document(
        orders, pages, DEFAULT_PRODUCTS if products is None else products,
        options or ExportOptions())
    assert xsd.validate(document) == []
    return document


def export(orders, **kwargs) -> etree._Element:
    return etree.fromstring(build(orders, **kwargs), SAFE_PARSER)


def export_one(order=None, **kwargs) -> etree._Element:
    root = export([(order or sales_order(), STATUS)], **kwargs)
    (order_element,) = root.findall("Order")
    return order_element


def text(element, path):
    found = element.find(path)
    return None if found is None else found.text or ""


def children(element, path=".") -> list[str]:
    return [child.tag for child in element.find(path)]


# ---------------------------------------------------------------- document shape


def test_declaration_and_pages():
    document = build([(sales_order(), STATUS)], pages=3)
    assert document.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<Orders pages="3">')
    assert etree.fromstring(document, SAFE_PARSER).get("pages") == "3"


def test_empty_page_is_valid():
    root = export([], pages=0)
    assert root.tag == "Orders" and len(root) == 0


@pytest.mark.parametrize("pages", [-1, 32768, True, "1", 1.0])
def test_pages_must_fit_xs_short(pages):
    with pytest.raises(ValueError, match="pages"):
        build_orders_document([], pages, {}, ExportOptions())


def test_several_orders_in_order():
    orders = [(sales_order(id=1, reference="A-1"), "New"),
              (sales_order(id=2, reference="A-2"), "Dispatched")]
    root = export(orders)
    assert [text(o, "OrderNumber") for o in root] == ["A-1", "A-2"]
    assert [text(o, "OrderStatus") for o in root] == ["New", "Dispatched"]


# ---------------------------------------------------------------- field mapping


def test_every_mapped_field():
    options = ExportOptions(custom_fields=("orders_1000", "customerOrderNo", "orders_1001"))
    order = export_one(options=options)
    expected = {
        "OrderID": "2221",
        "OrderNumber": "#1050",
        "OrderDate": "05/01/2024 02:10",
        "OrderStatus": "Fully Picked",
        "LastModified": "05/02/2024 03:00",
        "ShippingMethod": "NZ Post Courier",
        "PaymentMethod": "Prepaid",
        "CurrencyCode": "NZD",
        "OrderTotal": "124.78",
        "TaxAmount": "16.28",  # 124.78 - (100 + 8.50)
        "ShippingAmount": "8.50",
        "CustomerNotes": "Leave at the door",
        "InternalNotes": "Pack with care",
        "CustomField1": "Gate code 1234",  # customFields
        "CustomField2": "PO-77",  # a top-level field
        "CustomField3": "VIP",
        "Source": "Shopify",
        "Customer/CustomerCode": "jane@example.com",
        "Customer/BillTo/Name": "John Payer",
        "Customer/BillTo/Company": "Acme Ltd",
        "Customer/BillTo/Phone": "09 555 0100",
        "Customer/BillTo/Email": "jane@example.com",
        "Customer/BillTo/Address1": "PO Box 1",
        "Customer/BillTo/City": "Wellington",
        "Customer/BillTo/State": "Wellington",
        "Customer/BillTo/PostalCode": "6011",
        "Customer/BillTo/Country": "NZ",
        "Customer/ShipTo/Name": "Jane Doe",
        "Customer/ShipTo/Company": "Acme Warehouse",
        "Customer/ShipTo/Address1": "1 Queen St",
        "Customer/ShipTo/Address2": "Level 2",
        "Customer/ShipTo/City": "Auckland",
        "Customer/ShipTo/State": "Auckland",
        "Customer/ShipTo/PostalCode": "1010",
        "Customer/ShipTo/Country": "NZ",
        "Customer/ShipTo/Phone": "09 555 0100",
        "Items/Item/LineItemID": "8140",
        "Items/Item/SKU": "SKU-RED-M",
        "Items/Item/Name": "T-Shirt",
        "Items/Item/ImageUrl": "https://cdn.example.com/tshirt-red.jpg",
        "Items/Item/Weight": "250.00",
        "Items/Item/WeightUnits": "Grams",
        "Items/Item/Quantity": "2",
        "Items/Item/UnitPrice": "50.00",
        "Items/Item/Options/Option[1]/Name": "Colour",
        "Items/Item/Options/Option[1]/Value": "Red",
        "Items/Item/Options/Option[2]/Name": "Size",
        "Items/Item/Options/Option[2]/Value": "M",
    }
    assert {path: text(order, path) for path in expected} == expected
    # Nothing else: no empty optional elements, no Gift (Cin7 has no gift field).
    assert children(order) == [
        "OrderID", "OrderNumber", "OrderDate", "OrderStatus", "LastModified", "ShippingMethod",
        "PaymentMethod", "CurrencyCode", "OrderTotal", "TaxAmount", "ShippingAmount",
        "CustomerNotes", "InternalNotes", "CustomField1", "CustomField2", "CustomField3",
        "Source", "Customer", "Items"]
    assert "Address2" not in children(order, "Customer/BillTo")
    assert children(order, "Items/Item") == [
        "LineItemID", "SKU", "Name", "ImageUrl", "Weight", "WeightUnits", "Quantity",
        "UnitPrice", "Options"]  # 13-digit EAN barcode is not a UPC


def test_phone_falls_back_to_mobile():
    order = export_one(sales_order(phone=""))
    assert text(order, "Customer/BillTo/Phone") == "+64 21 000 000"
    assert text(order, "Customer/ShipTo/Phone") == "+64 21 000 000"


def test_customer_code_falls_back_to_member_id():
    order = export_one(sales_order(email="", memberEmail=None))
    assert text(order, "Customer/CustomerCode") == "41"
    assert text(order, "Customer/BillTo/Email") is None


def test_name_fallbacks():
    order = export_one(sales_order(deliveryFirstName=None, deliveryLastName="",
                                   billingFirstName=None, billingLastName=None))
    assert text(order, "Customer/ShipTo/Name") == "Acme Warehouse"
    assert text(order, "Customer/BillTo/Name") == "Jane Doe"


def test_minimal_order_still_valid():
    bare = {"id": 7, "createdDate": "2024-05-01T00:00:00Z", "deliveryCountry": "AU",
            "lineItems": [{"id": 1, "qty": 1, "qtyShipped": 1}]}
    order = export_one(bare, products={})
    assert text(order, "OrderNumber") == "7"
    assert text(order, "LastModified") == "05/01/2024 00:00"
    assert text(order, "OrderTotal") == "0.00"
    assert text(order, "Customer/CustomerCode") == "7"
    assert text(order, "Customer/ShipTo/Address1") == ""
    assert text(order, "Items/Item/SKU") == ""
    assert text(order, "Items/Item/Name") == "Item"
    assert text(order, "Items/Item/UnitPrice") == "0.00"


def test_us_state_names_become_codes():
    order = export_one(sales_order(deliveryCountry="United States", deliveryState="California",
                                   billingCountry="USA", billingState="new york"))
    assert text(order, "Customer/ShipTo/Country") == "US"
    assert text(order, "Customer/ShipTo/State") == "CA"
    assert text(order, "Customer/BillTo/State") == "NY"


@pytest.mark.parametrize("created, expected", [
    ("2024-05-01T02:10:00Z", "05/01/2024 02:10"),
    ("2024-05-01T02:10:59.9999999", "05/01/2024 02:10"),
    ("2024-05-01T09:30:00+13:00", "04/30/2024 20:30"),
])
def test_dates_are_utc_minutes(created, expected):
    assert text(export_one(sales_order(createdDate=created)), "OrderDate") == expected


@pytest.mark.parametrize("value, expected", [
    (2.675, "2.68"), ("2.675", "2.68"), (0.005, "0.01"), (10, "10.00"), ("1e3", "1000.00"),
    (-0.001, "0.00"), (None, "0.00"), ("n/a", "0.00"), (float("nan"), "0.00"),
])
def test_order_total_two_places_half_up(value, expected):
    assert text(export_one(sales_order(total=value)), "OrderTotal") == expected


@pytest.mark.parametrize("overrides, expected", [
    ({"taxStatus": "Exempt"}, "0.00"),
    ({"taxStatus": "Incl", "total": 115, "taxRate": 15}, "15.00"),
    ({"taxTotal": 3.333}, "3.33"),
    ({"productTotal": None}, None),
    ({"total": 50}, None),  # would be negative
])
def test_tax_amount(overrides, expected):
    assert text(export_one(sales_order(**overrides)), "TaxAmount") == expected


@pytest.mark.parametrize("currency, expected", [("nzd", "NZD"), (" usd ", "USD"),
                                                ("dollars", None), ("", None), (None, None)])
def test_currency_code(currency, expected):
    assert text(export_one(sales_order(currencyCode=currency)), "CurrencyCode") == expected


def test_missing_custom_field_is_left_out():
    order = export_one(options=ExportOptions(custom_fields=("nope", "ORDERS_1001")))
    assert text(order, "CustomField1") is None
    assert text(order, "CustomField2") == "VIP"  # customFields keys match case-insensitively


def test_gift_message_field():
    options = ExportOptions(gift_message_field="orders_1002")
    gift = sales_order(customFields={"orders_1002": "Happy birthday!"})
    order = export_one(gift, options=options)
    assert (text(order, "Gift"), text(order, "GiftMessage")) == ("true", "Happy birthday!")
    order = export_one(sales_order(), options=options)
    assert (text(order, "Gift"), text(order, "GiftMessage")) == ("false", None)


@pytest.mark.parametrize("kwargs", [{"weight_units": "stones"},
                                    {"custom_fields": ("a", "b", "c", "d")}])
def test_export_options_are_checked(kwargs):
    with pytest.raises(ValueError):
        ExportOptions(**kwargs)


# ---------------------------------------------------------------- items


def test_only_shipped_lines_become_items():
    lines = [line_item(), line_item(id=8141, code="SKU-BLUE-L", qtyShipped=0),
             line_item(id=8142, code="SKU-GREEN-S", qtyShipped=1.0, qty=3)]
    items = export_one(sales_order(lines=lines)).findall("Items/Item")
    assert [(text(i, "LineItemID"), text(i, "Quantity")) for i in items] == [
        ("8140", "2"), ("8142", "1")]


@pytest.mark.parametrize("units, weight, expected_weight, expected_units", [
    ("kilograms", 0.25, "250.00", "Grams"),
    ("kilograms", 1.23456, "1234.56", "Grams"),
    ("grams", 250, "250.00", "Grams"),
    ("pounds", 1.125, "1.13", "Pounds"),
    ("ounces", 8, "8.00", "Ounces"),
])
def test_weight_unit_conversion(units, weight, expected_weight, expected_units):
    products = products_by_id(product(options=[product_option(optionWeight=weight)]))
    item = export_one(products=products, options=ExportOptions(weight_units=units)) \
        .find("Items/Item")
    assert (text(item, "Weight"), text(item, "WeightUnits")) == (expected_weight, expected_units)


def test_weight_falls_back_to_product_then_is_left_out():
    products = products_by_id(product(options=[product_option(optionWeight=0)]))
    assert text(export_one(products=products), "Items/Item/Weight") == "300.00"
    products = products_by_id(product(weight=None, options=[product_option(optionWeight=None)]))
    item = export_one(products=products).find("Items/Item")
    assert text(item, "Weight") is None and text(item, "WeightUnits") is None


def test_product_found_by_code_when_option_id_is_unknown():
    order = sales_order(lines=[line_item(productOptionId=999, productId=None)])
    assert text(export_one(order), "Items/Item/Weight") == "250.00"


def test_image_falls_back_to_product_image():
    products = products_by_id(product(options=[product_option(image=None)]))
    assert text(export_one(products=products), "Items/Item/ImageUrl") == \
        "https://cdn.example.com/tshirt.jpg"


@pytest.mark.parametrize("link, expected", [
    ("https://cdn.example.com/a b/é.jpg", "https://cdn.example.com/a%20b/%C3%A9.jpg"),
    ("javascript:alert(1)", None),
    ("ftp://example.com/a.jpg", None),
    ("/relative.jpg", None),
    ("https://example.com/" + "a" * 600, None),
])
def test_image_urls_are_checked(link, expected):
    products = products_by_id(product(images=[], options=[product_option(image={"link": link})]))
    assert text(export_one(products=products), "Items/Item/ImageUrl") == expected


def test_location_from_product_data_when_present():
    products = products_by_id(product(options=[product_option(binLocation="A1-B2")]))
    assert text(export_one(products=products), "Items/Item/Location") == "A1-B2"


@pytest.mark.parametrize("barcode, expected", [
    ("012345678905", "012345678905"),  # UPC-A
    ("0012345678905", "012345678905"),  # EAN-13 holding a UPC-A
    ("9400000000001", None),  # a real EAN-13 does not fit
    ("ABC123", None),
])
def test_upc(barcode, expected):
    products = products_by_id(product(options=[product_option(productOptionBarcode=None)]))
    order = sales_order(lines=[line_item(barcode=barcode)])
    assert text(export_one(order, products=products), "Items/Item/UPC") == expected


def test_options_without_labels_or_values():
    products = products_by_id(product(optionLabel1=None, optionLabel2="Size"))
    order = sales_order(lines=[line_item(option1="Red", option2="", option3="Cotton")])
    options = export_one(order, products=products).findall("Items/Item/Options/Option")
    assert [(text(o, "Name"), text(o, "Value")) for o in options] == [
        ("Option 1", "Red"), ("Option 3", "Cotton")]


def test_size_range_line_becomes_one_item_per_size():
    order = sales_order(lines=[size_line()])
    items = export_one(order).findall("Items/Item")
    assert [
        (text(i, "LineItemID"), text(i, "SKU"), text(i, "Name"), text(i, "Quantity"),
         text(i, "Weight"), text(i, "UPC"), text(i, "ImageUrl"), text(i, "UnitPrice"),
         [(text(o, "Name"), text(o, "Value")) for o in i.findall("Options/Option")])
        for i in items
    ] == [
        ("8150-1", "JEANS-30", "Jeans", "1", "600.00", "940000000030",
         "https://cdn.example.com/jeans.jpg", "80.00", [("Wash", "Blue"), ("Size", "30")]),
        ("8150-2", "JEANS-32", "Jeans", "2", "650.00", None,
         "https://cdn.example.com/jeans.jpg", "80.00", [("Wash", "Blue"), ("Size", "32")]),
    ]


def test_size_codes_string_when_sizes_are_missing():
    order = sales_order(lines=[size_line(sizes=[])])
    items = export_one(order).findall("Items/Item")
    assert [(text(i, "SKU"), text(i, "Quantity"), text(i, "UPC")) for i in items] == [
        ("JEANS-30", "1", None), ("JEANS-32", "2", None)]


def test_unshipped_size_line_is_left_out():
    order = sales_order(lines=[size_line(qtyShipped=0), line_item()])
    assert [text(i, "SKU") for i in export_one(order).findall("Items/Item")] == ["SKU-RED-M"]


@pytest.mark.parametrize("description, name", [("10% off", "10% off"), (None, "Discount")])
def test_order_discount_becomes_adjustment(description, name):
    order = export_one(sales_order(discountTotal=10, discountDescription=description))
    adjustment = order.findall("Items/Item")[-1]
    assert {child.tag: child.text or "" for child in adjustment} == {
        "SKU": "", "Name": name, "Quantity": "1", "UnitPrice": "-10.00", "Adjustment": "true"}


@pytest.mark.parametrize("discount", [0, -5, None, "free", 0.001])
def test_no_adjustment_without_discount(discount):
    order = export_one(sales_order(discountTotal=discount))
    assert order.find("Items/Item/Adjustment") is None


# ---------------------------------------------------------------- left-out orders


@pytest.mark.parametrize("order, status, problem", [
    (sales_order(deliveryCountry="Narnia"), STATUS,
     "delivery country is not a recognised country"),
    (sales_order(deliveryCountry=""), STATUS, "no delivery country"),
    (sales_order(), "", "no order status"),
    (sales_order(), None, "no order status"),
    (sales_order(createdDate=None, modifiedDate="garbage"), STATUS,
     "no readable createdDate or modifiedDate"),
])
def test_unexportable_orders_are_left_out_and_logged(order, status, problem, caplog):
    assert export_problem(order, status) == problem
    with caplog.at_level(logging.WARNING, logger="ratecalc.shop.export.document"):
        root = export([(order, status), (sales_order(id=5), STATUS)])
    assert [text(o, "OrderID") for o in root] == ["5"]
    assert problem in caplog.text


# ---------------------------------------------------------------- hostile text and lengths

HOSTILE = ("Tom & Jerry <b>]]></b> \"q\" 'a' \U0001F600 \x00\x01\x08\x0b\x0c\x1f\ud800"
           "\ufffe\uffff end\r\nline2\ttab &amp; <![CDATA[x]]>")


def expected_clean(value: str, limit: int) -> str:
    return ILLEGAL.sub("", value).strip()[:limit]


def test_hostile_text_round_trips():
    fields = {
        "deliveryInstructions": "CustomerNotes", "internalComments": "InternalNotes",
        "freightDescription": "ShippingMethod", "deliveryCompany": "Customer/ShipTo/Company",
        "deliveryAddress1": "Customer/ShipTo/Address1", "deliveryCity": "Customer/ShipTo/City",
        "billingCompany": "Customer/BillTo/Company", "source": "Source",
    }
    order = sales_order(**dict.fromkeys(fields, HOSTILE),
                        reference="<#1&2]]>\x07", lines=[line_item(name=HOSTILE, option1=HOSTILE)])
    document = build([(order, STATUS)])
    assert b"]]>" not in document.replace(b"?>", b"")  # only escaped ]]&gt; appears
    element = etree.fromstring(document, SAFE_PARSER).find("Order")
    for field, path in fields.items():
        limit = MAX_LENGTHS["/".join(f"Order/{path}".split("/")[-2:])]
        assert text(element, path) == expected_clean(HOSTILE, limit), field
    assert text(element, "OrderNumber") == "<#1&2]]>"
    assert text(element, "Items/Item/Name") == expected_clean(HOSTILE, 200)
    assert text(element, "Items/Item/Options/Option/Value") == expected_clean(HOSTILE, 100)
    assert "\U0001F600" in text(element, "CustomerNotes")
    assert "\r\n" in text(element, "CustomerNotes")


def test_clean_text():
    assert clean_text(" a\x00b\ud800c\uffff ") == "abc"
    assert clean_text(None) == "" and clean_text({"x": 1}) == ""
    assert clean_text(12.5) == "12.5" and clean_text(True) == "true"


def _length_key(element) -> str:
    return f"{element.getparent().tag}/{element.tag}"


def assert_within_lengths(root) -> int:
    checked = 0
    for element in root.iter():
        key = _length_key(element) if element.getparent() is not None else ""
        if key in MAX_LENGTHS:
            assert len(element.text or "") <= MAX_LENGTHS[key], key
            checked += 1
    return checked


def test_long_strings_are_cut():
    long_text = "é" * 3000
    string_fields = [
        "reference", "email", "firstName", "lastName", "company", "phone", "mobile",
        "deliveryFirstName", "deliveryLastName", "deliveryCompany", "deliveryAddress1",
        "deliveryAddress2", "deliveryCity", "deliveryState", "deliveryPostalCode",
        "billingFirstName", "billingLastName", "billingCompany", "billingAddress1",
        "billingAddress2", "billingCity", "billingState", "billingPostalCode",
        "freightDescription", "paymentTerms", "deliveryInstructions", "internalComments",
        "source", "discountDescription",
    ]
    order = sales_order(**dict.fromkeys(string_fields, long_text), discountTotal=1,
                        customFields={"f": long_text},
                        lines=[line_item(code=long_text, name=long_text, option1=long_text)])
    products = products_by_id(product(optionLabel1=long_text, options=[
        product_option(binLocation=long_text)]))
    element = export_one(order, products=products,
                         options=ExportOptions(custom_fields=("f",), gift_message_field="f"))
    assert assert_within_lengths(element) > 30
    for path, limit in [("OrderNumber", 50), ("CustomerNotes", 1000), ("ShippingMethod", 100),
                        ("Customer/CustomerCode", 50), ("Customer/ShipTo/Address1", 200),
                        ("Items/Item/SKU", 50), ("Items/Item/Name", 200),
                        ("Items/Item/Location", 100), ("GiftMessage", 1000),
                        ("Items/Item/Options/Option/Name", 100), ("Customer/BillTo/Email", 100)]:
        assert text(element, path) == "é" * limit, path


# ---------------------------------------------------------------- XSD


OFFICIAL_EXAMPLE = b"""<?xml version="1.0" encoding="utf-8"?>
<Orders pages="1"><Order>
<OrderID><![CDATA[123456]]></OrderID><OrderNumber><![CDATA[ABC123]]></OrderNumber>
<OrderDate>10/18/2019 21:56 PM</OrderDate><OrderStatus><![CDATA[paid]]></OrderStatus>
<LastModified>12/8/2011 12:56 PM</LastModified><CurrencyCode>EUR</CurrencyCode>
<OrderTotal>123.45</OrderTotal><Gift>false</Gift><GiftMessage></GiftMessage>
<Customer><CustomerCode>c@x.com</CustomerCode><BillTo><Name>The President</Name></BillTo>
<ShipTo><Name>P</Name><Address1>1600 Pennsylvania Ave</Address1><Address2></Address2>
<City>Washington</City><PostalCode>20500</PostalCode><Country>US</Country></ShipTo></Customer>
<Items><Item><SKU>FD88821</SKU><Name>My Product Name</Name><Weight>8</Weight>
<WeightUnits>Ounces</WeightUnits><Quantity>2</Quantity><UnitPrice>13.99</UnitPrice>
<UPC><![CDATA[UPC_VALUE]]></UPC><Location>A1-B2</Location></Item>
<Item><SKU></SKU><Name>$10 OFF</Name><Quantity>1</Quantity><UnitPrice>-10.00</UnitPrice>
<Adjustment>true</Adjustment></Item></Items></Order></Orders>"""


def test_official_example_is_valid_against_extended_schema():
    assert xsd.validate(OFFICIAL_EXAMPLE) == []


def test_pristine_schema_lacks_currency_and_upc():
    pristine = etree.XMLSchema(etree.fromstring(xsd.original_schema_bytes(), SAFE_PARSER))
    assert not pristine.validate(etree.fromstring(OFFICIAL_EXAMPLE, SAFE_PARSER))
    messages = " ".join(e.message for e in pristine.error_log)
    assert "CurrencyCode" in messages or "UPC" in messages


def test_validate_reports_errors():
    broken = OFFICIAL_EXAMPLE.replace(b"<Country>US</Country>", b"<Country>USA</Country>")
    assert any("Country" in e for e in xsd.validate(broken))
    assert xsd.validate(b"<Orders><Order>")[0].startswith("not well-formed")
    unknown = OFFICIAL_EXAMPLE.replace(b"<Gift>false</Gift>", b"<Surprise>1</Surprise>")
    assert xsd.validate(unknown)


def test_shipped_schema_is_the_reference_copy():
    reference = Path("/work/shared/reference/shipstation-custom-store.xsd")
    if not reference.exists():
        pytest.skip("reference checkout not available")
    assert xsd.original_schema_bytes() == reference.read_bytes()


# ---------------------------------------------------------------- property test

ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=1100)
ORDER_TEXT_FIELDS = (
    "reference", "email", "memberEmail", "firstName", "lastName", "company", "phone", "mobile",
    "deliveryFirstName", "deliveryLastName", "deliveryCompany", "deliveryAddress1",
    "deliveryAddress2", "deliveryCity", "deliveryState", "deliveryPostalCode",
    "billingFirstName", "billingLastName", "billingCompany", "billingAddress1",
    "billingAddress2", "billingCity", "billingState", "billingPostalCode", "billingCountry",
    "freightDescription", "paymentTerms", "currencyCode", "deliveryInstructions",
    "internalComments", "source", "discountDescription", "taxStatus",
)
LINE_TEXT_FIELDS = ("code", "name", "option1", "option2", "option3", "barcode")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    order_fields=st.fixed_dictionaries({name: ANY_TEXT for name in ORDER_TEXT_FIELDS}),
    line_fields=st.fixed_dictionaries({name: ANY_TEXT for name in LINE_TEXT_FIELDS}),
    labels=st.lists(ANY_TEXT, min_size=4, max_size=4),
    size=st.tuples(ANY_TEXT, ANY_TEXT),
    status=ANY_TEXT.map(lambda value: "S" + value),  # empty statuses are tested above
    custom=ANY_TEXT,
)
def test_arbitrary_text_gives_valid_documents(order_fields, line_fields, labels, size, status,
                                              custom):
    lines = [line_item(**line_fields),
             size_line(sizes=[{"name": size[0], "code": size[1], "barcode": size[0], "qty": 1}])]
    order = sales_order(lines=lines, discountTotal=1, customFields={"f": custom}, **order_fields)
    products = products_by_id(product(
        optionLabel1=labels[0], optionLabel2=labels[1], images=[{"link": labels[2]}],
        options=[product_option(image={"link": "https://x.example/" + labels[3]},
                                binLocation=labels[3])]))
    options = ExportOptions(custom_fields=("f", "reference"), gift_message_field="f")
    document = build([(order, status)], products=products, options=options)  # XSD-valid

    root = etree.fromstring(document, SAFE_PARSER)
    assert_within_lengths(root)
    (element,) = root.findall("Order")
    assert text(element, "OrderStatus") == clean_text(status)[:50]
    notes = clean_text(order_fields["deliveryInstructions"])[:1000]
    assert text(element, "CustomerNotes") == (notes or None)
    assert text(element, "CustomField1") == (clean_text(custom)[:100] or None)
    ship_name = _joined_clean(order_fields, "deliveryFirstName", "deliveryLastName")
    if ship_name:
        assert text(element, "Customer/ShipTo/Name") == ship_name[:100]
    assert len(element.findall("Items/Item")) == 3  # line, one size, discount


def _joined_clean(fields, *names) -> str:
    return " ".join(p for p in (clean_text(fields[n]) for n in names) if p)


def test_an_order_with_unreadable_data_is_left_out_not_fatal(caplog):
    good = sales_order()
    broken = sales_order(id=4242, lines=[size_line(sizes=True)])  # Cin7 never sends this
    document = build_orders_document([(broken, STATUS), (good, STATUS)], 1,
                                     DEFAULT_PRODUCTS, ExportOptions())
    root = etree.fromstring(document, SAFE_PARSER)
    assert [o.findtext("OrderID") for o in root.findall("Order")] == [str(good["id"])]
    assert xsd.validate(document) == []
    assert "order 4242 left out of the export" in caplog.text


def test_every_weight_unit_has_an_xml_unit():
    assert set(XML_WEIGHT_UNITS) == set(WEIGHT_UNITS)
