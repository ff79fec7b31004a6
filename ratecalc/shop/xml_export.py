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

The value rules live in :mod:`ratecalc.shop.xml_values` and the ``<Items>`` in
:mod:`ratecalc.shop.xml_items`; this module builds the document, its orders
and their customers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from ratecalc.shop.cin7_dates import parse_cin7_datetime
from ratecalc.shop.countries import state_code, to_iso2
from ratecalc.shop.xml_items import WEIGHT_UNITS, Catalog, add_discount, add_line
from ratecalc.shop.xml_values import MAX_LENGTHS as MAX_LENGTHS  # re-exported
from ratecalc.shop.xml_values import (
    add,
    add_raw,
    clean_text,
    cut,
    first,
    format_datetime,
    format_decimal,
    joined,
    to_decimal,
)

log = logging.getLogger(__name__)

MAX_CUSTOM_FIELDS = 3
MAX_PAGES = 32767  # pages is xs:short

_CURRENCY = re.compile("[A-Z]{3}")


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
    if not cut("Order/OrderStatus", order_status):
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
    return first(order.get("email"), order.get("memberEmail"),
                 member if member not in ("", "0") else "", order.get("reference"),
                 order.get("id"))


def _add_customer(element: etree._Element, order: dict) -> None:
    customer = etree.SubElement(element, "Customer")
    add(customer, "CustomerCode", _customer_code(order), required=True)
    phone = first(order.get("phone"), order.get("mobile"))

    ship_name = first(joined(order.get("deliveryFirstName"), order.get("deliveryLastName")),
                      order.get("deliveryCompany"))
    bill_name = first(joined(order.get("billingFirstName"), order.get("billingLastName")),
                      joined(order.get("firstName"), order.get("lastName")),
                      order.get("billingCompany"), order.get("company"), ship_name)

    bill_to = etree.SubElement(customer, "BillTo")
    add(bill_to, "Name", bill_name or _customer_code(order), required=True)
    add(bill_to, "Company", first(order.get("billingCompany"), order.get("company")))
    add(bill_to, "Phone", phone)
    add(bill_to, "Email", first(order.get("email"), order.get("memberEmail")))
    add(bill_to, "Address1", order.get("billingAddress1"))
    add(bill_to, "Address2", order.get("billingAddress2"))
    add(bill_to, "City", order.get("billingCity"))
    bill_country = to_iso2(clean_text(order.get("billingCountry")))
    add(bill_to, "State", state_code(clean_text(order.get("billingState")), bill_country))
    add(bill_to, "PostalCode", order.get("billingPostalCode"))
    add(bill_to, "Country", bill_country)

    ship_to = etree.SubElement(customer, "ShipTo")
    country = to_iso2(clean_text(order.get("deliveryCountry")))
    add(ship_to, "Name", ship_name or bill_name or _customer_code(order), required=True)
    add(ship_to, "Company", order.get("deliveryCompany"))
    add(ship_to, "Address1", order.get("deliveryAddress1"), required=True)
    add(ship_to, "Address2", order.get("deliveryAddress2"))
    add(ship_to, "City", order.get("deliveryCity"), required=True)
    add(ship_to, "State", state_code(clean_text(order.get("deliveryState")), country))
    add(ship_to, "PostalCode", order.get("deliveryPostalCode"), required=True)
    add(ship_to, "Country", country, required=True)
    add(ship_to, "Phone", phone)


def _order_element(order: dict, order_status: str, catalog: Catalog,
                   options: ExportOptions) -> etree._Element:
    element = etree.Element("Order")
    order_date, last_modified = _dates(order)
    add(element, "OrderID", order.get("id"))
    add(element, "OrderNumber", first(order.get("reference"), order.get("id")), required=True)
    add_raw(element, "OrderDate", format_datetime(order_date))
    add(element, "OrderStatus", order_status, required=True)
    add_raw(element, "LastModified", format_datetime(last_modified))
    add(element, "ShippingMethod", order.get("freightDescription"))
    add(element, "PaymentMethod", order.get("paymentTerms"))
    currency = clean_text(order.get("currencyCode")).upper()
    if _CURRENCY.fullmatch(currency):
        add_raw(element, "CurrencyCode", currency)
    add_raw(element, "OrderTotal", format_decimal(order.get("total")), required_default="0.00")
    add_raw(element, "TaxAmount", _tax_amount(order))
    add_raw(element, "ShippingAmount", format_decimal(order.get("freightTotal")))
    add(element, "CustomerNotes", order.get("deliveryInstructions"))
    add(element, "InternalNotes", order.get("internalComments"))
    if options.gift_message_field:
        message = cut("Order/GiftMessage", _order_field(order, options.gift_message_field))
        add_raw(element, "Gift", "true" if message else "false")
        add(element, "GiftMessage", message)
    for number, field in enumerate(options.custom_fields, start=1):
        add(element, f"CustomField{number}", _order_field(order, field))
    add(element, "Source", order.get("source"))
    _add_customer(element, order)
    items = etree.SubElement(element, "Items")
    for line in order.get("lineItems") or ():
        if isinstance(line, dict):
            add_line(items, line, catalog, options)
    add_discount(items, order)
    return element


def build_orders_document(orders: list[tuple[dict, str]], pages: int,
                          products: Mapping[int, dict], options: ExportOptions) -> bytes:
    """``<?xml ...?><Orders pages="P">`` with one ``<Order>`` per exportable (order, status)."""
    if isinstance(pages, bool) or not isinstance(pages, int) or not 0 <= pages <= MAX_PAGES:
        raise ValueError(f"pages must be an integer from 0 to {MAX_PAGES}")
    catalog = Catalog(products or {})
    root = etree.Element("Orders", pages=str(pages))
    for order, order_status in orders:
        problem = export_problem(order, order_status)
        if problem:
            log.warning("order %s left out of the export: %s",
                        clean_text(order.get("id")) if isinstance(order, dict) else "?", problem)
            continue
        try:
            element = _order_element(order, order_status, catalog, options)
        except (TypeError, ValueError, AttributeError, KeyError, ArithmeticError) as exc:
            # Data Cin7 should never send (e.g. "sizes": true): leave this order out
            # rather than fail the whole page, which ShipStation would reject.
            log.warning("order %s left out of the export: unreadable data (%s)",
                        clean_text(order.get("id")), type(exc).__name__)
            continue
        root.append(element)
    body = etree.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body
