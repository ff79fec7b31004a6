"""Settings from the environment: defaults, validation (one line naming the variable),
and secrets given as ``NAME_FILE``."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ratecalc.secrets import Secret
from ratecalc.settings import ConfigError, Settings

COMPLETE = {
    "RATECALC_SHIPSTATION_API_KEY": "key-123",
    "RATECALC_SHIPSTATION_API_SECRET": "secret-456",
    "RATECALC_SHIP_FROM_POSTAL_CODE": "78703",
    "RATECALC_API_TOKENS": "token-0123456789abcdef",
}


def settings(**env) -> Settings:
    return Settings.from_env({**COMPLETE, **{f"RATECALC_{k}": v for k, v in env.items()}})


# -- defaults ---------------------------------------------------------------------------------
def test_defaults():
    s = Settings.from_env({})
    assert s.shipstation_api == "v1"
    assert s.shipstation_base_url == "https://ssapi.shipstation.com"
    assert s.markup_percent == Decimal(0)
    assert s.carriers == ()
    assert s.currency == "USD"
    assert s.cache_ttl_seconds == 900
    assert s.cache_max_entries == 10_000
    assert s.upstream_timeout_seconds == 10
    assert s.shipstation_requests_per_minute == 40
    assert s.quote_deadline_seconds == 15
    assert s.log_level == "INFO"
    assert s.ship_from_country == "US"
    assert (s.workers, s.threads) == (1, 16)
    assert s.api_tokens == ()
    assert s.shipstation_api_key is None and s.ship_from_postal_code is None


def test_v2_defaults():
    s = Settings.from_env({"RATECALC_SHIPSTATION_API": "V2"})
    assert s.shipstation_api == "v2"
    assert s.shipstation_base_url == "https://api.shipstation.com"
    assert s.shipstation_requests_per_minute == 200


def test_blank_values_are_defaults():
    s = settings(MARKUP_PERCENT="  ", CACHE_TTL_SECONDS="")
    assert s.markup_percent == 0 and s.cache_ttl_seconds == 900


def test_values_are_parsed():
    s = settings(MARKUP_PERCENT="12.5", CARRIERS=" FedEx, ups ,,stamps_com", CURRENCY="cad",
                 CACHE_TTL_SECONDS="0.5", CACHE_MAX_ENTRIES="5", UPSTREAM_TIMEOUT_SECONDS="3",
                 SHIPSTATION_REQUESTS_PER_MINUTE="20", QUOTE_DEADLINE_SECONDS="2.5",
                 LOG_LEVEL="debug", SHIPSTATION_BASE_URL="http://127.0.0.1:9999/",
                 API_TOKENS="aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbb")
    assert s.markup_percent == Decimal("12.5")
    assert s.carriers == ("fedex", "ups", "stamps_com")
    assert s.currency == "CAD"
    assert (s.cache_ttl_seconds, s.cache_max_entries) == (0.5, 5)
    assert s.upstream_timeout_seconds == 3
    assert s.shipstation_requests_per_minute == 20
    assert s.quote_deadline_seconds == 2.5
    assert s.log_level == "DEBUG"
    assert s.shipstation_base_url == "http://127.0.0.1:9999"
    assert [t.reveal() for t in s.api_tokens] == ["aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"]


def test_markup_is_exact_decimal():
    assert settings(MARKUP_PERCENT="0.1").markup_percent == Decimal("0.1")


# -- validation: one line naming the variable ---------------------------------------------------
INVALID = [
    ("SHIPSTATION_API", "v3"),
    ("SHIPSTATION_BASE_URL", "ftp://ssapi.example.com"),
    ("SHIPSTATION_BASE_URL", "not a url"),
    ("SHIPSTATION_REQUESTS_PER_MINUTE", "0"),
    ("SHIPSTATION_REQUESTS_PER_MINUTE", "forty"),
    ("SHIPSTATION_REQUESTS_PER_MINUTE", "4.5"),
    ("MARKUP_PERCENT", "-1"),
    ("MARKUP_PERCENT", "ten"),
    ("MARKUP_PERCENT", "NaN"),
    ("MARKUP_PERCENT", "Infinity"),
    ("MARKUP_PERCENT", "12,5"),
    ("CARRIERS", "fedex,fed ex"),
    ("CARRIERS", "ups;fedex"),
    ("CURRENCY", "US"),
    ("CURRENCY", "dollars"),
    ("SHIP_FROM_COUNTRY", "USA"),
    ("API_TOKENS", "short"),
    ("API_TOKENS", "token-0123456789abcdef,short"),
    ("CACHE_TTL_SECONDS", "0"),
    ("CACHE_TTL_SECONDS", "-1"),
    ("CACHE_TTL_SECONDS", "soon"),
    ("CACHE_TTL_SECONDS", "nan"),
    ("CACHE_TTL_SECONDS", "inf"),
    ("CACHE_MAX_ENTRIES", "0"),
    ("CACHE_MAX_ENTRIES", "many"),
    ("UPSTREAM_TIMEOUT_SECONDS", "0"),
    ("UPSTREAM_TIMEOUT_SECONDS", "ten"),
    ("QUOTE_DEADLINE_SECONDS", "-3"),
    ("QUOTE_DEADLINE_SECONDS", "NaN"),
    ("LOG_LEVEL", "LOUD"),
    ("WORKERS", "0"),
    ("THREADS", "none"),
]


@pytest.mark.parametrize(("name", "value"), INVALID, ids=[f"{n}={v}" for n, v in INVALID])
def test_invalid_value_is_one_line_naming_the_variable(name, value):
    with pytest.raises(ConfigError) as info:
        settings(**{name: value})
    message = str(info.value)
    assert f"RATECALC_{name}" in message
    assert "\n" not in message
    assert len(message) < 200


def test_bad_token_is_not_echoed():
    with pytest.raises(ConfigError) as info:
        settings(API_TOKENS="token-0123456789abcdef,sh0rt-s3cret")
    assert "sh0rt-s3cret" not in str(info.value)


# -- required outside the sandbox ---------------------------------------------------------------
@pytest.mark.parametrize("name", list(COMPLETE))
def test_missing_required_setting_is_named(name):
    env = {k: v for k, v in COMPLETE.items() if k != name}
    s = Settings.from_env(env)
    assert any(name in p for p in s.problems())
    with pytest.raises(ConfigError) as info:
        s.require_complete()
    assert name in str(info.value) and "\n" not in str(info.value)


def test_v2_needs_its_own_key():
    env = {k: v for k, v in COMPLETE.items() if "API_KEY" not in k and "SECRET" not in k}
    s = Settings.from_env({**env, "RATECALC_SHIPSTATION_API": "v2"})
    with pytest.raises(ConfigError, match="RATECALC_SHIPSTATION_V2_API_KEY"):
        s.require_complete()
    s = Settings.from_env({**env, "RATECALC_SHIPSTATION_API": "v2",
                           "RATECALC_SHIPSTATION_V2_API_KEY": "v2key",
                           "RATECALC_SHIP_FROM_CITY": "Austin", "RATECALC_SHIP_FROM_STATE": "TX"})
    assert s.require_complete() is s


@pytest.mark.parametrize("missing", ["RATECALC_SHIP_FROM_CITY", "RATECALC_SHIP_FROM_STATE"])
def test_v2_needs_the_origin_city_and_state(missing):
    """V2 estimates require from_city_locality and from_state_province (the spec)."""
    env = {**COMPLETE, "RATECALC_SHIPSTATION_API": "v2", "RATECALC_SHIPSTATION_V2_API_KEY": "k",
           "RATECALC_SHIP_FROM_CITY": "Austin", "RATECALC_SHIP_FROM_STATE": "TX"}
    env.pop(missing)
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env).require_complete()
    message = str(caught.value)
    assert missing in message and "\n" not in message
    other = ({"RATECALC_SHIP_FROM_CITY", "RATECALC_SHIP_FROM_STATE"} - {missing}).pop()
    assert other not in message
    # V1 sends no origin city or state: it needs neither.
    env.pop("RATECALC_SHIPSTATION_API")
    assert Settings.from_env(env).problems() == []


def test_excluded_services_default_list_and_blank():
    assert settings().excluded_services == ("usps_media_mail",)
    assert settings(EXCLUDED_SERVICES="usps_media_mail, UPS_Ground").excluded_services == \
        ("usps_media_mail", "ups_ground")
    assert settings(EXCLUDED_SERVICES="").excluded_services == ()  # empty on purpose
    assert settings(EXCLUDED_SERVICES="  ").excluded_services == ()
    with pytest.raises(ConfigError, match="RATECALC_EXCLUDED_SERVICES"):
        settings(EXCLUDED_SERVICES="media mail")


def test_complete_settings_have_no_problems():
    assert settings().problems() == []


def test_the_sandbox_needs_nothing():
    assert Settings.from_env({}, sandbox=True).problems() == []


# -- secrets ------------------------------------------------------------------------------------
def test_secret_from_a_file(tmp_path):
    path = tmp_path / "secret"
    path.write_text("  file-secret-789\n")
    env = {k: v for k, v in COMPLETE.items() if k != "RATECALC_SHIPSTATION_API_SECRET"}
    s = Settings.from_env({**env, "RATECALC_SHIPSTATION_API_SECRET_FILE": str(path)})
    assert s.shipstation_api_secret.reveal() == "file-secret-789"


def test_file_wins_over_the_plain_variable(tmp_path):
    path = tmp_path / "key"
    path.write_text("from-file")
    s = settings(SHIPSTATION_API_KEY_FILE=str(path))
    assert s.shipstation_api_key.reveal() == "from-file"


@pytest.mark.parametrize("name", ["SHIPSTATION_API_KEY", "SHIPSTATION_API_SECRET",
                                  "SHIPSTATION_V2_API_KEY", "API_TOKENS", "METRICS_TOKEN"])
def test_every_secret_can_come_from_a_file(tmp_path, name):
    path = tmp_path / name
    path.write_text("file-value-0123456789\n")
    s = settings(**{f"{name}_FILE": str(path)})
    assert "file-value-0123456789" in s.secrets()


def test_tokens_from_a_file(tmp_path):
    path = tmp_path / "tokens"
    path.write_text("aaaaaaaaaaaaaaaa,bbbbbbbbbbbbbbbb\n")
    s = settings(API_TOKENS_FILE=str(path))
    assert [t.reveal() for t in s.api_tokens] == ["aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"]


def test_missing_secret_file_names_the_variable(tmp_path):
    with pytest.raises(ConfigError) as info:
        settings(SHIPSTATION_API_SECRET_FILE=str(tmp_path / "absent"))
    message = str(info.value)
    assert "RATECALC_SHIPSTATION_API_SECRET_FILE" in message and "\n" not in message


def test_empty_secret_file_names_the_variable(tmp_path):
    path = tmp_path / "empty"
    path.write_text("\n")
    with pytest.raises(ConfigError, match="RATECALC_SHIPSTATION_API_KEY_FILE"):
        settings(SHIPSTATION_API_KEY_FILE=str(path))


def test_secrets_never_show_in_reprs():
    s = settings()
    text = repr(s) + str(s)
    for secret in ("key-123", "secret-456", "token-0123456789abcdef"):
        assert secret not in text
    assert repr(Secret("hunter2")) == "Secret('***')"
    assert f"{Secret('hunter2')}" == "Secret('***')"


def test_secret_comparison():
    secret = Secret("abc")
    assert secret.matches("abc") and not secret.matches("abd") and not secret.matches(None)
    assert not secret.matches("ab")


# -- declared once ------------------------------------------------------------------
def test_every_invalid_variable_is_reported_in_one_message():
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"RATECALC_WORKERS": "many", "RATECALC_CURRENCY": "dollars",
                           "RATECALC_DATABASE_URL": "postgresql://[bad",
                           "RATECALC_REDIS_URL": "redis://[bad",
                           "RATECALC_STATUS_MAP": "on_hold=On Hold"})
    message = str(caught.value)
    assert "\n" not in message
    for name in ("RATECALC_WORKERS", "RATECALC_CURRENCY", "RATECALC_DATABASE_URL",
                 "RATECALC_REDIS_URL", "RATECALC_STATUS_MAP"):
        assert name in message
    assert "[bad" not in message  # a URL may hold a password: never echoed


def test_every_missing_variable_is_reported_in_one_message():
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({}).require_complete()
    for name in ("RATECALC_SHIPSTATION_API_KEY", "RATECALC_SHIPSTATION_API_SECRET",
                 "RATECALC_SHIP_FROM_POSTAL_CODE", "RATECALC_API_TOKENS"):
        assert name in str(caught.value)


@pytest.mark.parametrize("name", ["DATABASE_URL", "REDIS_URL"])
def test_a_malformed_url_names_the_variable_with_exit_2(name, capsys, monkeypatch):
    from ratecalc.cli import main

    monkeypatch.setenv(f"RATECALC_{name}", "postgresql://user:pw@[bad" if name == "DATABASE_URL"
                       else "redis://user:pw@[bad")
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert f"RATECALC_{name}" in err and "Traceback" not in err and "pw" not in err


@pytest.mark.parametrize("declared", [d for d in Settings.describe() if d.secret],
                         ids=lambda d: d.env)
def test_every_declared_secret_can_come_from_a_file(declared, tmp_path):
    samples = {"RATECALC_API_TOKENS": "0123456789abcdef0123",
               "RATECALC_DATABASE_URL": "postgresql://u:p@db:5432/x",
               "RATECALC_REDIS_URL": "redis://r:6379/0",
               "RATECALC_UI_SECRET_KEY": "from-a-file-0123456789abcdefghijklmnop",
               "RATECALC_SMTP_URL": "smtp://u:p@mail.example:587",
               "RATECALC_ALERT_WEBHOOK_URL": "https://hooks.example/T/B/x"}
    value = samples.get(declared.env, "from-a-file-0123456789")
    path = tmp_path / "secret"
    path.write_text(value + "\n")
    settings = Settings.from_env({declared.env + "_FILE": str(path)})
    got = getattr(settings, declared.name)
    got = got[0] if isinstance(got, tuple) else got
    assert (got.reveal() if hasattr(got, "reveal") else got) == value


def test_trusted_proxies_make_forwarded_headers_count(make_settings):
    from flask import request

    from ratecalc.app.factory import create_app

    def seen(**env):
        app = create_app(make_settings(**env))
        app.add_url_rule("/_seen", "seen", lambda: f"{request.remote_addr} {request.scheme}")
        return app.test_client().get("/_seen", headers={"X-Forwarded-For": "203.0.113.9",
                                                        "X-Forwarded-Proto": "https"}).text

    assert seen() == "127.0.0.1 http"
    assert seen(TRUSTED_PROXIES="1") == "203.0.113.9 https"


def test_a_short_metrics_token_is_refused():
    with pytest.raises(ConfigError, match="RATECALC_METRICS_TOKEN: must be at least 16"):
        Settings.from_env({"RATECALC_METRICS_TOKEN": "short"})
    assert Settings.from_env({"RATECALC_METRICS_TOKEN": "x" * 16}).metrics_token
