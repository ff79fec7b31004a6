"""The ``<Items>`` of an exported order, built from Cin7 line items and products.

A line shipped in a size range becomes one item per size; each item takes its
weight, image, UPC and bin location from the matching product option when the
catalog has one. A line's ``discount`` (Cin7: "total line item discount", an
amount for the whole line) is spread over the line's ordered units and taken off
each item's UnitPrice, so the exported lines add up to what the customer pays
(to the cent per unit). An order discount is added as a negative adjustment item.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal

from lxml import etree

from ratecalc.shop.export.options import ExportOptions
from ratecalc.shop.export.values import (
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
from ratecalc.upstream.cin7.records import (
    LineItem,
    Product,
    ProductOption,
    SalesOrder,
    SizeEntry,
)

# Cin7 account weight unit (one of ratecalc.units.WEIGHT_UNITS) ->
# (ShipStation WeightUnits, factor to that unit).
XML_WEIGHT_UNITS: dict[str, tuple[str, Decimal]] = {
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
        self.products = {key: Product(product) for key, product in products.items()
                         if isinstance(product, dict)}
        self.by_option_id: dict[str, tuple[Product, ProductOption]] = {}
        self.by_code: dict[str, tuple[Product, ProductOption]] = {}
        for product in self.products.values():
            for option in product.options:
                if option.id is not None:
                    self.by_option_id[str(option.id)] = (product, option)
                for value in option.codes:
                    code = clean_text(value)
                    if code:
                        self.by_code.setdefault(code.casefold(), (product, option))

    def find(self, line: LineItem, size_code: str = ""
             ) -> tuple[Product | None, ProductOption | None]:
        if size_code and size_code.casefold() in self.by_code:
            return self.by_code[size_code.casefold()]
        option_id = line.product_option_id
        if option_id is not None and str(option_id) in self.by_option_id:
            return self.by_option_id[str(option_id)]
        code = clean_text(line.code)
        if code and code.casefold() in self.by_code:
            return self.by_code[code.casefold()]
        product_id = line.product_id
        product = self.products.get(product_id) if product_id is not None else None
        if product is None and product_id is not None:
            try:
                product = self.products.get(int(product_id))
            except (TypeError, ValueError):
                product = None
        return product, None


def _weight(product: Product | None, option: ProductOption | None,
            options: ExportOptions) -> str | None:
    for weight in (option.weight if option else None, product.weight if product else None):
        weight = to_decimal(weight)
        if weight is not None and weight > 0:
            return format_decimal(weight * XML_WEIGHT_UNITS[options.weight_units][1])
    return None


def _location(product: Product | None, option: ProductOption | None) -> str:
    for source in (option, product):
        if source:
            found = first(*source.bin_locations)
            if found:
                return found
    return ""


def _image(product: Product | None, option: ProductOption | None) -> str | None:
    url = image_url(option.image) if option else None
    if url:
        return url
    for image in product.images if product else ():
        url = image_url(image)
        if url:
            return url
    return None


def _sizes(line: LineItem) -> list[SizeEntry]:
    """Size-range breakdown of a line with qty > 0."""
    return [s for s in line.sizes if _quantity(s.qty) > 0]


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


def _line_options(line: LineItem, product: Product | None) -> list[tuple[str, str]]:
    pairs = []
    for n in (1, 2, 3):
        value = clean_text(line.option(n))
        if value:
            label = clean_text(product.option_label(n) if product else None) or f"Option {n}"
            pairs.append((label, value))
    return pairs


def _add_item(items: etree._Element, *, line_item_id: str, sku, name, quantity: int,
              unit_price, product: Product | None, option: ProductOption | None,
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
        add_raw(item, "WeightUnits", XML_WEIGHT_UNITS[options.weight_units][0])
    add_raw(item, "Quantity", str(quantity))
    add_raw(item, "UnitPrice", format_decimal(unit_price), required_default="0.00")
    upc = _upc(*barcodes)
    if upc:
        add_raw(item, "UPC", upc)
    add(item, "Location", _location(product, option))
    _add_options(item, option_pairs)


def net_unit_price(line: LineItem) -> Decimal | None:
    """``unitPrice`` less the line's ``discount`` per ordered unit, rounded half-up to cents."""
    price = to_decimal(line.unit_price)
    discount = to_decimal(line.discount)
    ordered = to_decimal(line.qty)
    if price is None or not discount or ordered is None or ordered <= 0:
        return price
    net = price - abs(discount) / ordered
    return max(Decimal(0), net).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def add_line(items: etree._Element, line: LineItem, catalog: Catalog,
             options: ExportOptions) -> None:
    shipped = _quantity(line.qty_shipped)
    if shipped <= 0:
        return
    line_id = clean_text(line.id)
    product, option = catalog.find(line)
    sizes = _sizes(line)
    if not sizes:
        _add_item(items, line_item_id=line_id, sku=first(line.code,
                  option.option_code if option else None), name=line.name,
                  quantity=shipped, unit_price=net_unit_price(line), product=product,
                  option=option, option_pairs=_line_options(line, product),
                  barcodes=(line.barcode, option.option_barcode if option else None),
                  options=options)
        return
    for index, size in enumerate(sizes, start=1):
        size_code = clean_text(size.code)
        size_product, size_option = catalog.find(line, size_code)
        size_product = size_product or product
        pairs = _line_options(line, size_product)
        size_name = clean_text(size.name)
        if size_name and all(value.casefold() != size_name.casefold() for _, value in pairs):
            pairs.append(("Size", size_name))
        _add_item(items, line_item_id=f"{line_id}-{index}" if line_id else "",
                  sku=first(size_code, line.code), name=line.name,
                  quantity=_quantity(size.qty), unit_price=net_unit_price(line),
                  product=size_product, option=size_option, option_pairs=pairs,
                  barcodes=(size.barcode,
                            size_option.size_barcode if size_option else None,
                            size_option.option_barcode if size_option else None),
                  options=options)


def add_discount(items: etree._Element, order: SalesOrder) -> None:
    discount = to_decimal(order.discount_total)
    if discount is None or discount <= 0:
        return
    price = format_decimal(-discount)
    if price is None or price == "0.00":
        return
    item = etree.SubElement(items, "Item")
    etree.SubElement(item, "SKU").text = ""
    add(item, "Name", first(order.discount_description) or DISCOUNT_NAME, required=True)
    add_raw(item, "Quantity", "1")
    add_raw(item, "UnitPrice", price)
    add_raw(item, "Adjustment", "true")
