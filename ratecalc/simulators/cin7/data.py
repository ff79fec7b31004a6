"""Seeded demo data for the Cin7 Omni simulator.

Everything is camelCase, shaped like Cin7 Omni API v1 responses (reference §2, §4).
Dates are relative to a ``now`` you pass in, so the data stays valid over time.

* :func:`demo_branches`, :func:`demo_products`, :func:`demo_stock`, :func:`demo_orders`
  build the fixed demo set; :func:`seed` loads it into a simulator.
* :data:`SCENARIOS` names every demo order, with whether Cin7's ShipStation import rules
  (reference §7) would send it — assuming "Get Orders From" = branches 1 and 2.
* :func:`make_orders` generates many *eligible* orders for paging tests and benchmarks.

Weights are in kilograms (the account's weight unit setting; reference §4).

This module imports nothing from ``ratecalc`` (and nothing from the simulator).
"""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "BRANCH_IDS",
    "DEFAULT_IMPORT_BRANCHES",
    "SCENARIOS",
    "demo_branches",
    "demo_orders",
    "demo_products",
    "demo_stock",
    "make_orders",
    "seed",
]

IMG = "https://images.example.com/cin7"


def iso(dt: datetime) -> str:
    """Cin7 date format: ``yyyy-MM-ddTHH:mm:ssZ`` in UTC."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now(now: datetime | None) -> datetime:
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(UTC).replace(microsecond=0)


# ------------------------------------------------------------------------ branches

BRANCH_IDS = {"main": 1, "us": 2, "store": 3}
#: The branches a typical "Get Orders From" setting would select in the demo.
DEFAULT_IMPORT_BRANCHES = (1, 2)

_BRANCHES: list[dict[str, Any]] = [
    {
        "id": 1,
        "isActive": True,
        "branchType": "Warehouse",
        "company": "Main Warehouse",
        "email": "warehouse@example.com",
        "address1": "12 Quay Street",
        "address2": None,
        "city": "Auckland",
        "state": "Auckland",
        "postCode": "1010",
        "country": "New Zealand",
        # The only bin data in the API (reference §4): zones with bin names.
        "branchLocations": [
            {"zone": "A", "bins": ["A-01-01", "A-01-02", "A-02-01"]},
            {"zone": "B", "bins": ["B-01-01", "B-01-02"]},
        ],
    },
    {
        "id": 2,
        "isActive": True,
        "branchType": "Warehouse",
        "company": "US Warehouse",
        "email": "us-warehouse@example.com",
        "address1": "800 Logistics Way",
        "address2": "Dock 4",
        "city": "Los Angeles",
        "state": "CA",
        "postCode": "90021",
        "country": "United States",
        "branchLocations": [{"zone": "US", "bins": ["US-10", "US-11"]}],
    },
    {
        "id": 3,
        "isActive": True,
        "branchType": "Retail",
        "company": "Wellington Store",
        "email": "store@example.com",
        "address1": "1 Cuba Street",
        "address2": None,
        "city": "Wellington",
        "state": "Wellington",
        "postCode": "6011",
        "country": "New Zealand",
        "branchLocations": [],
    },
]


def demo_branches(now: datetime | None = None) -> list[dict[str, Any]]:
    now = _now(now)
    out = []
    for b in copy.deepcopy(_BRANCHES):
        b["createdDate"] = iso(now - timedelta(days=900))
        b["modifiedDate"] = iso(now - timedelta(days=30))
        out.append(b)
    return out


# ------------------------------------------------------------------------ products


def _opt(oid, code, barcode, o1=None, o2=None, o3=None, weight=0.0, price=0.0, image=None,
         stock=25.0, status="Active", size=None, size_id=0, size_code=None, size_barcode=None):
    return {
        "id": oid,
        "status": status,
        "productOptionCode": code,
        "productOptionBarcode": barcode,
        "productOptionSizeCode": size_code,
        "productOptionSizeBarcode": size_barcode,
        "supplierCode": f"SUP-{code}" if code else None,
        "option1": o1,
        "option2": o2,
        "option3": o3,
        "optionWeight": weight,
        "size": size,
        "sizeId": size_id,
        "retailPrice": price,
        "wholesalePrice": round(price * 0.6, 2),
        "vipPrice": round(price * 0.9, 2),
        "specialPrice": 0.0,
        "stockAvailable": stock,
        "stockOnHand": stock,
        "uomOptions": [],
        "image": {"link": image} if image else None,
        "priceColumns": {},
    }


def _product_defs() -> list[dict[str, Any]]:
    return [
        {
            "id": 101, "status": "Public", "styleCode": "MCT", "name": "Merino Crew Tee",
            "description": "Lightweight merino tee.", "brand": "Kiwi Knit", "category": "Apparel",
            "subCategory": "Tops", "supplierId": 501, "tags": "merino,tee", "channels": "Shopify",
            "weight": 0.25, "height": 2.0, "width": 25.0, "length": 30.0, "volume": 0.0015,
            "images": [{"link": f"{IMG}/mct.jpg"}, {"link": f"{IMG}/mct-back.jpg"}],
            "optionLabel1": "Colour", "optionLabel2": "Size", "optionLabel3": None,
            "sizeRangeId": 0,
            "productOptions": [
                _opt(1011, "MCT-BLK-M", "9400000000011", "Black", "M", weight=0.22, price=59.0,
                     image=f"{IMG}/mct-black.jpg"),
                _opt(1012, "MCT-BLK-L", "9400000000012", "Black", "L", weight=0.24, price=59.0,
                     image=f"{IMG}/mct-black.jpg"),
                # optionWeight 0 -> fall back to the product weight (0.25).
                _opt(1013, "MCT-NAT-M", "9400000000013", "Natural", "M", weight=0.0, price=59.0),
            ],
        },
        {
            "id": 102, "status": "Public", "styleCode": "CPO", "name": "Ceramic Pour-Over Set",
            "description": "Dripper, server & 2 cups.", "brand": "Clay & Co", "category": "Kitchen",
            "subCategory": "Coffee", "supplierId": 502, "tags": "coffee", "channels": "Shopify",
            "weight": 1.4, "height": 18.0, "width": 20.0, "length": 28.0, "volume": 0.01,
            "images": [{"link": f"{IMG}/cpo.jpg"}],
            "optionLabel1": "Glaze", "optionLabel2": None, "optionLabel3": None, "sizeRangeId": 0,
            "productOptions": [
                _opt(1021, "CPO-WHT", "9400000000021", "White", weight=1.35, price=89.0,
                     image=f"{IMG}/cpo-white.jpg"),
                _opt(1022, "CPO-SAGE", "9400000000022", "Sage", weight=1.35, price=89.0,
                     image=f"{IMG}/cpo-sage.jpg"),
            ],
        },
        {
            # Size-range product: one option per colour x size; the size SKU is
            # productOptionSizeCode, sales-order lines carry the sizes in sizeCodes.
            "id": 103, "status": "Public", "styleCode": "TRS", "name": "Trail Running Shoe",
            "description": "Grippy trail shoe.", "brand": "Ridgeline", "category": "Footwear",
            "subCategory": "Running", "supplierId": 503, "tags": "shoes", "channels": "Shopify",
            "weight": 0.8, "height": 12.0, "width": 20.0, "length": 33.0, "volume": 0.008,
            "images": [{"link": f"{IMG}/trs.jpg"}],
            "optionLabel1": "Colour", "optionLabel2": None, "optionLabel3": None, "sizeRangeId": 7,
            "productOptions": [
                _opt(1031, "TRS-BLU", "9400000000031", "Blue", weight=0.78, price=180.0,
                     image=f"{IMG}/trs-blue.jpg", size="9", size_id=709,
                     size_code="TRS-BLU-9", size_barcode="9400000000319"),
                _opt(1032, "TRS-BLU", "9400000000031", "Blue", weight=0.82, price=180.0,
                     image=f"{IMG}/trs-blue.jpg", size="10", size_id=710,
                     size_code="TRS-BLU-10", size_barcode="9400000000310"),
                _opt(1033, "TRS-BLU", "9400000000031", "Blue", weight=0.86, price=180.0,
                     image=f"{IMG}/trs-blue.jpg", size="11", size_id=711,
                     size_code="TRS-BLU-11", size_barcode="9400000000311"),
            ],
        },
        {
            # No weight anywhere, no images.
            "id": 104, "status": "Public", "styleCode": "GIFT", "name": "Gift Card",
            "description": "Printed gift card.", "brand": None, "category": "Gift Cards",
            "subCategory": None, "supplierId": 0, "tags": None, "channels": "Shopify",
            "weight": 0.0, "height": 0.0, "width": 0.0, "length": 0.0, "volume": 0.0,
            "images": [], "optionLabel1": "Value", "optionLabel2": None, "optionLabel3": None,
            "sizeRangeId": 0, "stockControl": "Undefined",
            "productOptions": [_opt(1041, "GIFT-50", "9400000000041", "$50", price=50.0)],
        },
        {
            # All three option labels used.
            "id": 105, "status": "Public", "styleCode": "TBR", "name": "Bamboo Toothbrush",
            "description": "Compostable handle.", "brand": "Greenroot", "category": "Bathroom",
            "subCategory": "Dental", "supplierId": 504, "tags": "eco", "channels": "Shopify",
            "weight": 0.03, "height": 2.0, "width": 3.0, "length": 20.0, "volume": 0.0001,
            "images": [{"link": f"{IMG}/tbr.jpg"}],
            "optionLabel1": "Colour", "optionLabel2": "Bristle", "optionLabel3": "Pack",
            "sizeRangeId": 0,
            "productOptions": [
                _opt(1051, "TBR-CHA-SOFT-4", "9400000000051", "Charcoal", "Soft", "4-pack",
                     weight=0.09, price=19.0, image=f"{IMG}/tbr-charcoal.jpg"),
                _opt(1052, "TBR-NAT-MED-1", "9400000000052", "Natural", "Medium", "Single",
                     weight=0.025, price=6.0),
            ],
        },
        {
            "id": 106, "status": "Public", "styleCode": "ESP", "name": "Espresso Machine X1",
            "description": "15 bar pump espresso machine.", "brand": "Barista Pro",
            "category": "Appliances", "subCategory": "Coffee", "supplierId": 505,
            "tags": "coffee,heavy", "channels": "Shopify",
            "weight": 7.8, "height": 38.0, "width": 30.0, "length": 42.0, "volume": 0.048,
            "images": [{"link": f"{IMG}/esp.jpg"}],
            "optionLabel1": "Finish", "optionLabel2": None, "optionLabel3": None,
            "sizeRangeId": 0,
            "productOptions": [
                _opt(1061, "ESP-X1-SS", "9400000000061", "Stainless", weight=7.8, price=899.0,
                     image=f"{IMG}/esp-ss.jpg", stock=4.0),
            ],
        },
        {
            "id": 107, "status": "Inactive", "styleCode": "MUG", "name": "Discontinued Mug",
            "description": None, "brand": "Clay & Co", "category": "Kitchen",
            "subCategory": None, "supplierId": 502, "tags": None, "channels": None,
            "weight": 0.4, "height": 10.0, "width": 9.0, "length": 12.0, "volume": 0.001,
            "images": [], "optionLabel1": None, "optionLabel2": None, "optionLabel3": None,
            "sizeRangeId": 0,
            "productOptions": [
                _opt(1071, "MUG-OLD", "9400000000071", weight=0.4, price=12.0, stock=0.0,
                     status="Disabled"),
            ],
        },
    ]


def demo_products(now: datetime | None = None) -> list[dict[str, Any]]:
    now = _now(now)
    out = []
    for i, p in enumerate(_product_defs()):
        p.setdefault("stockControl", "FIFO")
        p.setdefault("orderType", "Stock")
        p.setdefault("pdfUpload", None)
        p.setdefault("customFields", {})
        p["createdDate"] = iso(now - timedelta(days=400 - i))
        p["modifiedDate"] = iso(now - timedelta(days=20 - i))
        for o in p["productOptions"]:
            o["productId"] = p["id"]
            o["createdDate"] = p["createdDate"]
            o["modifiedDate"] = p["modifiedDate"]
        out.append(p)
    return out


def _option_index() -> dict[str, tuple[dict, dict]]:
    """productOptionCode (or size code) -> (product, option)."""
    idx: dict[str, tuple[dict, dict]] = {}
    for p in _product_defs():
        for o in p["productOptions"]:
            idx.setdefault(o["productOptionCode"], (p, o))
            if o["productOptionSizeCode"]:
                idx[o["productOptionSizeCode"]] = (p, o)
    return idx


_OPTIONS = _option_index()


def demo_stock(now: datetime | None = None) -> list[dict[str, Any]]:
    """``GET /v1/Stock`` rows: each option's stock in the Main Warehouse, a few units in the US."""
    now = _now(now)
    rows = []
    branches = {b["id"]: b for b in _BRANCHES}
    for p in _product_defs():
        for o in p["productOptions"]:
            for bid, share in ((1, 1.0), (2, 0.2)):
                on_hand = float(int(o["stockOnHand"] * share))
                rows.append({
                    "productId": p["id"],
                    "productOptionId": o["id"],
                    "modifiedDate": iso(now - timedelta(days=3)),
                    "styleCode": p["styleCode"],
                    "code": o["productOptionSizeCode"] or o["productOptionCode"],
                    "barcode": o["productOptionSizeBarcode"] or o["productOptionBarcode"],
                    "branchId": bid,
                    "branchName": branches[bid]["company"],
                    "productName": p["name"],
                    "option1": o["option1"],
                    "option2": o["option2"],
                    "option3": o["option3"],
                    "size": o["size"],
                    "available": on_hand,
                    "stockOnHand": on_hand,
                    "openSales": 0.0,
                    "incoming": 0.0,
                    "virtual": 0.0,
                    "holding": 0.0,
                })
    return rows


# ------------------------------------------------------------------------ orders


def _line(code: str, qty: float, shipped: float | None = None, *, price: float | None = None,
          discount: float = 0.0, comments: str | None = None) -> dict[str, Any]:
    """A line for a catalogue SKU; ``shipped`` defaults to ``qty`` (fully picked)."""
    p, o = _OPTIONS[code]
    shipped = qty if shipped is None else shipped
    return {
        "productId": p["id"],
        "productOptionId": o["id"],
        "code": o["productOptionCode"],
        "name": p["name"],
        "option1": o["option1"],
        "option2": o["option2"],
        "option3": o["option3"],
        "qty": float(qty),
        "styleCode": p["styleCode"],
        "barcode": o["productOptionBarcode"],
        "unitPrice": o["retailPrice"] if price is None else price,
        "unitCost": round(o["retailPrice"] * 0.4, 2),
        "discount": discount,
        "lineComments": comments,
        "qtyShipped": float(shipped),
        "stockMovements": (
            [{"batch": None, "quantity": float(shipped), "serial": None}] if shipped else []
        ),
    }


def _size_line(sizes: dict[str, float], shipped: bool = True) -> dict[str, Any]:
    """A size-range line: ``code`` is the style code, the SKUs live in ``sizeCodes``
    ("Qty|Size|Code|Barcode" per size, as the published line model has it; no sizes[])."""
    p, o = _OPTIONS["TRS-BLU"]
    entries = []
    for size_code, qty in sizes.items():
        _, so = _OPTIONS[size_code]
        entries.append({
            "name": so["size"],
            "code": so["productOptionSizeCode"],
            "barcode": so["productOptionSizeBarcode"],
            "qty": float(qty),
        })
    total = float(sum(sizes.values()))
    return {
        "productId": p["id"],
        # INFERENCE: a line spanning several size SKUs does not point at one option.
        "productOptionId": 0,
        "code": p["styleCode"],
        "name": p["name"],
        "option1": o["option1"],
        "option2": None,
        "option3": None,
        "qty": total,
        "styleCode": p["styleCode"],
        "barcode": None,
        "unitPrice": o["retailPrice"],
        "unitCost": round(o["retailPrice"] * 0.4, 2),
        "discount": 0.0,
        "sizeCodes": ";".join(f"{e['qty']:g}|{e['name']}|{e['code']}|{e['barcode']}"
                              for e in entries),
        "qtyShipped": total if shipped else 0.0,
        "stockMovements": [{"batch": None, "quantity": total, "serial": None}] if shipped else [],
    }


def _address(prefix: str, first, last, company, a1, a2, city, state, postcode, country):
    return {
        f"{prefix}FirstName": first,
        f"{prefix}LastName": last,
        f"{prefix}Company": company,
        f"{prefix}Address1": a1,
        f"{prefix}Address2": a2,
        f"{prefix}City": city,
        f"{prefix}State": state,
        f"{prefix}PostalCode": postcode,
        f"{prefix}Country": country,
    }


_NZ = ("Aroha", "Ngata", None, "1 Queen Street", None, "Auckland", "Auckland", "1010",
       "New Zealand")
_US = ("Sam", "Rivera", None, "500 Market St", "Apt 12", "San Francisco", "CA", "94105",
       "United States")
_USA = ("Dana", "Whitfield", "Whitfield Outdoor LLC", "77 Congress Ave", None, "Austin", "TX",
        "78701", "USA")
_AU = ("Jack", "Nguyen", None, "20 George St", None, "Sydney", "NSW", "2000", "Australia")


def _order(oid: int, ref: str, created: datetime, modified: datetime, addr: tuple, *,
           stage: str = "Fully Picked", lines: list[dict], etd: datetime | None = None,
           **extra) -> dict[str, Any]:
    first, last, company = addr[0], addr[1], addr[2]
    order = {
        "id": oid,
        "createdDate": iso(created),
        "modifiedDate": iso(modified),
        "createdBy": 17,
        "processedBy": 18,
        "isApproved": True,
        "reference": ref,
        "memberId": 4000 + oid % 1000,
        "memberEmail": f"customer{oid}@example.com",
        "firstName": first,
        "lastName": last,
        "company": company,
        "email": f"customer{oid}@example.com",
        "phone": "+64 9 555 0100",
        "mobile": "",
        "fax": None,
        **_address("delivery", *addr),
        **_address("billing", *addr),
        "branchId": 1,
        "branchEmail": "warehouse@example.com",
        "projectName": "Shopify",
        "trackingCode": "",
        "internalComments": "",
        "freightTotal": 8.5,
        "freightDescription": "Standard Courier",
        "currencyCode": "NZD",
        "currencyRate": 1.0,
        "currencySymbol": "$",
        "taxStatus": "Incl",
        "taxRate": 15.0,
        "source": "Shopify",
        "stage": stage,
        "estimatedDeliveryDate": iso(etd) if etd else None,
        "paymentTerms": "Prepaid",
        "deliveryInstructions": None,
        "logisticsCarrier": "",
        "lineItems": lines,
    }
    order.update(extra)
    return order


#: name -> {"id", "importable" (per Cin7's ShipStation import rules), "why"}.
SCENARIOS: dict[str, dict[str, Any]] = {
    "eligible_nz": {"id": 1001, "importable": True, "why": "approved, Fully Picked, recent, NZ"},
    "eligible_us_gift": {"id": 1002, "importable": True,
                         "why": "United States; phone empty, mobile set; gift + notes; "
                                "a non-catalogue gift-wrap line"},
    "eligible_etd_only": {"id": 1003, "importable": True,
                          "why": "created 90 days ago but ETD 10 days ago; country 'USA'"},
    "too_old": {"id": 1004, "importable": False, "why": "created and ETD older than 60 days"},
    "draft": {"id": 1005, "importable": False, "why": "isApproved false (status DRAFT)"},
    "void": {"id": 1006, "importable": False, "why": "isVoid true (status VOID)"},
    "stage_new": {"id": 1007, "importable": False, "why": "stage New"},
    "no_delivery_country": {"id": 1008, "importable": False, "why": "deliveryCountry empty"},
    "line_not_dispatched": {"id": 1009, "importable": False,
                            "why": "one line has qtyShipped 0 (rule: every ordered line "
                                   "needs a dispatch quantity)"},
    "nothing_dispatched": {"id": 1010, "importable": False,
                           "why": "Fully Picked but every line qtyShipped 0"},
    "other_branch": {"id": 1011, "importable": False,
                     "why": "branchId 3 (not in Get Orders From = 1, 2)"},
    "dispatched": {"id": 1012, "importable": False,
                   "why": "stage Dispatched, dispatchedDate + trackingCode set"},
    "cancelled": {"id": 1013, "importable": False, "why": "stage Cancelled"},
    "custom_stage": {"id": 1014, "importable": False, "why": "custom stage 'Ready for Courier'"},
    "size_range": {"id": 1015, "importable": True, "why": "size-range line with sizeCodes"},
    "discount": {"id": 1016, "importable": True,
                 "why": "order discount (discountTotal + voucherCode) and a line discount"},
    "special_chars": {"id": 1017, "importable": True,
                      "why": "]]>, &, <, quotes, apostrophe and emoji in text fields"},
    "partially_picked": {"id": 1018, "importable": False, "why": "stage Partially Picked"},
    "weight_fallbacks": {"id": 1019, "importable": True,
                         "why": "option weight 0 (use product weight) and a weightless item; "
                                "US branch"},
}

#: Stages the demo account knows (case as Cin7 shows them); includes a custom stage.
DEMO_STAGES = ("New", "Awaiting Payment", "Processing", "On Hold", "Declined", "Partially Picked",
               "Fully Picked", "Dispatched", "Cancelled", "Ready for Courier")


def demo_orders(now: datetime | None = None) -> list[dict[str, Any]]:
    """The fixed demo sales orders (see :data:`SCENARIOS`), dates relative to ``now``."""
    now = _now(now)
    d = timedelta(days=1)
    h = timedelta(hours=1)
    m = timedelta(minutes=1)

    def recent(k: int) -> tuple[datetime, datetime]:
        # created k days ago, modified a little later but in the past; modifiedDate
        # values are all different (k is unique per order).
        created = now - k * d - 3 * h
        return created, now - k * h

    ids = {name: s["id"] for name, s in SCENARIOS.items()}
    orders = [
        _order(ids["eligible_nz"], "#1050", *recent(2), _NZ, etd=now + 2 * d,
               lines=[_line("MCT-BLK-M", 2), _line("CPO-WHT", 1)]),
        _order(ids["eligible_us_gift"], "#1051", *recent(3), _US, etd=now + 3 * d,
               phone="", mobile="+1 415 555 0199", branchId=2, currencyCode="USD",
               taxStatus="Excl", taxRate=0.0,
               deliveryInstructions="Please leave with the concierge.",
               internalComments="Customer asked for gift wrap.",
               # Custom field keys are account-defined (reference §1.4: an object keyed by
               # field name); these names are the demo account's.
               customFields={"isGift": True, "giftMessage": "Happy birthday, Sam!"},
               lines=[
                   _line("TBR-CHA-SOFT-4", 1),
                   {"code": "GIFT-WRAP", "name": "Gift wrapping", "qty": 1.0, "unitPrice": 5.0,
                    "qtyShipped": 1.0, "productId": 0, "productOptionId": 0},
               ]),
        _order(ids["eligible_etd_only"], "SO-1003", now - 90 * d, now - 30 * m, _USA,
               etd=now - 10 * d, branchId=2, currencyCode="USD", taxStatus="Excl",
               taxRate=0.0, phone="+1 512 555 0142",
               lines=[_line("ESP-X1-SS", 1)]),
        _order(ids["too_old"], "SO-1004", now - 120 * d, now - 40 * m, _NZ, etd=now - 90 * d,
               lines=[_line("MCT-BLK-L", 1)]),
        _order(ids["draft"], "SO-1005", *recent(4), _NZ, etd=now + d, isApproved=False,
               lines=[_line("CPO-SAGE", 1)]),
        _order(ids["void"], "SO-1006", *recent(5), _NZ, etd=now + d, isVoid=True,
               cancellationDate=iso(now - 5 * h), lines=[_line("MCT-BLK-M", 1)]),
        _order(ids["stage_new"], "#1052", *recent(1), _AU, stage="New", etd=now + 4 * d,
               currencyCode="AUD", lines=[_line("MCT-BLK-L", 1, shipped=0)]),
        _order(ids["no_delivery_country"], "SO-1008", *recent(6), _NZ, etd=now + d,
               deliveryCountry="", lines=[_line("TBR-NAT-MED-1", 3)]),
        _order(ids["line_not_dispatched"], "SO-1009", *recent(7), _NZ, etd=now + d,
               lines=[_line("MCT-BLK-M", 1), _line("CPO-SAGE", 1, shipped=0)]),
        _order(ids["nothing_dispatched"], "SO-1010", *recent(8), _NZ, etd=now + d,
               lines=[_line("MCT-BLK-L", 2, shipped=0)]),
        _order(ids["other_branch"], "SO-1011", *recent(9), _NZ, etd=now + d, branchId=3,
               branchEmail="store@example.com", projectName="POS",
               lines=[_line("CPO-WHT", 1)]),
        _order(ids["dispatched"], "#1040", *recent(10), _NZ, stage="Dispatched",
               etd=now - 8 * d, dispatchedDate=iso(now - 9 * d),
               trackingCode="NZP123456789", logisticsCarrier="NZ Post",
               invoiceDate=iso(now - 9 * d), invoiceNumber=5001,
               lines=[_line("MCT-NAT-M", 1)]),
        _order(ids["cancelled"], "SO-1013", *recent(11), _AU, stage="Cancelled",
               etd=now + d, currencyCode="AUD", lines=[_line("TBR-NAT-MED-1", 1, shipped=0)]),
        _order(ids["custom_stage"], "SO-1014", *recent(12), _NZ, stage="Ready for Courier",
               etd=now + d, lines=[_line("CPO-WHT", 1)]),
        _order(ids["size_range"], "#1053", *recent(13), _AU, etd=now + 2 * d,
               currencyCode="AUD",
               lines=[_size_line({"TRS-BLU-9": 1, "TRS-BLU-10": 2})]),
        _order(ids["discount"], "#1054", *recent(14), _NZ, etd=now + 2 * d,
               discountTotal=10.0, discountDescription="SPRING10 10% off",
               voucherCode="SPRING10",
               lines=[_line("CPO-SAGE", 1, discount=5.0), _line("MCT-BLK-L", 1)]),
        _order(ids["special_chars"], "SO-1017", *recent(15),
               ("Zoë 🌿", "O'Brien", "Smith & Sons <Wholesale>", "Unit 5 ]]> Rear",
                "Level 2 & \"Loft\"", "Wellington", "Wellington", "6011", "New Zealand"),
               etd=now + d, phone="",
               mobile="",
               deliveryInstructions="Ring twice & wait <5 min> ]]> 📦🚚",
               internalComments='Fragile — "handle" with care ]]><![CDATA[ 🙏',
               lines=[_line("MCT-BLK-M", 1, comments="Wrap in tissue 🎁 & <tape> ]]>")]),
        _order(ids["partially_picked"], "SO-1018", *recent(16), _NZ, stage="Partially Picked",
               etd=now + d, lines=[_line("MCT-BLK-M", 2, shipped=1)]),
        _order(ids["weight_fallbacks"], "SO-1019", *recent(17), _US, etd=now + d, branchId=2,
               currencyCode="USD", taxStatus="Excl", taxRate=0.0,
               lines=[_line("MCT-NAT-M", 2), _line("GIFT-50", 1)]),
    ]
    return orders


# --------------------------------------------------------------------- generator

_FIRST = ["Alex", "Bea", "Chris", "Devi", "Eli", "Fern", "Gus", "Hana", "Ira", "Jo", "Kai",
          "Lena", "Mo", "Nia", "Oscar", "Pita", "Quinn", "Rua", "Sione", "Tui"]
_LAST = ["Smith", "Tane", "Brown", "Kaur", "Lee", "Müller", "Garcia", "Wong", "Patel", "Ngata"]
_PLACES = [
    ("1 Queen Street", "Auckland", "Auckland", "1010", "New Zealand"),
    ("45 Cuba Street", "Wellington", "Wellington", "6011", "New Zealand"),
    ("500 Market St", "San Francisco", "CA", "94105", "United States"),
    ("77 Congress Ave", "Austin", "TX", "78701", "USA"),
    ("20 George St", "Sydney", "NSW", "2000", "Australia"),
    ("10 Downing St", "London", "", "SW1A 2AA", "United Kingdom"),
    ("290 Bremner Blvd", "Toronto", "ON", "M5V 3L9", "Canada"),
]
_GEN_CODES = ["MCT-BLK-M", "MCT-BLK-L", "MCT-NAT-M", "CPO-WHT", "CPO-SAGE", "TBR-CHA-SOFT-4",
              "TBR-NAT-MED-1", "ESP-X1-SS"]


def make_orders(n: int, now: datetime | None = None, seed: int = 0,
                start_id: int = 100001) -> list[dict[str, Any]]:
    """``n`` orders that pass every import rule (approved, Fully Picked, recent, country set,
    lines dispatched, branch 1 or 2).  Deterministic for a given ``seed``; ids are
    ``start_id .. start_id + n - 1``; ``modifiedDate`` values are spread over the last
    30 days (some share a second, as in real data)."""
    now = _now(now)
    rng = random.Random(seed)  # noqa: S311 - demo data, not crypto
    out = []
    for i in range(n):
        oid = start_id + i
        created = now - timedelta(seconds=rng.randint(3600, 50 * 86400))
        age = (now - created).total_seconds()
        modified = now - timedelta(seconds=rng.randint(0, int(min(age, 30 * 86400))))
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        a1, city, state, postcode, country = rng.choice(_PLACES)
        codes = rng.sample(_GEN_CODES, rng.randint(1, 4))
        lines = [_line(c, rng.randint(1, 3)) for c in codes]
        phone = "" if rng.random() < 0.3 else f"+64 9 555 {rng.randint(1000, 9999)}"
        order = _order(
            oid, f"SO-{oid}", created, modified,
            (first, last, None, a1, None, city, state, postcode, country),
            lines=lines, etd=created + timedelta(days=rng.randint(1, 7)),
            branchId=rng.choice(DEFAULT_IMPORT_BRANCHES), phone=phone,
            mobile=f"+64 21 {rng.randint(100000, 999999)}",
        )
        out.append(order)
    return out


# ------------------------------------------------------------------------ seeding


def seed(sim, now: datetime | None = None) -> None:
    """Load branches, products, stock and the demo orders into ``sim``."""
    now = _now(now)
    for b in demo_branches(now):
        sim.add_branch(b)
    for p in demo_products(now):
        sim.add_product(p)
    sim.stock.extend(demo_stock(now))
    for o in demo_orders(now):
        sim.add_order(o)
