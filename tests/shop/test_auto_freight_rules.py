"""Which orders auto-freight prices, what it sends ShipStation, the export hold, manual writes
in the audit, and the metrics -- through the app and the simulators, on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.shop import autofreight_support
from tests.shop.autofreight_support import freight_puts, history, no_freight
from tests.shop.test_custom_store_export import export_ok, exported_ids

GRAMS_PER = {"grams": Decimal(1), "kilograms": Decimal(1000), "ounces": Decimal("28.349523125"),
             "pounds": Decimal("453.59237")}
SKIPS = {1006: "void", 1013: "cancelled", 1012: "dispatched", 1007: "stage",
         1011: "branch", 1008: "no_address", 1002: "missing_weights",
         1014: "stage", 1018: "stage"}


def start(shop_api, **env):  # ShipStation's minute is not what these tests are about
    return autofreight_support.start(shop_api, **{"SHIPSTATION_REQUESTS_PER_MINUTE": "2000",
                                                  **env})


def test_each_skip_has_its_reason(shop_api, cin7):
    no_freight(cin7)
    api, worker = start(shop_api, AUTO_FREIGHT_STAGES="Fully Picked")
    report = worker.run_once()
    assert report.status == "ok"
    for oid, reason in SKIPS.items():
        [record] = history(api, oid)
        assert (record["action"], record["reason"]) == ("skipped", reason), oid
        assert freight_puts(cin7, oid) == []
    assert "GIFT-WRAP" in history(api, 1002)[0]["message"]
    assert cin7.orders[1001]["freightTotal"] > 0
    failed = api.get("/v1/freight/runs?status=failed").json()["runs"]
    assert failed == []
    skipped = api.get("/v1/freight/runs?status=skipped&limit=3").json()["runs"]
    assert len(skipped) == 3 and {r["action"] for r in skipped} == {"skipped"}
    bad = api.get("/v1/freight/runs?status=nope")
    assert bad.status_code == 400 and "status" in bad.json()["error"]["message"]


def test_too_heavy_is_skipped_never_guessed(shop_api, cin7, shipstation):
    no_freight(cin7, 1001)
    api, worker = start(shop_api, MAX_PACKAGE_WEIGHT="1.5 kg", PACKAGING_WEIGHT="0")
    worker.run_once()
    record = history(api, 1001)[0]
    assert (record["action"], record["reason"]) == ("skipped", "too_heavy")
    assert "1.79" in record["message"]
    assert freight_puts(cin7, 1001) == []
    assert not [c for c in shipstation.calls() if (c["json"] or {}).get("toPostalCode") == "1010"]


def test_packaging_weight_default_box_and_order_value(shop_api, cin7, shipstation):
    no_freight(cin7, 1001)
    api, worker = start(shop_api, PACKAGING_WEIGHT="0.5", DEFAULT_BOX="30x20x15cm")
    worker.run_once()
    [call] = [c for c in shipstation.calls() if c["path"].endswith("/getrates")
              and (c["json"] or {}).get("toPostalCode") == "1010"][:1]
    weight = call["json"]["weight"]
    grams = Decimal(str(weight["value"])) * GRAMS_PER[weight["units"]]
    assert abs(grams - Decimal("2290")) < 1  # 1.79 kg of lines + 0.5 kg of packaging
    dims = call["json"]["dimensions"]
    assert dims["units"] == "centimeters"
    assert (dims["length"], dims["width"], dims["height"]) == (30, 20, 15)
    assert history(api, 1001)[0]["action"] == "written"


def test_free_over_applies_to_the_orders_product_total(shop_api, cin7, tmp_path):
    rules = tmp_path / "pricing.toml"
    rules.write_text('[defaults]\nhandling_fee = "2.00"\nfree_over = "100.00"\n')
    for oid, total in ((1001, 150.0), (1004, 20.0)):
        cin7.orders[oid]["productTotal"] = total
        cin7.orders[oid]["currencyCode"] = "USD"
    no_freight(cin7, 1001, 1004)
    api, worker = start(shop_api, PRICING_FILE=str(rules))
    worker.run_once()
    free, paid = history(api, 1001)[0], history(api, 1004)[0]
    assert (free["action"], free["new_fee"]) == ("written", "0.00")
    assert cin7.orders[1001]["freightDescription"], "a free shipment still names its service"
    assert paid["action"] == "written" and Decimal(paid["new_fee"]) > 2
    # A free fee ratecalc wrote is ratecalc's: the next polls leave it (no loop on 0.00).
    worker.run_once()
    worker.run_once()
    assert len(freight_puts(cin7, 1001)) == 1
    assert history(api, 1001)[0]["reason"] == "unchanged"


def test_export_holds_orders_until_they_have_freight(shop_api, cin7):
    no_freight(cin7, 1001)
    api, worker = start(shop_api, EXPORT_REQUIRES_FREIGHT="on")
    why = api.get("/v1/orders/1001/eligibility").json()
    assert why["eligible"] is False
    assert [r["rule"] for r in why["reasons"]] == ["freight"]
    assert why["freight_status"] is None
    now = datetime.now(UTC).replace(microsecond=0)
    assert 1001 not in exported_ids(export_ok(api, now - timedelta(days=30), now))
    worker.run_once()
    why = api.get("/v1/orders/1001/eligibility").json()
    assert why["eligible"] is True and why["freight_status"]["action"] == "written"
    later = now + timedelta(minutes=2)
    assert 1001 in exported_ids(export_ok(api, now - timedelta(days=30), later))


def test_manual_writes_are_in_the_audit(shop_api, cin7):
    api, worker = start(shop_api)
    response = api.post("/v1/orders/1001/freight", json={})
    assert response.status_code == 200, response.text
    fee = Decimal(str(response.json()["written"]["freightTotal"]))
    [record] = history(api, 1001)
    assert (record["action"], record["reason"], record["source"]) == \
        ("written", "manual_write", "manual")
    assert (record["old_fee"], Decimal(record["new_fee"])) == ("8.50", fee)
    # ratecalc wrote it (by hand): auto-freight sees its own fee, unchanged, and leaves it.
    worker.run_once()
    assert len(freight_puts(cin7, 1001)) == 1
    assert history(api, 1001)[0]["reason"] == "unchanged"
    # A write Cin7 refuses is recorded as failed.
    cin7.fail_put_for(1003)
    assert api.post("/v1/orders/1003/freight", json={}).status_code == 502
    failed = history(api, 1003)[0]
    assert (failed["action"], failed["source"]) == ("failed", "manual")
    assert api.get("/v1/orders/1003/eligibility").json()["freight_status"]["action"] == "failed"


def test_a_record_cin7_refuses_fails_alone(shop_api, cin7):
    no_freight(cin7, 1001, 1003)
    cin7.fail_put_for(1003)
    api, worker = start(shop_api)
    report = worker.run_once()
    assert report.written == 1 and report.failed == 1
    failed = history(api, 1003)[0]
    assert (failed["action"], failed["reason"]) == ("failed", "cin7_rejected")
    assert failed["message"]
    assert history(api, 1001)[0]["action"] == "written"


def _sample(text: str, series: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith(series + " "))
    return float(line.split()[1])


def test_metrics(shop_api, cin7):
    written = 'ratecalc_auto_freight_orders_total{action="written",reason="no_freight"}'
    manual = 'ratecalc_auto_freight_orders_total{action="skipped",reason="manual_freight"}'
    no_freight(cin7, 1001)
    api, worker = start(shop_api)
    before = api.get("/metrics").text  # the counters are the process's: compare
    worker.run_once()
    text = api.get("/metrics").text
    assert _sample(text, written) - _sample(before, written) == 1
    assert _sample(text, manual) - _sample(before, manual) >= 1
    lag = next(line for line in text.splitlines()
               if line.startswith("ratecalc_auto_freight_lag_seconds "))
    assert 0 <= float(lag.split()[1]) < 60
    last = next(line for line in text.splitlines()
                if line.startswith("ratecalc_auto_freight_last_run_timestamp_seconds "))
    assert abs(float(last.split()[1]) - datetime.now(UTC).timestamp()) < 60
