"""What the merchant chose about the export: weight unit, custom fields, gift messages."""

from __future__ import annotations

from dataclasses import dataclass

from ratecalc.units import WEIGHT_UNITS

MAX_CUSTOM_FIELDS = 3  # ShipStation has CustomField1..3


@dataclass(frozen=True)
class ExportOptions:
    weight_units: str = "kilograms"  # unit of weights in the Cin7 account
    custom_fields: tuple[str, ...] = ()  # Cin7 sales-order fields for CustomField1-3
    # A Cin7 sales-order field holding a gift message; a non-blank value marks the
    # order as a gift. Cin7 has no gift field of its own, so this is off by default.
    gift_message_field: str | None = None

    def __post_init__(self) -> None:
        if self.weight_units not in WEIGHT_UNITS:
            raise ValueError(f"weight_units must be one of: {', '.join(WEIGHT_UNITS)}")
        if len(self.custom_fields) > MAX_CUSTOM_FIELDS:
            raise ValueError(f"at most {MAX_CUSTOM_FIELDS} custom fields")
