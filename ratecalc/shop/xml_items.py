"""The ``<Items>`` of an exported order, built from Cin7 line items and products.

A line shipped in a size range becomes one item per size; each item takes its
weight, image, UPC and bin location from the matching product option when the
catalog has one. An order discount is added as a negative adjustment item.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from lxml import etree

from ratecalc.shop.xml_values import (
    MAX_LENGTHS,
    add,
    add_raw,
    clean_text,
    cut,
    first,
    format_decimal,
    image_url,
    to_decimal,
)

if TYPE_CHECKING:
    from ratecalc.shop.xml_export import ExportOptions

# Cin7 account weight unit -> (ShipStation WeightUnits, factor to that unit).
WEIGHT_UNITS: dict[str, tuple[str, Decimal]] = {
    "kilograms": ("Grams", Decimal(1000)),
    "grams": ("Grams", Decimal(1)),
    "pounds": ("Pounds", Decimal(1)),
    "ounces": ("Ounces", Decimal(1)),
}
MAX_QUANTITY = 99999  # Item/Quantity is 1..99999 in the field table
DISCOUNT_NAME = "Discount"


def _quantity(value) -> int:
    number = to_decimal(value)
    if number is None or number <= 0:
        return 0
    whole = int(number.to_integral_value(rounding=ROUND_HALF_UP))
    return min(max(whole, 1), MAX_QUANTITY)


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


# ---------------------------------------------------------------- products


class Catalog:
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
            found = first(*(source.get(k) for k in ("binLocation", "bin", "location")))
            if found:
                return found
    return ""


def _image(product: dict | None, option: dict | None) -> str | None:
    url = image_url(option.get("image")) if option else None
    if url:
        return url
    for image in (product or {}).get("images") or ():
        url = image_url(image)
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
        name_text = cut("Option/Name", name)
        value_text = cut("Option/Value", value)
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
    add(item, "LineItemID", line_item_id)
    add(item, "SKU", sku, required=True)
    add(item, "Name", first(name, sku) or "Item", required=True)
    image = _image(product, option)
    if image:
        etree.SubElement(item, "ImageUrl").text = image
    weight = _weight(product, option, options)
    if weight is not None:
        add_raw(item, "Weight", weight)
        add_raw(item, "WeightUnits", WEIGHT_UNITS[options.weight_units][0])
    add_raw(item, "Quantity", str(quantity))
    add_raw(item, "UnitPrice", format_decimal(unit_price), required_default="0.00")
    upc = _upc(*barcodes)
    if upc:
        add_raw(item, "UPC", upc)
    add(item, "Location", _location(product, option))
    _add_options(item, option_pairs)


def add_line(items: etree._Element, line: dict, catalog: Catalog,
             options: ExportOptions) -> None:
    shipped = _quantity(line.get("qtyShipped"))
    if shipped <= 0:
        return
    line_id = clean_text(line.get("id"))
    product, option = catalog.find(line)
    sizes = _sizes(line)
    if not sizes:
        _add_item(items, line_item_id=line_id, sku=first(line.get("code"),
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
                  sku=first(size_code, line.get("code")), name=line.get("name"),
                  quantity=_quantity(size.get("qty")), unit_price=line.get("unitPrice"),
                  product=size_product, option=size_option, option_pairs=pairs,
                  barcodes=(size.get("barcode"),
                            (size_option or {}).get("productOptionSizeBarcode"),
                            (size_option or {}).get("productOptionBarcode")),
                  options=options)


def add_discount(items: etree._Element, order: dict) -> None:
    discount = to_decimal(order.get("discountTotal"))
    if discount is None or discount <= 0:
        return
    price = format_decimal(-discount)
    if price is None or price == "0.00":
        return
    item = etree.SubElement(items, "Item")
    etree.SubElement(item, "SKU").text = ""
    add(item, "Name", first(order.get("discountDescription")) or DISCOUNT_NAME, required=True)
    add_raw(item, "Quantity", "1")
    add_raw(item, "UnitPrice", price)
    add_raw(item, "Adjustment", "true")
