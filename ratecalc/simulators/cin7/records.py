"""Stored records of the Cin7 simulator: branches, products, orders and their lines, filled
with the defaults Cin7 returns, plus the derived order fields (status, totals)."""

from __future__ import annotations

import copy
import threading
from typing import Any

from .fields import DATE, ORDER_FIELDS, iso, norm_date


def order_status(order: dict) -> str:
    # status is read-only and derived; the API returns it upper-case (reference §2.3).
    if order.get("isVoid"):
        return "VOID"
    return "APPROVED" if order.get("isApproved") else "DRAFT"


def recompute_totals(order: dict, products: bool = True) -> None:
    # INFERENCE: productTotal = sum(qty*unitPrice - line discount); total adds freight and
    # surcharge, subtracts discountTotal (stored positive), and adds tax when prices are
    # tax-exclusive (reference §2.1/§3.4 say total includes all of these; unverified).
    if products:
        order["productTotal"] = round(sum(
            (ln.get("qty") or 0) * (ln.get("unitPrice") or 0) - (ln.get("discount") or 0)
            for ln in order.get("lineItems") or []), 2)
    base = ((order.get("productTotal") or 0) + (order.get("freightTotal") or 0)
            + (order.get("surcharge") or 0) - (order.get("discountTotal") or 0))
    if str(order.get("taxStatus") or "").lower() == "excl":
        base *= 1 + (order.get("taxRate") or 0) / 100
    order["total"] = round(base, 2)


def pack_size_codes(sizes: list[dict]) -> str:
    """``sizeCodes`` as the published line model has it: "Qty|Size|Code|Barcode" per size.
    UNCONFIRMED: how entries are separated; ';' is chosen here (ratecalc reads ';' or a
    newline)."""
    return ";".join(f"{s.get('qty') or 0:g}|{s.get('name') or ''}|{s.get('code') or ''}|"
                    f"{s.get('barcode') or ''}" for s in sizes)


def unpack_size_codes(text: str) -> list[tuple[float, str, str, str]]:
    out = []
    for entry in str(text).replace("\n", ";").split(";"):
        fields = [f.strip() for f in entry.split("|")] + ["", "", ""]
        try:
            out.append((float(fields[0] or 0), fields[1], fields[2], fields[3]))
        except ValueError:
            continue
    return out


class RecordsMixin:
    """Adds records to a :class:`~.cin7.Cin7Simulator`, whose ``__init__`` sets the state
    below (and provides ``now()``)."""

    _lock: threading.RLock
    orders: dict[int, dict]
    products: dict[int, dict]
    product_options: dict[int, dict]
    branches: dict[int, dict]
    _next_order_id: int
    _next_line_id: int
    _next_product_id: int
    _next_option_id: int

    def add_branch(self, branch: dict) -> dict:
        with self._lock:
            b = dict(branch)
            b.setdefault("id", max(self.branches, default=0) + 1)
            now = iso(self.now())
            b.setdefault("createdDate", now)
            b.setdefault("modifiedDate", now)
            b.setdefault("branchLocations", [])
            self.branches[b["id"]] = b
            return b

    def add_product(self, product: dict) -> dict:
        """Store a product (style) with nested productOptions; fills ids/defaults."""
        with self._lock:
            now = iso(self.now())
            p = {
                "id": None, "status": "Public", "createdDate": now, "modifiedDate": now,
                "styleCode": None, "name": None, "description": None, "brand": None,
                "category": None, "subCategory": None, "supplierId": 0, "tags": None,
                "channels": None, "weight": 0.0, "height": 0.0, "width": 0.0, "length": 0.0,
                "volume": 0.0, "images": [], "pdfUpload": None, "stockControl": "FIFO",
                "orderType": "Stock", "optionLabel1": None, "optionLabel2": None,
                "optionLabel3": None, "sizeRangeId": 0, "customFields": {},
                "productOptions": [],
            }
            p.update(copy.deepcopy(product))
            if p["id"] is None:
                p["id"] = max(self._next_product_id, max(self.products, default=0) + 1)
            if p["id"] in self.products:
                raise ValueError(f"product {p['id']} already exists")
            self._next_product_id = max(self._next_product_id, p["id"] + 1)
            for k in ("createdDate", "modifiedDate"):
                p[k] = norm_date(p[k])
            options = []
            for raw in p["productOptions"] or []:
                o = {
                    "id": None, "productId": p["id"], "createdDate": p["createdDate"],
                    "modifiedDate": p["modifiedDate"], "status": "Active",
                    "productOptionCode": None, "productOptionBarcode": None,
                    "productOptionSizeCode": None, "productOptionSizeBarcode": None,
                    "supplierCode": None, "option1": None, "option2": None, "option3": None,
                    "optionWeight": 0.0, "size": None, "sizeId": 0, "retailPrice": 0.0,
                    "wholesalePrice": 0.0, "vipPrice": 0.0, "specialPrice": 0.0,
                    "stockAvailable": 0.0, "stockOnHand": 0.0, "uomOptions": [],
                    "image": None, "priceColumns": {},
                }
                o.update(raw)
                o["productId"] = p["id"]
                if o["id"] is None:
                    o["id"] = max(self._next_option_id,
                                  max(self.product_options, default=0) + 1)
                self._next_option_id = max(self._next_option_id, o["id"] + 1)
                options.append(o)
                self.product_options[o["id"]] = o
            p["productOptions"] = options
            self.products[p["id"]] = p
            return p

    def _find_option(self, option_id: Any = None, code: Any = None):
        if option_id and option_id in self.product_options:
            return self.product_options[option_id]
        if code:
            for o in self.product_options.values():
                if code in (o["productOptionCode"], o["productOptionSizeCode"]):
                    return o
        return None

    def _new_line(self, raw: dict, order_id: int, sort: int, created: str) -> dict:
        line = {
            "id": None, "createdDate": created, "transactionId": order_id, "parentId": 0,
            "productId": None, "productOptionId": None, "integrationRef": None, "sort": sort,
            "code": None, "name": None, "option1": None, "option2": None, "option3": None,
            "qty": 0.0, "styleCode": None, "barcode": None, "sizeCodes": None,
            "lineComments": None, "unitCost": 0.0, "unitPrice": 0.0, "uomPrice": 0.0,
            "discount": 0.0, "uomQtyOrdered": 0.0, "uomQtyShipped": 0.0, "uomSize": None,
            "qtyShipped": 0.0, "holdingQty": 0.0, "accountCode": None, "stockControl": "FIFO",
            "stockMovements": [], "taxRate": None,
        }
        line.update(copy.deepcopy(raw))
        # Published Cin7 line items have no sizes[] array: a size breakdown given here
        # (a seeding convenience) is packed into sizeCodes, as the API returns it.
        sizes = line.pop("sizes", None) or []
        if line["id"] is None:
            line["id"] = self._next_line_id
        self._next_line_id = max(self._next_line_id, int(line["id"]) + 1)
        line["transactionId"] = order_id
        line["createdDate"] = norm_date(line["createdDate"]) or created
        # Fill product details from the catalogue when only an option id / code is given.
        opt = self._find_option(line.get("productOptionId"), line.get("code"))
        if opt is not None and not sizes and not line["sizeCodes"]:
            prod = self.products.get(opt["productId"], {})
            line["productOptionId"] = line["productOptionId"] or opt["id"]
            line["productId"] = line["productId"] or opt["productId"]
            line["code"] = line["code"] or opt["productOptionCode"]
            line["name"] = line["name"] or prod.get("name")
            line["styleCode"] = line["styleCode"] or prod.get("styleCode")
            line["barcode"] = line["barcode"] or opt["productOptionBarcode"]
            for k in ("option1", "option2", "option3"):
                if line[k] is None:
                    line[k] = opt[k]
        for k in ("productId", "productOptionId"):
            if line[k] is None:
                line[k] = 0
        if sizes and line["sizeCodes"] is None:
            line["sizeCodes"] = pack_size_codes(sizes)
        if line["sizeCodes"] and not line["qty"]:
            line["qty"] = float(sum(qty for qty, *_ in unpack_size_codes(line["sizeCodes"])))
        if not line["uomQtyOrdered"]:
            line["uomQtyOrdered"] = line["qty"]
        line["uomQtyShipped"] = line["qtyShipped"]
        return line

    def add_order(self, order: dict) -> dict:
        """Store a sales order; fills every field Cin7 returns (defaults), ids, dates, lines,
        status and totals (unless given).  Returns the stored dict (same object as
        ``self.orders[id]``).  Dates may be datetimes or strings."""
        with self._lock:
            now = iso(self.now())
            o: dict[str, Any] = {name: None for name in ORDER_FIELDS}
            o.update({
                "createdBy": 0, "processedBy": 0, "isApproved": True, "memberId": 0,
                "branchId": 1, "freightTotal": 0.0, "surcharge": 0.0, "discountTotal": 0.0,
                "currencyRate": 1.0, "currencyId": 0, "taxStatus": "Excl", "taxRate": 0.0,
                "customFields": {}, "stage": "New", "salesPersonId": 0, "logisticsStatus": 0,
                "ediStatus": 0, "distributionBranchId": 0, "isVoid": False,
                "accountingAttributes": {"importDate": None,
                                         "accountingImportStatus": "NotImported"},
                "lineItems": [],
            })
            given = copy.deepcopy(order)
            o.update(given)
            if o["id"] is None:
                o["id"] = max(self._next_order_id, max(self.orders, default=0) + 1)
            o["id"] = int(o["id"])
            if o["id"] in self.orders:
                raise ValueError(f"sales order {o['id']} already exists")
            self._next_order_id = max(self._next_order_id, o["id"] + 1)
            for name, ftype in ORDER_FIELDS.items():
                if ftype == DATE:
                    o[name] = norm_date(o[name])
            o["createdDate"] = o["createdDate"] or now
            o["modifiedDate"] = o["modifiedDate"] or now
            if not o["reference"]:
                o["reference"] = f"SO-{o['id']}"  # "leave blank to auto-generate"
            o["lineItems"] = [
                self._new_line(ln, o["id"], i + 1 if ln.get("sort") is None else ln["sort"],
                               o["createdDate"])
                for i, ln in enumerate(o["lineItems"] or [])
            ]
            o["status"] = order_status(o)
            if "productTotal" not in given or "total" not in given:
                recompute_totals(o, products="productTotal" not in given)
            self.orders[o["id"]] = o
            return o

    def touch(self, order_id: int, **changes) -> dict:
        """Set fields directly (no read-only filtering) and bump modifiedDate, like a user
        editing the order in Cin7.  Returns the stored order."""
        with self._lock:
            o = self.orders[int(order_id)]
            for key, value in changes.items():
                if ORDER_FIELDS.get(key) == DATE:
                    value = norm_date(value)
                elif key == "lineItems":
                    value = [self._new_line(ln, o["id"], i + 1, o["createdDate"])
                             if "transactionId" not in ln else ln for i, ln in enumerate(value)]
                o[key] = value
            o["status"] = order_status(o)
            if "modifiedDate" not in changes:
                o["modifiedDate"] = iso(self.now())
            return o
