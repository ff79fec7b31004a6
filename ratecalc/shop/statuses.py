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

SHIPSTATION_STATUSES = ("awaiting_payment", "awaiting_shipment", "shipped", "cancelled")
DEFAULT_STATUS_MAP = (
    "awaiting_payment=New;awaiting_shipment=Fully Picked;shipped=Dispatched;cancelled=Cancelled"
)

# ShipStation form labels, in the form's order.
_FORM_LABELS = (
    ("Unpaid Status", "awaiting_payment"),
    ("Paid Status", "awaiting_shipment"),
    ("Shipped Status", "shipped"),
    ("Cancelled Status", "cancelled"),
)
_MAX_STAGE_LENGTH = 50  # OrderStatus is String50 in the XSD and 1..50 in the field table


def _key(stage: str) -> str:
    return " ".join(stage.split()).casefold()


@dataclass(frozen=True)
class StatusMap:
    """ShipStation status -> Cin7 stages, as spelled in the configuration."""

    by_status: dict[str, tuple[str, ...]]

    @classmethod
    def parse(cls, text: str) -> StatusMap:
        """Parse ``status=Stage,Stage;status=Stage``; ValueError names the problem."""
        if text is None or not text.strip():
            raise ValueError("status map is empty")
        by_status: dict[str, tuple[str, ...]] = {}
        owner: dict[str, str] = {}  # stage key -> status
        for raw_entry in text.replace("\n", ";").split(";"):
            entry = raw_entry.strip()
            if not entry:
                continue
            status, sep, stages_text = entry.partition("=")
            status = status.strip().lower()
            if not sep:
                raise ValueError(f"entry {entry!r} has no '='")
            if status not in SHIPSTATION_STATUSES:
                raise ValueError(f"{status or 'an empty status'} is not supported "
                                 f"(use {', '.join(SHIPSTATION_STATUSES)})")
            if status in by_status:
                raise ValueError(f"{status} is listed twice")
            stages: list[str] = []
            for raw_stage in stages_text.split(","):
                stage = " ".join(raw_stage.split())
                if not stage:
                    continue
                if len(stage) > _MAX_STAGE_LENGTH:
                    raise ValueError(f"stage {stage[:20]!r}... is longer than "
                                     f"{_MAX_STAGE_LENGTH} characters")
                key = _key(stage)
                if key in owner:
                    other = owner[key]
                    where = f"twice in {status}" if other == status else \
                        f"in both {other} and {status}"
                    raise ValueError(f"stage {stage!r} is listed {where}")
                owner[key] = status
                stages.append(stage)
            if not stages:
                raise ValueError(f"{status} has no stages")
            by_status[status] = tuple(stages)
        if not by_status:
            raise ValueError("status map is empty")
        return cls(by_status)

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
