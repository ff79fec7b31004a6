"""The dates ShipStation sends to a Custom Store: ``MM/dd/yyyy HH:mm`` in UTC.

ShipStation URL-encodes them (``01%2f23%2f2012+17%3a28``); Flask has decoded
them by the time they arrive here. Optional seconds and AM/PM are accepted,
since the protocol's own pattern allows both (:mod:`ratecalc.shop.shipstation_dates`,
shared with the ship notice); an hour that AM/PM cannot qualify is an error.

As the peers accept them, so does ratecalc: the compact ``MMDDYYYY`` + ``HHMM``
form WooCommerce handles (``01232012+1728``, any one separator or none) and
ISO 8601 (``2012-01-23T17:28:00Z``; an offset is converted, none means UTC).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ratecalc.shop.shipstation_dates import US_DATE, hour_of_day

# Cin7 Omni dates start well after 2000, and a year past 2100 is a typo (9999 would
# overflow when the window's last minute is added).
FIRST_YEAR, LAST_YEAR = 2000, 2100


class WindowDateError(ValueError):
    pass


COMPACT = re.compile(r"\s*(?P<month>[0-9]{2})(?P<day>[0-9]{2})(?P<year>[0-9]{4})[^0-9]?"
                     r"(?P<hour>[0-9]{2})(?P<minute>[0-9]{2})\s*")
ISO = re.compile(r"\s*[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?P<seconds>:[0-9]{2})?"
                 r"(?:\.[0-9]{1,6})?)?(?:Z|z|[+-][0-9]{2}:?[0-9]{2})?\s*")


def _iso(text: str, name: str) -> tuple[datetime, bool]:
    try:
        moment = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError as exc:
        raise WindowDateError(f"{name} is not a real date: {exc}") from None
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise WindowDateError(f"{name}: the year must be from {FIRST_YEAR} to {LAST_YEAR}, "
                              f"got {moment.year}")
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment, bool(ISO.fullmatch(text)["seconds"])


def parse_window_date(text: str | None, name: str) -> tuple[datetime, bool]:
    """(UTC datetime, whether seconds were given); raises naming the parameter."""
    if not text:
        raise WindowDateError(f"{name} is required (MM/dd/yyyy HH:mm, UTC)")
    if len(text) <= 40 and ISO.fullmatch(text):
        return _iso(text, name)
    match = US_DATE.fullmatch(text) or COMPACT.fullmatch(text)
    if not match or match["hour"] is None:
        raise WindowDateError(f"{name} must look like MM/dd/yyyy HH:mm (UTC), MMDDYYYY HHMM "
                              f"or ISO 8601, got {text[:40]!r}")
    if not FIRST_YEAR <= int(match["year"]) <= LAST_YEAR:
        raise WindowDateError(f"{name}: the year must be from {FIRST_YEAR} to {LAST_YEAR}, "
                              f"got {match['year']}")
    groups = match.groupdict()
    hour = hour_of_day(int(groups["hour"]), groups.get("meridiem"))
    if hour is None:
        raise WindowDateError(f"{name}: hour {int(match['hour'])} is not valid with AM/PM")
    try:
        moment = datetime(int(match["year"]), int(match["month"]), int(match["day"]), hour,
                          int(groups["minute"]), int(groups.get("second") or 0), tzinfo=UTC)
    except ValueError as exc:
        raise WindowDateError(f"{name} is not a real date: {exc}") from None
    return moment, groups.get("second") is not None


def export_window(start_text: str | None, end_text: str | None) -> tuple[datetime, datetime]:
    """[start, end) with ``end`` covering its whole minute (or second, if given)."""
    start, _ = parse_window_date(start_text, "start_date")
    end, with_seconds = parse_window_date(end_text, "end_date")
    end += timedelta(seconds=1) if with_seconds else timedelta(minutes=1)
    if end <= start:
        raise WindowDateError("end_date must not be before start_date")
    return start, end
