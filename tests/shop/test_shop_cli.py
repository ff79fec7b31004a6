"""``ratecalc shop ...``, ``ratecalc worker``, ``ratecalc db upgrade`` and ``ratecalc check``.

Each command runs as a real subprocess (``python -m ratecalc``) with its environment
pointing at the simulators' sockets and at a SQLite file; ship notifications are put
there through a ratecalc served in-process, over HTTP, like ShipStation would.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ratecalc.shop.notices.worker import DeliveryWorker
from ratecalc.shop.store.schema import MIGRATIONS
from ratecalc.upstream.cin7.client import Cin7Client
from ratecalc.upstream.limits.budget import WindowLimiter
from tests.conftest import base_env
from tests.shop.conftest import STORE_PASSWORD, STORE_USER, UNPACED_CIN7
from tests.support.custom_store_poller import CustomStorePoller

ROOT = Path(__file__).resolve().parents[2]




@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path}/cli.sqlite3"


@pytest.fixture
def run(shipstation, cin7, db_url, tmp_path):
    """``run("shop", "why", "1001", STATUS_MAP=...)`` -> CompletedProcess (text)."""

    def run_cli(*args, **env):
        values = {k: v for k, v in os.environ.items() if not k.startswith("RATECALC_")}
        values.update(base_env(shipstation.url))
        values.update({
            "RATECALC_CIN7_BASE_URL": cin7.url,
            "RATECALC_CIN7_USERNAME": "demo-user",
            "RATECALC_CIN7_API_KEY": "demo-api-key",
            "RATECALC_STORE_USERNAME": STORE_USER,
            "RATECALC_STORE_PASSWORD": STORE_PASSWORD,
            "RATECALC_DATABASE_URL": db_url,
            "RATECALC_CIN7_BRANCH_IDS": "1,2",
            "RATECALC_DELIVERY_WORKER": "off",
            "RATECALC_DATA_DIR": str(tmp_path / "var"),
            **{f"RATECALC_{k}": v for k, v in UNPACED_CIN7.items()},
        })
        for key, value in env.items():
            name = key if key.startswith("RATECALC_") else f"RATECALC_{key}"
            if value is None:
                values.pop(name, None)
            else:
                values[name] = str(value)
        return subprocess.run([sys.executable, "-m", "ratecalc", *args], cwd=ROOT, env=values,
                              capture_output=True, text=True, timeout=60, check=False)

    return run_cli


def one_line_error(result, variable: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert "Traceback" not in result.stderr


def failed_notice(shop_api, cin7, db_url, order_id=1001, message="Order is locked."):
    """A notification posted over HTTP that Cin7 refused: status ``failed``."""
    api = shop_api(database_url=db_url)
    poller = CustomStorePoller(api.url + "/shipstation/custom-store", STORE_USER,
                               STORE_PASSWORD)
    response = poller.ship_notify(order_number="#1050", order_id=str(order_id), carrier="UPS",
                                  service="UPS Ground", tracking_number="1ZCLI0001",
                                  ship_date=datetime(2024, 5, 3, tzinfo=UTC))
    assert response.status_code == 200, response.text
    cin7.fail_put_for(order_id, message)
    client = Cin7Client(cin7.url, "demo-user", "demo-api-key", limiter=WindowLimiter([]))
    DeliveryWorker(store=api.shop.store, cin7=client, dispatch_stage="Dispatched",
                   worker_id="setup").run_once()
    [notice] = api.shop.store.list_notices()
    assert notice.status == "failed"
    return api, notice


# -- shop statuses --------------------------------------------------------------------------

def test_statuses_prints_the_five_connection_form_fields(run):
    result = run("shop", "statuses")
    assert result.returncode == 0, result.stderr
    fields = {}
    for line in result.stdout.splitlines():
        label, sep, value = line.strip().partition(":")
        if sep and label.endswith("Status"):
            fields[label] = value.strip()
    assert list(fields) == ["Unpaid Status", "Paid Status", "Shipped Status",
                            "Cancelled Status", "On-Hold Status"]
    assert fields["Unpaid Status"] == "New"
    assert fields["Paid Status"] == "Fully Picked"
    assert fields["Shipped Status"] == "Dispatched"
    assert fields["Cancelled Status"] == "Cancelled"
    assert "leave empty" in fields["On-Hold Status"]


def test_statuses_follow_the_configured_map_with_its_spelling(run):
    result = run("shop", "statuses", STATUS_MAP="awaiting_payment=New,awaiting payment;"
                 "awaiting_shipment=Fully Picked,Ready for Courier;shipped=Dispatched;"
                 "cancelled=Cancelled,Void")
    assert result.returncode == 0, result.stderr
    assert "New,awaiting payment" in result.stdout
    assert "Fully Picked,Ready for Courier" in result.stdout
    assert "Cancelled,Void" in result.stdout


def test_unmapped_status_is_not_explained_as_on_hold(run):
    result = run("shop", "statuses", STATUS_MAP="awaiting_shipment=Fully Picked;"
                 "shipped=Dispatched")
    assert result.returncode == 0, result.stderr
    unpaid = next(line for line in result.stdout.splitlines() if "Unpaid Status" in line)
    assert "On Hold" not in unpaid


def test_status_map_with_on_hold_is_a_one_line_config_error(run):
    result = run("shop", "statuses",
                 STATUS_MAP="awaiting_shipment=Fully Picked;on_hold=On Hold")
    one_line_error(result, "RATECALC_STATUS_MAP")
    assert "on_hold" in result.stderr


@pytest.mark.parametrize("command", [("shop", "why", "1001"), ("worker", "--once"),
                                     ("shop", "notifications")])
def test_bad_status_map_stops_every_shop_command(run, command):
    result = run(*command, STATUS_MAP="awaiting_shipment=Fully Picked;on_hold=On Hold")
    one_line_error(result, "RATECALC_STATUS_MAP")


def test_bad_weight_unit_is_a_one_line_config_error(run):
    one_line_error(run("shop", "why", "1001", CIN7_WEIGHT_UNITS="stones"),
                   "RATECALC_CIN7_WEIGHT_UNITS")


def test_shop_commands_without_cin7_credentials(run):
    one_line_error(run("shop", "why", "1001", CIN7_API_KEY=None), "RATECALC_CIN7_API_KEY")


# -- shop why -------------------------------------------------------------------------------

def test_why_eligible_order_exits_0(run):
    result = run("shop", "why", "1001")
    assert result.returncode == 0, result.stderr
    assert "order 1001 (#1050): eligible for export" in result.stdout
    assert "ShipStation status: Fully Picked" in result.stdout
    assert "last exported: never" in result.stdout


def test_why_not_eligible_prints_every_reason_and_exits_1(run, cin7):
    result = run("shop", "why", "1007")
    assert result.returncode == 1, result.stderr
    assert "NOT eligible" in result.stdout
    assert "- stage: stage is 'New'; must be one of: Fully Picked" in result.stdout
    [line] = cin7.orders[1007]["lineItems"]
    assert f"- dispatch_qty: no dispatch quantity on MCT-BLK-L (line {line['id']})" \
        in result.stdout


def test_why_json(run):
    result = run("shop", "why", "1011", "--json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["order_id"] == 1011
    assert body["eligible"] is False
    assert [r["rule"] for r in body["reasons"]] == ["branch"]


def test_why_unknown_order_is_one_line_exit_1(run):
    result = run("shop", "why", "987654")
    assert result.returncode == 1
    assert "No Cin7 sales order with id 987654" in result.stderr
    assert "Traceback" not in result.stderr


# -- notifications, retry, worker ------------------------------------------------------------

def test_failed_notification_listed_retried_and_delivered_by_the_worker(
        run, shop_api, cin7, db_url):
    _, notice = failed_notice(shop_api, cin7, db_url, message="Order is locked.")

    listed = run("shop", "notifications", "--failed")
    assert listed.returncode == 0, listed.stderr
    [row] = [line for line in listed.stdout.splitlines() if line.strip()]
    assert row.split()[0] == str(notice.id)
    assert "failed" in row and "1ZCLI0001" in row and "Order is locked." in row

    retried = run("shop", "retry")
    assert retried.returncode == 0, retried.stderr
    assert f"queued 1 notification(s) for delivery: {notice.id}" in retried.stdout
    pending = run("shop", "notifications", "--status", "pending")
    assert str(notice.id) in pending.stdout and "pending" in pending.stdout

    cin7.fail_put_for(1001, None)
    worked = run("worker", "--once")
    assert worked.returncode == 0, worked.stderr
    assert "handled 1 notification(s)" in worked.stdout
    assert "[ratecalc notice" in cin7.orders[1001]["internalComments"]
    assert cin7.orders[1001]["trackingCode"] == "1ZCLI0001"

    none_failed = run("shop", "notifications", "--failed")
    assert "no ship notifications with status failed" in none_failed.stdout
    again = run("worker", "--once")
    assert "handled 0 notification(s)" in again.stdout
    assert cin7.orders[1001]["internalComments"].count("[ratecalc notice") == 1


def test_retry_by_id_and_of_an_unknown_id(run, shop_api, cin7, db_url):
    _, notice = failed_notice(shop_api, cin7, db_url)
    unknown = run("shop", "retry", "424242")
    assert unknown.returncode == 1
    assert "queued 0 notification(s)" in unknown.stdout
    by_id = run("shop", "retry", str(notice.id))
    assert by_id.returncode == 0, by_id.stderr
    assert f"queued 1 notification(s) for delivery: {notice.id}" in by_id.stdout
    twice = run("shop", "retry", str(notice.id))  # now pending, not failed
    assert twice.returncode == 1


def test_worker_once_with_nothing_to_do(run):
    result = run("worker", "--once")
    assert result.returncode == 0, result.stderr
    assert "handled 0 notification(s)" in result.stdout


def test_worker_once_keeps_a_notice_when_cin7_is_down(run, shop_api, cin7, db_url):
    api = shop_api(database_url=db_url)
    poller = CustomStorePoller(api.url + "/shipstation/custom-store", STORE_USER,
                               STORE_PASSWORD)
    assert poller.ship_notify(order_number="#1050", order_id="1001", carrier="UPS",
                              tracking_number="1ZDOWN").status_code == 200
    cin7.set_outage(503)
    result = run("worker", "--once")
    assert result.returncode == 0, result.stderr
    [notice] = api.shop.store.list_notices()
    assert notice.status == "pending"
    assert notice.attempts == 1


ALL_VERSIONS = [m.version for m in MIGRATIONS]


# -- db upgrade --------------------------------------------------------------------------------

def test_db_upgrade_creates_the_schema_once(run, tmp_path):
    url = f"sqlite:///{tmp_path}/fresh/ratecalc.sqlite3"
    first = run("db", "upgrade", DATABASE_URL=url)
    assert first.returncode == 0, first.stderr
    assert str(ALL_VERSIONS) in first.stdout
    with sqlite3.connect(tmp_path / "fresh" / "ratecalc.sqlite3") as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_version")]
    assert {"shop_notices", "shop_exported_orders", "schema_version"} <= tables
    assert versions == ALL_VERSIONS
    second = run("db", "upgrade", DATABASE_URL=url)
    assert second.returncode == 0, second.stderr
    assert "[]" in second.stdout


def test_db_upgrade_on_each_engine(run, store_url):
    first = run("db", "upgrade", DATABASE_URL=store_url)
    assert first.returncode == 0, first.stderr
    assert str(ALL_VERSIONS) in first.stdout
    second = run("db", "upgrade", DATABASE_URL=store_url)
    assert second.returncode == 0, second.stderr
    assert "[]" in second.stdout
    assert run("worker", "--once", DATABASE_URL=store_url).returncode == 0


def test_db_upgrade_on_an_unusable_path_is_a_config_error(run, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run("db", "upgrade", DATABASE_URL=f"sqlite:///{blocker}/db.sqlite3")
    one_line_error(result, "RATECALC_DATABASE_URL")


def test_db_upgrade_error_does_not_show_the_password(run):
    result = run("db", "upgrade",
                 DATABASE_URL="postgresql://ratecalc:s3cret-pw@127.0.0.1:1/ratecalc")
    one_line_error(result, "RATECALC_DATABASE_URL")
    assert "s3cret-pw" not in result.stderr


# -- check -------------------------------------------------------------------------------------


def test_check_reports_cin7_ok(run, cin7):
    result = run("check")
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "ok: Cin7 accepted the API connection" in result.stdout
    assert "ok: ShipStation" in result.stdout
    assert cin7.calls("GET", "/v1/SalesOrders")


def test_check_with_bad_cin7_credentials_fails(run):
    result = run("check", CIN7_API_KEY="wrong-key")
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "failed: Cin7" in result.stderr
    assert "RATECALC_CIN7_API_KEY" in result.stderr
    assert "wrong-key" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_check_with_cin7_unreachable_fails(run, cin7):
    cin7.set_outage(503)
    result = run("check")
    assert result.returncode == 1
    assert "failed: Cin7" in result.stderr


def test_check_with_a_bad_status_map_is_a_config_error(run):
    one_line_error(run("check", STATUS_MAP="awaiting_shipment=Fully Picked;on_hold=On Hold"),
                   "RATECALC_STATUS_MAP")


def test_check_still_reports_shipstation(run):
    result = run("check")
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "ok: ShipStation" in result.stdout


def test_check_with_the_database_unreachable_fails(run):
    result = run("check", DATABASE_URL="postgresql://ratecalc:db-secret-pw@127.0.0.1:1/x")
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "failed: database" in result.stderr
    assert "db-secret-pw" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
