"""The Custom Store export document (``<Orders pages="N">``) built from Cin7 Omni orders.

Pure: takes Cin7 sales-order and product dicts as returned by the API (read
through :mod:`ratecalc.upstream.cin7.records`) and returns the XML bytes
ShipStation downloads on ``action=export``.

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

The value rules live in :mod:`ratecalc.shop.export.values` and the ``<Items>`` in
:mod:`ratecalc.shop.export.items`; this module builds the document, its orders
and their customers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime

from lxml import etree

from ratecalc.shop.export.countries import state_code, to_iso2
from ratecalc.shop.export.items import Catalog, add_discount, add_line
from ratecalc.shop.export.options import ExportOptions
from ratecalc.shop.export.values import MAX_LENGTHS as MAX_LENGTHS  # re-exported
from ratecalc.shop.export.values import (
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
from ratecalc.upstream.cin7.records import SalesOrder

log = logging.getLogger(__name__)

MAX_PAGES = 32767  # pages is xs:short

_CURRENCY = re.compile("[A-Z]{3}")


# ---------------------------------------------------------------- orders


def _tax_amount(order: SalesOrder) -> str | None:
    """Cin7 has no tax-total field: ``total`` minus its untaxed parts (INFERENCE).

    ``taxTotal`` is used if present. Exempt -> 0; tax-inclusive orders -> the
    tax inside ``total`` at ``taxRate``; otherwise ``total - productTotal -
    freightTotal - surcharge + discountTotal``. None when it cannot be worked out.
    """
    if to_decimal(order.tax_total) is not None:
        return format_decimal(order.tax_total)
    status = clean_text(order.tax_status).casefold()
    total = to_decimal(order.total)
    if status == "exempt":
        return "0.00"
    if total is None:
        return None
    if status == "incl":
        rate = to_decimal(order.tax_rate)
        if rate is None or rate < 0:
            return None
        return format_decimal(total * rate / (100 + rate))
    products = to_decimal(order.product_total)
    if products is None:
        return None
    untaxed = (products + (to_decimal(order.freight_total) or 0)
               + (to_decimal(order.surcharge) or 0)
               - abs(to_decimal(order.discount_total) or 0))
    tax = total - untaxed
    return format_decimal(tax) if tax >= 0 else None


def _dates(order: SalesOrder) -> tuple[datetime | None, datetime | None]:
    created = order.created_at
    modified = order.modified_at
    return created or modified, modified or created


def _as_order(order) -> SalesOrder | None:
    if isinstance(order, SalesOrder):
        return order
    return SalesOrder(order) if isinstance(order, dict) else None


def export_problem(order: dict | SalesOrder, order_status: str | None) -> str | None:
    """Why the order cannot be exported validly, or None when it can."""
    order = _as_order(order)
    if order is None:
        return "not a sales order"
    if not cut("Order/OrderStatus", order_status):
        return "no order status"
    if _dates(order)[0] is None:
        return "no readable createdDate or modifiedDate"
    country = clean_text(order.delivery_country)
    if not country:
        return "no delivery country"
    if to_iso2(country) is None:
        return "delivery country is not a recognised country"
    return None


def _customer_code(order: SalesOrder) -> str:
    member = clean_text(order.member_id)
    return first(order.email, order.member_email,
                 member if member not in ("", "0") else "", order.reference,
                 order.id)


def _add_customer(element: etree._Element, order: SalesOrder) -> None:
    customer = etree.SubElement(element, "Customer")
    add(customer, "CustomerCode", _customer_code(order), required=True)
    phone = first(order.phone, order.mobile)

    ship_name = first(joined(order.delivery_first_name, order.delivery_last_name),
                      order.delivery_company)
    bill_name = first(joined(order.billing_first_name, order.billing_last_name),
                      joined(order.first_name, order.last_name),
                      order.billing_company, order.company, ship_name)

    bill_to = etree.SubElement(customer, "BillTo")
    add(bill_to, "Name", bill_name or _customer_code(order), required=True)
    add(bill_to, "Company", first(order.billing_company, order.company))
    add(bill_to, "Phone", phone)
    add(bill_to, "Email", first(order.email, order.member_email))
    add(bill_to, "Address1", order.billing_address1)
    add(bill_to, "Address2", order.billing_address2)
    add(bill_to, "City", order.billing_city)
    bill_country = to_iso2(clean_text(order.billing_country))
    add(bill_to, "State", state_code(clean_text(order.billing_state), bill_country))
    add(bill_to, "PostalCode", order.billing_postal_code)
    add(bill_to, "Country", bill_country)

    ship_to = etree.SubElement(customer, "ShipTo")
    country = to_iso2(clean_text(order.delivery_country))
    add(ship_to, "Name", ship_name or bill_name or _customer_code(order), required=True)
    add(ship_to, "Company", order.delivery_company)
    add(ship_to, "Address1", order.delivery_address1, required=True)
    add(ship_to, "Address2", order.delivery_address2)
    add(ship_to, "City", order.delivery_city, required=True)
    add(ship_to, "State", state_code(clean_text(order.delivery_state), country))
    add(ship_to, "PostalCode", order.delivery_postal_code, required=True)
    add(ship_to, "Country", country, required=True)
    add(ship_to, "Phone", phone)


def _order_element(order: SalesOrder, order_status: str, catalog: Catalog,
                   options: ExportOptions) -> etree._Element:
    element = etree.Element("Order")
    order_date, last_modified = _dates(order)
    add(element, "OrderID", order.id)
    add(element, "OrderNumber", first(order.reference, order.id), required=True)
    add_raw(element, "OrderDate", format_datetime(order_date))
    add(element, "OrderStatus", order_status, required=True)
    add_raw(element, "LastModified", format_datetime(last_modified))
    add(element, "ShippingMethod", order.freight_description)
    add(element, "PaymentMethod", order.payment_terms)
    currency = clean_text(order.currency_code).upper()
    if _CURRENCY.fullmatch(currency):
        add_raw(element, "CurrencyCode", currency)
    add_raw(element, "OrderTotal", format_decimal(order.total), required_default="0.00")
    add_raw(element, "TaxAmount", _tax_amount(order))
    add_raw(element, "ShippingAmount", format_decimal(order.freight_total))
    add(element, "CustomerNotes", order.delivery_instructions)
    add(element, "InternalNotes", order.internal_comments)
    if options.gift_message_field:
        message = cut("Order/GiftMessage", order.field(options.gift_message_field))
        add_raw(element, "Gift", "true" if message else "false")
        add(element, "GiftMessage", message)
    for number, field in enumerate(options.custom_fields, start=1):
        add(element, f"CustomField{number}", order.field(field))
    add(element, "Source", order.source)
    _add_customer(element, order)
    items = etree.SubElement(element, "Items")
    for line in order.line_items:
        add_line(items, line, catalog, options)
    add_discount(items, order)
    return element


def build_orders_document(orders: list[tuple[dict | SalesOrder, str]], pages: int,
                          products: Mapping[int, dict], options: ExportOptions) -> bytes:
    """``<?xml ...?><Orders pages="P">`` with one ``<Order>`` per exportable (order, status)."""
    if isinstance(pages, bool) or not isinstance(pages, int) or not 0 <= pages <= MAX_PAGES:
        raise ValueError(f"pages must be an integer from 0 to {MAX_PAGES}")
    catalog = Catalog(products or {})
    root = etree.Element("Orders", pages=str(pages))
    for given, order_status in orders:
        order = _as_order(given)
        problem = export_problem(order if order is not None else given, order_status)
        if problem:
            log.warning("order %s left out of the export: %s",
                        clean_text(order.id) if order is not None else "?", problem)
            continue
        try:
            element = _order_element(order, order_status, catalog, options)
        except (TypeError, ValueError, AttributeError, KeyError, ArithmeticError) as exc:
            # Data Cin7 should never send (e.g. "sizes": true): leave this order out
            # rather than fail the whole page, which ShipStation would reject.
            log.warning("order %s left out of the export: unreadable data (%s)",
                        clean_text(order.id), type(exc).__name__)
            continue
        root.append(element)
    body = etree.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body
