"""Cin7 records are read case-insensitively: a PascalCase order exports, rates and updates
exactly like the camelCase one the API documents."""

from __future__ import annotations

from ratecalc.shop.export.document import build_orders_document
from ratecalc.shop.export.eligibility import ImportRules, reasons
from ratecalc.shop.export.options import ExportOptions
from ratecalc.shop.freight import line_weights

from .factories import NOW, jeans_product, product, products_by_id, sales_order, size_line


def pascal(value):
    if isinstance(value, dict):
        return {key[:1].upper() + key[1:]: pascal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [pascal(item) for item in value]
    return value


def test_a_pascal_case_order_exports_the_same_document():
    order = sales_order(lines=[size_line(), *sales_order()["lineItems"]], discountTotal=5)
    products = products_by_id(product(), jeans_product())
    options = ExportOptions(custom_fields=("orders_1000", "customerOrderNo"),
                            gift_message_field="orders_1001")
    camel = build_orders_document([(order, "Fully Picked")], 1, products, options)
    upper = build_orders_document([(pascal(order), "Fully Picked")], 1,
                                  {k: pascal(v) for k, v in products.items()}, options)
    assert b"<Order>" in camel
    assert upper == camel


def test_a_pascal_case_order_is_judged_and_weighed_the_same():
    order = sales_order(stage="New", isApproved=False)
    products = products_by_id(product())
    rules = ImportRules(branch_ids=(9,))
    assert reasons(pascal(order), rules, NOW) == reasons(order, rules, NOW)
    assert [r.rule for r in reasons(order, rules, NOW)] == ["approved", "stage", "branch"]
    assert line_weights(pascal(order), {13: pascal(products[13])}) == line_weights(order,
                                                                                  products)
