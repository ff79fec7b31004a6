"""The database and Redis: unavailable at start-up, lost and back while running."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest

from tests.conftest import DC_REQUEST
from tests.faults.proxy import TcpProxy
from tests.shop.conftest import STORE_PASSWORD, STORE_USER, fresh_postgres_schema
from tests.support import wait_until

NOTICE = ("<ShipNotice><OrderID>1001</OrderID><OrderNumber>#1050</OrderNumber>"
          "<Carrier>UPS</Carrier><Service>Ground</Service><TrackingNumber>{tracking}"
          "</TrackingNumber><ShipDate>11/27/2026</ShipDate></ShipNotice>")


def ship_notice(api, tracking: str):
    return api.post("/shipstation/custom-store", auth=False,
                    params={"action": "shipnotify", "order_number": "#1050",
                            "carrier": "UPS", "tracking_number": tracking},
                    data=NOTICE.format(tracking=tracking).encode(),
                    headers={"Authorization": _basic()})


def _basic() -> str:
    import base64

    return "Basic " + base64.b64encode(f"{STORE_USER}:{STORE_PASSWORD}".encode()).decode()


@pytest.fixture
def postgres_proxy():
    """A fresh schema, reached through a proxy the test can cut."""
    with fresh_postgres_schema() as url:
        parts = urlsplit(url)
        proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
        yield proxy, url.replace(f"{parts.hostname}:{parts.port or 5432}",
                                 f"127.0.0.1:{proxy.port}")
        proxy.close()


def test_database_down_at_start_up(shop_api, shipstation):
    api = shop_api(database_url="postgresql://postgres@127.0.0.1:1/test")
    ready = api.get("/readyz", auth=False)
    assert ready.status_code == 503
    assert any("database unavailable" in reason for reason in ready.json()["reasons"])
    assert ship_notice(api, "1Z-DOWN").status_code == 503  # ShipStation will send it again
    assert api.post("/v1/rates", json=DC_REQUEST).status_code == 200  # rating unaffected


def test_database_lost_and_back(shop_api, postgres_proxy, cin7):
    proxy, url = postgres_proxy
    api = shop_api(database_url=url)
    assert ship_notice(api, "1Z-BEFORE").status_code == 200
    proxy.cut()
    answers = [ship_notice(api, "1Z-DURING").status_code for _ in range(2)]
    assert answers == [503, 503]
    assert api.get("/readyz", auth=False).status_code == 503
    proxy.restore()
    wait_until(lambda: ship_notice(api, "1Z-DURING").status_code == 200,  # ShipStation retrying
               timeout=10, interval=0.2, message="the store did not reconnect")
    assert api.get("/readyz", auth=False).status_code == 200
    handled = api.shop.worker.run_once()
    comments = cin7.orders[1001]["internalComments"]
    assert handled == 2
    assert comments.count("1Z-BEFORE") == 1 and comments.count("1Z-DURING") == 1


@pytest.fixture
def redis_proxy():
    import redis

    url = os.environ.get("RATECALC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required in CI: {exc}")
        pytest.skip("Redis not reachable; set RATECALC_TEST_REDIS_URL to run this test")
    parts = urlsplit(url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 6379)
    yield proxy, url.replace(f"{parts.hostname}:{parts.port or 6379}", f"127.0.0.1:{proxy.port}")
    proxy.close()


def test_redis_lost_and_back(make_api, shipstation, redis_proxy):
    proxy, url = redis_proxy
    api = make_api(REDIS_URL=url, CARRIERS="fedex")
    guard = api.services.rating.cache.guard  # one guard for the cache, budget and flights
    assert guard.retry_after_seconds == 5.0  # the default; this test needs no 5 s wait
    guard.retry_after_seconds = 0.3
    assert api.post("/v1/rates", json=DC_REQUEST).status_code == 200
    proxy.cut()
    during = [api.post("/v1/rates", json={**DC_REQUEST, "package": {
        "weight": {"value": 30 + n, "units": "ounces"}}}) for n in range(3)]
    assert [r.status_code for r in during] == [200, 200, 200]  # no request fails
    proxy.restore()
    # ratecalc tries Redis again retry_after_seconds after a failure.
    wait_until(lambda: guard.run("cache", guard.client.ping, lambda: False), timeout=10,
               interval=0.05, message="ratecalc never used Redis again")
    shared = make_api(REDIS_URL=url, CARRIERS="fedex")
    calls = len(shipstation.calls("/shipments/getrates"))
    first = api.post("/v1/rates", json={**DC_REQUEST, "package": {
        "weight": {"value": 77, "units": "ounces"}}})
    again = shared.post("/v1/rates", json={**DC_REQUEST, "package": {
        "weight": {"value": 77, "units": "ounces"}}})
    assert first.status_code == again.status_code == 200
    assert again.headers["X-Cache"] == "HIT"  # shared through Redis again
    assert len(shipstation.calls("/shipments/getrates")) == calls + 1
    metrics = api.get("/metrics", auth=False).text
    assert "ratecalc_redis_fallbacks_total" in metrics
