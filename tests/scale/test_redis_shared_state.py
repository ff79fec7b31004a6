"""Several ratecalc instances sharing one Redis behave like one service."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from ratecalc.model import CarrierRates, Rate
from ratecalc.rating import codec, packing
from ratecalc.rating.cache import MemoryQuoteCache
from ratecalc.rating.redis_state import RedisQuoteCache
from ratecalc.redis_guard import connect
from tests.conftest import DC_REQUEST

GETRATES = "/shipments/getrates"


def test_cache_is_shared_between_instances(make_api, shipstation, redis_url):
    first = make_api(REDIS_URL=redis_url)
    second = make_api(REDIS_URL=redis_url)
    assert first.post("/v1/rates", json=DC_REQUEST).headers["X-Cache"] == "MISS"
    calls = len(shipstation.calls(GETRATES))
    answer = second.post("/v1/rates", json=DC_REQUEST)
    assert answer.status_code == 200
    assert answer.headers["X-Cache"] == "HIT"
    assert answer.json()["cached"] is True
    assert len(shipstation.calls(GETRATES)) == calls


def test_single_flight_across_instances(make_api, shipstation, redis_url):
    instances = [make_api(REDIS_URL=redis_url, CARRIERS="fedex,ups") for _ in range(3)]
    for api in instances:
        assert api.get("/v1/carriers").status_code == 200  # learn the budget state first
    shipstation.set_latency(0.4, "fedex")
    shipstation.set_latency(0.4, "ups")
    answers = []

    def ask(api):
        answers.append(api.post("/v1/rates", json=DC_REQUEST).status_code)

    threads = [threading.Thread(target=ask, args=(instances[i % 3],)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200] * 30
    assert len(shipstation.calls(GETRATES, "fedex")) == 1
    assert len(shipstation.calls(GETRATES, "ups")) == 1


def test_budget_is_shared_between_instances(make_api, shipstation, redis_url, unique_account):
    # Two instances, each believing it may make 6 calls a minute: together they
    # must still make at most 6, because the budget lives in Redis.
    shipstation_key = unique_account
    shipstation._credentials.add((shipstation_key, "s"))
    env = dict(REDIS_URL=redis_url, CARRIERS="fedex", SHIPSTATION_REQUESTS_PER_MINUTE="6",
               SHIPSTATION_API_KEY=shipstation_key, SHIPSTATION_API_SECRET="s",
               QUOTE_DEADLINE_SECONDS="1")
    a, b = make_api(**env), make_api(**env)
    statuses = []
    for n in range(10):
        body = {**DC_REQUEST, "package": {"weight": {"value": 10 + n, "units": "ounces"}}}
        statuses.append((a if n % 2 else b).post("/v1/rates", json=body).status_code)
    assert statuses.count(200) == 6
    assert set(statuses[6:]) == {503}
    assert len(shipstation.calls(GETRATES)) == 6


def test_redis_down_falls_back_without_failing(make_api, shipstation):
    api = make_api(REDIS_URL="redis://127.0.0.1:1/0")
    first = api.post("/v1/rates", json=DC_REQUEST)
    second = api.post("/v1/rates", json=DC_REQUEST)
    assert first.status_code == 200 and second.status_code == 200
    assert second.headers["X-Cache"] == "HIT"  # the in-process fallback cache
    metrics = api.get("/metrics", auth=False).text
    assert 'ratecalc_redis_fallbacks_total{component="cache"}' in metrics


def test_a_cached_quote_looks_up_every_carrier_in_one_round_trip(make_api, shipstation,
                                                                 redis_url):
    """MGET: one command for a 3-carrier quote's cache lookups, not one GET each."""
    import redis

    api = make_api(REDIS_URL=redis_url, CARRIERS="fedex,ups,stamps_com")
    assert api.post("/v1/rates", json=DC_REQUEST).headers["X-Cache"] == "MISS"
    db = int(redis_url.rsplit("/", 1)[1])
    seen: list[str] = []
    monitor_client = redis.Redis.from_url(redis_url)
    with monitor_client.monitor() as monitor:
        def listen():
            for command in monitor.listen():
                if command["db"] == db and ":q:" in command["command"]:
                    seen.append(command["command"])
                if "STOP-LISTENING" in command["command"]:
                    return

        listener = threading.Thread(target=listen)
        listener.start()
        assert api.post("/v1/rates", json=DC_REQUEST).headers["X-Cache"] == "HIT"
        monitor_client.get("STOP-LISTENING")
        listener.join(10)
    lookups = [c for c in seen if c.split()[0].upper() in ("GET", "MGET")]
    assert len(lookups) == 1 and lookups[0].upper().startswith("MGET"), seen
    assert lookups[0].count(":q:") == 3


def test_redis_entries_are_portable_packed_bytes(redis_url, monkeypatch):
    """Redis holds the packed form with its own strings, so a process whose string table
    never saw the answer (another worker, another replica) reads it exactly."""
    guard = connect(redis_url)
    namespace = f"t{uuid.uuid4().hex[:8]}"
    writer = RedisQuoteCache(guard, 60, MemoryQuoteCache(10, 60), namespace=namespace)
    value = CarrierRates("fedex", tuple(
        Rate("fedex", f"fedex_{k}", f"FedEx Service {k}", Decimal("12.30"), Decimal("0"), 3,
             "2026-12-09") for k in range(5)), datetime.now(UTC), "USD")
    writer.set("k1", value)
    raw = guard.client.get(f"ratecalc:{namespace}:p:k1")
    assert raw[:1] == b"S" and len(raw) * 2 < len(codec.dumps(value).encode())
    monkeypatch.setattr(packing, "STRINGS", packing._Strings())  # another process's table
    reader = RedisQuoteCache(guard, 60, MemoryQuoteCache(10, 60), namespace=namespace)
    [back, missing] = reader.get_many(["k1", "k2"])
    assert back == value and missing is None
    assert [str(r.shipment_cost) for r in back.rates] == ["12.30"] * 5
