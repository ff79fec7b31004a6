"""The ``ratecalc`` command line, run as a real subprocess against the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from tests.conftest import base_env

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("RATECALC_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    clean.update(env or {})
    return subprocess.run([sys.executable, "-m", "ratecalc", *args], env=clean, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def env(shipstation) -> dict:
    return base_env(shipstation.url)


def assert_no_traceback(result):
    assert "Traceback" not in result.stderr
    assert "Traceback" not in result.stdout


# -- check ----------------------------------------------------------------------------------
def test_check_with_good_credentials(env, shipstation):
    result = run("check", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok:")
    assert "accepted the credentials" in result.stdout
    for code in ("fedex", "stamps_com", "ups"):
        assert code in result.stdout
    assert "demo-secret" not in result.stdout + result.stderr
    assert [c["path"] for c in shipstation.calls()] == ["/carriers"]


def test_check_with_bad_credentials(env):
    env["RATECALC_SHIPSTATION_API_SECRET"] = "not-the-secret-91c2"
    result = run("check", env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("failed:")
    assert "refused the stored API credentials" in result.stderr
    assert "RATECALC_SHIPSTATION_API_KEY" in result.stderr  # says what to fix
    assert "not-the-secret-91c2" not in result.stdout + result.stderr
    assert_no_traceback(result)


@pytest.mark.parametrize(("key", "code"), [("demo-v2-key", 0), ("wrong-v2-key-77", 1)])
def test_check_v2(env, key, code):
    env.update(RATECALC_SHIPSTATION_API="v2", RATECALC_SHIPSTATION_V2_API_KEY=key)
    result = run("check", env=env)
    assert result.returncode == code, result.stderr
    assert "wrong-v2-key-77" not in result.stdout + result.stderr
    assert_no_traceback(result)


def test_check_when_shipstation_is_unreachable(env):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env["RATECALC_SHIPSTATION_BASE_URL"] = f"http://127.0.0.1:{port}"
    result = run("check", env=env)
    assert result.returncode == 1
    assert "failed:" in result.stderr and "connect" in result.stderr
    assert_no_traceback(result)


# -- configuration errors ---------------------------------------------------------------------
CHECK = ["check"]
QUOTE = ["quote", "--to-country", "US", "--to-postal-code", "20500", "--weight", "24oz"]
CONFIG_ERRORS = [
    (CHECK, "RATECALC_MARKUP_PERCENT", "ten"),
    (CHECK, "RATECALC_CACHE_TTL_SECONDS", "-5"),
    (CHECK, "RATECALC_SHIPSTATION_BASE_URL", "ftp://example.com"),
    (CHECK, "RATECALC_SHIPSTATION_API_KEY", None),
    (CHECK, "RATECALC_API_TOKENS", None),
    (CHECK, "RATECALC_SHIP_FROM_POSTAL_CODE", None),
    (QUOTE, "RATECALC_MARKUP_PERCENT", "-1"),
    (QUOTE, "RATECALC_SHIPSTATION_API_SECRET", None),
]


@pytest.mark.parametrize(("command", "name", "value"), CONFIG_ERRORS,
                         ids=[f"{c[0]}-{n}" for c, n, _ in CONFIG_ERRORS])
def test_config_error_is_one_line_naming_the_variable(env, command, name, value):
    if value is None:
        env.pop(name)
    else:
        env[name] = value
    result = run(*command, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert name in lines[0]
    assert lines[0].startswith("ratecalc: configuration error:")
    assert_no_traceback(result)


@pytest.mark.parametrize("missing", ["RATECALC_SHIP_FROM_CITY", "RATECALC_SHIP_FROM_STATE"])
@pytest.mark.parametrize("command", [["check"], ["serve", "--port", "1"]], ids=["check", "serve"])
def test_v2_without_origin_city_or_state_stops_start_up(env, missing, command):
    """V2 rates need the origin's city and state: start-up stops on one line naming it."""
    env.update(RATECALC_SHIPSTATION_API="v2")
    env.pop(missing)
    result = run(*command, env=env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ratecalc: configuration error:") and missing in lines[0]
    assert_no_traceback(result)


def test_a_secret_file_that_is_missing_names_the_variable(env, tmp_path):
    env.pop("RATECALC_SHIPSTATION_API_SECRET")
    env["RATECALC_SHIPSTATION_API_SECRET_FILE"] = str(tmp_path / "nope")
    result = run("check", env=env)
    assert result.returncode == 2
    assert "RATECALC_SHIPSTATION_API_SECRET_FILE" in result.stderr
    assert_no_traceback(result)


# -- quote --------------------------------------------------------------------------------------
QUOTE_ARGS = ["quote", "--to-country", "US", "--to-postal-code", "20500", "--to-state", "DC",
              "--weight", "24oz", "--dimensions", "7x5x6in"]


def test_quote_json(env):
    env["RATECALC_MARKUP_PERCENT"] = "10"
    result = run(*QUOTE_ARGS, "--carrier", "fedex", "--carrier", "ups", "--json", env=env)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout, parse_float=Decimal)
    assert {q["carrier_code"] for q in body["quotes"]} == {"fedex", "ups"}
    assert body["markup_percent"] == 10
    for q in body["quotes"]:
        assert q["freight_fee"] == (q["carrier_cost"] * Decimal("1.1")).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert body["selected"]["freight_fee"] == body["freight_fee"]


def test_quote_table(env):
    result = run(*QUOTE_ARGS, "--carrier", "fedex", env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["carrier", "service", "carrier", "cost", "freight", "fee"]
    assert set(lines[1]) <= {"-", " "}
    assert any(line.startswith("fedex") and "FedEx Ground" in line for line in lines)
    selected = [line for line in lines if line.startswith("selected:")]
    assert len(selected) == 1 and "USD" in selected[0]


def test_quote_table_and_json_agree(env):
    as_json = json.loads(run(*QUOTE_ARGS, "--carrier", "fedex", "--json", env=env).stdout)
    table = run(*QUOTE_ARGS, "--carrier", "fedex", env=env).stdout
    assert f"{as_json['freight_fee']:.2f}" in table


def test_quote_invalid_input_names_the_field(env):
    result = run("quote", "--to-country", "XX", "--to-postal-code", "1", "--weight", "1lb",
                 env=env)
    assert result.returncode == 2
    assert "ship_to.country" in result.stderr
    assert_no_traceback(result)


@pytest.mark.parametrize("extra, field", [
    (["--to-postal-code", "   "], "ship_to.postal_code"),
    (["--to-city", " "], "ship_to.city"),
    (["--confirmation", "telepathy"], "confirmation"),
    (["--carrier", "fed-ex"], "carriers"),
    (["--weight", "0oz"], "package.weight.value"),
])
def test_quote_refuses_what_the_api_refuses(env, extra, field):
    result = run(*QUOTE_ARGS, *extra, env=env)
    assert result.returncode == 2, result.stdout
    assert field in result.stderr
    assert_no_traceback(result)


def test_quote_ups_without_state(env):
    result = run("quote", "--to-country", "US", "--to-postal-code", "20500", "--weight", "1lb",
                 "--carrier", "ups", env=env)
    assert result.returncode == 2
    assert "ship_to.state" in result.stderr


def test_quote_bad_weight_is_a_usage_error(env):
    result = run("quote", "--to-country", "US", "--to-postal-code", "20500", "--weight",
                 "heavy", env=env)
    assert result.returncode == 2
    assert "--weight" in result.stderr and "24oz" in result.stderr
    assert_no_traceback(result)


def test_quote_failure_exits_1(env):
    env["RATECALC_SHIPSTATION_API_SECRET"] = "wrong-secret-123"
    result = run(*QUOTE_ARGS, "--carrier", "fedex", env=env)
    assert result.returncode == 1
    assert "upstream_auth" in result.stderr
    assert "wrong-secret-123" not in result.stderr + result.stdout
    assert_no_traceback(result)


# -- help -----------------------------------------------------------------------------------------
def test_help():
    result = run("--help")
    assert result.returncode == 0
    for command in ("serve", "sandbox", "quote", "check"):
        assert command in result.stdout


def test_no_command_is_a_usage_error():
    result = run()
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "ratecalc"
    if not script.exists():
        pytest.skip("the project is not installed in this interpreter's environment")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "quote" in result.stdout


# -- help for every command and option ----------------------------------------------------
def _parsers(parser, path=("ratecalc",)):
    import argparse

    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, (*path, name))


def test_every_command_and_option_has_help():
    from ratecalc.cli import build_parser

    missing = []
    for path, parser in _parsers(build_parser()):
        for action in parser._actions:
            if action.help in (None, "") and action.dest != "help" and action.option_strings:
                missing.append(" ".join(path) + " " + "/".join(action.option_strings))
            if not action.option_strings and not action.help and action.nargs != "A...":
                missing.append(" ".join(path) + " " + action.dest)
        if len(path) > 1:
            assert parser.description, " ".join(path)
    assert missing == []


def test_version_is_printed():
    result = run("--version", env={})
    assert result.returncode == 0
    assert result.stdout.startswith("ratecalc ")


def test_quote_needs_no_api_tokens(env):
    env.pop("RATECALC_API_TOKENS")
    result = run(*QUOTE_ARGS, "--carrier", "fedex", "--json", env=env)
    assert result.returncode == 0, result.stderr


# -- pricing check and a bad RATECALC_PRICING_FILE ----------------------------------------
EXAMPLE_PRICING = ROOT / "deploy" / "pricing.example.toml"


def test_pricing_check_prints_each_rule_with_a_worked_example():
    result = run("pricing", "check", str(EXAMPLE_PRICING), "--cost", "8.58")
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result)
    out = result.stdout
    assert out.startswith(f"ok: {EXAMPLE_PRICING}: [defaults] and 2 rule(s)")
    assert "[[rule]] #1 'canada-mexico' (when country CA, MX" in out
    assert "[[rule]] #2 'ups-next-day' (when carrier ups and service ups_next_day_air" in out
    # [defaults]: 8.58 × 1.10 = 9.438; + 1.00 = 10.438; up to 0.25 -> 10.50.
    assert ("carrier cost 8.58 × (1 + 10/100) = 9.438; + 1.00 = 10.438; rounded up to a "
            "multiple of 0.25: 10.50; within [6.00, 120.00]: 10.50; fee 10.50") in out
    # canada-mexico: 8.58 × 1.20 = 10.296; + 5.00 = 15.296 -> 15.50.
    assert "= 10.296; + 5.00 = 15.296; rounded up to a multiple of 0.25: 15.50" in out
    assert "free_over 150.00 applies: 0.00; fee 0.00" in out
    assert "(free_over does not apply to ups_next_day_air)" in out


@pytest.mark.parametrize(("text", "expected"), [
    ('[defaults]\nmarkup_percent = "10"\nhandling_fee = [1]\n',
     'line 3: [defaults] handling_fee: Not a valid number: give a decimal such as "12.50".'),
    ('[defaults]\n\n[[rule]]\nname = "x"\ncarier = "ups"\n',
     "line 5: [[rule]] #1 'x' carier: Unknown field."),
    ('[defaults]\nmarkup_percent = "10"\n[[rule]\n', "line 3: TOML syntax error: "),
])
def test_pricing_check_of_a_bad_file_is_one_line_and_exit_2(tmp_path, text, expected):
    path = tmp_path / "pricing.toml"
    path.write_text(text)
    result = run("pricing", "check", str(path))
    assert result.returncode == 2, result.stdout
    assert_no_traceback(result)
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"ratecalc: {path} {expected}")


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["check"], ["sandbox"],
                                     ["quote", "--to-country", "US", "--to-postal-code",
                                      "20500", "--to-state", "DC", "--weight", "1lb"]])
def test_a_bad_pricing_file_stops_start_up_with_one_line(env, tmp_path, command):
    path = tmp_path / "pricing.toml"
    path.write_text('[defaults]\nround_up_to = "0"\n')
    result = run(*command, env={**env, "RATECALC_PRICING_FILE": str(path),
                                "RATECALC_DATA_DIR": str(tmp_path / "data")})
    assert result.returncode == 2, result.stderr
    assert_no_traceback(result)
    assert result.stderr.strip().splitlines() == [
        f"ratecalc: configuration error: RATECALC_PRICING_FILE: {path} line 2: [defaults] "
        "round_up_to: Must be greater than 0."]


def test_a_missing_pricing_file_is_a_setting_error(env, tmp_path):
    result = run("check", env={**env, "RATECALC_PRICING_FILE": str(tmp_path / "none.toml")})
    assert result.returncode == 2
    assert result.stderr.strip() == ("ratecalc: configuration error: RATECALC_PRICING_FILE: "
                                     f"{str(tmp_path / 'none.toml')!r} is not a file")
