"""``ratecalc freight-worker [--once]``, ``ratecalc freight history <id>`` and
``ratecalc freight runs [--failed]``, each a real subprocess against the simulators."""

from __future__ import annotations

from tests.shop.autofreight_support import freight_puts, no_freight
from tests.shop.test_shop_cli import db_url, one_line_error, run  # noqa: F401 - fixtures


def test_freight_worker_once_prices_and_the_audit_shows_it(run, cin7):  # noqa: F811
    no_freight(cin7, 1001)
    result = run("freight-worker", "--once", AUTO_FREIGHT="on")
    assert result.returncode == 0, result.stderr
    assert "written 1" in result.stdout and "status ok" in result.stdout
    assert [r["id"] for r in freight_puts(cin7)] == [1001]
    history = run("freight", "history", "1001")
    assert history.returncode == 0, history.stderr
    assert "written" in history.stdout and "no_freight" in history.stdout
    assert "0.00 ->" in history.stdout
    manual = run("freight", "history", "1003")
    assert "manual_freight" in manual.stdout
    runs = run("freight", "runs")
    assert "cursor 20" in runs.stdout and "last run ok" in runs.stdout
    assert "order 1001 (#1050)" in runs.stdout
    failed = run("freight", "runs", "--failed")
    assert failed.returncode == 0 and "no failed freight decisions" in failed.stdout


def test_freight_worker_needs_auto_freight_on(run):  # noqa: F811
    one_line_error(run("freight-worker", "--once"), "RATECALC_AUTO_FREIGHT")


def test_bad_auto_freight_settings_are_one_line_errors(run):  # noqa: F811
    for name, value in (("DEFAULT_BOX", "30x20"), ("MAX_PACKAGE_WEIGHT", "150 stone"),
                        ("AUTO_FREIGHT", "yes"), ("AUTO_FREIGHT_LOOKBACK_HOURS", "-1"),
                        ("PACKAGING_WEIGHT", "heavy")):
        env = {"AUTO_FREIGHT": "on", name: value}
        one_line_error(run("freight-worker", "--once", **env), "RATECALC_" + name)
