"""Quote a Cin7 order and write the freight fee onto it.

The rate request is built from the order's delivery address and the weight of
its lines (quantity x per-unit weight from Cin7's product data, in the
account's weight unit), then quoted through the same rating service as
``POST /v1/rates`` — same cache, markup and selection.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ratecalc.shop.countries import state_code, to_iso2
from ratecalc.upstream.cin7 import Cin7Client


class FreightError(Exception):
    def __init__(self, status: int, code: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


@dataclass(frozen=True)
class LineWeight:
    line_id: int | None
    code: str | None
    quantity: Decimal
    unit_weight: Decimal | None


def _decimal(value) -> Decimal:
    try:
        return Decimal(str(value)) if value is not None else Decimal(0)
    except ArithmeticError:
        return Decimal(0)


def line_weights(order: dict, products: dict[int, dict]) -> list[LineWeight]:
    """Per-unit weight of every ordered line: the option's weight, else the product's."""
    out = []
    for line in order.get("lineItems") or []:
        quantity = _decimal(line.get("qty"))
        if quantity <= 0:
            continue
        product = products.get(int(line.get("productId") or 0)) or {}
        option = next((o for o in product.get("productOptions") or []
                       if o.get("id") and o.get("id") == line.get("productOptionId")), None)
        weight = _decimal((option or {}).get("optionWeight"))
        if weight <= 0:
            weight = _decimal(product.get("weight"))
        out.append(LineWeight(line.get("id"), line.get("code"), quantity,
                              weight if weight > 0 else None))
    return out


def rate_request(order: dict, products: dict[int, dict], weight_units: str,
                 body: dict) -> dict:
    """A ``POST /v1/rates`` body for the order (validated by the caller)."""
    weights = line_weights(order, products)
    missing = [w for w in weights if w.unit_weight is None]
    if missing:
        raise FreightError(422, "missing_weights",
                           "Some lines have no weight in Cin7: "
                           + ", ".join(f"{w.code or '?'} (line {w.line_id})" for w in missing),
                           details={"lines": [{"line_id": w.line_id, "code": w.code}
                                              for w in missing]})
    if not weights:
        raise FreightError(422, "no_lines", "The order has no lines with a quantity to ship.")
    country = to_iso2(order.get("deliveryCountry"))
    if not country:
        raise FreightError(422, "no_country",
                           f"The order's delivery country {order.get('deliveryCountry')!r} "
                           "is missing or not recognised.")
    if not (order.get("deliveryPostalCode") or "").strip():
        raise FreightError(422, "no_postal_code", "The order has no delivery postal code.")
    total = sum((w.quantity * w.unit_weight for w in weights), Decimal(0))
    ship_to = {"country": country, "postal_code": order["deliveryPostalCode"].strip(),
               # Cin7 has no residential flag: an address without a company is taken
               # as residential (the cautious, usually dearer, assumption) unless the
               # caller says otherwise.
               "residential": body.get("residential",
                                       not (order.get("deliveryCompany") or "").strip())}
    state = state_code((order.get("deliveryState") or "").strip() or None, country)
    if state:
        ship_to["state"] = state
    if (order.get("deliveryCity") or "").strip():
        ship_to["city"] = order["deliveryCity"].strip()
    request = {"ship_to": ship_to,
               "package": {"weight": {"value": str(total), "units": weight_units}}}
    package = body.get("package") or {}
    if package.get("dimensions"):
        request["package"]["dimensions"] = package["dimensions"]
    if package.get("package_code"):
        request["package"]["package_code"] = package["package_code"]
    for name in ("carriers", "service_code", "confirmation"):
        if body.get(name) is not None:
            request[name] = body[name]
    return request


class FreightService:
    def __init__(self, *, cin7: Cin7Client, products, weight_units: str):
        self.cin7 = cin7
        self.products = products
        self.weight_units = weight_units

    def load(self, order_id: int) -> tuple[dict, dict]:
        order = self.cin7.sales_order(order_id)
        if order is None:
            raise FreightError(404, "order_not_found", f"No Cin7 sales order with id {order_id}.")
        products = self.products.get_many(
            line.get("productId") for line in order.get("lineItems") or [])
        return order, products

    def write(self, order: dict, freight_fee: Decimal, description: str) -> dict:
        written = {"freightTotal": freight_fee, "freightDescription": description[:250]}
        # Cin7 takes JSON numbers; the fee is already rounded to cents, which a float
        # represents and prints exactly.
        [result] = self.cin7.put_sales_orders([{"id": order["id"], **written,
                                                "freightTotal": float(freight_fee)}])
        if not result.success:
            raise FreightError(502, "cin7_rejected",
                               "Cin7 did not save the freight: " + "; ".join(result.errors))
        return written
