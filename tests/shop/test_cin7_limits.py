"""Cin7's call limits: RATECALC_CIN7_REQUESTS_PER_SECOND, _PER_MINUTE and _PER_DAY.

Third-party sources agree on 3/s, 60/min and 5,000/day per API connection; Cin7's own
paragraph on it could not be read, so the figures are settings with those defaults.
"""

from __future__ import annotations

import time

import pytest

from ratecalc.settings import ConfigError
from ratecalc.shop.wiring import build_shop, cin7_limiter, cin7_windows, export_budget
from ratecalc.upstream.cin7.client import CIN7_WINDOWS, DAY
from ratecalc.upstream.limits.budget import WindowLimiter

CIN7 = {"CIN7_USERNAME": "demo-user", "CIN7_API_KEY": "demo-api-key"}


def test_the_defaults_are_cin7s_published_limits(make_settings):
    settings = make_settings(**CIN7)
    assert cin7_windows(settings) == [(3, 1.0), (60, 60.0), (5000, DAY)] == CIN7_WINDOWS
    assert export_budget(settings).windows == [(2500, DAY)]  # RATECALC_EXPORT_MAX_CIN7_SHARE


def test_configured_limits_are_split_between_workers_without_redis(make_settings):
    settings = make_settings(**CIN7, CIN7_REQUESTS_PER_SECOND="10", CIN7_REQUESTS_PER_MINUTE="300",
                             CIN7_REQUESTS_PER_DAY="20000", WORKERS="2")
    limiter = cin7_limiter(settings)
    assert isinstance(limiter, WindowLimiter)
    assert limiter.windows == [(5, 1.0), (150, 60.0), (10000, DAY)]
    assert export_budget(settings).windows == [(5000, DAY)]  # half of 20,000, split in two


def test_the_client_keeps_to_the_configured_rate(make_settings, cin7):
    settings = make_settings(**CIN7, CIN7_BASE_URL=cin7.url, CIN7_REQUESTS_PER_SECOND="2",
                             DATABASE_URL="sqlite://")
    shop = build_shop(settings)
    started = time.monotonic()
    for _ in range(5):  # 2 a second: the 3rd waits for second 1, the 5th for second 2
        shop.cin7.sales_order(1001)
    assert time.monotonic() - started >= 1.9
    assert shop.cin7.daily_remaining() == 5000 - 5


@pytest.mark.parametrize("name", ["CIN7_REQUESTS_PER_SECOND", "CIN7_REQUESTS_PER_MINUTE",
                                  "CIN7_REQUESTS_PER_DAY"])
@pytest.mark.parametrize("value", ["0", "-3", "three", "2.5"])
def test_a_bad_limit_is_one_line_naming_the_setting(make_settings, name, value):
    with pytest.raises(ConfigError) as info:
        make_settings(**CIN7, **{name: value})
    message = str(info.value)
    assert f"RATECALC_{name}" in message and "\n" not in message
