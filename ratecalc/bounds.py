"""Numbers and text from outside, bounded before anything is done with them.

Why: ``Decimal("1e1999999")`` is cheap, but ``int()`` of it or arithmetic on it
holds the GIL for a minute, and an unbounded string ends up in a database index
or a Cin7 comment. So every number is matched by a plain-digits pattern (no
exponent, a bounded digit count) before it is converted, and every text field
is cut or refused at intake. Errors name the field and are safe to show.
"""

from __future__ import annotations

import re
from decimal import Decimal

MAX_QUANTITY = 1_000_000
MAX_MONEY = Decimal(1_000_000)
MONEY_PLACES = 4
MAX_ID = 2**31 - 1  # Cin7 ids, ShipStation OrderID: SQL Server int

_INTEGER = re.compile(r"[+]?([0-9]{1,10})")
_DECIMAL = re.compile(r"[+-]?([0-9]{1,12})(?:\.([0-9]{0,12}))?|[+-]?\.([0-9]{1,12})")
# C0 controls and DEL; tab and newline are allowed where a field allows lines.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_CONTROLS_ANY = re.compile(r"[\x00-\x1f\x7f]")


class OutOfBounds(ValueError):
    """A value that is not a bounded number or acceptable text; names its field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field} {message}")
        self.field = field
        self.message = message


def integer(text: str | None, field: str, *, minimum: int = 0,
            maximum: int = MAX_QUANTITY) -> int | None:
    """ASCII digits only, within [minimum, maximum]; None stays None."""
    if text is None:
        return None
    text = text.strip()
    match = _INTEGER.fullmatch(text)
    # A whole number written with a zero fraction ("2.0") is still a whole number.
    if match is None and re.fullmatch(r"[+]?[0-9]{1,10}\.0{1,6}", text):
        match = _INTEGER.fullmatch(text.split(".")[0])
    if match is None:
        raise OutOfBounds(field, f"must be a whole number from {minimum} to {maximum}")
    number = int(match.group(1))
    if not minimum <= number <= maximum:
        raise OutOfBounds(field, f"must be a whole number from {minimum} to {maximum}")
    return number


def decimal(text: str | None, field: str, *, maximum: Decimal = MAX_MONEY,
            places: int = MONEY_PLACES, minimum: Decimal = Decimal(0)) -> Decimal | None:
    """A plain decimal (no exponent), at most ``places`` decimals, within bounds."""
    if text is None:
        return None
    text = text.strip()
    match = _DECIMAL.fullmatch(text)
    if match is None:
        raise OutOfBounds(field, "is not a number (a plain decimal such as 12.34)")
    fraction = (match.group(2) or match.group(3) or "").rstrip("0")
    if len(fraction) > places:
        raise OutOfBounds(field, f"has more than {places} decimals")
    number = Decimal(text)
    if not minimum <= number <= maximum:
        raise OutOfBounds(field, f"must be from {minimum} to {maximum}")
    return number


def record_id(text: str | None, field: str) -> int | None:
    """An id of a Cin7 or ShipStation record: 1 .. 2^31-1, ASCII digits."""
    return integer(text, field, minimum=1, maximum=MAX_ID)


def text(value: str | None, field: str, max_length: int, *, lines: bool = False,
         cut: bool = False) -> str | None:
    """Trimmed text without control characters (tab and newline only if ``lines``).

    Longer than ``max_length``: refused, or cut when ``cut`` is set.
    """
    if value is None:
        return None
    value = value.strip()
    if (_CONTROLS if lines else _CONTROLS_ANY).search(value):
        if not lines and _CONTROLS.search(value) is None:
            value = " ".join(value.split())  # a tab or newline in a one-line field
        else:
            raise OutOfBounds(field, "contains control characters")
    if len(value) > max_length:
        if not cut:
            raise OutOfBounds(field, f"is longer than {max_length} characters")
        value = value[:max_length]
    return value or None
