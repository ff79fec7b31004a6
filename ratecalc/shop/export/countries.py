"""Country names and codes from Cin7 (free text) to ISO 3166-1 alpha-2.

Cin7's ``deliveryCountry`` is whatever the sales channel typed ("New Zealand",
"NZ", "USA"...); ShipStation wants exactly two letters. Resolution order:

1. pycountry's exact lookup (alpha-2, alpha-3, numeric, name, official and
   common names; case-insensitive), also after light normalisation;
2. a tiny alias table for names pycountry cannot resolve or resolves wrongly;
3. pycountry's fuzzy search, accepted only when it yields exactly one
   country *and* the text is a whole-word part of that country's own name.
   This turns away subdivision hits ("Auckland" -> NZ, "Kosovo" -> RS) and
   ambiguous ones ("Korea").
"""

from __future__ import annotations

import functools
import re
import unicodedata

import pycountry

# Only what pycountry cannot resolve (or resolves to the wrong country).
_ALIASES = {
    "uk": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "usa": "US",
    "america": "US",
    "republic of korea": "KR",
    "russia": "RU",
    "uae": "AE",
    "turkey": "TR",
    "ivory coast": "CI",
    "cape verde": "CV",
    "swaziland": "SZ",
    "burma": "MM",
    "holland": "NL",
    "kosovo": "XK",
}
_MIN_FUZZY_LENGTH = 4


def _fold(text: str) -> str:
    """casefold, accents dropped, punctuation to spaces, "St" -> "Saint", no leading "the"."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    plain = plain.replace(".", "").replace("'", "")
    words = re.sub(r"[^\w]+", " ", plain).split()
    if words and words[0] == "the":
        words = words[1:]
    words = ["saint" if w == "st" else w for w in words]
    return " ".join(words)


def _exact(text: str) -> str | None:
    try:
        return pycountry.countries.lookup(text).alpha_2
    except LookupError:
        return None


def _country_names(country) -> list[str]:
    names = [country.name]
    for attribute in ("official_name", "common_name"):
        value = getattr(country, attribute, None)
        if value:
            names.append(value)
    return [_fold(name) for name in names]


def _fuzzy(folded: str) -> str | None:
    if len(folded) < _MIN_FUZZY_LENGTH:
        return None
    try:
        candidates = pycountry.countries.search_fuzzy(folded)
    except LookupError:
        return None
    needle = f" {folded} "
    hits = {c.alpha_2 for c in candidates
            if any(needle in f" {name} " for name in _country_names(c))}
    return hits.pop() if len(hits) == 1 else None


@functools.lru_cache(maxsize=2048)
def _resolve(text: str) -> str | None:
    found = _exact(text)
    if found:
        return found
    folded = _fold(text)
    if not folded:
        return None
    if folded in _ALIASES:
        return _ALIASES[folded]
    found = _exact(folded) or _exact(folded.replace(" ", ""))  # "U.S.A." -> "usa"
    if found:
        return found
    return _fuzzy(folded)


def to_iso2(value: str | None) -> str | None:
    """ISO 3166-1 alpha-2 code (upper case) for a country code or name, or None."""
    if value is None:
        return None
    text = " ".join(str(value).split())
    if not text or len(text) > 100:
        return None
    return _resolve(text)


# ShipStation needs a 2-letter state/province code for these countries.
_STATE_CODE_COUNTRIES = frozenset({"US", "CA"})


@functools.lru_cache(maxsize=1024)
def _state_codes(country: str) -> dict[str, str]:
    codes: dict[str, str] = {}
    for subdivision in pycountry.subdivisions.get(country_code=country) or ():
        short = subdivision.code.split("-", 1)[1]
        codes[_fold(subdivision.name)] = short
        codes[short.casefold()] = short
    return codes


def state_code(state: str | None, country_iso2: str | None) -> str | None:
    """A US/CA state written out ("California") as its code ("CA"); anything else unchanged."""
    if state is None:
        return None
    text = " ".join(str(state).split())
    if not text or country_iso2 not in _STATE_CODE_COUNTRIES:
        return text or None
    codes = _state_codes(country_iso2)
    return codes.get(text.casefold()) or codes.get(_fold(text)) or text
