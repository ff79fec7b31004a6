"""Parsers for settings: each turns the text of one environment variable into a value.

Each raises :class:`Invalid` with a message saying why; :mod:`ratecalc.settings`
adds the variable's name, so every error is one line naming the setting.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from ratecalc.secrets import Secret
from ratecalc.status_map import parse_status_map


class Invalid(ValueError):
    """One variable's value is wrong; the message says why (the caller adds the name)."""


# -- parsers: text -> value, raising Invalid ------------------------------------------
def text(value: str) -> str:
    return value


def integer(minimum: int = 0) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise Invalid(f"must be a whole number, got {value!r}") from None
        if number < minimum:
            raise Invalid(f"must be at least {minimum}, got {number}")
        return number
    return parse


def seconds(minimum: float = 0.0) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise Invalid(f"must be a number of seconds, got {value!r}") from None
        if not number > minimum or number != number or number == float("inf"):
            raise Invalid(f"must be greater than {minimum:g}, got {value!r}")
        return number
    return parse


def fraction(value: str) -> float:
    """A share from 0 (exclusive) to 1: ``0.5`` is half."""
    try:
        number = float(value)
    except ValueError:
        raise Invalid(f"must be a number from 0 to 1, got {value!r}") from None
    if not 0 < number <= 1:
        raise Invalid(f"must be more than 0 and at most 1, got {value}")
    return number


def decimal(value: str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise Invalid(f"must be a decimal number such as 12.5, got {value!r}") from None
    if not number.is_finite() or number < 0:
        raise Invalid(f"must be a finite decimal >= 0, got {value!r}")
    return number


def csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def choice(*choices: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value.lower() not in choices:
            raise Invalid(f"must be one of {', '.join(choices)}, got {value.lower()!r}")
        return value.lower()
    return parse


def http_url(value: str) -> str:
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise Invalid(f"is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Invalid(f"must be an http or https URL, got {value!r}")
    return value.rstrip("/")


def url_with_scheme(*schemes: str, example: str) -> Callable[[str], Secret]:
    def parse(value: str) -> Secret:
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - a bad port raises here
        except ValueError:
            raise Invalid(f"is not a valid URL; expected {example}") from None
        if parts.scheme not in schemes:
            raise Invalid(f"must be a {example} URL")
        return Secret(value)
    return parse


def upper_code(length: int, what: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if not re.fullmatch(f"[A-Z]{{{length}}}", value.upper()):
            raise Invalid(f"must be a {what}, got {value.upper()!r}")
        return value.upper()
    return parse


def carrier_codes(value: str) -> tuple[str, ...]:
    codes = tuple(c.lower() for c in csv(value))
    for code in codes:
        if not re.fullmatch(r"[a-z0-9_]+", code):
            raise Invalid(f"{code!r} is not a ShipStation carrier code")
    return codes


def log_level(value: str) -> str:
    if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise Invalid(f"must be DEBUG, INFO, WARNING or ERROR, got {value.upper()!r}")
    return value.upper()


def branch_ids(value: str) -> tuple[int, ...]:
    parts = csv(value)
    for part in parts:
        if not (part.isascii() and part.isdigit()):
            raise Invalid(f"must be comma-separated numbers, got {part!r}")
    return tuple(int(p) for p in parts)


def custom_fields(value: str) -> tuple[str, ...]:
    names = csv(value)
    if len(names) > 3:
        raise Invalid("ShipStation has three custom fields; list at most 3")
    return names


def optional_field(value: str) -> str | None:
    """A field name, or None when the value is ``none`` (the feature is off)."""
    return None if value.lower() == "none" else value


def status_map(value: str) -> str:
    try:
        parse_status_map(value)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    return value


def long_secret(value: str) -> Secret:
    if len(value) < 16:
        raise Invalid("must be at least 16 characters long")
    return Secret(value)


def secret_of_length(minimum: int) -> Callable[[str], Secret]:
    def parse(value: str) -> Secret:
        if len(value) < minimum:
            raise Invalid(f"must be at least {minimum} characters long")
        return Secret(value)
    return parse


def frame_ancestors(value: str) -> str:
    """A CSP ``frame-ancestors`` source list: 'none', 'self' or host sources, space-separated."""
    sources = value.split()
    for source in sources:
        if source not in ("'none'", "'self'") and not re.fullmatch(
                r"(https?://)?(\*\.)?[A-Za-z0-9.-]+(:[0-9]{1,5})?", source):
            raise Invalid(f"{source!r} is not a frame-ancestors source ('none', 'self' "
                          "or a host such as https://*.cin7.com)")
    if "'none'" in sources and len(sources) > 1:
        raise Invalid("'none' cannot be combined with other sources")
    return " ".join(sources)


def api_tokens(value: str) -> tuple[Secret, ...]:
    tokens = csv(value)
    if any(len(token) < 16 for token in tokens):
        raise Invalid("each token must be at least 16 characters long")
    return tuple(Secret(t) for t in tokens)


# The same rules under a name that the Settings class body (with its own
# ``api_tokens`` field) does not shadow.
token_list = api_tokens


def readable_file(value: str) -> str:
    """The path of a file that exists and can be read (its content is checked by its user)."""
    if not os.path.isfile(value):
        raise Invalid(f"{value!r} is not a file")
    if not os.access(value, os.R_OK):
        raise Invalid(f"cannot read {value!r} (permission denied)")
    return value


def secret_list(value: str) -> tuple[Secret, ...]:
    """A comma list of secrets, each accepted (rotation: add the new one, then drop the old)."""
    return tuple(Secret(part) for part in csv(value))


def secret_text(value: str) -> Secret:
    return Secret(value)



_EMAIL = re.compile(r"[^@\s,<>]+@[^@\s,<>]+\.[^@\s,<>]+|[^@\s,<>]+@localhost")


def email_list(value: str) -> tuple[str, ...]:
    """A comma list of plain e-mail addresses (``ops@example.com,oncall@example.com``)."""
    addresses = csv(value)
    bad = [a for a in addresses if len(a) > 254 or not _EMAIL.fullmatch(a)]
    if bad:
        raise Invalid(f"{bad[0]!r} is not an e-mail address (a comma list of name@domain)")
    return addresses


def email_address(value: str) -> str:
    if "," in value:
        raise Invalid("must be one e-mail address")
    return email_list(value)[0]


def smtp_url(value: str) -> Secret:
    """``smtp://user:pass@host:587`` (STARTTLS) or ``smtps://user:pass@host:465``."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        raise Invalid("is not a valid URL; expected smtp://user:pass@host:587 or "
                      "smtps://user:pass@host:465") from None
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise Invalid("must be an smtp:// (STARTTLS) or smtps:// (implicit TLS) URL "
                      "with a host")
    return Secret(value)


def secret_http_url(value: str) -> Secret:
    """An http(s) URL that may carry a token (a Slack webhook URL is a credential)."""
    try:
        parts = urlsplit(value)
    except ValueError:
        raise Invalid("is not a valid URL; expected https://...") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Invalid("must be an http or https URL")
    return Secret(value)
# -- automatic freight ---------------------------------------------------------------------
_WEIGHT_WORDS = {"g": "grams", "gram": "grams", "grams": "grams",
                 "kg": "kilograms", "kilogram": "kilograms", "kilograms": "kilograms",
                 "oz": "ounces", "ounce": "ounces", "ounces": "ounces",
                 "lb": "pounds", "lbs": "pounds", "pound": "pounds", "pounds": "pounds"}
_LENGTH_WORDS = {"cm": "centimeters", "centimeter": "centimeters",
                 "centimeters": "centimeters", "centimetre": "centimeters",
                 "centimetres": "centimeters", "in": "inches", "inch": "inches",
                 "inches": "inches"}
_MEASURE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]+)\s*$")
_BOX = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*[xX×]\s*([0-9]+(?:\.[0-9]+)?)\s*[xX×]\s*"
                  r"([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]+)\s*$")
MAX_MEASURE = Decimal(10_000)


def on_off(value: str) -> bool:
    if value.lower() not in ("on", "off"):
        raise Invalid(f"must be on or off, got {value.lower()!r}")
    return value.lower() == "on"


def weight_with_unit(value: str) -> tuple[Decimal, str]:
    """``150 lb``, ``68kg``, ``2400 oz``... -> (amount, ratecalc weight unit)."""
    found = _MEASURE.match(value)
    units = _WEIGHT_WORDS.get(found.group(2).lower()) if found else None
    if not found or units is None:
        raise Invalid(f"must be a weight with its unit such as 150 lb or 68 kg, got {value!r}")
    amount = Decimal(found.group(1))
    if not 0 < amount <= MAX_MEASURE:
        raise Invalid(f"must be greater than 0 and at most {MAX_MEASURE}, got {value!r}")
    return amount, units


def box(value: str) -> tuple[Decimal, Decimal, Decimal, str] | None:
    """``30x20x15cm`` or ``12x9x6 in`` -> (length, width, height, unit); ``none``: no box."""
    if value.lower() in ("none", "off"):
        return None
    found = _BOX.match(value)
    units = _LENGTH_WORDS.get(found.group(4).lower()) if found else None
    if not found or units is None:
        raise Invalid(f"must be LxWxH with a unit such as 30x20x15cm or 12x9x6in, got {value!r}")
    sides = tuple(Decimal(found.group(n)) for n in (1, 2, 3))
    if not all(0 < side <= MAX_MEASURE for side in sides):
        raise Invalid(f"each side must be greater than 0 and at most {MAX_MEASURE}, "
                      f"got {value!r}")
    return (*sides, units)


def hours(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise Invalid(f"must be a number of hours, got {value!r}") from None
    if not 0 < number <= 24 * 366:
        raise Invalid(f"must be greater than 0 and at most {24 * 366} hours, got {value!r}")
    return number
