"""Pricing rules (ratecalc/rating/pricing.py): the order of application in exact cents,
rule matching, free_over, exclusion, and one-line errors for bad files."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ratecalc.rating import pricing
from ratecalc.rating.markup import freight_fee

D = Decimal

ISSUE_FILE = """\
[defaults]
markup_percent = "12.5"
handling_fee = "2.00"
round_up_to = "0.50"
minimum_fee = "5.00"
maximum_fee = "80.00"
free_over = "150.00"
free_services = ["usps_priority_mail", "ups_ground"]
exclude_services = ["usps_media_mail"]

[[rule]]
name = "ups-canada"
carrier = "ups"
service = "ups_standard"
country = ["CA"]
markup_percent = "20"
handling_fee = "5.00"
"""


def fee(text: str, cost: str, *, carrier="ups", service="ups_standard", country="US",
        order_value: str | None = None, base: str = "0") -> pricing.Priced | None:
    rules = pricing.loads(text)
    return rules.price(D(cost), carrier=carrier, service=service, country=country,
                       order_value=D(order_value) if order_value is not None else None,
                       base_markup=D(base))


def error(text: str) -> str:
    with pytest.raises(pricing.PricingError) as caught:
        pricing.loads(text, source="pricing.toml")
    message = str(caught.value)
    assert "\n" not in message
    return message


# -- each key, in exact cents -----------------------------------------------------------
@pytest.mark.parametrize(("body", "cost", "expected"), [
    ("", "8.58", "8.58"),                                       # nothing: the cost
    ('markup_percent = "12.5"', "8.58", "9.65"),                # 9.6525, one rounding
    ('handling_fee = "2.00"', "8.58", "10.58"),
    ('markup_percent = "10"\nhandling_fee = "1.25"', "8.58", "10.69"),   # 9.438 + 1.25
    ('round_up_to = "0.50"', "8.58", "9.00"),
    ('round_up_to = "0.50"', "8.50", "8.50"),                   # a multiple stays
    ('round_up_to = "1"', "8.01", "9.00"),
    ('round_up_to = "0.05"', "8.581", "8.60"),
    ('minimum_fee = "5.00"', "2.10", "5.00"),
    ('maximum_fee = "80.00"', "95.10", "80.00"),
    ('minimum_fee = "5.00"\nmaximum_fee = "80.00"', "10.00", "10.00"),
    ('markup_percent = "12.5"\nminimum_fee = "5.005"', "1.00", "5.01"),  # half up at the end
])
def test_each_key(body, cost, expected):
    priced = fee("[defaults]\n" + body, cost)
    assert priced.fee == D(expected)
    assert priced.fee.as_tuple().exponent == -2


def test_the_issue_example_in_order_of_application():
    # 8.58 × 1.125 = 9.6525; + 2.00 = 11.6525; up to 0.50 -> 12.00; within [5, 80].
    us = fee(ISSUE_FILE, "8.58")
    assert (us.fee, us.rule, us.rounded_up, us.clamped, us.free) == (
        D("12.00"), None, True, None, False)
    assert (us.markup_percent, us.handling_fee) == (D("12.5"), D("2.00"))
    # ups-canada: 8.58 × 1.20 = 10.296; + 5.00 = 15.296; up to 0.50 -> 15.50.
    ca = fee(ISSUE_FILE, "8.58", country="CA")
    assert (ca.fee, ca.rule, ca.markup_percent, ca.handling_fee) == (
        D("15.50"), "ups-canada", D("20"), D("5.00"))
    # 2.10 × 1.125 + 2 = 4.3625 -> 4.50 -> minimum 5.00.
    low = fee(ISSUE_FILE, "2.10", service="usps_priority_mail", carrier="stamps_com")
    assert (low.fee, low.clamped) == (D("5.00"), "minimum")
    # 75 × 1.125 + 2 = 86.375 -> 86.50 -> maximum 80.00.
    high = fee(ISSUE_FILE, "75.00", carrier="fedex", service="fedex_2day")
    assert (high.fee, high.clamped, high.rounded_up) == (D("80.00"), "maximum", True)


def test_rounding_up_comes_before_the_clamp_and_the_clamp_before_free():
    text = '[defaults]\nround_up_to = "5"\nmaximum_fee = "12.34"\nminimum_fee = "3.33"\n'
    assert fee(text, "10.01").fee == D("12.34")   # 15 -> clamped to 12.34, not a multiple
    assert fee(text, "0.10").fee == D("5.00")     # 5 is above the minimum: no clamp
    assert fee(text, "0.10").clamped is None
    free = fee(text + 'free_over = "0"\n', "0.10", order_value="0")
    assert (free.fee, free.free, free.rounded_up) == (D("0.00"), True, True)


def test_handling_is_added_after_the_markup():
    # (10 × 1.5) + 2 = 17, not (10 + 2) × 1.5 = 18.
    assert fee('[defaults]\nmarkup_percent = "50"\nhandling_fee = "2"', "10").fee == D("17.00")


def test_one_rounding_at_the_end():
    # 0.0449 × 1 + 0.0001 = 0.045 -> 0.05 half up; rounding each step would give 0.04.
    assert fee('[defaults]\nhandling_fee = "0.0001"', "0.0449").fee == D("0.05")


def test_markup_defaults_to_the_setting():
    priced = fee('[defaults]\nhandling_fee = "1.00"', "10.00", base="10")
    assert (priced.fee, priced.markup_percent) == (D("12.00"), D("10"))
    assert fee('[defaults]\nmarkup_percent = "0"', "10.00", base="10").fee == D("10.00")


@given(st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False),
       st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False))
def test_without_rules_the_fee_is_todays_markup(cost, percent):
    priced = pricing.NO_RULES.price(cost, carrier="ups", service="ups_ground", country="US",
                                    order_value=D("1000000"), base_markup=percent)
    assert priced.fee == freight_fee(cost, percent)
    assert str(priced.fee) == str(freight_fee(cost, percent))
    assert (priced.rule, priced.rounded_up, priced.clamped, priced.free) == (
        None, False, None, False)


# -- free_over ---------------------------------------------------------------------------
def test_free_over_with_free_services():
    assert fee(ISSUE_FILE, "8.58", service="ups_ground", order_value="150.00").fee == D("0.00")
    assert fee(ISSUE_FILE, "8.58", service="ups_ground", order_value="150.00").free is True
    assert fee(ISSUE_FILE, "8.58", service="ups_ground", order_value="149.99").fee == D("12.00")
    other = fee(ISSUE_FILE, "8.58", carrier="fedex", service="fedex_2day", order_value="500")
    assert (other.fee, other.free) == (D("12.00"), False)
    assert fee(ISSUE_FILE, "8.58", service="ups_ground").free is False  # no order value


def test_free_over_without_free_services_applies_to_every_service():
    text = '[defaults]\nmarkup_percent = "10"\nfree_over = "100"\n'
    for service in ("ups_ground", "fedex_2day", "anything_else"):
        assert fee(text, "30.00", service=service, order_value="100").fee == D("0.00")
    assert fee(text, "30.00", order_value="99.9999").fee == D("33.00")


def test_free_services_are_matched_case_insensitively():
    text = '[defaults]\nfree_over = "1"\nfree_services = ["UPS_Ground"]\n'
    assert fee(text, "5", service="ups_ground", order_value="2").free is True


# -- exclusion and rules -------------------------------------------------------------------
def test_excluded_services_are_never_quoted():
    assert fee(ISSUE_FILE, "3.00", carrier="stamps_com", service="usps_media_mail") is None
    text = ISSUE_FILE + '\n[[rule]]\nname = "no-fedex-2day"\nservice = "fedex_2day"\n' \
                        'exclude_services = ["fedex_2day"]\n'
    assert fee(text, "9", carrier="fedex", service="fedex_2day") is None
    assert fee(text, "9", carrier="fedex", service="fedex_ground") is not None


def test_first_matching_rule_wins():
    text = """\
[defaults]
markup_percent = "10"
[[rule]]
name = "ups-ca"
carrier = "ups"
country = ["CA", "MX"]
handling_fee = "3.00"
[[rule]]
name = "ups"
carrier = "ups"
handling_fee = "1.00"
[[rule]]
name = "overnight"
service = "fedex_standard_overnight"
markup_percent = "30"
"""
    ca = fee(text, "10.00", country="CA", service="ups_ground")
    assert (ca.rule, ca.fee) == ("ups-ca", D("14.00"))          # 11 + 3; never "ups"
    mx = fee(text, "10.00", country="mx", service="ups_ground")
    assert (mx.rule, mx.fee) == ("ups-ca", D("14.00"))
    us = fee(text, "10.00", country="US", service="ups_ground")
    assert (us.rule, us.fee) == ("ups", D("12.00"))
    fedex = fee(text, "10.00", carrier="fedex", service="fedex_standard_overnight")
    assert (fedex.rule, fedex.fee, fedex.markup_percent) == ("overnight", D("13.00"), D("30"))
    plain = fee(text, "10.00", carrier="fedex", service="fedex_ground")
    assert (plain.rule, plain.fee) == (None, D("11.00"))


def test_every_matcher_of_a_rule_must_hold():
    text = ISSUE_FILE
    assert fee(text, "8.58", carrier="ups", service="ups_standard", country="CA").rule
    assert fee(text, "8.58", carrier="fedex", service="ups_standard", country="CA").rule is None
    assert fee(text, "8.58", carrier="ups", service="ups_ground", country="CA").rule is None
    assert fee(text, "8.58", carrier="ups", service="ups_standard", country="US").rule is None


def test_a_rules_keys_override_the_defaults_and_inherit_the_rest():
    rules = pricing.loads(ISSUE_FILE)
    rule = rules.rules[0]
    assert rule.overrides == ("markup_percent", "handling_fee")
    assert rule.terms.round_up_to == D("0.50") and rule.terms.minimum_fee == D("5.00")
    assert rule.terms.exclude_services == ("usps_media_mail",)


def test_money_as_numbers_or_strings():
    a = pricing.loads('[defaults]\nhandling_fee = 2.5\nmarkup_percent = 10\n')
    assert (a.defaults.handling_fee, a.defaults.markup_percent) == (D("2.5"), D("10"))
    assert pricing.loads('[defaults]\nhandling_fee = 0.1\n').defaults.handling_fee == D("0.1")


def test_an_empty_file_changes_nothing():
    assert fee("", "8.58", base="10").fee == D("9.44")


# -- bad files: one line, the file, the line, the key -----------------------------------------
def test_wrong_type_names_file_line_and_key():
    text = '[defaults]\nmarkup_percent = "12.5"\nhandling_fee = true\n'
    assert error(text) == ('pricing.toml line 3: [defaults] handling_fee: '
                           'Not a valid number: give a decimal such as "12.50".')


def test_unknown_key_names_file_line_and_key():
    text = ISSUE_FILE + 'handlng_fee = "1.00"\n'
    assert error(text) == "pricing.toml line 18: [[rule]] #1 'ups-canada' handlng_fee: " \
                          "Unknown field."
    assert error('\n[default]\nmarkup_percent = "1"\n') == \
        "pricing.toml line 2: default: Unknown field."


def test_toml_syntax_error_gives_tomllibs_line():
    message = error('[defaults]\nmarkup_percent = "12.5"\nhandling_fee = \n')
    assert message.startswith("pricing.toml line 3: TOML syntax error: ")


@pytest.mark.parametrize(("text", "expected"), [
    ('[defaults]\nround_up_to = "0"\n',
     "pricing.toml line 2: [defaults] round_up_to: Must be greater than 0."),
    ('[defaults]\nminimum_fee = "-1"\n',
     "pricing.toml line 2: [defaults] minimum_fee: '-1' must be from 0 to 1000000."),
    ('[defaults]\nhandling_fee = "1e999999"\n',
     "pricing.toml line 2: [defaults] handling_fee: '1e999999' is not a number "
     "(a plain decimal such as 12.34)."),
    ('[defaults]\nhandling_fee = "1.00001"\n',
     "pricing.toml line 2: [defaults] handling_fee: '1.00001' has more than 4 decimals."),
    ('[defaults]\nfree_services = "ups_ground"\n',
     "pricing.toml line 2: [defaults] free_services: Not a valid list."),
    ('[defaults]\nminimum_fee = "9"\nmaximum_fee = "8"\n',
     "pricing.toml line 2: [defaults] minimum_fee: minimum_fee 9 is above maximum_fee 8."),
    ('[[rule]]\ncarrier = "ups"\n',
     "pricing.toml line 1: [[rule]] #1 name: Missing data for required field."),
    ('[[rule]]\nname = "a"\n[[rule]]\nname = "a"\n',
     "pricing.toml line 4: [[rule]] #2 'a' name: another rule is already named 'a'."),
    ('[[rule]]\nname = "a"\n\n[[rule]]\nname = "b"\ncountry = ["XX"]\n',
     "pricing.toml line 6: [[rule]] #2 'b' country: 'XX' is not an ISO 3166-1 alpha-2 "
     "country code."),
    ('[[rule]]\nname = "a"\ncountry = "CA"\n',
     "pricing.toml line 3: [[rule]] #1 'a' country: Not a valid list."),
])
def test_bad_values(text, expected):
    assert error(text) == expected


def test_unreadable_file(tmp_path):
    with pytest.raises(pricing.PricingError) as caught:
        pricing.load(str(tmp_path / "missing.toml"))
    assert str(caught.value) == f"{tmp_path / 'missing.toml'}: cannot read it " \
                                "(No such file or directory)"


def test_load_setting_is_a_config_error_of_one_line(tmp_path):
    from ratecalc.settings import ConfigError

    path = tmp_path / "pricing.toml"
    path.write_text('[defaults]\nmarkup_percent = "x"\n')
    with pytest.raises(ConfigError) as caught:
        pricing.load_setting(str(path))
    assert str(caught.value) == (f"RATECALC_PRICING_FILE: {path} line 2: [defaults] "
                                 "markup_percent: 'x' is not a number (a plain decimal such "
                                 "as 12.34).")
    assert pricing.load_setting(None) is None
