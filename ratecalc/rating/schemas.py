"""marshmallow schemas of the rating API: they validate requests, shape
responses, and are the source of ``/openapi.json``."""

from __future__ import annotations

from decimal import ROUND_HALF_UP
from functools import lru_cache

import pycountry
from marshmallow import Schema, ValidationError, fields, validate, validates

from ratecalc.rating.units import DIMENSION_UNITS, WEIGHT_UNITS

CONFIRMATIONS = ("none", "delivery", "signature", "adult_signature", "direct_signature")
MAX_MEASURE = validate.Range(min=0, min_inclusive=False, max=1000000)
# apispec does not carry min_inclusive=False into the document; say it ourselves.
MEASURE_DOC = {"exclusiveMinimum": True}
COUNTRY_CODES = sorted(c.alpha_2 for c in pycountry.countries)
COUNTRY_DOC = {"description": "ISO 3166-1 alpha-2 (case-insensitive)", "example": "US",
               "enum": COUNTRY_CODES}


@lru_cache(maxsize=512)
def is_country_code(code: str) -> bool:
    return pycountry.countries.get(alpha_2=code.upper()) is not None


class StrictSchema(Schema):
    """Unknown fields are an error that names them (marshmallow's RAISE)."""


class StrictBoolean(fields.Boolean):
    """JSON true/false only: "yes" or 1 would hide a caller's bug that changes the price."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class ShipToSchema(StrictSchema):
    country = fields.String(required=True, validate=validate.Length(equal=2),
                            metadata=COUNTRY_DOC)
    postal_code = fields.String(required=True, validate=validate.Length(min=1, max=20),
                                metadata={"example": "20500"})
    state = fields.String(validate=validate.Length(min=1, max=100), allow_none=True,
                          metadata={"description": "Required when a rated carrier is UPS",
                                    "example": "DC"})
    city = fields.String(validate=validate.Length(min=1, max=100), allow_none=True,
                         metadata={"example": "Washington"})
    residential = StrictBoolean(load_default=False)

    @validates("country")
    def _known_country(self, value: str, **_):
        if not is_country_code(value):
            raise ValidationError(f"{value!r} is not an ISO 3166-1 alpha-2 country code.")


class ShipFromSchema(StrictSchema):
    postal_code = fields.String(validate=validate.Length(min=1, max=20),
                                metadata={"example": "78703"})
    country = fields.String(validate=validate.Length(equal=2), metadata=COUNTRY_DOC)
    state = fields.String(validate=validate.Length(min=1, max=100), allow_none=True)
    city = fields.String(validate=validate.Length(min=1, max=100), allow_none=True)

    @validates("country")
    def _known_country(self, value: str, **_):
        if not is_country_code(value):
            raise ValidationError(f"{value!r} is not an ISO 3166-1 alpha-2 country code.")


class WeightSchema(StrictSchema):
    value = fields.Decimal(required=True, validate=MAX_MEASURE,
                           metadata={"example": 24, **MEASURE_DOC})
    units = fields.String(required=True, validate=validate.OneOf(WEIGHT_UNITS))


class DimensionsSchema(StrictSchema):
    length = fields.Decimal(required=True, validate=MAX_MEASURE, metadata=MEASURE_DOC)
    width = fields.Decimal(required=True, validate=MAX_MEASURE, metadata=MEASURE_DOC)
    height = fields.Decimal(required=True, validate=MAX_MEASURE, metadata=MEASURE_DOC)
    units = fields.String(required=True, validate=validate.OneOf(DIMENSION_UNITS))


class PackageSchema(StrictSchema):
    weight = fields.Nested(WeightSchema, required=True)
    dimensions = fields.Nested(DimensionsSchema)
    package_code = fields.String(validate=validate.Length(min=1, max=50),
                                 metadata={"example": "package"})


class RatesRequestSchema(StrictSchema):
    ship_to = fields.Nested(ShipToSchema, required=True)
    ship_from = fields.Nested(ShipFromSchema)
    package = fields.Nested(PackageSchema, required=True)
    carriers = fields.List(
        fields.String(validate=validate.Regexp(r"^[A-Za-z0-9_]{1,50}$",
                                               error="Not a ShipStation carrier code.")),
        validate=validate.Length(min=1, max=20),
        metadata={"description": "Carrier codes; default: RATECALC_CARRIERS or every "
                                 "carrier on the ShipStation account"},
    )
    service_code = fields.String(validate=validate.Length(min=1, max=100))
    confirmation = fields.String(validate=validate.OneOf(CONFIRMATIONS))


# -- responses (documented in OpenAPI, and used to shape the JSON) --------------
class Money(fields.Decimal):
    """A JSON number with at most two decimals (Decimal inside, never float maths)."""

    def __init__(self, **kwargs):
        super().__init__(places=2, rounding=ROUND_HALF_UP, as_string=False, **kwargs)


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


class ErrorDetailSchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Dict(required=True)


class ErrorSchema(Schema):
    error = fields.Nested(ErrorDetailSchema, required=True)
