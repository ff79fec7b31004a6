"""The Custom Store export document (``<Orders pages="N">``) built from Cin7 Omni orders.

Pure: takes Cin7 sales-order and product dicts as returned by the API (camelCase)
and returns the XML bytes ShipStation downloads on ``action=export``.

Rules applied to every value:

* built with lxml, so text is always escaped (no CDATA, no concatenation);
* characters XML 1.0 forbids (C0 controls other than tab/LF/CR, lone
  surrogates, U+FFFE/U+FFFF) are removed, then surrounding whitespace;
* strings are cut to the stricter of ShipStation's field table and the XSD
  (:data:`MAX_LENGTHS`);
* money and weights are decimals with exactly two places, rounded half-up;
  dates are ``MM/dd/yyyy HH:mm`` in UTC; booleans ``true``/``false``;
* optional elements without a value are left out; required ones are always
  present.

An order that cannot be represented validly (no status, no readable date, a
delivery country that is not a country) is left out of the document and
logged; :func:`export_problem` says why, so callers can report it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from urllib.parse import quote, urlsplit, urlunsplit

from lxml import etree

from ratecalc.shop.cin7_dates import parse_cin7_datetime
from ratecalc.shop.countries import state_code, to_iso2

log = logging.getLogger(__name__)

# Stricter of the Custom Store field table and the XSD, per element path.
MAX_LENGTHS: dict[str, int] = {
    "Order/OrderID": 50,
    "Order/OrderNumber": 50,
    "Order/OrderStatus": 50,
    "Order/ShippingMethod": 100,  # table says 1000 (or 100), XSD String100
    "Order/PaymentMethod": 50,
    "Order/CurrencyCode": 3,
    "Order/CustomerNotes": 1000,
    "Order/InternalNotes": 1000,
    "Order/GiftMessage": 1000,
    "Order/CustomField1": 100,
    "Order/CustomField2": 100,
    "Order/CustomField3": 100,
    "Order/RequestedWarehouse": 100,
    "Order/Source": 50,
    "Customer/CustomerCode": 50,  # table 1..50, XSD String100
    "BillTo/Name": 100,
    "BillTo/Company": 100,
    "BillTo/Phone": 50,
    "BillTo/Email": 100,  # table 0..100, XSD unrestricted
    "BillTo/Address1": 200,
    "BillTo/Address2": 200,
    "BillTo/City": 100,
    "BillTo/State": 100,
    "BillTo/PostalCode": 50,
    "BillTo/Country": 2,
    "ShipTo/Name": 100,
    "ShipTo/Company": 100,
    "ShipTo/Address1": 200,
    "ShipTo/Address2": 200,
    "ShipTo/City": 100,
    "ShipTo/State": 100,
    "ShipTo/PostalCode": 50,
    "ShipTo/Country": 2,
    "ShipTo/Phone": 50,
    "Item/LineItemID": 50,
    "Item/SKU": 50,  # table 1..50, XSD String100
    "Item/Name": 200,
    "Item/ImageUrl": 500,  # never cut: a longer URL is left out
    "Item/UPC": 12,
    "Item/Location": 100,
    "Option/Name": 100,
    "Option/Value": 100,
}

# Cin7 account weight unit -> (ShipStation WeightUnits, factor to that unit).
WEIGHT_UNITS: dict[str, tuple[str, Decimal]] = {
    "kilograms": ("Grams", Decimal(1000)),
    "grams": ("Grams", Decimal(1)),
    "pounds": ("Pounds", Decimal(1)),
    "ounces": ("Ounces", Decimal(1)),
}
MAX_CUSTOM_FIELDS = 3
MAX_QUANTITY = 99999  # Item/Quantity is 1..99999 in the field table
MAX_PAGES = 32767  # pages is xs:short
DISCOUNT_NAME = "Discount"

_ILLEGAL_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CURRENCY = re.compile("[A-Z]{3}")
_CENT = Decimal("0.01")
_BAD_PERCENT = re.compile("%(?![0-9A-Fa-f]{2})")
_HOST = re.compile(r"[A-Za-z0-9.-]+")


@dataclass(frozen=True)
class ExportOptions:
    weight_units: str = "kilograms"  # unit of weights in the Cin7 account
    custom_fields: tuple[str, ...] = ()  # Cin7 sales-order fields for CustomField1-3
    # A Cin7 sales-order field holding a gift message; a non-blank value marks the
    # order as a gift. Cin7 has no gift field of its own, so this is off by default.
    gift_message_field: str | None = None

    def __post_init__(self) -> None:
        if self.weight_units not in WEIGHT_UNITS:
            raise ValueError(f"weight_units must be one of: {', '.join(WEIGHT_UNITS)}")
        if len(self.custom_fields) > MAX_CUSTOM_FIELDS:
            raise ValueError(f"at most {MAX_CUSTOM_FIELDS} custom fields")


# ---------------------------------------------------------------- value helpers


def clean_text(value) -> str:
    """Text safe for XML 1.0: illegal characters removed, outer whitespace stripped."""
    if value is None or isinstance(value, dict | list | tuple | set):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _ILLEGAL_XML.sub("", str(value)).strip()


def _cut(path: str, value) -> str:
    return clean_text(value)[: MAX_LENGTHS[path]]


def to_decimal(value) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def format_decimal(value) -> str | None:
    """Exactly two places, half-up; None for a missing or non-numeric value."""
    number = to_decimal(value)
    if number is None:
        return None
    try:
        rounded = number.quantize(_CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:  # too many digits for the context
        return None
    if rounded == 0:
        rounded = Decimal("0.00")  # no "-0.00"
    return f"{rounded:f}"


def format_datetime(value: datetime) -> str:
    """``MM/dd/yyyy HH:mm`` in UTC."""
    value = value.astimezone(UTC)
    return f"{value.month:02d}/{value.day:02d}/{value.year:04d} {value.hour:02d}:{value.minute:02d}"


def _quantity(value) -> int:
    number = to_decimal(value)
    if number is None or number <= 0:
        return 0
    whole = int(number.to_integral_value(rounding=ROUND_HALF_UP))
    return min(max(whole, 1), MAX_QUANTITY)


def _joined(*parts) -> str:
    return " ".join(p for p in (clean_text(part) for part in parts) if p)


def _first(*values) -> str:
    for value in values:
        text = clean_text(value)
        if text:
            return text
    return ""


def _quote_component(text: str, safe: str) -> str:
    text = _BAD_PERCENT.sub("%25", text)  # a "%" that is not an escape
    return quote(text, safe=safe + "%")


def _image_url(value) -> str | None:
    """An absolute http(s) URL that is a valid xs:anyURI, re-escaped; None otherwise."""
    if isinstance(value, dict):
        value = value.get("link")
    text = clean_text(value)
    if not text:
        return None
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port
        if parts.scheme.lower() not in ("http", "https") or not host:
            return None
        host = host.encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        return None
    if not _HOST.fullmatch(host):
        return None
    netloc = host if port is None else f"{host}:{port}"
    url = urlunsplit((parts.scheme.lower(), netloc,
                      _quote_component(parts.path, "/:@!$&'()*+,;=-._~"),
                      _quote_component(parts.query, "/?:@!$&'()*+,;=-._~"),
                      _quote_component(parts.fragment, "/?:@!$&'()*+,;=-._~")))
    return url if len(url) <= MAX_LENGTHS["Item/ImageUrl"] else None


def _upc(*values) -> str | None:
    """A UPC (at most 12 digits). An EAN-13 with a leading 0 is a UPC-A; others are left out."""
    for value in values:
        digits = clean_text(value)
        if not digits.isascii() or not digits.isdigit():
            continue
        if len(digits) == 13 and digits.startswith("0"):
            digits = digits[1:]
        if len(digits) <= MAX_LENGTHS["Item/UPC"]:
            return digits
    return None


def _order_field(order: Mapping, name: str):
    """A sales-order field by name: top level first, then ``customFields`` (case-insensitive)."""
    if name in order:
        return order[name]
    custom = order.get("customFields")
    if isinstance(custom, dict):
        if name in custom:
            return custom[name]
        wanted = name.casefold()
        for key, value in custom.items():
            if str(key).casefold() == wanted:
                return value
    return None


# ---------------------------------------------------------------- element helpers


def _add(parent: etree._Element, tag: str, value, *, path: str | None = None,
         required: bool = False) -> etree._Element | None:
    text = _cut(path or f"{parent.tag}/{tag}", value)
    if not text and not required:
        return None
    element = etree.SubElement(parent, tag)
    element.text = text
    return element


def _add_raw(parent: etree._Element, tag: str, text: str | None,
             required_default: str | None = None) -> None:
    """An element whose text is already formatted (numbers, dates, booleans)."""
    if text is None:
        text = required_default
    if text is None:
        return
    etree.SubElement(parent, tag).text = text


# ---------------------------------------------------------------- products


class _Catalog:
    """Cin7 products indexed for line lookups: by product id, option id and option code."""

    def __init__(self, products: Mapping[int, dict]):
        self.products = products
        self.by_option_id: dict[str, tuple[dict, dict]] = {}
        self.by_code: dict[str, tuple[dict, dict]] = {}
        for product in products.values():
            if not isinstance(product, dict):
                continue
            for option in product.get("productOptions") or ():
                if not isinstance(option, dict):
                    continue
                if option.get("id") is not None:
                    self.by_option_id[str(option["id"])] = (product, option)
                for key in ("productOptionCode", "code", "productOptionSizeCode"):
                    code = clean_text(option.get(key))
                    if code:
                        self.by_code.setdefault(code.casefold(), (product, option))

    def find(self, line: dict, size_code: str = "") -> tuple[dict | None, dict | None]:
        if size_code and size_code.casefold() in self.by_code:
            return self.by_code[size_code.casefold()]
        option_id = line.get("productOptionId")
        if option_id is not None and str(option_id) in self.by_option_id:
            return self.by_option_id[str(option_id)]
        code = clean_text(line.get("code"))
        if code and code.casefold() in self.by_code:
            return self.by_code[code.casefold()]
        product_id = line.get("productId")
        product = self.products.get(product_id) if product_id is not None else None
        if product is None and product_id is not None:
            try:
                product = self.products.get(int(product_id))
            except (TypeError, ValueError):
                product = None
        return (product if isinstance(product, dict) else None), None


def _weight(product: dict | None, option: dict | None, options: ExportOptions) -> str | None:
    for source, key in ((option, "optionWeight"), (product, "weight")):
        if not source:
            continue
        weight = to_decimal(source.get(key))
        if weight is not None and weight > 0:
            return format_decimal(weight * WEIGHT_UNITS[options.weight_units][1])
    return None


def _location(product: dict | None, option: dict | None) -> str:
    # Cin7 documents no per-SKU bin; use one if the product data carries it.
    for source in (option, product):
        if source:
            found = _first(*(source.get(k) for k in ("binLocation", "bin", "location")))
            if found:
                return found
    return ""


def _image(product: dict | None, option: dict | None) -> str | None:
    url = _image_url(option.get("image")) if option else None
    if url:
        return url
    for image in (product or {}).get("images") or ():
        url = _image_url(image)
        if url:
            return url
    return None


def _sizes(line: dict) -> list[dict]:
    """Size-range breakdown of a line with qty > 0: ``sizes[]``, else the packed ``sizeCodes``."""
    sizes = [s for s in line.get("sizes") or () if isinstance(s, dict)]
    if not sizes and isinstance(line.get("sizeCodes"), str):
        # Documented as a packed "Qty|Size|Code|Barcode" string; entries assumed
        # to be separated by newlines or semicolons (UNCONFIRMED).
        for entry in re.split(r"[\r\n;]+", line["sizeCodes"]):
            fields = [f.strip() for f in entry.split("|")]
            if len(fields) >= 3:
                fields += [""] * (4 - len(fields))
                sizes.append({"qty": fields[0], "name": fields[1], "code": fields[2],
                              "barcode": fields[3]})
    return [s for s in sizes if _quantity(s.get("qty")) > 0]


# ---------------------------------------------------------------- items


def _add_options(item: etree._Element, pairs: Iterable[tuple[str, str]]) -> None:
    options_element = None
    for name, value in pairs:
        name_text = _cut("Option/Name", name)
        value_text = _cut("Option/Value", value)
        if not name_text or not value_text:
            continue
        if options_element is None:
            options_element = etree.SubElement(item, "Options")
        option = etree.SubElement(options_element, "Option")
        etree.SubElement(option, "Name").text = name_text
        etree.SubElement(option, "Value").text = value_text


def _line_options(line: dict, product: dict | None) -> list[tuple[str, str]]:
    pairs = []
    for n in (1, 2, 3):
        value = clean_text(line.get(f"option{n}"))
        if value:
            label = clean_text((product or {}).get(f"optionLabel{n}")) or f"Option {n}"
            pairs.append((label, value))
    return pairs


def _add_item(items: etree._Element, *, line_item_id: str, sku, name, quantity: int,
              unit_price, product: dict | None, option: dict | None,
              option_pairs: list[tuple[str, str]], barcodes: tuple,
              options: ExportOptions) -> None:
    item = etree.SubElement(items, "Item")
    _add(item, "LineItemID", line_item_id)
    _add(item, "SKU", sku, required=True)
    _add(item, "Name", _first(name, sku) or "Item", required=True)
    image = _image(product, option)
    if image:
        etree.SubElement(item, "ImageUrl").text = image
    weight = _weight(product, option, options)
    if weight is not None:
        _add_raw(item, "Weight", weight)
        _add_raw(item, "WeightUnits", WEIGHT_UNITS[options.weight_units][0])
    _add_raw(item, "Quantity", str(quantity))
    _add_raw(item, "UnitPrice", format_decimal(unit_price), required_default="0.00")
    upc = _upc(*barcodes)
    if upc:
        _add_raw(item, "UPC", upc)
    _add(item, "Location", _location(product, option))
    _add_options(item, option_pairs)


def _add_line(items: etree._Element, line: dict, catalog: _Catalog,
              options: ExportOptions) -> None:
    shipped = _quantity(line.get("qtyShipped"))
    if shipped <= 0:
        return
    line_id = clean_text(line.get("id"))
    product, option = catalog.find(line)
    sizes = _sizes(line)
    if not sizes:
        _add_item(items, line_item_id=line_id, sku=_first(line.get("code"),
                  (option or {}).get("productOptionCode")), name=line.get("name"),
                  quantity=shipped, unit_price=line.get("unitPrice"), product=product,
                  option=option, option_pairs=_line_options(line, product),
                  barcodes=(line.get("barcode"), (option or {}).get("productOptionBarcode")),
                  options=options)
        return
    for index, size in enumerate(sizes, start=1):
        size_code = clean_text(size.get("code"))
        size_product, size_option = catalog.find(line, size_code)
        size_product = size_product or product
        pairs = _line_options(line, size_product)
        size_name = clean_text(size.get("name"))
        if size_name and all(value.casefold() != size_name.casefold() for _, value in pairs):
            pairs.append(("Size", size_name))
        _add_item(items, line_item_id=f"{line_id}-{index}" if line_id else "",
                  sku=_first(size_code, line.get("code")), name=line.get("name"),
                  quantity=_quantity(size.get("qty")), unit_price=line.get("unitPrice"),
                  product=size_product, option=size_option, option_pairs=pairs,
                  barcodes=(size.get("barcode"),
                            (size_option or {}).get("productOptionSizeBarcode"),
                            (size_option or {}).get("productOptionBarcode")),
                  options=options)


def _add_discount(items: etree._Element, order: dict) -> None:
    discount = to_decimal(order.get("discountTotal"))
    if discount is None or discount <= 0:
        return
    price = format_decimal(-discount)
    if price is None or price == "0.00":
        return
    item = etree.SubElement(items, "Item")
    etree.SubElement(item, "SKU").text = ""
    _add(item, "Name", _first(order.get("discountDescription")) or DISCOUNT_NAME, required=True)
    _add_raw(item, "Quantity", "1")
    _add_raw(item, "UnitPrice", price)
    _add_raw(item, "Adjustment", "true")


# ---------------------------------------------------------------- orders


def _tax_amount(order: dict) -> str | None:
    """Cin7 has no tax-total field: ``total`` minus its untaxed parts (INFERENCE).

    ``taxTotal`` is used if present. Exempt -> 0; tax-inclusive orders -> the
    tax inside ``total`` at ``taxRate``; otherwise ``total - productTotal -
    freightTotal - surcharge + discountTotal``. None when it cannot be worked out.
    """
    if to_decimal(order.get("taxTotal")) is not None:
        return format_decimal(order["taxTotal"])
    status = clean_text(order.get("taxStatus")).casefold()
    total = to_decimal(order.get("total"))
    if status == "exempt":
        return "0.00"
    if total is None:
        return None
    if status == "incl":
        rate = to_decimal(order.get("taxRate"))
        if rate is None or rate < 0:
            return None
        return format_decimal(total * rate / (100 + rate))
    products = to_decimal(order.get("productTotal"))
    if products is None:
        return None
    untaxed = (products + (to_decimal(order.get("freightTotal")) or 0)
               + (to_decimal(order.get("surcharge")) or 0)
               - abs(to_decimal(order.get("discountTotal")) or 0))
    tax = total - untaxed
    return format_decimal(tax) if tax >= 0 else None


def _dates(order: dict) -> tuple[datetime | None, datetime | None]:
    created = parse_cin7_datetime(order.get("createdDate"))
    modified = parse_cin7_datetime(order.get("modifiedDate"))
    return created or modified, modified or created


def export_problem(order: dict, order_status: str | None) -> str | None:
    """Why the order cannot be exported validly, or None when it can."""
    if not isinstance(order, dict):
        return "not a sales order"
    if not _cut("Order/OrderStatus", order_status):
        return "no order status"
    if _dates(order)[0] is None:
        return "no readable createdDate or modifiedDate"
    country = clean_text(order.get("deliveryCountry"))
    if not country:
        return "no delivery country"
    if to_iso2(country) is None:
        return "delivery country is not a recognised country"
    return None


def _customer_code(order: dict) -> str:
    member = clean_text(order.get("memberId"))
    return _first(order.get("email"), order.get("memberEmail"),
                  member if member not in ("", "0") else "", order.get("reference"),
                  order.get("id"))


def _add_customer(element: etree._Element, order: dict) -> None:
    customer = etree.SubElement(element, "Customer")
    _add(customer, "CustomerCode", _customer_code(order), required=True)
    phone = _first(order.get("phone"), order.get("mobile"))

    ship_name = _first(_joined(order.get("deliveryFirstName"), order.get("deliveryLastName")),
                       order.get("deliveryCompany"))
    bill_name = _first(_joined(order.get("billingFirstName"), order.get("billingLastName")),
                       _joined(order.get("firstName"), order.get("lastName")),
                       order.get("billingCompany"), order.get("company"), ship_name)

    bill_to = etree.SubElement(customer, "BillTo")
    _add(bill_to, "Name", bill_name or _customer_code(order), required=True)
    _add(bill_to, "Company", _first(order.get("billingCompany"), order.get("company")))
    _add(bill_to, "Phone", phone)
    _add(bill_to, "Email", _first(order.get("email"), order.get("memberEmail")))
    _add(bill_to, "Address1", order.get("billingAddress1"))
    _add(bill_to, "Address2", order.get("billingAddress2"))
    _add(bill_to, "City", order.get("billingCity"))
    bill_country = to_iso2(clean_text(order.get("billingCountry")))
    _add(bill_to, "State", state_code(clean_text(order.get("billingState")), bill_country))
    _add(bill_to, "PostalCode", order.get("billingPostalCode"))
    _add(bill_to, "Country", bill_country)

    ship_to = etree.SubElement(customer, "ShipTo")
    country = to_iso2(clean_text(order.get("deliveryCountry")))
    _add(ship_to, "Name", ship_name or bill_name or _customer_code(order), required=True)
    _add(ship_to, "Company", order.get("deliveryCompany"))
    _add(ship_to, "Address1", order.get("deliveryAddress1"), required=True)
    _add(ship_to, "Address2", order.get("deliveryAddress2"))
    _add(ship_to, "City", order.get("deliveryCity"), required=True)
    _add(ship_to, "State", state_code(clean_text(order.get("deliveryState")), country))
    _add(ship_to, "PostalCode", order.get("deliveryPostalCode"), required=True)
    _add(ship_to, "Country", country, required=True)
    _add(ship_to, "Phone", phone)


def _order_element(order: dict, order_status: str, catalog: _Catalog,
                   options: ExportOptions) -> etree._Element:
    element = etree.Element("Order")
    order_date, last_modified = _dates(order)
    _add(element, "OrderID", order.get("id"))
    _add(element, "OrderNumber", _first(order.get("reference"), order.get("id")), required=True)
    _add_raw(element, "OrderDate", format_datetime(order_date))
    _add(element, "OrderStatus", order_status, required=True)
    _add_raw(element, "LastModified", format_datetime(last_modified))
    _add(element, "ShippingMethod", order.get("freightDescription"))
    _add(element, "PaymentMethod", order.get("paymentTerms"))
    currency = clean_text(order.get("currencyCode")).upper()
    if _CURRENCY.fullmatch(currency):
        _add_raw(element, "CurrencyCode", currency)
    _add_raw(element, "OrderTotal", format_decimal(order.get("total")), required_default="0.00")
    _add_raw(element, "TaxAmount", _tax_amount(order))
    _add_raw(element, "ShippingAmount", format_decimal(order.get("freightTotal")))
    _add(element, "CustomerNotes", order.get("deliveryInstructions"))
    _add(element, "InternalNotes", order.get("internalComments"))
    if options.gift_message_field:
        message = _cut("Order/GiftMessage", _order_field(order, options.gift_message_field))
        _add_raw(element, "Gift", "true" if message else "false")
        _add(element, "GiftMessage", message)
    for number, field in enumerate(options.custom_fields, start=1):
        _add(element, f"CustomField{number}", _order_field(order, field))
    _add(element, "Source", order.get("source"))
    _add_customer(element, order)
    items = etree.SubElement(element, "Items")
    for line in order.get("lineItems") or ():
        if isinstance(line, dict):
            _add_line(items, line, catalog, options)
    _add_discount(items, order)
    return element


def build_orders_document(orders: list[tuple[dict, str]], pages: int,
                          products: Mapping[int, dict], options: ExportOptions) -> bytes:
    """``<?xml ...?><Orders pages="P">`` with one ``<Order>`` per exportable (order, status)."""
    if isinstance(pages, bool) or not isinstance(pages, int) or not 0 <= pages <= MAX_PAGES:
        raise ValueError(f"pages must be an integer from 0 to {MAX_PAGES}")
    catalog = _Catalog(products or {})
    root = etree.Element("Orders", pages=str(pages))
    for order, order_status in orders:
        problem = export_problem(order, order_status)
        if problem:
            log.warning("order %s left out of the export: %s",
                        clean_text(order.get("id")) if isinstance(order, dict) else "?", problem)
            continue
        root.append(_order_element(order, order_status, catalog, options))
    body = etree.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body
