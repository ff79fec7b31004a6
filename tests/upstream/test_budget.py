"""CallBudget with a fake clock: our own sliding window and ShipStation's headers.

A fake clock never moves on its own, so every ``acquire`` here either succeeds at
once or raises ``BudgetExhausted`` at once (its deadline is already used up);
only the tests marked "real time" wait, for well under a second.
"""

from __future__ import annotations

import threading
import time

import pytest

from ratecalc.upstream.limits.budget import (
    RESET_MARGIN_SECONDS,
    BudgetExhausted,
    CallBudget,
    rate_limit_headers,
)
from ratecalc.upstream.transport import Deadline
from tests.support import FakeClock


def headers(limit: int, remaining: int, reset: float) -> dict:
    return {"X-Rate-Limit-Limit": str(limit), "X-Rate-Limit-Remaining": str(remaining),
            "X-Rate-Limit-Reset": str(reset)}


@pytest.fixture
def clock():
    return FakeClock(5000.0)


def budget(clock, per_window=40, window=60.0, **kwargs) -> CallBudget:
    return CallBudget(per_window, window, clock=clock, **kwargs)


def now_deadline(clock) -> Deadline:
    """A deadline that has no time left: acquire must succeed or fail at once."""
    return Deadline(0.0, clock=clock)


def call(b: CallBudget, clock, answer: dict | None = None) -> None:
    """One call that gets budget at once and is answered with ``answer`` headers."""
    b.acquire(Deadline(1.0, clock=clock))
    b.settle({} if answer is None else answer)


def exhausted(b: CallBudget, clock) -> float:
    with pytest.raises(BudgetExhausted) as info:
        b.acquire(now_deadline(clock))
    return info.value.retry_after


# -- our own ceiling: a sliding window ------------------------------------------------
def test_a_burst_up_to_the_budget_is_allowed(clock):
    b = budget(clock, per_window=5)
    call(b, clock)
    for _ in range(4):
        b.acquire(now_deadline(clock))  # in flight together, no waiting
    assert b.snapshot()["inflight"] == 4
    assert exhausted(b, clock) == pytest.approx(60.0)


def test_sliding_window(clock):
    b = budget(clock, per_window=3, window=60.0)
    call(b, clock)                 # t=0
    clock.advance(10)
    call(b, clock)                 # t=10
    clock.advance(10)
    call(b, clock)                 # t=20
    assert exhausted(b, clock) == pytest.approx(40.0)   # the t=0 call leaves at t=60
    clock.advance(39.9)
    assert exhausted(b, clock) == pytest.approx(0.1)
    clock.advance(0.1)
    call(b, clock)                 # t=60: one slot freed
    assert exhausted(b, clock) == pytest.approx(10.0)   # next frees at t=70
    clock.advance(10)
    call(b, clock)
    assert b.snapshot()["sent_in_window"] == 3


def test_window_is_sliding_not_fixed(clock):
    """3 calls at t=59 and 3 more at t=61 would pass a fixed window but not a sliding one."""
    b = budget(clock, per_window=3, window=60.0)
    clock.advance(59)
    for _ in range(3):
        call(b, clock)
    clock.advance(2)
    assert exhausted(b, clock) == pytest.approx(58.0)


def test_exhausted_carries_the_wait_it_would_need(clock):
    b = budget(clock, per_window=1, window=60.0)
    call(b, clock)
    clock.advance(15)
    with pytest.raises(BudgetExhausted) as info:
        b.acquire(Deadline(30.0, clock=clock))  # 45 s needed, 30 s left: fail now
    assert info.value.retry_after == pytest.approx(45.0)
    assert "45" in str(info.value)


# -- ShipStation's word ------------------------------------------------------------------
def test_a_lower_advertised_limit_wins(clock):
    b = budget(clock, per_window=40)
    call(b, clock, headers(limit=5, remaining=4, reset=10))
    for remaining in (3, 2, 1, 0):
        call(b, clock, headers(limit=5, remaining=remaining, reset=10))
    assert b.snapshot()["upstream_remaining"] == 0
    assert exhausted(b, clock) == pytest.approx(10 + RESET_MARGIN_SECONDS)
    clock.advance(10 + RESET_MARGIN_SECONDS)
    call(b, clock, headers(limit=5, remaining=4, reset=10))


def test_remaining_counted_down_locally_between_answers(clock):
    """Calls in flight count against what ShipStation said was left."""
    b = budget(clock, per_window=40)
    call(b, clock, headers(limit=40, remaining=2, reset=30))
    b.acquire(now_deadline(clock))
    b.acquire(now_deadline(clock))
    assert exhausted(b, clock) == pytest.approx(30 + RESET_MARGIN_SECONDS)


def test_remaining_zero_blocks_until_the_advertised_reset(clock):
    b = budget(clock, per_window=40)
    call(b, clock, headers(limit=40, remaining=0, reset=5))
    assert exhausted(b, clock) == pytest.approx(5 + RESET_MARGIN_SECONDS)
    clock.advance(3)
    assert exhausted(b, clock) == pytest.approx(2 + RESET_MARGIN_SECONDS)
    clock.advance(2 + RESET_MARGIN_SECONDS)
    b.acquire(now_deadline(clock))


def test_a_later_answer_from_the_same_window_cannot_raise_remaining(clock):
    b = budget(clock, per_window=40)
    call(b, clock, headers(limit=40, remaining=10, reset=20))
    b.acquire(now_deadline(clock))
    b.acquire(now_deadline(clock))
    b.settle(headers(limit=40, remaining=0, reset=20))
    b.settle(headers(limit=40, remaining=30, reset=20))  # out of order: stale
    assert exhausted(b, clock) == pytest.approx(20 + RESET_MARGIN_SECONDS)


def test_a_new_upstream_window_restores_the_budget(clock):
    b = budget(clock, per_window=40)
    call(b, clock, headers(limit=5, remaining=0, reset=2))
    clock.advance(2 + RESET_MARGIN_SECONDS)
    call(b, clock, headers(limit=5, remaining=4, reset=60))
    for _ in range(3):
        b.acquire(now_deadline(clock))
    b.acquire(now_deadline(clock))  # the 5th of this window
    assert exhausted(b, clock) > 50


def test_throttled_answer_waits_for_the_reset(clock):
    b = budget(clock, per_window=40)
    call(b, clock, headers(limit=40, remaining=39, reset=50))
    clock.advance(47)
    b.acquire(now_deadline(clock))
    b.settle(headers(limit=40, remaining=0, reset=3), throttled=True, retry_after=3)
    assert exhausted(b, clock) == pytest.approx(3 + RESET_MARGIN_SECONDS)
    clock.advance(3 + RESET_MARGIN_SECONDS + 0.01)
    b.acquire(now_deadline(clock))


def test_throttled_without_headers_waits_a_window(clock):
    b = budget(clock, per_window=40, window=60)
    call(b, clock)
    b.acquire(now_deadline(clock))
    b.settle(None, throttled=True)
    assert exhausted(b, clock) == pytest.approx(60 + RESET_MARGIN_SECONDS)


def test_on_remaining_reports_each_answer(clock):
    seen = []
    b = budget(clock, on_remaining=seen.append)
    call(b, clock, headers(limit=40, remaining=39, reset=60))
    call(b, clock, headers(limit=40, remaining=38, reset=59))
    call(b, clock, {})  # no headers: nothing to report
    assert seen == [39, 38]


# -- before the first answer: a single probe -----------------------------------------------
def test_only_one_probe_before_the_first_answer(clock):
    b = budget(clock, per_window=40)
    b.acquire(now_deadline(clock))
    with pytest.raises(BudgetExhausted):
        b.acquire(now_deadline(clock))
    b.settle(headers(limit=40, remaining=39, reset=60))
    for _ in range(5):
        b.acquire(now_deadline(clock))
    assert b.snapshot()["inflight"] == 5


def test_a_probe_without_answer_lets_the_next_probe_go(clock):
    """A call that got no answer (timeout) frees the probe slot but teaches nothing."""
    b = budget(clock, per_window=40)
    b.acquire(now_deadline(clock))
    b.settle(None)
    b.acquire(now_deadline(clock))
    with pytest.raises(BudgetExhausted):
        b.acquire(now_deadline(clock))


def test_waiters_wake_when_the_probe_is_answered():
    """Real time: a second caller waits for the probe's answer, then proceeds."""
    b = CallBudget(40, 60.0)
    b.acquire(Deadline(1.0))
    done = threading.Event()

    def second():
        b.acquire(Deadline(5.0))
        done.set()

    t = threading.Thread(target=second)
    t.start()
    assert not done.wait(0.1)  # still waiting: the probe is not answered
    b.settle(headers(limit=40, remaining=39, reset=60))
    assert done.wait(2.0)
    t.join(2.0)


def test_acquire_waits_within_the_deadline():
    """Real time: a short window frees a slot before the deadline, so acquire waits for it."""
    b = CallBudget(1, 0.3)
    b.acquire(Deadline(1.0))
    b.settle({})
    start = time.monotonic()
    b.acquire(Deadline(2.0))
    assert 0.2 <= time.monotonic() - start < 1.5


def test_acquire_fails_at_the_deadline_while_waiting_for_a_probe():
    b = CallBudget(40, 60.0)
    b.acquire(Deadline(1.0))
    start = time.monotonic()
    with pytest.raises(BudgetExhausted):
        b.acquire(Deadline(0.2))
    assert time.monotonic() - start < 1.0


# -- header parsing ---------------------------------------------------------------------------
def test_rate_limit_headers():
    assert rate_limit_headers(headers(40, 39, 60)) == (40, 39, 60.0)
    assert rate_limit_headers({"X-Rate-Limit-Limit": "40"}) is None
    assert rate_limit_headers(headers(40, 39, 60) | {"X-Rate-Limit-Remaining": "lots"}) is None
    assert rate_limit_headers(None) is None
    assert rate_limit_headers({}) is None


def test_headers_are_case_insensitive_with_requests():
    from requests.structures import CaseInsensitiveDict

    raw = CaseInsensitiveDict({"x-rate-limit-limit": "5", "x-rate-limit-remaining": "1",
                               "x-rate-limit-reset": "7"})
    assert rate_limit_headers(raw) == (5, 1, 7.0)


# -- all or nothing: a quote's calls reserved together --------------------------------------

def test_a_reservation_takes_every_call_or_none(clock):
    from ratecalc.upstream.limits.budget import reserved

    b = budget(clock, per_window=10)
    for _ in range(8):
        call(b, clock)
    with pytest.raises(BudgetExhausted) as exc:  # 2 left: a 3-carrier quote waits, whole
        b.reserve(3, now_deadline(clock))
    assert exc.value.retry_after > 0
    assert b.snapshot()["sent_in_window"] == 8  # nothing taken for the refused quote
    clock.advance(61)
    reservation = b.reserve(3, now_deadline(clock))
    assert b.snapshot()["sent_in_window"] == 3
    for _ in range(3):  # each carrier's call takes its reserved budget without waiting
        reserved(reservation, b.acquire, now_deadline(clock))
        b.settle({})
    assert reservation.left == []


def test_unused_reserved_budget_is_given_back(clock):
    from ratecalc.upstream.limits.budget import reserved

    b = budget(clock, per_window=4)
    reservation = b.reserve(3, now_deadline(clock))
    reserved(reservation, b.acquire, now_deadline(clock))  # one carrier called
    b.settle({})
    reservation.give_back()  # the other two failed before calling
    assert b.snapshot()["sent_in_window"] == 1
    b.reserve(3, now_deadline(clock))  # so another 3-carrier quote fits at once


def test_budget_given_back_after_a_429_does_not_undo_the_wait(clock):
    from ratecalc.upstream.limits.budget import reserved

    b = budget(clock, per_window=40)
    call(b, clock, headers(limit=40, remaining=30, reset=10))
    reservation = b.reserve(3, now_deadline(clock))
    reserved(reservation, b.acquire, now_deadline(clock))  # one carrier called: a 429
    b.settle(headers(limit=40, remaining=0, reset=20), throttled=True, retry_after=20)
    reservation.give_back()  # the other two never called
    assert exhausted(b, clock) == pytest.approx(20 + RESET_MARGIN_SECONDS)


def test_an_unsent_call_after_a_429_does_not_undo_the_wait(clock):
    b = budget(clock, per_window=40)
    call(b, clock, headers(limit=40, remaining=30, reset=10))
    b.acquire(now_deadline(clock))  # this thread's call: it will never be sent

    def throttled_elsewhere():  # a parallel call, answered 429
        b.acquire(now_deadline(clock))
        b.settle(headers(limit=40, remaining=0, reset=20), throttled=True, retry_after=20)

    other = threading.Thread(target=throttled_elsewhere)
    other.start()
    other.join(5)
    b.settle(None, unsent=True)
    assert exhausted(b, clock) == pytest.approx(20 + RESET_MARGIN_SECONDS)


def test_a_reservation_waits_for_the_window_within_its_deadline():
    started = time.monotonic()
    from ratecalc.upstream.limits.budget import reserved

    real = CallBudget(3, 0.2)
    first = real.reserve(3, Deadline(5))
    for _ in range(3):
        reserved(first, real.acquire, Deadline(5))
        real.settle({})
    real.reserve(3, Deadline(5))  # waits the 0.2 s window out, then takes all three
    assert time.monotonic() - started >= 0.15
