"""The kinds that come from the shop, through ratecalc itself on real HTTP: the Cin7
simulator refusing the credentials, ShipStation's export falling silent while eligible
orders wait, the daily digest of held orders, and ``GET /v1/alerts``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ratecalc.alerts.channels import WebhookChannel
from ratecalc.upstream import auth_watch
from ratecalc.upstream.errors import UpstreamError
from tests import support
from tests.shop.conftest import STORE_PASSWORD, STORE_USER, cin7, shop_env  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture
def alerting(make_api, shop_env, tmp_path, receiver):  # noqa: F811
    """ratecalc in shop mode, its alert loop off (the test drives it), a webhook
    channel to ``receiver`` and the hub on a clock the test moves."""
    auth_watch.reset()
    api = make_api(**shop_env(f"sqlite:///{tmp_path}/shop.sqlite3", ALERTS="off"))
    hub = api.services.extras["alerts"]
    hub.clock = support.FakeClock(datetime.now(UTC))
    hub.channels = {"webhook": WebhookChannel(receiver.url)}
    api.hub = hub
    return api


def _sent(receiver, kind: str) -> list[dict]:
    """Every alert of ``kind`` the webhook received (a message may hold several)."""
    return [a for post in receiver.posts for a in post["alerts"] if a["kind"] == kind]


def _pass(hub, minutes: float = 6) -> None:
    hub.run_once()
    hub.clock.advance(minutes=minutes)
    hub.run_once()


def test_credentials_refused_then_accepted(alerting, cin7, receiver):  # noqa: F811
    shop = alerting.services.extras["shop"]
    shop.cin7._auth = ("demo-user", "wrong-api-key-2f7c")  # the key was revoked in Cin7
    with pytest.raises(UpstreamError):
        shop.cin7.sales_order(1001)
    _pass(alerting.hub)
    (post,) = receiver.posts
    assert post["kind"] == "credentials_refused" and post["key"] == "credentials_refused:cin7"
    assert "401" in post["summary"] and "wrong-api-key" not in str(post)
    shop.cin7._auth = ("demo-user", "demo-api-key")  # a good key again
    assert shop.cin7.sales_order(1001) is not None
    _pass(alerting.hub)
    assert receiver.posts[1]["resolved"] is True


def test_export_silent_while_eligible_orders_wait(alerting, receiver):
    hub = alerting.hub
    hub.run_once()  # the watch starts now
    hub.clock.advance(hours=5)
    _pass(hub)
    assert receiver.posts == []  # five hours of silence: not yet
    hub.clock.advance(hours=2)
    _pass(hub)
    (post,) = receiver.posts
    assert post["kind"] == "export_silent" and post["severity"] == "critical"
    assert post["details"]["waiting_orders"] >= 3 and "#1050" in post["details"]["orders"]
    # ShipStation calls the export again (through the Custom Store): resolved.
    answer = alerting.get("/shipstation/custom-store?action=export&start_date=01/01/2020"
                          "%2000:00&end_date=12/31/2030%2000:00", auth=False,
                          headers={"SS-UserName": STORE_USER, "SS-Password": STORE_PASSWORD})
    assert answer.status_code == 200
    hub.clock = support.FakeClock(datetime.now(UTC))
    _pass(hub)
    assert receiver.posts[1]["kind"] == "export_silent" and receiver.posts[1]["resolved"]


def test_orders_held_daily_digest(alerting, receiver):
    hub = alerting.hub
    hub.run_once()
    hub.clock.advance(hours=25)  # the demo orders were modified hours ago
    _pass(hub)
    held = _sent(receiver, "orders_held")
    (post,) = held
    orders = {o["reference"]: o for o in post["details"]["orders"]}
    assert "SO-1008" in orders and any("country" in r for r in orders["SO-1008"]["reasons"])
    assert "#1050" not in orders and "SO-1006" not in orders  # eligible; void
    for _ in range(4):  # hourly scans, one digest a day
        hub.clock.advance(hours=1)
        _pass(hub)
    assert len(_sent(receiver, "orders_held")) == 1
    hub.clock.advance(hours=20)
    _pass(hub)
    assert len(_sent(receiver, "orders_held")) == 2


def test_the_alerts_endpoint(alerting):
    alerting.hub.raise_alert("auto_freight_failed", "auto_freight_failed:1", "one")
    alerting.hub.raise_alert("auto_freight_failed", "auto_freight_failed:2", "two")
    alerting.hub.resolve_alert("auto_freight_failed", "auto_freight_failed:2")
    body = alerting.get("/v1/alerts?state=open").json()
    assert [a["key"] for a in body["alerts"]] == ["auto_freight_failed:1"]
    assert body["alerts"][0]["resolved"] is False and body["channels"]
    assert "hook-token" not in str(body)
    resolved = alerting.get("/v1/alerts?state=resolved").json()["alerts"]
    assert [a["key"] for a in resolved] == ["auto_freight_failed:2"]
    assert len(alerting.get("/v1/alerts").json()["alerts"]) == 2
    bad = alerting.get("/v1/alerts?state=closed")
    assert bad.status_code == 400 and bad.json()["error"]["details"]["field"] == "state"
    assert alerting.get("/v1/alerts?limit=0").status_code == 400
    assert alerting.get("/v1/alerts", auth=False).status_code == 401


def test_auto_freight_failed_opens_and_resolves_with_the_orders_next_decision(alerting,
                                                                               receiver):
    from ratecalc.shop.store.records import NewFreightAudit

    store = alerting.services.extras["shop"].store
    now = datetime.now(UTC)
    store.add_freight_audit(NewFreightAudit(
        order_id=1001, reference="#1050", action="failed", reason="quote_failed",
        message="ShipStation has no service for this shipment."), now)
    _pass(alerting.hub)
    (alert,) = _sent(receiver, "auto_freight_failed")
    assert alert["key"] == "auto_freight_failed:1001" and "#1050" in alert["summary"]
    assert alert["resolved"] is False
    store.add_freight_audit(NewFreightAudit(
        order_id=1001, reference="#1050", action="written", reason="no_freight",
        new_fee="7.50"), now)
    _pass(alerting.hub)
    assert [a["resolved"] for a in _sent(receiver, "auto_freight_failed")] == [False, True]
