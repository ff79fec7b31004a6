"""Which Cin7 Omni stage exports as which ShipStation order status.

ShipStation's Custom Store connection form has one field per ShipStation
status (Unpaid, Paid, Shipped, Cancelled, On-Hold). Each holds the store's own
status strings, comma-separated and matched *case-sensitively*; an order whose
status is in none of them is not imported. Cin7's own integration leaves
On-Hold unsupported, so this map does too.

The configuration is one line: ``status=Stage[,Stage...];status=...``. Cin7
stages are matched case-insensitively, and the exported ``OrderStatus`` is
always the stage as spelled in the configuration, so it matches what was typed
into ShipStation's form (:meth:`StatusMap.connection_fields`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ratecalc.status_map import DEFAULT_STATUS_MAP as DEFAULT_STATUS_MAP  # re-exported
from ratecalc.status_map import SHIPSTATION_STATUSES as SHIPSTATION_STATUSES  # re-exported
from ratecalc.status_map import parse_status_map
from ratecalc.status_map import stage_key as _key

# ShipStation form labels, in the form's order.
_FORM_LABELS = (
    ("Unpaid Status", "awaiting_payment"),
    ("Paid Status", "awaiting_shipment"),
    ("Shipped Status", "shipped"),
    ("Cancelled Status", "cancelled"),
)


@dataclass(frozen=True)
class StatusMap:
    """ShipStation status -> Cin7 stages, as spelled in the configuration."""

    by_status: dict[str, tuple[str, ...]]

    @classmethod
    def parse(cls, text: str) -> StatusMap:
        """Parse ``status=Stage,Stage;status=Stage``; ValueError names the problem."""
        return cls(parse_status_map(text))

    def _lookup(self, stage: str | None) -> tuple[str, str] | None:
        if stage is None:
            return None
        key = _key(str(stage))
        if not key:
            return None
        for status, stages in self.by_status.items():
            for configured in stages:
                if _key(configured) == key:
                    return status, configured
        return None

    def order_status(self, stage: str | None, voided: bool = False) -> str | None:
        """The ``OrderStatus`` to export: the configured spelling, or None when unmapped.

        A voided order exports as the first stage configured for ``cancelled``
        (None when cancelled is not mapped), whatever its stage.
        """
        if voided:
            cancelled = self.by_status.get("cancelled")
            return cancelled[0] if cancelled else None
        found = self._lookup(stage)
        return found[1] if found else None

    def shipstation_status(self, stage: str | None, voided: bool = False) -> str | None:
        """The ShipStation status (``awaiting_shipment`` ...) the order lands in, or None."""
        if voided:
            return "cancelled" if self.by_status.get("cancelled") else None
        found = self._lookup(stage)
        return found[0] if found else None

    def connection_fields(self) -> list[tuple[str, str]]:
        """What to type into ShipStation's connection form, label by label."""
        fields = [(label, ",".join(self.by_status.get(status, ())))
                  for label, status in _FORM_LABELS]
        fields.append(("On-Hold Status", ""))
        return fields
