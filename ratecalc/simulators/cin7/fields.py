"""Field tables of the Cin7 Omni simulator: names, types, read-only sets, length limits.

Also the date format every stored date uses (:func:`iso`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .where import parse_date

# Field -> type.  int/number/str/bool/date are filterable and sortable; object/list not.
STR, INT, NUM, BOOL = "str", "int", "number", "bool"
DATE, OBJ, LIST = "date", "object", "list"


def _fields(spec: str, ftype: str) -> dict[str, str]:
    return {name: ftype for name in spec.split()}


ORDER_FIELDS: dict[str, str] = {
    "id": INT, "createdDate": DATE, "modifiedDate": DATE, "createdBy": INT,
    "processedBy": INT, "isApproved": BOOL, "reference": STR, "memberId": INT,
    **_fields("memberEmail firstName lastName company email phone mobile fax", STR),
    **_fields(
        "deliveryFirstName deliveryLastName deliveryCompany deliveryAddress1 deliveryAddress2 "
        "deliveryCity deliveryState deliveryPostalCode deliveryCountry", STR),
    **_fields(
        "billingFirstName billingLastName billingCompany billingAddress1 billingAddress2 "
        "billingCity billingPostalCode billingState billingCountry", STR),
    "branchId": INT, "branchEmail": STR, "projectName": STR, "trackingCode": STR,
    "internalComments": STR, "productTotal": NUM, "freightTotal": NUM,
    "freightDescription": STR, "surcharge": NUM, "surchargeDescription": STR,
    "discountTotal": NUM, "discountDescription": STR, "total": NUM, "currencyCode": STR,
    "currencyRate": NUM, "currencySymbol": STR, "currencyId": INT, "taxStatus": STR,
    "taxRate": NUM, "source": STR, "customFields": OBJ, "status": STR, "stage": STR,
    **_fields("memberCostCenter memberAlternativeTaxRate costCenter alternativeTaxRate", STR),
    "estimatedDeliveryDate": DATE, "salesPersonId": INT, "salesPersonEmail": STR,
    "paymentTerms": STR, "customerOrderNo": STR, "voucherCode": STR,
    "deliveryInstructions": STR, "invoiceDate": DATE, "invoiceNumber": INT,
    "dispatchedDate": DATE, "logisticsCarrier": STR, "logisticsStatus": INT,
    "ediStatus": INT, "distributionBranchId": INT,
    **_fields("departmentNumber storeLocationNumber distributionCenter", STR),
    "isVoid": BOOL, "accountingAttributes": OBJ, "cancellationDate": DATE,
    "modifiedCOGSDate": DATE, "lineItems": LIST,
}

LINE_FIELDS: dict[str, str] = {
    "id": INT, "createdDate": DATE, "transactionId": INT, "parentId": INT,
    "productId": INT, "productOptionId": INT, "integrationRef": STR, "sort": INT,
    "code": STR, "name": STR, "option1": STR, "option2": STR, "option3": STR,
    "qty": NUM, "styleCode": STR, "barcode": STR, "sizeCodes": STR,
    "lineComments": STR, "unitCost": NUM, "unitPrice": NUM, "uomPrice": NUM,
    "discount": NUM, "uomQtyOrdered": NUM, "uomQtyShipped": NUM, "uomSize": NUM,
    "qtyShipped": NUM, "holdingQty": NUM, "accountCode": STR, "stockControl": STR,
    "stockMovements": LIST, "taxRate": NUM,
}

PRODUCT_FIELDS: dict[str, str] = {
    "id": INT, "status": STR, "createdDate": DATE, "modifiedDate": DATE,
    "styleCode": STR, "name": STR, "description": STR, "brand": STR, "category": STR,
    "subCategory": STR, "supplierId": INT, "tags": STR, "channels": STR,
    "weight": NUM, "height": NUM, "width": NUM, "length": NUM, "volume": NUM,
    "images": LIST, "pdfUpload": STR, "stockControl": STR, "orderType": STR,
    "optionLabel1": STR, "optionLabel2": STR, "optionLabel3": STR, "sizeRangeId": INT,
    "customFields": OBJ, "productOptions": LIST,
}

OPTION_FIELDS: dict[str, str] = {
    "id": INT, "productId": INT, "createdDate": DATE, "modifiedDate": DATE,
    "status": STR, "productOptionCode": STR, "productOptionBarcode": STR,
    "productOptionSizeCode": STR, "productOptionSizeBarcode": STR, "supplierCode": STR,
    "option1": STR, "option2": STR, "option3": STR, "optionWeight": NUM, "size": STR,
    "sizeId": INT, "retailPrice": NUM, "wholesalePrice": NUM, "vipPrice": NUM,
    "specialPrice": NUM, "stockAvailable": NUM, "stockOnHand": NUM, "uomOptions": LIST,
    "image": OBJ, "priceColumns": OBJ,
}

STOCK_FIELDS: dict[str, str] = {
    "productId": INT, "productOptionId": INT, "modifiedDate": DATE, "styleCode": STR,
    "code": STR, "barcode": STR, "branchId": INT, "branchName": STR, "productName": STR,
    "option1": STR, "option2": STR, "option3": STR, "size": STR, "available": NUM,
    "stockOnHand": NUM, "openSales": NUM, "incoming": NUM, "virtual": NUM, "holding": NUM,
}

BRANCH_FIELDS: dict[str, str] = {
    "id": INT, "createdDate": DATE, "modifiedDate": DATE, "isActive": BOOL,
    "branchType": STR, "company": STR, "email": STR, "address1": STR, "address2": STR,
    "city": STR, "state": STR, "postCode": STR, "country": STR, "branchLocations": LIST,
}

# Nested projections allowed in ``fields=`` (e.g. ``lineItems(code,qty)``).
NESTED = {
    ("order", "lineItems"): LINE_FIELDS,
    ("product", "productOptions"): OPTION_FIELDS,
}

# PUT: read-only per spec (reference §3.2) plus computed totals (INFERENCE: productTotal and
# total are derived from the lines/charges, so writes to them are ignored).
ORDER_READ_ONLY = frozenset({
    "id", "createdDate", "modifiedDate", "createdBy", "status", "invoiceNumber", "source",
    "cancellationDate", "modifiedCOGSDate", "productTotal", "total", "accountingAttributes",
})
LINE_READ_ONLY = frozenset({
    "id", "createdDate", "transactionId", "parentId", "productId", "qtyShipped",
    "uomQtyShipped", "uomSize", "holdingQty", "sizeCodes", "stockMovements",
    "stockControl",
})
# Max lengths from the spec (reference §2.1).  Too long -> record-level failure.
MAX_LEN = {"reference": 30, "trackingCode": 50, "phone": 50, "mobile": 50, "fax": 50,
           "memberEmail": 250, "voucherCode": 30, "deliveryInstructions": 2000,
           **{k: 250 for k in ORDER_FIELDS
              if k.startswith("delivery") and k != "deliveryInstructions"}}
# Writing any of these recomputes the order total.
MONEY_FIELDS = frozenset({"freightTotal", "surcharge", "discountTotal", "taxRate", "taxStatus"})


def iso(dt: datetime) -> str:
    """``yyyy-MM-ddTHH:mm:ssZ`` in UTC (reference §1.4)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def norm_date(value: Any) -> str | None:
    """A datetime or date string -> :func:`iso`; None or "" -> None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return iso(value)
    return iso(parse_date(str(value)))
