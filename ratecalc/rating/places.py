"""City and state of a US ZIP code, from the offline ``zipcodes`` package.

Why: ShipStation V2's ``/v2/rates/estimate`` *requires* ``to_city_locality`` and
``to_state_province`` (and the origin's), but Cin7 and most callers send a US
destination as country + ZIP alone. The package ships USPS's ZIP table in the
wheel, so a lookup costs no call, no network and no API key; a ZIP it does not
know (or a country other than the US) leaves the caller to name the place.
"""

from __future__ import annotations

import re
from functools import lru_cache

import zipcodes

_ZIP5 = re.compile(r"^\d{5}$")


@lru_cache(maxsize=4096)
def us_place(zip5: str) -> tuple[str, str] | None:
    """(city, state code) of a five-digit US ZIP code; None when it is unknown."""
    if not _ZIP5.match(zip5):
        return None
    try:
        matches = zipcodes.matching(zip5)
    except (ValueError, TypeError):
        return None
    # An inactive ZIP still names its place; prefer an active one when there are several.
    matches = sorted(matches, key=lambda m: not m.get("active"))
    for match in matches:
        city, state = str(match.get("city") or "").strip(), str(match.get("state") or "").strip()
        if city and len(state) == 2:
            return city, state
    return None


def warm() -> None:
    """Load the table now (about a quarter of a second) rather than on the first quote."""
    us_place("20500")
