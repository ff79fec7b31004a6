"""Cin7's per-connection limits shared by several processes through Redis."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from ratecalc.redis_guard import connect
from ratecalc.shop.wiring import cin7_limiter
from ratecalc.simulators.cin7.app import Cin7Simulator
from ratecalc.simulators.server import ServerThread
from ratecalc.upstream.cin7.client import DAY, Cin7Client
from ratecalc.upstream.limits.budget import BudgetExhausted, WindowLimiter
from ratecalc.upstream.limits.redis_cin7 import RedisWindowLimiter
from ratecalc.upstream.transport import Deadline


def limiter(redis_url: str, connection: str, windows) -> RedisWindowLimiter:
    return RedisWindowLimiter(connect(redis_url), connection, windows,
                              fallback=WindowLimiter(windows))


def test_calls_in_flight_count_in_every_window(redis_url):
    shared = limiter(redis_url, uuid.uuid4().hex, [(3, 1.0)])
    for _ in range(3):
        shared.acquire(Deadline(1))  # three calls still in flight
    with pytest.raises(BudgetExhausted):
        shared.acquire(Deadline(0.3))
    assert shared.remaining(1.0) == 0


def test_two_processes_share_cin7_limits(redis_url):
    sim = Cin7Simulator(per_second=3, per_minute=60, per_day=5000)
    connection = uuid.uuid4().hex
    with ServerThread(sim.app) as server:
        clients = [Cin7Client(server.url + "/api", "demo-user", "demo-api-key",
                              limiter=limiter(redis_url, connection,
                                              [(3, 1.0), (60, 60.0), (5000, 86_400.0)]))
                   for _ in range(2)]
        started = time.monotonic()

        def work(client):
            for _ in range(6):
                client.sales_order(1001)

        threads = [threading.Thread(target=work, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        took = time.monotonic() - started
        throttled = [r for r in sim.requests if r["status"] == 429]
    assert not throttled  # together they kept to Cin7's 3 a second
    assert len(sim.calls("GET", "/v1/SalesOrders/*")) == 12
    assert took >= 3.0  # 12 calls at 3 a second: the windows really were shared
    assert clients[0].limiter.remaining(86_400.0) == 5000 - 12


def test_cin7_limiter_falls_back_when_redis_is_down():
    down = limiter("redis://127.0.0.1:1/0", uuid.uuid4().hex, [(2, 1.0)])
    down.acquire(Deadline(1))
    down.release()
    down.acquire(Deadline(1))
    down.release()
    with pytest.raises(BudgetExhausted):
        down.acquire(Deadline(0.2))  # the in-process windows decide


def test_with_redis_every_process_shares_the_whole_limits(make_settings, redis_url):
    settings = make_settings(CIN7_USERNAME="demo-user", CIN7_API_KEY="demo-api-key",
                             CIN7_REQUESTS_PER_SECOND="10", CIN7_REQUESTS_PER_DAY="20000",
                             WORKERS="2", REDIS_URL=redis_url,
                             CIN7_BASE_URL=f"http://127.0.0.1:1/{uuid.uuid4().hex}")
    limiter = cin7_limiter(settings)
    assert isinstance(limiter, RedisWindowLimiter)
    assert limiter.windows == [(10, 1.0), (60, 60.0), (20000, DAY)]
    assert limiter.remaining(DAY) == 20000
