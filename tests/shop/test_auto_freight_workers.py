"""Several auto-freight workers (processes, replicas): exactly one polls, none prices an order
twice, and the lease passes on when its holder dies -- on SQLite (a lease row that runs
out) and on PostgreSQL (a session advisory lock that ends with its connection)."""

from __future__ import annotations

import psycopg

from tests.shop import autofreight_support
from tests.shop.autofreight_support import freight_puts, history, no_freight
from tests.support import wait_until

PRICEABLE = (1001, 1003, 1004, 1005, 1009, 1010, 1015, 1016, 1017)


def start(shop_api, **env):  # ShipStation's minute is not what these tests are about
    return autofreight_support.start(shop_api, **{"SHIPSTATION_REQUESTS_PER_MINUTE": "2000",
                                                  **env})


def test_two_workers_never_price_one_order_twice(shop_api, cin7):
    no_freight(cin7)
    apis = [start(shop_api, FREIGHT_WORKER="in-process", AUTO_FREIGHT_INTERVAL_SECONDS="0.2")
            for _ in range(2)]  # two processes on one database
    wait_until(lambda: all(cin7.orders[oid]["freightTotal"] > 0 for oid in PRICEABLE),
               timeout=30)
    # Both keep polling for a few more intervals.
    polls = sum(w.polls for _, w in apis)
    wait_until(lambda: sum(w.polls for _, w in apis) >= polls + 4, timeout=20)
    ids = [r["id"] for r in freight_puts(cin7)]
    assert sorted(ids) == sorted(set(ids)) and set(PRICEABLE) <= set(ids), ids
    assert sorted(w.polls == 0 for _, w in apis) == [False, True], "exactly one polls"
    api = apis[0][0]
    for oid in PRICEABLE:
        assert [r["action"] for r in history(api, oid)].count("written") == 1


def test_the_lease_is_taken_over_when_its_holder_dies(shop_api, cin7, store_url):
    no_freight(cin7, 1001)
    first_api, first = start(shop_api)
    second_api, second = start(shop_api)
    first.lease_seconds = 1.0  # SQLite: the row runs out 1 s after the holder's last renewal
    assert first.run_once() is not None
    assert second.run_once() is None, "one poller at a time"
    if store_url.startswith("postgresql"):
        # The holder's process dies: its session ends, and so does its advisory lock.
        lease = first_api.shop.store._get()._leases["auto-freight"]
        with psycopg.connect(store_url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (lease.info.backend_pid,))
        assert wait_until(lambda: second.run_once() is not None, timeout=5)
    else:
        # The holder stops renewing (it died); its lease runs out and is taken over.
        assert wait_until(lambda: second.run_once() is not None, timeout=5, interval=0.1)
    assert first.run_once() is None, "the new holder keeps it"
    assert [r["id"] for r in freight_puts(cin7)] == [1001]


def test_a_poller_that_lost_its_lease_writes_nothing(shop_api, cin7):
    no_freight(cin7, 1001)
    _, first = start(shop_api)
    _, second = start(shop_api)
    assert first.renew()
    first.renew = lambda: False  # the lease is gone by the time it would write
    first.poll.renew = first.renew
    report = first.poll.run()
    assert report.status == "lease_lost"
    assert freight_puts(cin7) == []
    first.store.release_lease("auto-freight", first.holder)
    assert second.run_once().written == 1
