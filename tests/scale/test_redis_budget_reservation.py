"""All-or-nothing reservation of the shared ShipStation budget, on a real Redis.

Each test works under its own account's keys and deletes only those (never the
whole database: other tests may share it).
"""

from __future__ import annotations

import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from ratecalc.rating.redis_state import RedisCallBudget
from ratecalc.redis_guard import PREFIX, connect
from ratecalc.upstream.limits.budget import BudgetExhausted, CallBudget, reserved
from ratecalc.upstream.transport import Deadline
from tests.scale.conftest import REDIS_DEFAULT

HEADERS = {"X-Rate-Limit-Limit": "40", "X-Rate-Limit-Remaining": "39",
           "X-Rate-Limit-Reset": "60"}


@pytest.fixture
def shared():
    """(url, client, account) on a reachable Redis; the account's keys go afterwards."""
    import redis

    url = os.environ.get("RATECALC_TEST_REDIS_URL", REDIS_DEFAULT)
    client = redis.Redis.from_url(url, socket_connect_timeout=1, decode_responses=True)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at RATECALC_TEST_REDIS_URL is required in CI: {exc}")
        pytest.skip(f"Redis not reachable; set RATECALC_TEST_REDIS_URL ({type(exc).__name__})")
    account = f"reserve-{uuid.uuid4().hex[:12]}"
    yield url, client, account
    keys = list(client.scan_iter(f"{PREFIX}budget:{account}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def make_budget(url: str, account: str, per_window: int) -> RedisCallBudget:
    return RedisCallBudget(connect(url), per_window, account,
                           fallback=CallBudget(per_window))


def learn(budget: RedisCallBudget, headers=HEADERS) -> None:
    """One probe call answered with ``headers``: the state is 'known' (it uses one slot)."""
    budget.acquire(Deadline(1))
    budget.settle(headers)


def sent(client, account: str) -> int:
    return client.zcard(f"{PREFIX}budget:{account}:sent")


def state(client, account: str) -> dict:
    return client.hgetall(f"{PREFIX}budget:{account}:state")


def in_pool(reservation, fn, workers: int = 3):
    """Run ``fn`` in ``workers`` pool threads under ``reservation``, as ShipStation V1 does."""
    with ThreadPoolExecutor(workers) as pool:
        return [f.result() for f in [pool.submit(reserved, reservation, fn)
                                     for _ in range(workers)]]


def test_a_reservation_takes_all_its_calls_or_none(shared):
    url, client, account = shared
    budget = make_budget(url, account, per_window=6)
    learn(budget)
    first = budget.reserve(3, Deadline(1))
    assert len(first.left) == 3 and sent(client, account) == 4
    assert state(client, account)["inflight"] == "3"
    with pytest.raises(BudgetExhausted) as info:
        budget.reserve(3, Deadline(0.2))  # 4 + 3 > 6: the window must roll first
    assert info.value.retry_after > 1
    assert sent(client, account) == 4  # nothing was taken
    assert len(budget.reserve(2, Deadline(0.2)).left) == 2
    assert sent(client, account) == 6


def test_a_reservation_needs_the_upstream_remaining_for_every_call(shared):
    url, client, account = shared
    budget = make_budget(url, account, per_window=40)
    learn(budget, {**HEADERS, "X-Rate-Limit-Remaining": "2"})
    with pytest.raises(BudgetExhausted) as info:
        budget.reserve(3, Deadline(0.2))  # Remaining 2 < 3: wait for the upstream reset
    assert info.value.retry_after > 50
    assert sent(client, account) == 1
    assert len(budget.reserve(2, Deadline(0.2)).left) == 2
    assert state(client, account)["remaining"] == "0"


def test_nothing_is_reserved_until_the_upstream_state_is_known(shared):
    url, client, account = shared
    budget = make_budget(url, account, per_window=40)
    assert budget.reserve(3, Deadline(0.2)).left == []  # cold: the calls go one by one
    assert sent(client, account) == 0
    budget.acquire(Deadline(1))  # the probe is out ...
    other = make_budget(url, account, per_window=40)
    with pytest.raises(BudgetExhausted):
        other.reserve(3, Deadline(0.1))  # ... so a reservation waits for its answer
    budget.settle(HEADERS)
    assert len(other.reserve(3, Deadline(0.2)).left) == 3


def test_two_processes_never_reserve_more_than_the_window_together(shared):
    url, client, account = shared
    budgets = [make_budget(url, account, per_window=10) for _ in range(2)]
    learn(budgets[0])  # one slot used; 9 left: room for exactly three quotes of 3
    start = threading.Barrier(10)
    outcomes = []

    def quote(n: int) -> None:
        start.wait()
        try:
            outcomes.append(len(budgets[n % 2].reserve(3, Deadline(0.3)).left))
        except BudgetExhausted:
            outcomes.append(0)

    threads = [threading.Thread(target=quote, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert sorted(outcomes) == [0] * 7 + [3] * 3
    assert sent(client, account) == 10
    assert state(client, account)["inflight"] == "9"


def test_reserved_calls_go_without_waiting_and_settle_each(shared):
    url, client, account = shared
    budget = make_budget(url, account, per_window=4)
    learn(budget)
    reservation = budget.reserve(3, Deadline(1))  # the window is full now

    def call() -> str:
        budget.acquire(Deadline(0.05))  # a wait would raise: the slot is reserved
        budget.settle(None)
        return "sent"

    assert in_pool(reservation, call) == ["sent"] * 3
    assert reservation.left == []
    assert state(client, account)["inflight"] == "0"
    assert sent(client, account) == 4  # the calls used the reserved entries, added none
    with pytest.raises(BudgetExhausted):
        in_pool(reservation, call, workers=1)  # used up: a further call waits as usual


def test_unused_reserved_calls_are_given_back(shared):
    url, client, account = shared
    budget = make_budget(url, account, per_window=4)
    learn(budget)
    remaining = int(state(client, account)["remaining"])
    reservation = budget.reserve(3, Deadline(1))

    def call() -> None:
        budget.acquire(Deadline(0.05))
        budget.settle(None)

    in_pool(reservation, call, workers=1)  # one carrier called; two never did
    reservation.give_back()
    assert reservation.left == []
    assert sent(client, account) == 2
    assert state(client, account)["inflight"] == "0"
    assert int(state(client, account)["remaining"]) == remaining - 1
    other = make_budget(url, account, per_window=4)
    assert len(other.reserve(2, Deadline(0.05)).left) == 2  # free at once, for anyone


def test_redis_down_reserves_from_the_in_process_budget():
    fallback = CallBudget(3)
    budget = RedisCallBudget(connect("redis://127.0.0.1:1/0"), 3, uuid.uuid4().hex,
                             fallback=fallback)
    reservation = budget.reserve(3, Deadline(1))
    assert reservation.budget is fallback and len(reservation.left) == 3

    def call() -> None:
        budget.acquire(Deadline(0.05))  # the fallback's reserved slot: no wait
        budget.settle(HEADERS)  # settled in the fallback budget, which made the call

    in_pool(reservation, call, workers=2)
    assert fallback.snapshot()["inflight"] == 1  # the one reserved call not made
    reservation.give_back()
    snapshot = fallback.snapshot()
    assert (snapshot["sent_in_window"], snapshot["inflight"]) == (2, 0)
    assert len(budget.reserve(1, Deadline(0.05)).left) == 1
    with pytest.raises(BudgetExhausted):
        budget.reserve(1, Deadline(0.05))  # the in-process window of 3 is full


def test_a_call_never_sent_gives_its_slot_back_as_in_process(shared):
    url, client, account = shared
    budget = make_budget(url, account, per_window=2)
    learn(budget)  # one slot used; the other is this call's
    remaining = int(state(client, account)["remaining"])
    budget.acquire(Deadline(1))
    assert sent(client, account) == 2
    budget.settle(None, unsent=True)  # refused before it reached ShipStation
    assert sent(client, account) == 1
    assert state(client, account)["inflight"] == "0"
    assert int(state(client, account)["remaining"]) == remaining
    other = make_budget(url, account, per_window=2)
    other.acquire(Deadline(0.05))  # the slot is free at once, for anyone


def test_a_reserved_call_never_sent_gives_its_slot_back(shared):
    url, client, account = shared
    budget = make_budget(url, account, per_window=4)
    learn(budget)
    reservation = budget.reserve(3, Deadline(1))

    def refused() -> None:
        budget.acquire(Deadline(0.05))
        budget.settle(None, unsent=True)

    in_pool(reservation, refused, workers=1)
    reservation.give_back()
    assert sent(client, account) == 1 and state(client, account)["inflight"] == "0"


def test_an_unsent_call_after_a_429_does_not_undo_the_throttle(shared):
    url, client, account = shared
    budget = make_budget(url, account, per_window=40)
    learn(budget)
    budget.acquire(Deadline(1))  # this thread's call: it will never be sent
    other = make_budget(url, account, per_window=40)

    def throttled_elsewhere() -> None:  # a parallel call, answered 429
        other.acquire(Deadline(1))
        other.settle({**HEADERS, "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "20"},
                     throttled=True, retry_after=20)

    thread = threading.Thread(target=throttled_elsewhere)
    thread.start()
    thread.join(5)
    budget.settle(None, unsent=True)
    assert state(client, account)["remaining"] == "0"
    with pytest.raises(BudgetExhausted) as info:
        budget.acquire(Deadline(0.2))
    assert info.value.retry_after > 15
