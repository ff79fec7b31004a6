import pytest

from ratecalc.shop.export import countries
from ratecalc.shop.export.countries import state_code, to_iso2


@pytest.mark.parametrize("value, expected", [
    # codes
    ("NZ", "NZ"), ("nz", "NZ"), ("NZL", "NZ"), ("us", "US"), ("GBR", "GB"), ("554", "NZ"),
    # English names, any case and spacing
    ("New Zealand", "NZ"), ("new zealand", "NZ"), ("  New   Zealand ", "NZ"),
    ("United States", "US"), ("United States of America", "US"), ("Australia", "AU"),
    ("Germany", "DE"), ("Viet Nam", "VN"), ("the Netherlands", "NL"),
    # common names pycountry knows
    ("Vietnam", "VN"), ("South Korea", "KR"), ("Taiwan", "TW"), ("Bolivia", "BO"),
    ("Iran", "IR"), ("Czech Republic", "CZ"), ("Côte d'Ivoire", "CI"),
    # unambiguous fuzzy matches on the country's own name
    ("Brunei", "BN"), ("Macedonia", "MK"), ("Micronesia", "FM"), ("St Lucia", "LC"),
    ("Curacao", "CW"),
    # the alias table
    ("USA", "US"), ("U.S.A.", "US"), ("UK", "GB"), ("U.K.", "GB"), ("Great Britain", "GB"),
    ("England", "GB"), ("Republic of Korea", "KR"), ("Russia", "RU"), ("Turkey", "TR"),
    ("Holland", "NL"), ("UAE", "AE"),
])
def test_to_iso2(value, expected):
    assert to_iso2(value) == expected


@pytest.mark.parametrize("value", [
    None, "", "   ", "Narnia", "a", "Korea",  # ambiguous: KP or KR
    "Virgin Islands",  # ambiguous: VG or VI
    "Auckland",  # a subdivision, not a country
    "x" * 500,
])
def test_unresolvable_is_none(value):
    assert to_iso2(value) is None


def test_results_are_cached():
    countries._resolve.cache_clear()
    to_iso2("New Zealand")
    to_iso2(" New Zealand ")
    info = countries._resolve.cache_info()
    assert (info.hits, info.misses) == (1, 1)


@pytest.mark.parametrize("state, country, expected", [
    ("California", "US", "CA"), ("california", "US", "CA"), ("ca", "US", "CA"),
    ("New York", "US", "NY"), ("District of Columbia", "US", "DC"),
    ("Ontario", "CA", "ON"), ("Québec", "CA", "QC"), ("Quebec", "CA", "QC"),
    ("Auckland", "NZ", "Auckland"),  # only US and CA need codes
    ("Somewhere", "US", "Somewhere"),
    ("", "US", None), (None, "US", None),
])
def test_state_code(state, country, expected):
    assert state_code(state, country) == expected
