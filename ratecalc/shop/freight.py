"""Quote a Cin7 order and write the freight fee onto it.

The rate request is built from the order's delivery address and the weight of
its lines (quantity x per-unit weight from Cin7's product data, in the
account's weight unit), then quoted through the same rating service as
``POST /v1/rates`` — same cache, markup and selection.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ratecalc import bounds
from ratecalc.rating.request import Destination, InvalidRequest, Parcel, RateRequest, Weight
from ratecalc.rating.schemas import MAX_MEASURE_VALUE
from ratecalc.shop.export.countries import state_code, to_iso2
from ratecalc.shop.freight_options import FreightOptions
from ratecalc.upstream.cin7.client import Cin7Client
from ratecalc.upstream.cin7.records import Product, SalesOrder, freight_fields, freight_update

NO_OPTIONS = FreightOptions()


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


def line_weights(order: dict | SalesOrder, products: dict[int, dict]) -> list[LineWeight]:
    """Per-unit weight of every ordered line: the option's weight, else the product's."""
    out = []
    for line in SalesOrder.of(order).line_items:
        quantity = _decimal(line.qty)
        if quantity <= 0:
            continue
        product = Product(products.get(int(line.product_id or 0)))
        option = next((o for o in product.options
                       if o.id and o.id == line.product_option_id), None)
        weight = _decimal(option.weight if option else None)
        if weight <= 0:
            weight = _decimal(product.weight)
        out.append(LineWeight(line.id, line.code, quantity, weight if weight > 0 else None))
    return out


def _address_text(value: str | None, field: str, limit: int) -> str | None:
    try:
        return bounds.text(value, field, limit)
    except bounds.OutOfBounds as exc:
        raise InvalidRequest(field, exc.message) from None


def rate_request(order: dict | SalesOrder, products: dict[int, dict], weight_units: str,
                 options: FreightOptions = NO_OPTIONS) -> RateRequest:
    """The order's shipment as a RateRequest: its address, its lines' weight, the options."""
    order = SalesOrder.of(order)
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
    country = to_iso2(order.delivery_country)
    if not country:
        raise FreightError(422, "no_country",
                           f"The order's delivery country {order.delivery_country!r} "
                           "is missing or not recognised.")
    postal_code = _address_text(order.delivery_postal_code, "ship_to.postal_code", 20)
    if not postal_code:
        raise FreightError(422, "no_postal_code", "The order has no delivery postal code.")
    total = sum((w.quantity * w.unit_weight for w in weights), Decimal(0))
    if not 0 < total <= MAX_MEASURE_VALUE:
        raise InvalidRequest("package.weight.value",
                             f"must be greater than 0 and at most {MAX_MEASURE_VALUE}.")
    state = _address_text(order.delivery_state, "ship_to.state", 100)
    residential = options.residential
    if residential is None:
        # Cin7 has no residential flag: an address without a company is taken as
        # residential (the cautious, usually dearer, assumption) unless the caller says.
        residential = not (order.delivery_company or "").strip()
    return RateRequest(
        ship_to=Destination(country=country, postal_code=postal_code,
                            state=state_code(state, country) if state else None,
                            city=_address_text(order.delivery_city, "ship_to.city", 100),
                            residential=residential),
        package=Parcel(weight=Weight(total, weight_units), dimensions=options.dimensions,
                       package_code=options.package_code),
        carriers=options.carriers, service_code=options.service_code,
        confirmation=options.confirmation,
    )


class FreightService:
    def __init__(self, *, cin7: Cin7Client, products, weight_units: str):
        self.cin7 = cin7
        self.products = products
        self.weight_units = weight_units

    def load(self, order_id: int) -> tuple[SalesOrder, dict]:
        found = self.cin7.sales_order(order_id)
        if found is None:
            raise FreightError(404, "order_not_found", f"No Cin7 sales order with id {order_id}.")
        order = SalesOrder(found)
        products = self.products.get_many(line.product_id for line in order.line_items)
        return order, products

    def write(self, order: dict | SalesOrder, freight_fee: Decimal, description: str) -> dict:
        order = SalesOrder.of(order)
        [result] = self.cin7.put_sales_orders(
            [freight_update(order.id, freight_fee, description)])
        if not result.success:
            raise FreightError(502, "cin7_rejected",
                               "Cin7 did not save the freight: " + "; ".join(result.errors))
        return freight_fields(freight_fee, description)
