"""Tolerant parsing of the date-times Cin7 Omni returns.

Cin7 documents ``yyyy-MM-ddTHH:mm:ssZ`` (UTC), but its samples also show a
7-digit fraction and a local offset (``2024-03-27T01:28:41.9202868+13:00``),
and some clients see values without the ``Z``. A value without an offset is
taken as UTC. .NET's ``DateTime.MinValue`` (year 1) means "no date".
"""

from __future__ import annotations

from datetime import UTC, datetime


def parse_cin7_datetime(value: str | datetime | None) -> datetime | None:
    """An aware UTC datetime, or None for a missing or unreadable value."""
    if value is None:
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text[-1] in "zZ":
            text = text[:-1] + "+00:00"
        try:
            # 3.11's fromisoformat takes any fraction length, offsets and a space separator.
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    if parsed.year <= 1:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
