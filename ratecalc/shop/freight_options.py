"""What a caller may choose when pricing a Cin7 order's freight (``POST /v1/orders/<id>/freight``).

Everything is optional; the order itself gives the address and weight. The body is
held to the same rules as a rate request: unknown keys are refused at every level.
"""

from __future__ import annotations

from dataclasses import dataclass

from marshmallow import fields, post_load, validate

from ratecalc.rating.request import Dimensions
from ratecalc.rating.schemas import (
    CARRIER_CODE,
    CONFIRMATIONS,
    DimensionsSchema,
    StrictBoolean,
    StrictSchema,
    Text,
    load_strict,
)


@dataclass(frozen=True)
class FreightOptions:
    dry_run: bool = False
    dimensions: Dimensions | None = None
    package_code: str | None = None
    carriers: tuple[str, ...] | None = None
    service_code: str | None = None
    confirmation: str | None = None
    residential: bool | None = None  # None: decided from the order (no company: residential)


class FreightPackageSchema(StrictSchema):
    dimensions = fields.Nested(DimensionsSchema)
    package_code = Text(validate=validate.Length(min=1, max=50))


class FreightRequestSchema(StrictSchema):
    dry_run = StrictBoolean()
    package = fields.Nested(FreightPackageSchema)
    carriers = fields.List(Text(validate=validate.Regexp(CARRIER_CODE,
                                                         error="Not a ShipStation carrier code.")),
                           validate=validate.Length(min=1, max=20))
    service_code = Text(validate=validate.Length(min=1, max=100))
    confirmation = Text(validate=validate.OneOf(CONFIRMATIONS))
    residential = StrictBoolean()

    @post_load
    def _options(self, data: dict, **_) -> FreightOptions:
        package = data.get("package") or {}
        dims = package.get("dimensions")
        return FreightOptions(
            dry_run=data.get("dry_run", False),
            dimensions=Dimensions(**dims) if dims else None,
            package_code=package.get("package_code"),
            carriers=tuple(data["carriers"]) if "carriers" in data else None,
            service_code=data.get("service_code"),
            confirmation=data.get("confirmation"),
            residential=data.get("residential"),
        )


_SCHEMA = FreightRequestSchema()


def load_freight_options(body) -> FreightOptions:
    return load_strict(_SCHEMA, body)
