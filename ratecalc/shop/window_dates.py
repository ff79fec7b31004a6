"""The dates ShipStation sends to a Custom Store: ``MM/dd/yyyy HH:mm`` in UTC.

ShipStation URL-encodes them (``01%2f23%2f2012+17%3a28``); Flask has decoded
them by the time they arrive here. Optional seconds and AM/PM are accepted,
since the protocol's own pattern allows both.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_PATTERN = re.compile(
    r"\s*(\d{1,2})/(\d{1,2})/(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?\s*"
)


class WindowDateError(ValueError):
    pass


def parse_window_date(text: str | None, name: str) -> tuple[datetime, bool]:
    """(UTC datetime, whether seconds were given); raises naming the parameter."""
    if not text:
        raise WindowDateError(f"{name} is required (MM/dd/yyyy HH:mm, UTC)")
    match = _PATTERN.fullmatch(text)
    if not match:
        raise WindowDateError(f"{name} must look like MM/dd/yyyy HH:mm (UTC), got {text[:40]!r}")
    month, day, year, hour, minute = (int(match.group(i)) for i in range(1, 6))
    second = int(match.group(6) or 0)
    meridiem = (match.group(7) or "").lower()
    if meridiem:
        if not 1 <= hour <= 12:
            raise WindowDateError(f"{name}: hour {hour} is not valid with AM/PM")
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as exc:
        raise WindowDateError(f"{name} is not a real date: {exc}") from None
    return moment, match.group(6) is not None


def export_window(start_text: str | None, end_text: str | None) -> tuple[datetime, datetime]:
    """[start, end) with ``end`` covering its whole minute (or second, if given)."""
    start, _ = parse_window_date(start_text, "start_date")
    end, with_seconds = parse_window_date(end_text, "end_date")
    end += timedelta(seconds=1) if with_seconds else timedelta(minutes=1)
    if end <= start:
        raise WindowDateError("end_date must not be before start_date")
    return start, end
