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
