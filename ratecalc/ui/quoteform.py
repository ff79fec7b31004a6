"""The quote page's form: its fields, and the ``POST /v1/rates`` body they make.

The form is turned into the same JSON body the API takes and validated by the
same schema, so a page quote and an API quote can never disagree; a bad field
comes back as (field, message) to show next to its input.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ratecalc.units import DIMENSION_UNITS, WEIGHT_UNITS

FIELDS = ("country", "postal_code", "state", "city", "residential", "weight", "weight_units",
          "length", "width", "height", "dimension_units", "carriers", "order_value")
MAX_FIELD = 100  # longer than any valid value; longer input is cut before validation
# The API's dotted field paths -> the form's input that holds them.
FIELD_OF = {
    "ship_to.country": "country", "ship_to.postal_code": "postal_code",
    "ship_to.state": "state", "ship_to.city": "city",
    "package.weight.value": "weight", "package.weight.units": "weight_units",
    "package.weight": "weight", "package.dimensions.length": "length",
    "package.dimensions.width": "width", "package.dimensions.height": "height",
    "package.dimensions.units": "dimension_units", "package.dimensions": "length",
    "carriers": "carriers", "order_value.amount": "order_value",
    "order_value.currency": "order_value", "order_value": "order_value",
}


@dataclass
class QuoteForm:
    values: dict = field(default_factory=dict)

    @classmethod
    def defaults(cls) -> QuoteForm:
        return cls({"country": "US", "weight_units": "pounds", "dimension_units": "inches"})

    @classmethod
    def from_request(cls, form) -> QuoteForm:
        values = {name: (form.get(name) or "").strip()[:MAX_FIELD] for name in FIELDS}
        values["residential"] = "on" if form.get("residential") else ""
        return cls(values)

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def body(self, currency: str) -> dict:
        """The ``POST /v1/rates`` body (unvalidated) these values stand for."""
        v = self.values
        ship_to = {"country": v.get("country", "").upper(), "postal_code": v.get("postal_code", ""),
                   "residential": bool(v.get("residential"))}
        for name in ("state", "city"):
            if v.get(name):
                ship_to[name] = v[name]
        package: dict = {"weight": {"value": _number(v.get("weight")),
                                    "units": v.get("weight_units") or "pounds"}}
        if any(v.get(n) for n in ("length", "width", "height")):
            package["dimensions"] = {n: _number(v.get(n)) for n in ("length", "width", "height")}
            package["dimensions"]["units"] = v.get("dimension_units") or "inches"
        body = {"ship_to": ship_to, "package": package}
        carriers = [c.strip().lower() for c in v.get("carriers", "").replace(" ", ",").split(",")
                    if c.strip()]
        if carriers:
            body["carriers"] = carriers
        if v.get("order_value"):
            body["order_value"] = {"amount": v["order_value"], "currency": currency}
        return body


def _number(text: str | None):
    """The text as the API would get it: a number when it reads as one, else as given."""
    if not text:
        return None
    return text.replace(",", ".") if text.count(",") == 1 and "." not in text else text


def input_for(api_field: str) -> str | None:
    return FIELD_OF.get(api_field) or FIELD_OF.get(api_field.rsplit(".", 1)[0])


WEIGHT_CHOICES = WEIGHT_UNITS
DIMENSION_CHOICES = DIMENSION_UNITS
