"""The hub against a real database, a real SMTP server and a real webhook receiver:
dedupe, the five-minute batch, resolve, an SMTP outage, secret hygiene, and the
notice, circuit and auto-freight kinds (time moves on a clock the test holds)."""

from __future__ import annotations

import json
import logging

import pytest

from ratecalc import alerts
from ratecalc.alerts import detectors as d
from ratecalc.alerts.channels import EmailChannel, WebhookChannel
from ratecalc.alerts.hub import AlertHub
from ratecalc.alerts.records import Observation, Scrubber
from ratecalc.shop.store.records import NewNotice
from ratecalc.upstream.breaker import CircuitBreaker
from tests import support
from tests.alerts.conftest import SMTP_PASSWORD

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture
def hub_for(store, clock, smtp, receiver, client_tls):
    made = []

    def make(detectors=(), **kw) -> AlertHub:
        channels = {"email": EmailChannel(smtp.url(), ("ops@example.com",),
                                          "ratecalc@example.com", context=client_tls),
                    "webhook": WebhookChannel(receiver.url)}
        hub = AlertHub(store, channels, detectors=detectors, clock=clock,
                       scrub=kw.pop("scrub", Scrubber([SMTP_PASSWORD])), **kw)
        made.append(hub)
        return hub

    yield make
    for hub in made:
        alerts.deactivate(hub)


def _send(hub, clock, minutes: float = 5.5) -> int:
    clock.advance(minutes=minutes)
    hub.run_once()
    return len(hub.tables.messages())


def test_nothing_goes_out_before_the_batch_window_then_one_message(hub_for, clock, smtp,
                                                                   receiver):
    hub = hub_for()
    hub.raise_alert("auto_freight_failed", "auto_freight_failed:1001", "no rate for 1001")
    hub.run_once()
    assert hub.tables.messages() == [] and smtp.box.messages == [] and receiver.posts == []
    clock.advance(minutes=2)
    hub.raise_alert("auto_freight_failed", "auto_freight_failed:1002", "no rate for 1002")
    hub.raise_alert("notice_failed", "notice_failed:7", "notice 7 failed")
    _send(hub, clock, 3.5)  # 5.5 minutes after the first
    assert len(smtp.box.messages) == 1 and len(receiver.posts) == 1
    post = receiver.posts[0]
    assert sorted(a["key"] for a in post["alerts"]) == [
        "auto_freight_failed:1001", "auto_freight_failed:1002", "notice_failed:7"]
    assert "3 alerts" in smtp.box.subjects()[0]
    for key in ("1001", "1002", "notice 7"):
        assert key in smtp.box.bodies()[0] and key in post["text"]


def test_the_same_key_is_sent_once_per_repeat_window(hub_for, clock, smtp, receiver):
    hub = hub_for(repeat_minutes=240)
    for _ in range(3):
        hub.raise_alert("auto_freight_failed", "auto_freight_failed:9", "freight failed")
    _send(hub, clock)
    for _ in range(5):
        hub.raise_alert("auto_freight_failed", "auto_freight_failed:9", "freight failed again")
        _send(hub, clock, 30)
    assert len(receiver.posts) == 1 and len(smtp.box.messages) == 1
    assert receiver.posts[0]["count"] == 3
    clock.advance(minutes=240)
    hub.raise_alert("auto_freight_failed", "auto_freight_failed:9", "still failing")
    _send(hub, clock)
    assert len(receiver.posts) == 2
    assert receiver.posts[1]["count"] == 9 and receiver.posts[1]["summary"] == "still failing"


def test_resolved_follows_when_the_condition_clears(hub_for, clock, receiver, smtp):
    hub = hub_for()
    hub.raise_alert("auto_freight_failed", "auto_freight_failed:5", "failed")
    _send(hub, clock)
    assert alerts.resolve_alert("auto_freight_failed", "auto_freight_failed:5") is False
    alerts.activate(hub)
    assert alerts.resolve_alert("auto_freight_failed", "auto_freight_failed:5") is True
    _send(hub, clock)
    assert [p["resolved"] for p in receiver.posts] == [False, True]
    assert "RESOLVED" in smtp.box.subjects()[1]
    assert [a.key for a in hub.tables.listing("resolved")] == ["auto_freight_failed:5"]
    assert hub.tables.listing("open") == []


def test_a_reopened_key_waits_for_the_repeat_window(hub_for, clock, receiver):
    hub = hub_for(repeat_minutes=60)
    hub.raise_alert("auto_freight_failed", "auto_freight_failed:3", "failed")
    _send(hub, clock)
    hub.resolve_alert("auto_freight_failed", "auto_freight_failed:3")
    hub.raise_alert("auto_freight_failed", "auto_freight_failed:3", "failed again")
    _send(hub, clock, 10)
    assert [p["resolved"] for p in receiver.posts] == [False, True]
    _send(hub, clock, 60)
    assert [p["resolved"] for p in receiver.posts] == [False, True, False]


def test_an_smtp_outage_loses_nothing(hub_for, clock, smtp, receiver):
    hub = hub_for()
    smtp.stop()
    hub.raise_alert("credentials_refused", "credentials_refused:cin7", "Cin7 refused")
    _send(hub, clock)
    assert len(receiver.posts) == 1 and smtp.box.messages == []
    email = [m for m in hub.tables.messages() if m["channel"] == "email"]
    assert email[0]["status"] == "pending" and email[0]["attempts"] == 1
    assert SMTP_PASSWORD not in (email[0]["last_error"] or "")
    for _ in range(3):  # still down: it waits, with backoff
        _send(hub, clock, 20)
    assert smtp.box.messages == []
    smtp.start()
    _send(hub, clock, 20)
    support.wait_until(lambda: len(smtp.box.messages) == 1)
    assert "Cin7 refused" in smtp.box.bodies()[0]
    assert [m["status"] for m in hub.tables.messages()] == ["sent", "sent"]
    assert len(receiver.posts) == 1  # the webhook's copy went once


def test_no_secret_in_any_alert_or_log(hub_for, clock, smtp, receiver, caplog):
    secret = "cin7-key-0f3a9d2b6c"
    hub = hub_for(scrub=Scrubber([secret, SMTP_PASSWORD]))
    caplog.set_level(logging.DEBUG)
    hub.raise_alert("credentials_refused", "credentials_refused:cin7",
                    f"refused {secret} via https://user:{SMTP_PASSWORD}@mail.example",
                    {"nested": {"deep": [f"key={secret}"]}})
    smtp.stop()
    _send(hub, clock)
    smtp.start()
    _send(hub, clock, 20)
    support.wait_until(lambda: len(smtp.box.messages) == 1)
    # ratecalc's own log lines (serve keeps urllib3 and werkzeug at WARNING)
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("ratecalc"))
    everything = json.dumps([a.to_json() for a in hub.tables.listing()]) + json.dumps(
        hub.tables.messages(), default=str) + ours + json.dumps(receiver.posts)
    everything += "".join(smtp.box.bodies()) + "".join(smtp.box.subjects())
    assert "***" in everything
    assert secret not in everything and SMTP_PASSWORD not in everything
    assert "hook-token" not in ours and "sent via webhook" in ours


def _failed_notice(store, clock, n: int):
    notice, _ = store.add_notice(NewNotice(f"k{n}", 1000 + n, f"SO-{n}", "UPS", "Ground",
                                           f"1Z{n}", {}, "<ShipNotice/>", 1000 + n), clock())
    (claimed,) = store.claim_due("w", clock(), limit=1)
    store.mark_failed(claimed.id, "w", "Cin7: the order is locked")
    return notice


def test_notice_failed_and_pending(hub_for, store, clock, receiver):
    hub = hub_for([d.NoticeFailed(store, pending_minutes=60)])
    failed = _failed_notice(store, clock, 1)
    store.add_notice(NewNotice("k2", 1002, "SO-2", "UPS", "Ground", "1Z2", {}, "<x/>", 1002),
                     clock())
    hub.run_once()  # detected now: sent once the batch window has passed
    _send(hub, clock)
    (post,) = receiver.posts
    assert post["kind"] == "notice_failed" and post["key"] == f"notice_failed:{failed.id}"
    assert "the order is locked" in post["summary"] and len(post["alerts"]) == 1
    clock.advance(minutes=60)  # notice k2 now pending 65 minutes
    hub.run_once()  # detected now: sent once the batch window has passed
    _send(hub, clock)
    assert [a["key"] for a in receiver.posts[1]["alerts"]] == ["notice_failed:pending"]
    store.retry(failed.id, clock())  # someone fixed it in Cin7 and retried
    for claimed in store.claim_due("w", clock(), limit=5):
        store.mark_delivered(claimed.id, "w", clock())
    hub.run_once()  # detected now: sent once the batch window has passed
    _send(hub, clock)
    resolved = receiver.posts[2]["alerts"]
    assert {(a["key"], a["resolved"]) for a in resolved} == {
        (f"notice_failed:{failed.id}", True), ("notice_failed:pending", True)}


def test_circuit_open_for_ten_minutes(hub_for, clock, receiver):
    ticks = support.FakeClock(1000.0)
    breaker = CircuitBreaker("cin7", failures=2, reset_seconds=30, clock=ticks)
    hub = hub_for([d.CircuitOpen(lambda: {"cin7": breaker})])
    breaker.record(False)
    breaker.record(False)
    ticks.advance(9 * 60)
    _send(hub, clock)
    assert receiver.posts == []
    ticks.advance(2 * 60)
    breaker.record(False)  # the half-open probe failed: still not closed
    hub.run_once()
    _send(hub, clock)
    assert receiver.posts[0]["key"] == "circuit_open:cin7"
    assert receiver.posts[0]["severity"] == "critical"
    breaker.record(True)
    hub.run_once()
    _send(hub, clock)
    assert receiver.posts[1]["resolved"] is True


def test_the_raise_and_resolve_hooks(hub_for, clock, receiver):
    hub = hub_for([])
    assert alerts.raise_alert("auto_freight_failed", "auto_freight_failed:1001",
                              "x") is False  # no active hub: logged, not stored
    alerts.activate(hub)
    assert alerts.raise_alert("auto_freight_failed", "auto_freight_failed:1001",
                              "auto-freight failed for order 1001: no service",
                              {"order_id": 1001}) is True
    with pytest.raises(ValueError, match="unknown alert kind"):
        alerts.raise_alert("made_up", "k", "s")
    _send(hub, clock)
    assert receiver.posts[0]["details"] == {"order_id": 1001}
    assert alerts.resolve_alert("auto_freight_failed", "auto_freight_failed:1001") is True
    _send(hub, clock)
    assert receiver.posts[1]["resolved"] is True


def test_observations_are_checked():
    with pytest.raises(ValueError):
        Observation("notice_failed", "", "s").checked()
    with pytest.raises(ValueError):
        Observation("notice_failed", "k", "s", severity="fatal").checked()
