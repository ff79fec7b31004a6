"""Realistic Cin7 Omni sales orders and products (camelCase, as the API returns them).

Field names follow the reference notes (cin7-omni-api.md §2.1, §2.2, §2.4, §4).
Every builder returns a fresh deep copy; pass keyword overrides to change fields.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)

_LINE = {
    "id": 8140, "createdDate": "2024-05-01T02:10:00Z", "transactionId": 2221, "parentId": 0,
    "productId": 13, "productOptionId": 14, "integrationRef": None, "sort": 1,
    "code": "SKU-RED-M", "name": "T-Shirt", "option1": "Red", "option2": "M", "option3": None,
    "qty": 2.0, "styleCode": "TSHIRT", "barcode": "9400000000001", "sizeCodes": None,
    "lineComments": None, "unitCost": 10.0, "unitPrice": 50.0, "uomPrice": 50.0,
    "discount": 0.0, "qtyShipped": 2.0, "holdingQty": 0.0, "accountCode": None,
    "stockControl": "FIFO", "stockMovements": [{"batch": None, "quantity": 2.0, "serial": None}],
    "sizes": [],
}

_ORDER = {
    "id": 2221, "createdDate": "2024-05-01T02:10:00Z", "modifiedDate": "2024-05-02T03:00:00Z",
    "createdBy": 17, "processedBy": 18, "isApproved": True, "reference": "#1050",
    "memberId": 41, "memberEmail": "jane@example.com",
    "firstName": "Jane", "lastName": "Doe", "company": "Acme", "email": "jane@example.com",
    "phone": "09 555 0100", "mobile": "+64 21 000 000", "fax": None,
    "deliveryFirstName": "Jane", "deliveryLastName": "Doe", "deliveryCompany": "Acme Warehouse",
    "deliveryAddress1": "1 Queen St", "deliveryAddress2": "Level 2", "deliveryCity": "Auckland",
    "deliveryState": "Auckland", "deliveryPostalCode": "1010", "deliveryCountry": "New Zealand",
    "billingFirstName": "John", "billingLastName": "Payer", "billingCompany": "Acme Ltd",
    "billingAddress1": "PO Box 1", "billingAddress2": None, "billingCity": "Wellington",
    "billingPostalCode": "6011", "billingState": "Wellington", "billingCountry": "NZ",
    "branchId": 3, "branchEmail": "warehouse@example.com", "projectName": "Shopify",
    "trackingCode": "", "internalComments": "Pack with care", "productTotal": 100.0,
    "freightTotal": 8.5, "freightDescription": "NZ Post Courier", "surcharge": 0.0,
    "surchargeDescription": None, "discountTotal": 0.0, "discountDescription": None,
    "total": 124.78, "currencyCode": "NZD", "currencyRate": 1.0, "currencySymbol": "$",
    "taxStatus": "Excl", "taxRate": 15.0, "source": "Shopify",
    "customFields": {"orders_1000": "Gate code 1234", "orders_1001": "VIP"},
    "status": "APPROVED", "stage": "Fully Picked",
    "estimatedDeliveryDate": "2024-05-03T00:00:00Z", "paymentTerms": "Prepaid",
    "customerOrderNo": "PO-77", "voucherCode": None,
    "deliveryInstructions": "Leave at the door", "invoiceDate": None, "invoiceNumber": None,
    "dispatchedDate": None, "logisticsCarrier": "", "logisticsStatus": 0, "isVoid": False,
    "accountingAttributes": {"importDate": None, "accountingImportStatus": "NotImported"},
    "lineItems": [],
}

_OPTION = {
    "id": 14, "productId": 13, "status": "Primary", "productOptionCode": "SKU-RED-M",
    "productOptionBarcode": "9400000000001", "productOptionSizeCode": None,
    "productOptionSizeBarcode": None, "supplierCode": "SUP-1", "option1": "Red",
    "option2": "M", "option3": None, "optionWeight": 0.25, "size": None, "sizeId": None,
    "retailPrice": 50.0, "wholesalePrice": 30.0, "stockAvailable": 10, "stockOnHand": 12,
    "image": {"link": "https://cdn.example.com/tshirt-red.jpg"},
}

_PRODUCT = {
    "id": 13, "status": "Public", "styleCode": "TSHIRT", "name": "T-Shirt",
    "brand": "Acme", "category": "Apparel", "weight": 0.3, "height": 2.0, "width": 20.0,
    "length": 30.0, "volume": 0.0,
    "images": [{"link": "https://cdn.example.com/tshirt.jpg"}],
    "optionLabel1": "Colour", "optionLabel2": "Size", "optionLabel3": "",
    "sizeRangeId": 0, "customFields": {}, "productOptions": [],
}


def line_item(**overrides) -> dict:
    line = copy.deepcopy(_LINE)
    line.update(overrides)
    return line


def size_line(**overrides) -> dict:
    """A size-range line: ``code`` is the style, the SKUs are in ``sizes[]``."""
    line = line_item(
        id=8150, productId=20, productOptionId=21, code="JEANS", name="Jeans",
        option1="Blue", option2=None, barcode=None, qty=3.0, qtyShipped=3.0, unitPrice=80.0,
        sizeCodes="1|30|JEANS-30|9400000000030\n2|32|JEANS-32|9400000000032",
        sizes=[
            {"name": "30", "code": "JEANS-30", "barcode": "0940000000030", "qty": 1.0},
            {"name": "32", "code": "JEANS-32", "barcode": "9400000000032", "qty": 2.0},
            {"name": "34", "code": "JEANS-34", "barcode": "9400000000034", "qty": 0.0},
        ],
    )
    line.update(overrides)
    return line


def sales_order(*, lines: list[dict] | None = None, **overrides) -> dict:
    order = copy.deepcopy(_ORDER)
    order["lineItems"] = [line_item()] if lines is None else lines
    order.update(overrides)
    return order


def product_option(**overrides) -> dict:
    option = copy.deepcopy(_OPTION)
    option.update(overrides)
    return option


def product(*, options: list[dict] | None = None, **overrides) -> dict:
    item = copy.deepcopy(_PRODUCT)
    item["productOptions"] = [product_option()] if options is None else options
    item.update(overrides)
    return item


def jeans_product() -> dict:
    """The size-range product behind :func:`size_line` (one option per size)."""
    sizes = []
    for number, (size, weight) in enumerate((("30", 0.6), ("32", 0.65), ("34", 0.7))):
        sizes.append(product_option(
            id=21 + number, productId=20, productOptionCode=f"JEANS-{size}",
            productOptionSizeCode=f"JEANS-{size}", productOptionBarcode=None,
            productOptionSizeBarcode=f"94000000000{size}", option1="Blue", option2=None,
            size=size, optionWeight=weight, image=None,
        ))
    return product(id=20, styleCode="JEANS", name="Jeans", weight=0.7,
                   images=[{"link": "https://cdn.example.com/jeans.jpg"}],
                   optionLabel1="Wash", optionLabel2="", sizeRangeId=5, options=sizes)


def products_by_id(*items: dict) -> dict[int, dict]:
    return {item["id"]: item for item in items}
