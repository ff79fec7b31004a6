"""marshmallow schemas of the rating API: they validate requests, shape
responses, and are the source of ``/openapi.json``."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

import pycountry
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates

from ratecalc import bounds
from ratecalc.rating.request import (
    Destination,
    Dimensions,
    InvalidRequest,
    OrderValue,
    Origin,
    Parcel,
    RateRequest,
    Weight,
)
from ratecalc.units import DIMENSION_UNITS, WEIGHT_UNITS

CONFIRMATIONS = ("none", "delivery", "signature", "adult_signature", "direct_signature")
MAX_MEASURE_VALUE = 1000000
CARRIER_CODE = re.compile(r"^[A-Za-z0-9_]{1,50}$")
COUNTRY_CODES = sorted(c.alpha_2 for c in pycountry.countries)
COUNTRY_DOC = {"description": "ISO 3166-1 alpha-2 (case-insensitive)", "example": "US",
               "enum": COUNTRY_CODES}


@lru_cache(maxsize=512)
def is_country_code(code: str) -> bool:
    return pycountry.countries.get(alpha_2=code.upper()) is not None


@lru_cache(maxsize=64)
def is_currency_code(code: str) -> bool:
    return pycountry.currencies.get(alpha_3=code.upper()) is not None


class StrictSchema(Schema):
    """Unknown fields are an error that names them (marshmallow's RAISE)."""


class PlainDecimal(fields.Field):
    """A bounded decimal, given as a string ("12.50") or a number (12.5), never a boolean.

    Matched by :func:`ratecalc.bounds.decimal` before it is converted (no exponent,
    at most ``places`` decimals, within [minimum, maximum]), so ``"1e999999"`` is a
    400, not a minute of arithmetic. ``positive`` refuses zero as well.
    """

    def __init__(self, *, maximum: Decimal = bounds.MAX_MONEY, places: int = bounds.MONEY_PLACES,
                 positive: bool = False, **kwargs):
        metadata = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$",
                    "description": f"a decimal from {'above ' if positive else ''}0 to "
                                   f"{maximum}, at most {places} decimals, e.g. \"12.50\""}
        metadata.update(kwargs.pop("metadata", {}))
        super().__init__(metadata=metadata, **kwargs)
        self.maximum, self.places, self.positive = maximum, places, positive

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValidationError("Not a valid number: give a decimal such as \"12.50\".")
        try:
            number = bounds.decimal(str(value), "", maximum=self.maximum, places=self.places)
        except bounds.OutOfBounds as exc:
            raise ValidationError(f"{value!r} {exc.message}.") from None
        if self.positive and number == 0:
            raise ValidationError("Must be greater than 0.")
        return number

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else str(value)


class Text(fields.String):
    """A string, trimmed; one that is only white space is refused like a missing one.

    Normalisation would turn "   " into nothing, and ShipStation would answer a
    502 that spent call budget: the caller gets a 400 naming the field instead.
    """

    default_error_messages = {"blank": "Must not be blank."}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not text:
            raise self.make_error("blank")
        return text


class StrictBoolean(fields.Boolean):
    """JSON true/false only: "yes" or 1 would hide a caller's bug that changes the price."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class ShipToSchema(StrictSchema):
    country = Text(required=True, validate=validate.Length(equal=2),
                            metadata=COUNTRY_DOC)
    postal_code = Text(required=True, validate=validate.Length(min=1, max=20),
                                metadata={"example": "20500"})
    state = Text(validate=validate.Length(min=1, max=100), allow_none=True,
                          metadata={"description": "Required when a rated carrier is UPS",
                                    "example": "DC"})
    city = Text(validate=validate.Length(min=1, max=100), allow_none=True,
                         metadata={"example": "Washington"})
    residential = StrictBoolean(load_default=False)

    @validates("country")
    def _known_country(self, value: str, **_):
        if not is_country_code(value):
            raise ValidationError(f"{value!r} is not an ISO 3166-1 alpha-2 country code.")


class ShipFromSchema(StrictSchema):
    postal_code = Text(validate=validate.Length(min=1, max=20),
                                metadata={"example": "78703"})
    country = Text(validate=validate.Length(equal=2), metadata=COUNTRY_DOC)
    state = Text(validate=validate.Length(min=1, max=100), allow_none=True)
    city = Text(validate=validate.Length(min=1, max=100), allow_none=True)

    @validates("country")
    def _known_country(self, value: str, **_):
        if not is_country_code(value):
            raise ValidationError(f"{value!r} is not an ISO 3166-1 alpha-2 country code.")


class Measure(fields.Field):
    """A weight or a side: a number above 0 and at most MAX_MEASURE_VALUE, at most
    six decimals; a JSON number, a string ("24") or a Decimal, never a boolean.

    Checked before it becomes a Decimal that anything is done with: a string by the
    plain-digits pattern of :mod:`ratecalc.bounds`, a JSON number by its float
    (already bounded by the float range), so ``1e-322`` or ``"1e999999"`` is a 400
    answered at once, not a weight that reaches ShipStation.
    """

    PLACES = 6

    def __init__(self, **kwargs):
        metadata = {"type": "number", "minimum": 0, "exclusiveMinimum": True,
                    "maximum": MAX_MEASURE_VALUE,
                    "description": f"above 0, at most {MAX_MEASURE_VALUE}, "
                                   f"at most {self.PLACES} decimals"}
        metadata.update(kwargs.pop("metadata", {}))
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            raise ValidationError("Not a valid number.")
        if isinstance(value, Decimal):  # built in code, not JSON: checked as its text
            value = str(value)
        problem = f"must be a number above 0 and at most {MAX_MEASURE_VALUE}, " \
                  f"with at most {self.PLACES} decimals."
        if isinstance(value, str):
            try:
                number = bounds.decimal(value, "", maximum=Decimal(MAX_MEASURE_VALUE),
                                        places=self.PLACES)
            except bounds.OutOfBounds:
                raise ValidationError(f"{value[:40]!r} {problem}") from None
        elif isinstance(value, int):
            if not 0 < value <= MAX_MEASURE_VALUE:
                raise ValidationError(problem)
            number = Decimal(value)
        else:
            if not 0 < value <= MAX_MEASURE_VALUE:  # also NaN and infinities
                raise ValidationError(problem)
            # repr is the shortest text that reads back as the same float: 24.5, 1e-05
            number = Decimal(repr(value))
        if number <= 0 or -number.as_tuple().exponent > self.PLACES:
            raise ValidationError(problem)
        return number

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else float(value)


class WeightSchema(StrictSchema):
    value = Measure(required=True, metadata={"example": 24})
    units = fields.String(required=True, validate=validate.OneOf(WEIGHT_UNITS))


class DimensionsSchema(StrictSchema):
    length = Measure(required=True)
    width = Measure(required=True)
    height = Measure(required=True)
    units = fields.String(required=True, validate=validate.OneOf(DIMENSION_UNITS))


class PackageSchema(StrictSchema):
    weight = fields.Nested(WeightSchema, required=True)
    dimensions = fields.Nested(DimensionsSchema)
    package_code = Text(validate=validate.Length(min=1, max=50),
                                 metadata={"example": "package"})


class OrderValueSchema(StrictSchema):
    amount = PlainDecimal(required=True, metadata={"example": "150.00"})
    currency = Text(required=True, validate=validate.Length(equal=3),
                    metadata={"description": "ISO 4217; must be RATECALC_CURRENCY",
                              "example": "USD"})

    @validates("currency")
    def _known_currency(self, value: str, **_):
        if not is_currency_code(value):
            raise ValidationError(f"{value!r} is not an ISO 4217 currency code.")


class RatesRequestSchema(StrictSchema):
    ship_to = fields.Nested(ShipToSchema, required=True)
    ship_from = fields.Nested(ShipFromSchema)
    package = fields.Nested(PackageSchema, required=True)
    carriers = fields.List(
        Text(validate=validate.Regexp(CARRIER_CODE,
                                      error="Not a ShipStation carrier code.")),
        validate=validate.Length(min=1, max=20),
        metadata={"description": "Carrier codes; default: RATECALC_CARRIERS or every "
                                 "carrier on the ShipStation account"},
    )
    service_code = Text(validate=validate.Length(min=1, max=100))
    confirmation = Text(validate=validate.OneOf(CONFIRMATIONS))
    order_value = fields.Nested(OrderValueSchema, metadata={
        "description": "The order's value; free_over of the pricing rules needs it"})

    @post_load
    def _request(self, data: dict, **_) -> RateRequest:
        package = data["package"]
        dims = package.get("dimensions")
        return RateRequest(
            ship_to=Destination(**data["ship_to"]),
            ship_from=Origin(**data.get("ship_from", {})),
            package=Parcel(weight=Weight(**package["weight"]),
                           dimensions=Dimensions(**dims) if dims else None,
                           package_code=package.get("package_code")),
            carriers=tuple(data["carriers"]) if "carriers" in data else None,
            service_code=data.get("service_code"),
            confirmation=data.get("confirmation"),
            order_value=OrderValue(amount=data["order_value"]["amount"],
                                   currency=data["order_value"]["currency"].upper())
            if "order_value" in data else None,
        )


def first_error(messages, prefix: str = "") -> tuple[str, str]:
    """The first (field path, message) of marshmallow's nested error dict."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            # marshmallow files whole-object errors ("Invalid input type.") under
            # "_schema": they belong to the object itself, not to a field of it.
            if key == "_schema":
                path = prefix
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            return first_error(value, path)
    if isinstance(messages, list) and messages:
        if isinstance(messages[0], str):
            return prefix, messages[0]
        return first_error(messages[0], prefix)
    return prefix, str(messages)


def load_strict(schema: Schema, data):
    """A JSON object through ``schema``; InvalidRequest names the first bad field."""
    if not isinstance(data, dict):
        raise InvalidRequest("", "The body must be a JSON object.")
    try:
        return schema.load(data)
    except ValidationError as exc:
        field, message = first_error(exc.messages)
        raise InvalidRequest(field, message, exc.messages) from None


def load_rate_request(data) -> RateRequest:
    """A ``POST /v1/rates`` body -> RateRequest."""
    return load_strict(_REQUEST_SCHEMA, data)


# -- responses (documented in OpenAPI, and used to shape the JSON) --------------
class Money(fields.Decimal):
    """A JSON number with at most two decimals (Decimal inside, never float maths)."""

    def __init__(self, **kwargs):
        super().__init__(places=2, rounding=ROUND_HALF_UP, as_string=False, **kwargs)


DECIMAL_TEXT = {"type": "string", "example": "12.5"}


class LinePricingSchema(Schema):
    rule = fields.String(required=True, allow_none=True, metadata={
        "description": "the [[rule]] that priced this line; null: [defaults] (or no file)"})
    markup_percent = fields.String(required=True, metadata=DECIMAL_TEXT)
    handling_fee = fields.String(required=True, metadata={"type": "string", "example": "2.00"})
    rounded_up = fields.Boolean(required=True, metadata={
        "description": "round_up_to raised the fee"})
    clamped = fields.String(required=True, allow_none=True, metadata={
        "description": "\"minimum\" or \"maximum\" when minimum_fee or maximum_fee set the fee"})
    free = fields.Boolean(required=True, metadata={"description": "free_over made it 0.00"})


class QuoteLineSchema(Schema):
    carrier_code = fields.String(required=True)
    service_code = fields.String(required=True)
    service_name = fields.String(required=True)
    shipment_cost = Money(required=True)
    other_cost = Money(required=True)
    carrier_cost = Money(required=True)
    freight_fee = Money(required=True)
    delivery_days = fields.Integer(allow_none=True)
    estimated_delivery_date = fields.String(allow_none=True)
    pricing = fields.Nested(LinePricingSchema, required=True)


class CarrierErrorSchema(Schema):
    carrier_code = fields.String(required=True)
    code = fields.String(required=True)
    message = fields.String(required=True)


class RatesResponseSchema(Schema):
    currency = fields.String(required=True)
    markup_percent = fields.Float(required=True)
    freight_fee = Money(required=True)
    selected = fields.Nested(QuoteLineSchema, required=True)
    quotes = fields.List(fields.Nested(QuoteLineSchema), required=True)
    errors = fields.List(fields.Nested(CarrierErrorSchema), required=True)
    cached = fields.Boolean(required=True)
    stale = fields.Boolean(required=True, metadata={
        "description": "true when ShipStation failed and the last good quote (at most "
                       "RATECALC_STALE_IF_ERROR_SECONDS old, see quoted_at) stands in"})
    quoted_at = fields.String(required=True, metadata={"example": "2026-11-27T01:00:00Z"})


class CarrierSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    nickname = fields.String(allow_none=True)


class CarriersResponseSchema(Schema):
    carriers = fields.List(fields.Nested(CarrierSchema), required=True)


class PricingTermsSchema(Schema):
    markup_percent = fields.String(allow_none=True, metadata=DECIMAL_TEXT)
    handling_fee = fields.String(allow_none=True)
    round_up_to = fields.String(allow_none=True)
    minimum_fee = fields.String(allow_none=True)
    maximum_fee = fields.String(allow_none=True)
    free_over = fields.String(allow_none=True)
    free_services = fields.List(fields.String(), allow_none=True, metadata={
        "description": "null: free_over applies to every service"})
    exclude_services = fields.List(fields.String())


class PricingRuleSchema(Schema):
    name = fields.String(required=True)
    carrier = fields.String(required=True, allow_none=True)
    service = fields.String(required=True, allow_none=True)
    country = fields.List(fields.String(), required=True, allow_none=True)
    overrides = fields.Nested(PricingTermsSchema, required=True, metadata={
        "description": "the keys this rule sets, as written"})
    terms = fields.Nested(PricingTermsSchema, required=True, metadata={
        "description": "[defaults] with this rule's keys applied"})


class PricingResponseSchema(Schema):
    file = fields.String(required=True, allow_none=True, metadata={
        "description": "RATECALC_PRICING_FILE; null: RATECALC_MARKUP_PERCENT alone"})
    defaults = fields.Nested(PricingTermsSchema, required=True)
    rules = fields.List(fields.Nested(PricingRuleSchema), required=True)


class ErrorDetailSchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Dict(required=True)


class ErrorSchema(Schema):
    error = fields.Nested(ErrorDetailSchema, required=True)


_REQUEST_SCHEMA = RatesRequestSchema()
