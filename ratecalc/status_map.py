"""The text of RATECALC_STATUS_MAP: ``status=Stage,Stage;status=Stage``.

Parsed here, below the settings, so that a bad map is a configuration error at
start-up; :class:`ratecalc.shop.export.statuses.StatusMap` uses the parsed form.
"""

from __future__ import annotations

SHIPSTATION_STATUSES = ("awaiting_payment", "awaiting_shipment", "shipped", "cancelled")
DEFAULT_STATUS_MAP = (
    "awaiting_payment=New;awaiting_shipment=Fully Picked;shipped=Dispatched;cancelled=Cancelled"
)
MAX_STAGE_LENGTH = 50  # OrderStatus is String50 in the XSD and 1..50 in the field table


def stage_key(stage: str) -> str:
    return " ".join(stage.split()).casefold()


def _stages(status: str, stages_text: str, owner: dict[str, str]) -> tuple[str, ...]:
    stages: list[str] = []
    for raw_stage in stages_text.split(","):
        stage = " ".join(raw_stage.split())
        if not stage:
            continue
        if len(stage) > MAX_STAGE_LENGTH:
            raise ValueError(f"stage {stage[:20]!r}... is longer than "
                             f"{MAX_STAGE_LENGTH} characters")
        key = stage_key(stage)
        if key in owner:
            other = owner[key]
            where = f"twice in {status}" if other == status else f"in both {other} and {status}"
            raise ValueError(f"stage {stage!r} is listed {where}")
        owner[key] = status
        stages.append(stage)
    if not stages:
        raise ValueError(f"{status} has no stages")
    return tuple(stages)


def parse_status_map(text: str | None) -> dict[str, tuple[str, ...]]:
    """ShipStation status -> Cin7 stages; ValueError names the problem."""
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
        by_status[status] = _stages(status, stages_text, owner)
    if not by_status:
        raise ValueError("status map is empty")
    return by_status
