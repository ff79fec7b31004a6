"""The US-style dates ShipStation writes: ``M/d/yyyy`` with an optional ``H:mm[:ss[.fff]]``
and an optional AM/PM, as its loose XSD pattern allows (``10/18/2019 21:56 PM`` appears
in its own documentation).

One pattern for both places that read them, the export window
(:mod:`ratecalc.shop.export.window`) and the ship notice
(:mod:`ratecalc.shop.notices.parse`), and one rule for AM/PM
(:func:`hour_of_day`); what each does with an hour that AM/PM cannot qualify is
its own choice.
"""

from __future__ import annotations

import re

US_DATE = re.compile(
    r"\s*(?P<month>[0-9]{1,2})/(?P<day>[0-9]{1,2})/(?P<year>[0-9]{4})"
    r"(?:[\sT]+(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2})"
    r"(?:\.[0-9]{1,7})?)?"
    r"\s*(?P<meridiem>[AaPp][Mm])?)?\s*"
)


def hour_of_day(hour: int, meridiem: str | None) -> int | None:
    """``hour`` on the 24-hour clock; None when AM/PM comes with an hour outside 1..12."""
    if not meridiem:
        return hour
    if not 1 <= hour <= 12:
        return None
    return hour % 12 + (12 if meridiem.lower() == "pm" else 0)
